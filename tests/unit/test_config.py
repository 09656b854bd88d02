"""The config file: every key, secrets from env: and file:, and the file/line/key of each problem."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from jobtui.config import (
    KEY_ACTIONS,
    SERVICE_MODELS,
    BsubConfig,
    Config,
    ConfigError,
    DspIngestConfig,
    EcoTaxaConfig,
    JournalConfig,
    KeyLocator,
    LeiaConfig,
    LimitsConfig,
    NotificationsConfig,
    UiConfig,
    config_from_data,
    config_search_description,
    default_config_path,
    example_config_text,
    field_doc,
    load_config,
    parse_config,
    starter_config_text,
    table_keys,
    to_toml,
    warn_if_readable,
    write_config_file,
)
from jobtui.core.secret import Secret
from jobtui.services import SERVICES, build_service

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ENV = {
    "BSUB_TOKEN": "example-bsub-token",
    "ECOTAXA_PASSWORD": "example-ecotaxa-password",
    "LEIA_API_KEY": "example-leia-key",
    "DSP_INGEST_TOKEN": "example-dsp-jwt",
}

FULL = """\
[ui]
refresh = 1.5
theme = "nord"
read_only = true

[[services]]
name = "bsub main"
kind = "bsub"
url = "https://app.bsub.io/"
token = "bsub-literal-token"
refresh = 7
verify = false

[[services]]
name = "EcoTaxa"
kind = "ecotaxa"
url = "https://ecotaxa.obs-vlfr.fr/api"
username = "me@example.org"
password = "env:JOBTUI_TEST_ECOTAXA_PASSWORD"
for_admin = true

[[services]]
name = "Leia"
kind = "leia"
url = "http://127.0.0.1:8080/leia/1.0.0"
api_key = "file:leia.key"

[[services]]
name = "dsp"
kind = "dsp-ingest"
url = "https://ingest.dasch.swiss"
token = "file:~/secrets/dsp.jwt"
projects = ["0803", "080e"]
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).splitlines()


def bsub(extra: str = "", *, name: str = "b", token: str = '"t"') -> str:
    return (
        f'[[services]]\nname = "{name}"\nkind = "bsub"\nurl = "http://h"\ntoken = {token}\n{extra}'
    )


# -- every key ------------------------------------------------------------------------------------


def test_every_key_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBTUI_TEST_ECOTAXA_PASSWORD", "eco-pass")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "secrets").mkdir(parents=True)
    (tmp_path / "home" / "secrets" / "dsp.jwt").write_text("  dsp-jwt\n")
    (tmp_path / "leia.key").write_text("leia-key\n")
    config = load_config(write(tmp_path, FULL))

    assert config.ui == UiConfig(refresh=1.5, theme="nord", read_only=True)
    bsub_cfg, eco, leia, dsp = config.services
    assert isinstance(bsub_cfg, BsubConfig)
    assert (bsub_cfg.name, bsub_cfg.kind, bsub_cfg.url) == (
        "bsub main",
        "bsub",
        "https://app.bsub.io",
    )
    assert bsub_cfg.refresh == 7.0
    assert bsub_cfg.verify is False
    assert bsub_cfg.token.get_secret_value() == "bsub-literal-token"

    assert isinstance(eco, EcoTaxaConfig)
    assert eco.username == "me@example.org"
    assert eco.password is not None and eco.password.get_secret_value() == "eco-pass"
    assert eco.token is None
    assert eco.for_admin is True
    assert eco.refresh is None and eco.verify is True

    assert isinstance(leia, LeiaConfig)
    assert leia.url == "http://127.0.0.1:8080/leia/1.0.0"
    assert leia.api_key.get_secret_value() == "leia-key"

    assert isinstance(dsp, DspIngestConfig)
    assert dsp.token.get_secret_value() == "dsp-jwt"
    assert dsp.projects == ["0803", "080E"]


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.ui == UiConfig(refresh=2.0, theme="textual-dark", read_only=False)
    assert config.services == []


def test_every_field_has_a_docstring() -> None:
    models: list[type] = [
        Config,
        UiConfig,
        NotificationsConfig,
        LimitsConfig,
        JournalConfig,
        *SERVICE_MODELS.values(),
    ]
    for model in models:
        for name in table_keys(model):
            assert field_doc(model, name), f"{model.__name__}.{name} has no docstring"


def test_several_services_of_one_kind(tmp_path: Path) -> None:
    text = bsub(name="one") + "\n" + bsub(name="two") + "\n" + bsub(name="three")
    config = load_config(write(tmp_path, text))
    assert [s.name for s in config.services] == ["one", "two", "three"]
    assert {s.kind for s in config.services} == {"bsub"}


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        ('token = "t"', None),
        ('username = "u"\npassword = "p"', None),
        ('username = "u"\npassword = "p"\ntoken = "t"', None),
        ("", "services[0].token: give either token, or username and password"),
        ('username = "u"', "services[0].password: required with username"),
        ('password = "p"', "services[0].username: required with password"),
    ],
)
def test_ecotaxa_needs_a_token_or_username_and_password(
    tmp_path: Path, credentials: str, problem: str | None
) -> None:
    path = write(
        tmp_path,
        f'[[services]]\nname = "e"\nkind = "ecotaxa"\nurl = "https://h/api"\n{credentials}\n',
    )
    if problem is None:
        assert isinstance(load_config(path).services[0], EcoTaxaConfig)
    else:
        [line] = problems_of(path)
        assert line.endswith(problem)


def test_project_shortcodes_are_checked_and_upper_cased(tmp_path: Path) -> None:
    entry = '[[services]]\nname = "d"\nkind = "dsp-ingest"\nurl = "https://h"\ntoken = "t"\n'
    config = load_config(write(tmp_path, entry + 'projects = ["abcd", "0001"]\n'))
    service = config.services[0]
    assert isinstance(service, DspIngestConfig)
    assert service.projects == ["ABCD", "0001"]

    bad = write(tmp_path, entry + 'projects = [\n  "0001",\n  "12345",\n]\n', "bad.toml")
    [line] = problems_of(bad)
    assert line == (
        f"{bad}:6: services[0].projects[1]: '12345' is not a project shortcode "
        "(4 hex digits, like 0803)"
    )
    twice = write(tmp_path, entry + 'projects = ["0a0b", "0A0B"]\n', "twice.toml")
    assert problems_of(twice) == [f"{twice}:6: services[0].projects[1]: 0A0B is listed twice"]


# -- secrets --------------------------------------------------------------------------------------


def test_env_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBTUI_TEST_TOKEN", "from-env")
    config = load_config(write(tmp_path, bsub(token='"env:JOBTUI_TEST_TOKEN"')))
    service = config.services[0]
    assert isinstance(service, BsubConfig)
    assert service.token.get_secret_value() == "from-env"
    assert config.literal_secrets() == []


def test_missing_env_var_names_the_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBTUI_TEST_UNSET", raising=False)
    path = write(tmp_path, bsub(token='"env:JOBTUI_TEST_UNSET"'))
    assert problems_of(path) == [
        f"{path}:5: services[0].token: environment variable JOBTUI_TEST_UNSET is not set"
    ]


def test_empty_env_var_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBTUI_TEST_EMPTY", "")
    path = write(tmp_path, bsub(token='"env:JOBTUI_TEST_EMPTY"'))
    assert problems_of(path) == [
        f"{path}:5: services[0].token: environment variable JOBTUI_TEST_EMPTY is empty"
    ]


def test_file_secret_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "token.txt").write_text("\n  from-file  \n\n")
    path = write(folder, bsub(token='"file:token.txt"'))
    monkeypatch.chdir(tmp_path)  # not the config file's folder
    service = load_config(path).services[0]
    assert isinstance(service, BsubConfig)
    assert service.token.get_secret_value() == "from-file"


def test_file_secret_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "bsub.token").write_text("home-token")
    service = load_config(write(tmp_path, bsub(token='"file:~/bsub.token"'))).services[0]
    assert isinstance(service, BsubConfig)
    assert service.token.get_secret_value() == "home-token"


def test_unreadable_secret_file_names_the_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, bsub(token='"file:nowhere.txt"'))
    assert problems_of(path) == [
        f"{path}:5: services[0].token: cannot read secret file {tmp_path / 'nowhere.txt'}: "
        "No such file or directory"
    ]


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n \n")
    path = write(tmp_path, bsub(token='"file:empty.txt"'))
    [line] = problems_of(path)
    assert line.endswith(f"services[0].token: secret file {tmp_path / 'empty.txt'} is empty")


def test_secrets_never_show_in_errors_or_reprs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBTUI_TEST_SECRET", "env-secret-value")
    (tmp_path / "s.txt").write_text("file-secret-value")
    good = (
        bsub(name="a", token='"literal-secret-value"')
        + bsub(name="b", token='"env:JOBTUI_TEST_SECRET"')
        + bsub(name="c", token='"file:s.txt"')
    )
    config = load_config(write(tmp_path, good))
    shown = repr(config) + str(config) + repr(config.services) + str(config.model_dump())
    for secret in ("literal-secret-value", "env-secret-value", "file-secret-value"):
        assert secret not in shown

    # The same secrets in a file with problems, one of them a secret given with the wrong type.
    bad = good + '[ui]\nrefresh = "soon"\n' + bsub(name="d", token='["list-secret-value"]')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad, "bad.toml"))
    error = caught.value
    text = str(error) + repr(error) + repr(error.problems)
    assert "services[3].token: must be a string" in text
    for secret in ("literal-secret-value", "env-secret-value", "file-secret-value", "list-secret"):
        assert secret not in text
    assert error.__cause__ is None and error.__suppress_context__


# -- problems: file, line, key --------------------------------------------------------------------


def test_unknown_keys_are_named_with_their_line(tmp_path: Path) -> None:
    text = "[ui]\nrefresh = 3\nrefersh = 4\n\n" + bsub('tokne = "x"\n') + "colour = 1\n"
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}:3: ui.refersh: unknown key (did you mean refresh?)",
        f"{path}:10: services[0].tokne: unknown key (did you mean token?)",
        f"{path}:11: services[0].colour: unknown key",
    ]


def test_unknown_top_level_key_and_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'servics = []\n\n[look]\ncolour = "red"\n')
    assert problems_of(path) == [
        f"{path}:1: servics: unknown key (did you mean services?)",
        f"{path}:3: look: unknown key",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('refresh = "fast"', "ui.refresh: must be a number"),
        ("refresh = 0.1", "ui.refresh: must be greater than or equal to 0.2"),
        ('read_only = "yes"', "ui.read_only: must be true or false"),
        ("theme = 3", "ui.theme: must be a string"),
        ('theme = ""', "ui.theme: must not be empty"),
    ],
)
def test_wrong_types_and_values_in_ui(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, f"# settings\n[ui]\n{line}\n")
    assert problems_of(path) == [f"{path}:3: {message}"]


def test_wrong_types_in_a_service(tmp_path: Path) -> None:
    path = write(tmp_path, bsub('verify = "no"\nrefresh = 0\n', name="x"))
    assert problems_of(path) == [
        f"{path}:6: services[0].verify: must be true or false",
        f"{path}:7: services[0].refresh: must be greater than or equal to 0.2",
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.org", "must start with http:// or https://"),
        ("example.org/api", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("https://user:pw@example.org", "must not hold credentials"),
        ("https://example.org:99999", "not a valid URL"),
        ("https://example.org/api?x=1", "must not have a query or fragment"),
        ("https://exa mple.org", "must not contain spaces"),
    ],
)
def test_bad_urls(tmp_path: Path, url: str, message: str) -> None:
    path = write(tmp_path, f'[[services]]\nname = "b"\nkind = "bsub"\nurl = "{url}"\ntoken = "t"\n')
    [line] = problems_of(path)
    assert line.startswith(f"{path}:4: services[0].url: {message}")
    if "pw" in url:
        assert "pw" not in line.split(": ", 2)[2]


def test_url_keeps_its_path_without_trailing_slash() -> None:
    config = config_from_data(
        {
            "services": [
                {
                    "name": "l",
                    "kind": "leia",
                    "url": " http://[::1]:81/leia/1.0.0/ ",
                    "api_key": "k",
                }
            ]
        }
    )
    assert config.services[0].url == "http://[::1]:81/leia/1.0.0"


def test_duplicate_names_point_at_the_second(tmp_path: Path) -> None:
    text = bsub(name="same") + "\n" + bsub(name="other") + "\n" + bsub(name="same")
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}:14: services[2].name: service name 'same' is already used by services[0]"
    ]


def test_names_must_not_be_blank(tmp_path: Path) -> None:
    path = write(tmp_path, bsub(name="  "))
    assert problems_of(path) == [f"{path}:2: services[0].name: must not be empty"]


def test_missing_keys_point_at_their_table(tmp_path: Path) -> None:
    path = write(tmp_path, '# leia\n\n[[services]]\nkind = "leia"\nname = "l"\n')
    assert problems_of(path) == [
        f"{path}:3: services[0].url: missing (required)",
        f"{path}:3: services[0].api_key: missing (required)",
    ]


def test_kind_missing_or_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, '[[services]]\nname = "a"\n\n[[services]]\nname = "b"\nkind = "slurm"\n')
    assert problems_of(path) == [
        f"{path}:1: services[0].kind: missing (every [[services]] entry needs one of: "
        "bsub, ecotaxa, leia, dsp-ingest)",
        f"{path}:6: services[1].kind: unknown kind 'slurm' (expected one of: "
        "bsub, ecotaxa, leia, dsp-ingest)",
    ]


def test_services_must_be_an_array_of_tables(tmp_path: Path) -> None:
    path = write(tmp_path, 'services = "bsub"\n')
    assert problems_of(path) == [f"{path}:1: services: must be an array"]
    path = write(tmp_path, "[services]\nname = 1\n", "table.toml")
    assert problems_of(path) == [f"{path}:1: services: must be an array"]


def test_toml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[ui]\nrefresh = 2\ntheme = "nord\n')
    [line] = problems_of(path)
    assert re.fullmatch(rf"{re.escape(str(path))}:3: TOML syntax error: .+ \(column \d+\)", line)


def test_unreadable_or_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "absent.toml") == [f"{tmp_path / 'absent.toml'}: no such file"]
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[ui]")
    assert problems_of(binary) == [f"{binary}: not UTF-8 text"]


def test_in_memory_config_problems_name_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_data({"services": [{"name": "x", "kind": "leia", "url": "http://h"}]}, "demo")
    assert str(caught.value) == "demo: services[0].api_key: missing (required)"


def test_key_locator() -> None:
    text = """\
top = 1
ui.refresh = 2
notes = '''
[[services]]
name = "not a table"
'''
[[services]]
"name" = "first"
projects = [
  "0001", # [comment]
]
token = "x"
[services.extra]
deep = true
[[services]]
name = "second"
"""
    locator = KeyLocator(text)
    assert locator.line_of(("top",)) == 1
    assert locator.line_of(("ui", "refresh")) == 2
    assert locator.line_of(("ui",)) == 2
    assert locator.line_of(("services", 0)) == 7
    assert locator.line_of(("services", 0, "name")) == 8
    assert locator.line_of(("services", 0, "projects", 0)) == 9
    assert locator.line_of(("services", 0, "token")) == 12
    assert locator.line_of(("services", 0, "extra", "deep")) == 14
    assert locator.line_of(("services", 1, "name")) == 16
    assert locator.line_of(("services", 1, "url")) == 15
    assert locator.line_of(("nothing",)) is None


# -- where the file is ----------------------------------------------------------------------------


def test_default_config_path_order(tmp_path: Path) -> None:
    home = str(Path("~").expanduser())
    assert default_config_path({"JOBTUI_CONFIG": "/etc/jobtui.toml", "XDG_CONFIG_HOME": "/x"}) == (
        Path("/etc/jobtui.toml")
    )
    assert default_config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/jobtui/config.toml")
    assert default_config_path({}) == Path(home, ".config/jobtui/config.toml")
    # The XDG spec says a relative XDG_CONFIG_HOME is ignored.
    assert default_config_path({"XDG_CONFIG_HOME": "rel"}) == Path(
        home, ".config/jobtui/config.toml"
    )


def test_config_search_description() -> None:
    assert "$JOBTUI_CONFIG names /etc/j.toml" in config_search_description(
        {"JOBTUI_CONFIG": "/etc/j.toml"}
    )
    text = config_search_description({"XDG_CONFIG_HOME": "/x"})
    assert "$JOBTUI_CONFIG is not set" in text and "/x/jobtui/config.toml" in text


# -- writing, starter, example --------------------------------------------------------------------


def test_write_config_file_is_private_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    write_config_file(path, "a = 1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    with pytest.raises(FileExistsError):
        write_config_file(path, "a = 2\n")
    assert path.read_text() == "a = 1\n"
    path.chmod(0o644)
    write_config_file(path, "a = 3\n", overwrite=True)
    assert path.read_text() == "a = 3\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_starter_loads_and_its_examples_work_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = starter_config_text()
    config = parse_config(text, tmp_path / "starter.toml")
    assert config.services == []
    assert config.ui == UiConfig()

    # What the starter tells people to do: remove the first "# " of each line of a table.
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".config" / "jobtui").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path))
    uncommented = _uncomment_service_tables(text)
    config = parse_config(uncommented, tmp_path / "starter.toml")
    assert [s.kind for s in config.services] == ["bsub", "ecotaxa", "leia", "dsp-ingest"]
    assert config.literal_secrets() == []


def _uncomment_service_tables(text: str) -> str:
    """Remove the first "# " of each line from "# [[services]]" to the next blank line."""
    out = []
    inside = False
    for line in text.splitlines():
        if line == "# [[services]]":
            inside = True
        elif not line.strip():
            inside = False
        out.append(line.removeprefix("# ") if inside else line)
    return "\n".join(out) + "\n"


def test_example_file_loads_and_documents_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    path = ROOT / "config.example.toml"
    config = load_config(path)
    assert [s.kind for s in config.services] == list(SERVICE_MODELS)
    assert config.literal_secrets() == []
    text = path.read_text()
    assert text == example_config_text(), (
        "config.example.toml is out of date: regenerate it with "
        "python -c \"from jobtui.config import example_config_text as t; print(t(), end='')\" "
        "> config.example.toml"
    )
    # Every key appears, set or commented out, in the table of its kind.
    text, _, keys_table = text.partition("\n[keys]\n")
    assert set(re.findall(r"^# (\w+) =", keys_table, re.M)) == set(KEY_ACTIONS)
    tables = text.split("\n[[services]]\n")
    keys_in = [set(re.findall(r"^(?:# )?(\w+) =", table, re.M)) for table in tables]
    assert set(table_keys(UiConfig)) <= keys_in[0]
    for keys_shown, model in zip(keys_in[1:], SERVICE_MODELS.values(), strict=True):
        assert set(table_keys(model)) == keys_shown


def test_to_toml_round_trips() -> None:
    data = {
        "ui": {"refresh": 0.5},
        "services": [
            {"name": "b", "kind": "bsub", "url": "http://127.0.0.1:1", "token": "tok"},
            {
                "name": "d",
                "kind": "dsp-ingest",
                "url": "http://h",
                "token": "j",
                "projects": ["0001"],
            },
        ],
    }
    text = to_toml(data, comment="written by a test\nsecond line")
    assert text.startswith("# written by a test\n# second line\n")
    assert tomllib.loads(text) == data
    config = parse_config(text)
    assert config.literal_secrets() == ["services[0].token", "services[1].token"]


# -- the readable-file warning --------------------------------------------------------------------


def test_warning_when_literal_secrets_are_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, bsub(token='"very-literal-token"'))
    config = load_config(path)
    path.chmod(0o644)
    warning = warn_if_readable(path, config)
    assert warning is not None
    assert str(path) in warning and "services[0].token" in warning and "0644" in warning
    assert "very-literal-token" not in warning
    path.chmod(0o640)
    assert warn_if_readable(path, config) is not None
    path.chmod(0o600)
    assert warn_if_readable(path, config) is None

    monkeypatch.setenv("JOBTUI_TEST_TOKEN", "t")
    indirect = write(tmp_path, bsub(token='"env:JOBTUI_TEST_TOKEN"'), "indirect.toml")
    indirect.chmod(0o644)
    assert warn_if_readable(indirect, load_config(indirect)) is None


# -- the service registry -------------------------------------------------------------------------

SAMPLE_SECRET = "sample-secret-7f3a"
SAMPLE_ENTRIES: dict[str, dict[str, object]] = {
    "bsub": {"token": SAMPLE_SECRET},
    "ecotaxa": {"username": "u", "password": SAMPLE_SECRET},
    "leia": {"api_key": SAMPLE_SECRET},
    "dsp-ingest": {"token": SAMPLE_SECRET, "projects": ["0001"]},
}


def test_registry_covers_every_kind() -> None:
    assert set(SERVICES) == set(SERVICE_MODELS) == set(SAMPLE_ENTRIES)


@pytest.mark.parametrize("kind", list(SERVICES))
async def test_build_service_from_config(kind: str) -> None:
    module = SERVICES[kind].partition(":")[0]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    entry = {
        "name": f"my {kind}",
        "kind": kind,
        "url": "http://127.0.0.1:9",
        **SAMPLE_ENTRIES[kind],
    }
    config = config_from_data({"services": [entry]})
    service = build_service(config.services[0])
    try:
        assert service.kind == kind
        assert service.name == f"my {kind}"
        assert SAMPLE_SECRET not in repr(service)
    finally:
        await service.aclose()


def test_secret_str_values_pass_through() -> None:
    # A `Secret` in in-memory data is already resolved: it is kept, never read as env: or file:.
    entry = {"name": "b", "kind": "bsub", "url": "http://h", "token": Secret("env:NOT_READ")}
    config = config_from_data({"services": [entry]})
    service = config.services[0]
    assert isinstance(service, BsubConfig)
    assert service.token.get_secret_value() == "env:NOT_READ"
    assert os.environ.get("NOT_READ") is None


# -- [keys] ---------------------------------------------------------------------------------------


def test_keys_table_rebinds_actions() -> None:
    text = '[keys]\ncancel = "x"\nfilter = "ctrl+f, f3"\nhelp = "question_mark"\n'
    config = parse_config(text, "keys.toml")
    assert config.keys == {"cancel": "x", "filter": "ctrl+f,f3", "help": "question_mark"}


def test_keys_table_defaults_to_nothing_rebound() -> None:
    assert parse_config("", "empty.toml").keys == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('cancle = "x"', "keys.cancle: unknown action 'cancle' (did you mean cancel?)"),
        ('cancel = "ctrl+"', "keys.cancel: 'ctrl+' is not a key"),
        ('cancel = "hyperspace+x"', "keys.cancel: 'hyperspace+x' is not a key"),
        ('cancel = "x,"', "keys.cancel: '' is not a key"),
        ('cancel = "no_such_key_name"', "keys.cancel: 'no_such_key_name' is not a key"),
        ("cancel = 3", "keys.cancel: must be a string"),
    ],
)
def test_bad_keys_are_named_with_file_and_line(line: str, message: str) -> None:
    text = f'[ui]\nrefresh = 2.0\n\n[keys]\nhelp = "f1"\n{line}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "keys.toml")
    lines = caught.value.lines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"keys.toml:6: {message}"), lines


def test_every_default_key_is_a_valid_key() -> None:
    data = {"keys": {name: key for name, (key, _) in KEY_ACTIONS.items()}}
    assert config_from_data(data).keys.keys() == KEY_ACTIONS.keys()


# -- every problem of the file, in one run ----------------------------------------------------------


def dsp(extra: str = "", *, name: str = "d") -> str:
    return (
        f'[[services]]\nname = "{name}"\nkind = "dsp-ingest"\nurl = "http://h"\ntoken = "t"\n'
        f"{extra}"
    )


def test_every_bad_shortcode_of_a_list_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, dsp('projects = ["0803", "08g3", "zz", "0803"]\n'))
    assert problems_of(path) == [
        f"{path}:6: services[0].projects[1]: '08g3' is not a project shortcode "
        "(4 hex digits, like 0803)",
        f"{path}:6: services[0].projects[2]: 'zz' is not a project shortcode "
        "(4 hex digits, like 0803)",
        f"{path}:6: services[0].projects[3]: 0803 is listed twice",
    ]


def test_a_type_error_hides_no_other_problem(tmp_path: Path) -> None:
    text = (
        dsp('refresh = "often"\nprojects = [1, "zz"]\n', name="same")
        + "\n"
        + bsub(name="same", token="3")
        + '\n[[services]]\nname = "e"\nkind = "ecotaxa"\nurl = "http://h"\nusername = "u"\n'
        + 'verify = "yes"\n'
        + '\n[notifications]\nevents = ["failed", 2, "failed"]\n'
    )
    path = write(tmp_path, text)
    assert problems_of(path) == [
        f"{path}:6: services[0].refresh: must be a number",
        f"{path}:7: services[0].projects[0]: must be a string",
        f"{path}:7: services[0].projects[1]: 'zz' is not a project shortcode "
        "(4 hex digits, like 0803)",
        f"{path}:10: services[1].name: service name 'same' is already used by services[0]",
        f"{path}:13: services[1].token: must be a string",
        f"{path}:15: services[2].password: required with username",
        f"{path}:20: services[2].verify: must be true or false",
        f"{path}:23: notifications.events[1]: must be 'succeeded', 'failed', 'needs_input' or 'overdue'",
        f"{path}:23: notifications.events[2]: 'failed' is listed twice",
    ]


@pytest.mark.parametrize(
    ("table", "problems"),
    [
        ('cancel = "x"\nquit = "x"\n', ["3: keys.quit: 'x' is also the key of cancel"]),
        (
            'cancel = "q"\n',
            [
                "2: keys.cancel: 'q' is also the key of quit by default; rebind quit too, "
                "or choose another key"
            ],
        ),
        (
            'help = "r"\n',
            [
                "2: keys.help: 'r' is also the key of refresh by default; "
                "rebind refresh too, or choose another key"
            ],
        ),
        (
            'filter = "ctrl+f"\npalette = "f5, ctrl+f"\n',
            ["3: keys.palette: 'ctrl+f' is also the key of filter"],
        ),
        # the same key by another name: `?` is question_mark, `=` is equals_sign
        (
            'quit = "question_mark"\n',
            [
                "2: keys.quit: 'question_mark' is also the key of help "
                "by default; rebind help too, or choose another key"
            ],
        ),
        (
            'pause = "="\n',
            [
                "2: keys.pause: '=' is also the key of slower by default; "
                "rebind slower too, or choose another key"
            ],
        ),
        (
            'finalize = "i"\n',
            [
                "2: keys.finalize: 'i' is also the key of ingest by default; "
                "rebind ingest too, or choose another key"
            ],
        ),
        ('cancel = "3"\n', ["2: keys.cancel: '3' is a fixed key (show tab 3)"]),
        (
            'conditional = "f"\n',
            ["2: keys.conditional: 'f' is a fixed key (Leia's server-side filters)"],
        ),
    ],
)
def test_conflicting_keys_are_an_error_naming_both(table: str, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[keys]\n{table}", "keys.toml")
    assert caught.value.lines() == [f"keys.toml:{problem}" for problem in problems]


@pytest.mark.parametrize(
    "table",
    [
        'quit = "x"\ncancel = "q"\n',  # swapped: each key is one action's
        'submit = "x"\nstart = "x"\n',  # bsub.io's and Leia's: never in one tab
        'conditional = "u"\n',  # Leia's and dsp-ingest's
        'finalize = "f"\n',  # dsp-ingest's; f is fixed on Leia's tab only
        'help = "question_mark"\n',  # its own default, by name
    ],
)
def test_keys_that_never_meet_do_not_conflict(table: str) -> None:
    assert parse_config(f"[keys]\n{table}", "keys.toml").keys


def test_key_scopes_are_the_services_actions() -> None:
    from jobtui.config import KIND_KEY_ACTIONS
    from jobtui.services import service_class

    for kind in SERVICES:
        actions = {action.value for action in service_class(kind).actions}
        assert KIND_KEY_ACTIONS[kind] == actions, kind
    every = set().union(*KIND_KEY_ACTIONS.values())
    assert every <= KEY_ACTIONS.keys()
