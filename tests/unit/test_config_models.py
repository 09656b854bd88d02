"""The config's pydantic models: validated on their own as through the file, secrets as
`SecretStr`, and the `[journal]` table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from jobtui.config import (
    BsubConfig,
    Config,
    ConfigError,
    EcoTaxaConfig,
    JournalConfig,
    config_from_data,
    example_config_text,
    field_doc,
    parse_config,
    starter_config_text,
    table_keys,
)
from jobtui.config.models import problems_of


def bsub_entry(**changes: object) -> dict[str, object]:
    return {"name": "b", "kind": "bsub", "url": "http://h", "token": "t", **changes}


def lines(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.toml")
    return caught.value.lines()


def test_secrets_are_secret_str_and_masked_in_every_dump() -> None:
    config = config_from_data({"services": [bsub_entry(token="plain-secret-value")]})
    service = config.services[0]
    assert isinstance(service, BsubConfig)
    assert isinstance(service.token, SecretStr)
    assert service.token.get_secret_value() == "plain-secret-value"
    shown = repr(config) + config.model_dump_json() + str(config.model_dump())
    assert "plain-secret-value" not in shown
    assert service.literal_secrets == frozenset({"token"})


def test_a_validation_error_of_the_models_holds_no_secret() -> None:
    data = {
        "ui": {"refresh": "soon"},
        "services": [
            bsub_entry(url="ftp://h", token="plain-secret-value"),
            {"name": "e", "kind": "ecotaxa", "url": "http://h", "password": "pw-secret-value"},
        ],
    }
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    shown = str(caught.value) + repr(caught.value.errors())
    assert "plain-secret-value" not in shown and "pw-secret-value" not in shown
    assert sorted(problems_of(caught.value), key=str) == [
        (("services", 0, "url"), "must start with http:// or https://"),
        (("services", 1, "username"), "required with password"),
        (("ui", "refresh"), "must be a number"),
    ]


def test_the_models_refuse_conflicting_keys_on_their_own() -> None:
    with pytest.raises(ValidationError) as caught:
        Config(keys={"cancel": "x", "quit": "x"})
    assert problems_of(caught.value) == [(("keys", "quit"), "'x' is also the key of cancel")]


def test_checks_across_keys_also_hold_for_models_built_directly() -> None:
    with pytest.raises(ValidationError) as caught:
        EcoTaxaConfig(name="e", url="http://h", username="u")
    assert problems_of(caught.value) == [(("password",), "required with username")]


def test_an_unknown_key_and_a_type_error_of_one_table_are_both_reported() -> None:
    assert lines('[ui]\nrefresh = "soon"\nthme = "nord"\n') == [
        "c.toml:2: ui.refresh: must be a number",
        "c.toml:3: ui.thme: unknown key (did you mean theme?)",
    ]


def test_an_unknown_key_of_a_service_is_named_without_its_kind() -> None:
    text = '[[services]]\nname = "b"\nkind = "leia"\nurl = "http://h"\napi_kye = "k"\n'
    assert lines(text) == [
        "c.toml:1: services[0].api_key: missing (required)",
        "c.toml:5: services[0].api_kye: unknown key (did you mean api_key?)",
    ]


# -- [journal] ------------------------------------------------------------------------------------


def test_journal_defaults() -> None:
    journal = parse_config("").journal
    assert journal == JournalConfig(path=None, retention_days=90, enabled=True)


def test_journal_keys_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    text = '[journal]\npath = "~/j.sqlite3"\nretention_days = 7\nenabled = false\n'
    journal = parse_config(text).journal
    assert journal == JournalConfig(path=tmp_path / "j.sqlite3", retention_days=7, enabled=False)


def test_journal_problems_are_all_named() -> None:
    text = '[journal]\npath = " "\nretention_days = 0\nenabled = "yes"\nretension = 3\n'
    assert lines(text) == [
        "c.toml:2: journal.path: must not be empty",
        "c.toml:3: journal.retention_days: must be a whole number of at least 1",
        "c.toml:4: journal.enabled: must be true or false",
        "c.toml:5: journal.retension: unknown key (did you mean retention_days?)",
    ]


def test_journal_is_documented_in_the_example_and_the_starter_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("BSUB_TOKEN", "ECOTAXA_PASSWORD", "LEIA_API_KEY", "DSP_INGEST_TOKEN"):
        monkeypatch.setenv(name, "example-secret")
    for name in table_keys(JournalConfig):
        assert field_doc(JournalConfig, name)
    for text in (example_config_text(), starter_config_text()):
        table = text.partition("\n[journal]\n")[2].partition("\n\n")[0]
        assert "retention_days = 90" in table and "enabled = true" in table
        assert '# path = "~/.local/state/jobtui/journal.sqlite3"' in table
        assert parse_config(text).journal == JournalConfig()


def test_bounds_and_whole_numbers_are_worded_per_key() -> None:
    text = (
        '[limits]\ndeadline = 0\nmax_jobs = 0.5\n[ui]\nrefresh = 0.1\n[keys]\nmax_jobs = "ctrl+j"\n'
    )
    assert lines(text) == [
        "c.toml:2: limits.deadline: must be greater than 0",
        "c.toml:3: limits.max_jobs: must be a whole number of at least 1",
        "c.toml:5: ui.refresh: must be greater than or equal to 0.2",
        "c.toml:7: keys.max_jobs: unknown action 'max_jobs' (did you mean all_jobs?)",
    ]
