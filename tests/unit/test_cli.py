"""The command line, run as people run it: `python -m jobtui` and the installed `jobtui`."""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

import jobtui
from jobtui.__main__ import main
from jobtui.config import SERVICE_MODELS, config_from_data, load_config
from jobtui.emulate_cli import KINDS, TAB_TITLES, service_entries
from jobtui.emulators import runner
from jobtui.services import SERVICES, build_service
from tests.conftest import EmulatorFactory

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with a home and config folder of its own and no $JOBTUI_CONFIG."""
    home = tmp_path / "home"
    home.mkdir()
    environ = {k: v for k, v in os.environ.items() if k not in ("JOBTUI_CONFIG", "XDG_CONFIG_HOME")}
    environ["HOME"] = str(home)
    environ["XDG_CONFIG_HOME"] = str(home / ".config")
    return environ


def run(
    args: list[str], env: dict[str, str], *, installed: bool = False, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [JOBTUI] if installed and JOBTUI else [sys.executable, "-m", "jobtui"]
    return subprocess.run(
        [*command, *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# -- --version, --help, usage ----------------------------------------------------------------------


@pytest.mark.parametrize("installed", [False, True], ids=["python -m jobtui", "jobtui"])
def test_version(env: dict[str, str], installed: bool) -> None:
    if installed and JOBTUI is None:
        pytest.skip("the jobtui command is not installed in this environment")
    result = run(["--version"], env, installed=installed)
    assert result.returncode == 0
    assert result.stdout == f"jobtui {jobtui.__version__}\n"


def test_help_lists_commands_and_exit_codes(env: dict[str, str]) -> None:
    result = run(["--help"], env, installed=True)
    assert result.returncode == 0
    for text in ("demo", "emulate", "config init", "config check", "$JOBTUI_CONFIG"):
        assert text in result.stdout
    codes = result.stdout[result.stdout.index("exit codes") :]
    assert re.search(r"0\s+ok", codes)
    assert re.search(r"1\s+a local file could not be written", codes)
    assert re.search(r"2\s+usage or config error", codes)


def readme_exit_codes() -> dict[int, str]:
    """The README's exit-code table: code -> meaning."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| code | meaning |") :].split("\n\n")[0]
    rows = (line.split("|")[1:3] for line in table.splitlines()[2:])
    return {int(code): meaning.strip() for code, meaning in rows}


def test_one_table_of_exit_codes(env: dict[str, str]) -> None:
    """The README's table, `jobtui --help` and the scripts' `--help` list the same codes, and
    each situation is filed under the same code in all of them."""
    from jobtui import headless

    readme = readme_exit_codes()
    assert sorted(readme) == [0, 1, 2, 3, 4, 5, 141]
    helps = run(["--help"], env).stdout
    helps = helps[helps.index("exit codes") :]
    listed = {int(code) for code in re.findall(r"^  (\d+)  ", helps, re.MULTILINE)}
    assert listed == set(readme)
    scripts = {int(c) for c in re.findall(r"^  (\d+)  ", headless.EXIT_CODES, re.MULTILINE)}
    assert scripts == set(readme)
    assert (headless.EXIT_JOB_FAILED, headless.EXIT_USAGE) == (1, 2)
    for code, situation in [
        (1, "`download`"),
        (1, "`config init`"),
        (1, "`--log`"),
        (2, "without `[[services]]` entries"),
        (2, "`config init` onto an existing file"),
        (5, "download file exists"),
    ]:
        assert situation in readme[code], (code, situation)
        bare = situation.replace("`", "")
        assert bare in helps.split(f"\n  {code}  ")[1].split("\n  ")[0] + helps, (code, bare)


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["config"],
        ["config", "frobnicate"],
        ["demo", "--services", "bsub,slurm"],
        ["emulate", "--speed", "-1"],
        ["emulate", "--jobs", "many"],
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: list[str]) -> None:
    result = run(args, env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: jobtui")
    no_traceback(result)


def test_main_returns_exit_codes_without_raising(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["--no-such-option"]) == 2
    assert "jobtui" in capsys.readouterr().out


def test_kind_lists_agree() -> None:
    assert list(KINDS) == list(runner.KINDS) == list(SERVICES) == list(SERVICE_MODELS)
    assert set(TAB_TITLES) == set(KINDS)


# -- no config, a bad config -----------------------------------------------------------------------


def test_no_config_file_says_where_it_looked(env: dict[str, str]) -> None:
    result = run([], env)
    assert result.returncode == 2
    expected = Path(env["XDG_CONFIG_HOME"]) / "jobtui" / "config.toml"
    assert str(expected) in result.stderr
    assert "$JOBTUI_CONFIG is not set" in result.stderr
    assert "jobtui config init" in result.stderr
    no_traceback(result)


def test_missing_explicit_config(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = run(["--config", str(missing)], env)
    assert result.returncode == 2
    assert f"no config file at {missing}" in result.stderr
    assert f"jobtui config init {missing}" in result.stderr


def test_jobtui_config_env_var_is_used(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[ui]\nrefresh = "x"\n')
    result = run([], {**env, "JOBTUI_CONFIG": str(path)})
    assert result.returncode == 2
    assert result.stderr == f"{path}:2: ui.refresh: must be a number\n"


def test_dashboard_refuses_a_config_with_problems_or_no_services(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[services]]\nname = "b"\nkind = "bsub"\nurl = "http://h"\ntoken = "env:JOBTUI_UNSET_X"\n'
    )
    result = run(["--config", str(bad)], env)
    assert result.returncode == 2
    assert result.stderr == (
        f"{bad}:5: services[0].token: environment variable JOBTUI_UNSET_X is not set\n"
    )
    empty = tmp_path / "empty.toml"
    empty.write_text("[ui]\n")
    result = run(["--config", str(empty)], env)
    assert result.returncode == 2
    assert "no [[services]] entries" in result.stderr


# -- config init / check ---------------------------------------------------------------------------


def test_config_init_then_check(env: dict[str, str]) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "jobtui" / "config.toml"
    result = run(["config", "init"], env, installed=True)
    assert result.returncode == 0, result.stderr
    assert f"wrote {path} (mode 0600)" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert "[ui]" in first and "# [[services]]" in first

    # One verdict: the starter file opens no dashboard yet, and `config check` says so.
    check = run(["config", "check"], env)
    dashboard = run([], env)
    assert check.stdout == ""
    assert (
        check.stderr
        == dashboard.stderr
        == (
            f"{path}: no [[services]] entries: uncomment or add one "
            "(config.example.toml documents every kind)\n"
        )
    )
    assert check.returncode == dashboard.returncode == 2

    path.write_text("# mine\n")
    result = run(["config", "init"], env)
    assert result.returncode == 2  # a usage error, as the README's table says
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert path.read_text() == "# mine\n"

    result = run(["config", "init", "--force"], env)
    assert result.returncode == 0
    assert path.read_text() == first


def test_config_init_at_a_path(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "sub" / "jobtui.toml"
    result = run(["config", "init", str(path)], env)
    assert result.returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    result = run(["--config", str(path), "config", "check"], env)
    assert result.returncode == 2 and "no [[services]] entries" in result.stderr


def test_config_init_and_log_that_cannot_be_written_exit_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "file"
    file.write_text("")
    result = run(["config", "init", str(file / "config.toml")], env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"jobtui: cannot write {file / 'config.toml'}: ")
    good = tmp_path / "good.toml"
    good.write_text('[[services]]\nname = "b"\nkind = "bsub"\nurl = "http://h"\ntoken = "t"\n')
    good.chmod(0o600)
    result = run(["--config", str(good), "--log", str(file / "jobtui.log")], env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"jobtui: cannot write the log {file / 'jobtui.log'}: ")
    no_traceback(result)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("[ui]\n", ["no [[services]] entries"]),
        (
            '[ui]\nrefresh = "x"\n[keys]\ncancel = "x"\nquit = "x"\n',
            [":2: ui.refresh: must be a number", ":5: keys.quit: 'x' is also the key of cancel"],
        ),
        (
            '[[services]]\nname = "d"\nkind = "dsp-ingest"\nurl = "http://h"\ntoken = "t"\n'
            'projects = ["08g3", "zz"]\n',
            [":6: services[0].projects[0]: '08g3'", ":6: services[0].projects[1]: 'zz'"],
        ),
    ],
    ids=["no services", "type error and conflicting keys", "two bad shortcodes"],
)
def test_config_check_and_the_dashboard_give_one_verdict(
    env: dict[str, str], tmp_path: Path, text: str, problems: list[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    check = run(["config", "check", str(path)], env)
    dashboard = run(["--config", str(path)], env)
    assert (check.returncode, check.stderr) == (dashboard.returncode, dashboard.stderr)
    assert check.returncode == 2 and check.stdout == ""
    lines = check.stderr.splitlines()
    assert len(lines) == len(problems)
    for line, problem in zip(lines, problems, strict=True):
        assert line.startswith(str(path)) and problem in line, (line, problem)


# -- emulators -------------------------------------------------------------------------------------


def emulator_exists(kind: str) -> bool:
    return importlib.util.find_spec(runner.KINDS[kind]) is not None


class Lines:
    """Reads a child's stdout line by line (in a thread), waiting for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)

    def until(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in {''.join(self.seen)!r}")


@pytest.fixture
def spawn(env: dict[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


# Each kind with a request that answers once the emulator is up (URL relative to the printed one).
PROBES = {"bsub": "/v1/version", "leia": "/login/{api_key}"}


@pytest.mark.parametrize("kind", ["bsub", "leia"])
def test_emulate_writes_a_config_and_stops_on_sigint(
    kind: str,
    env: dict[str, str],
    tmp_path: Path,
    spawn: list[subprocess.Popen[str]],
) -> None:
    if not emulator_exists(kind):
        pytest.skip(f"{runner.KINDS[kind]} is not written yet")
    config_path = tmp_path / "emulators.toml"
    process = subprocess.Popen(
        [sys.executable, "-m", "jobtui", "emulate", "--services", kind, "--speed", "0",
         "--jobs", "3", "--write-config", str(config_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    spawn.append(process)
    lines = Lines(process)
    url = lines.until(rf"^\s+{re.escape(kind)}\s+(http://127\.0\.0\.1:\d+\S*)$").group(1)
    lines.until(r"connect with:")
    assert lines.until(r"jobtui --config").group(0)
    lines.until(r"serving until Ctrl-C")

    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    config = load_config(config_path)
    [service] = config.services
    assert (service.kind, service.name, service.url) == (kind, TAB_TITLES[kind], url)
    credentials = {
        key: secret.get_secret_value()
        for key in service.secret_fields
        if (secret := getattr(service, key)) is not None
    }
    printed = "".join(lines.seen)
    for value in credentials.values():
        assert value in printed

    response = httpx.get(url + PROBES[kind].format(**credentials), timeout=10)
    assert response.status_code == 200, response.text

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 0
    assert process.stderr is not None
    stderr = process.stderr.read()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(url + PROBES[kind].format(**credentials), timeout=2)


def test_emulate_stops_on_sigterm(env: dict[str, str], spawn: list[subprocess.Popen[str]]) -> None:
    kind = next((k for k in KINDS if emulator_exists(k)), None)
    if kind is None:
        pytest.skip("no emulator is written yet")
    process = subprocess.Popen(
        [sys.executable, "-m", "jobtui", "emulate", "--services", kind, "--jobs", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    spawn.append(process)
    Lines(process).until("serving until Ctrl-C")
    process.terminate()
    assert process.wait(timeout=15) == 0


@pytest.mark.parametrize("kind", list(KINDS))
async def test_each_emulator_config_is_a_valid_service_entry(
    kind: str, emulator: EmulatorFactory
) -> None:
    """What `jobtui demo` and `emulate --write-config` build: valid, and a service builds from it."""
    if not emulator_exists(kind):
        pytest.skip(f"{runner.KINDS[kind]} is not written yet")
    running = emulator(kind, seed=1, speed=0, jobs=2)
    config = config_from_data({"services": service_entries([running])}, source="test")
    [entry] = config.services
    assert (entry.kind, entry.name, entry.url) == (kind, TAB_TITLES[kind], running.url)
    if importlib.util.find_spec(SERVICES[kind].partition(":")[0]) is None:
        return
    service = build_service(entry)
    try:
        result = await service.poll()
        assert len(result.jobs) >= 1
        assert {job.service for job in result.jobs} == {TAB_TITLES[kind]}
    finally:
        await service.aclose()


# -- the command's end ----------------------------------------------------------------------------


def run_entry(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`entry()` in a fresh interpreter, with `main` replaced by `body` (which returns a code)."""
    script = (
        "import sys, threading, time\n"
        "import jobtui.__main__ as command\n"
        f"def main():\n{textwrap.indent(body, '    ')}\n"
        "command.main = main\n"
        "command.entry()\n"
    )
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-c", script],
        env=buffered,  # as a shell runs it: output to a pipe is buffered until flushed
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_flushes_its_output_and_keeps_its_exit_code(tmp_path: Path) -> None:
    body = 'for n in range(5000):\n    print(n)\nprint("!", file=sys.stderr, end="")\nreturn 3'
    done = run_entry(body, tmp_path)
    assert done.returncode == 3
    assert done.stdout.splitlines() == [str(n) for n in range(5000)] and done.stderr == "!"


def test_a_thread_still_running_is_let_finish(tmp_path: Path) -> None:
    body = (
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    open('late.txt', 'w').write('finished')\n"
        "threading.Thread(target=late).start()\n"
        "return 0"
    )
    done = run_entry(body, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late.txt").read_text() == "finished"
