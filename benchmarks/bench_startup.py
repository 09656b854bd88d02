"""Start-up: the headless commands (wall time of the installed `jobtui` script, whether Textual got
imported), and the dashboard's first frame in a real pseudo-terminal.

The headless commands are `--help`, `--version`, `config check`, `config init`, `ls` (one poll of a
bsub.io emulator of 40 jobs, printed as a table) and `--help` of every other subcommand; the
reference is the bare interpreter (`python -c pass`), the floor of any Python command. `--help` and
`--version` must take at most 100 ms and import neither Textual nor pydantic; a command that reads
the config (pydantic) and asks a service at most 400 ms to its last line, without Textual. "First frame" is the time from starting `jobtui --config` until the terminal shows the
whole first screen (tab bar, table header, footer); htop's first full screen is the reference.

jobtui's own modules are byte-compiled first, as `pip install .` does when it installs them: an
editable install compiles them at the first start, unless PYTHONDONTWRITEBYTECODE is set, in which
case every start would compile them again (about 100 ms of the first frame).

The "of which imports" rows time `python -c "<imports>; import os; os._exit(0)"`: the imports a
command needs and nothing else, ended as the `jobtui` command ends (`jobtui.__main__.entry`),
without Python's teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import JOBTUI, Emulators, Pty, Row, at_most, median, process_cpu_seconds
from jobtui.__main__ import PYDANTIC_SETTINGS

FIXED: tuple[tuple[str, ...], ...] = (("--help",), ("--version",))

PYDANTIC_ENV = {**PYDANTIC_SETTINGS, **os.environ}
"""The environment of the import rows: pydantic set up as the `jobtui` command sets it."""


def subcommands() -> list[str]:
    """The names of jobtui's subcommands (read from its parser, so new ones are measured too)."""
    import argparse

    from jobtui.__main__ import build_parser

    names: list[str] = []
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            names += list(action.choices)
    return names


def wall(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def imported(argv: Sequence[str]) -> set[str]:
    """The top-level packages the command imports (from `python -X importtime`'s report)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    names = (line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line)
    return {name.split(".")[0] for name in names}


def target_of(command: Sequence[str]) -> tuple[float, frozenset[str]]:
    """A command's bound (ms) and what it must not import: `--help` and `--version` (of jobtui
    and of every subcommand) 100 ms without Textual or pydantic; a command that reads a config
    and asks a service 400 ms to its last line, without Textual."""
    if command[-1] in ("--help", "--version"):
        return 100.0, frozenset({"textual", "pydantic"})
    return 400.0, frozenset({"textual"})


def first_frame(argv: Sequence[str], marks: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) until the screen shows every mark."""
    term = Pty(argv)
    try:
        seconds = term.wait_for(lambda text: all(mark in text for mark in marks), timeout=30)
        return seconds, process_cpu_seconds(term.pid)
    finally:
        term.close()


def compile_bytecode() -> None:
    """Byte-compile jobtui's modules, as an installation does."""
    import jobtui

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    package = Path(jobtui.__file__).parent
    argv = [sys.executable, "-m", "compileall", "-q", str(package)]
    subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)


def run_startup(quick: bool) -> list[Row]:
    repeat = 2 if quick else 10
    rows: list[Row] = []
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        commands: list[tuple[str, ...]] = [*FIXED]
        commands.append(("config", "check", str(config)))
        commands.append(("config", "init", "--force", str(Path(tmp) / "init.toml")))
        commands.append(("--config", str(config), "ls"))  # a real command: a poll and a table
        commands += [(name, "--help") for name in subcommands() if name != "config"]
        floor = median([wall([sys.executable, "-c", "pass"]) for _ in range(repeat)])
        with Emulators(["bsub"], jobs=40, config=config):
            for command in commands:
                argv = [JOBTUI, *command]
                seconds = [wall(argv) for _ in range(repeat)]
                bound, banned = target_of(command)
                wrong = sorted(imported(argv) & banned)
                value = median(seconds) * 1000
                shown = " ".join(c if not c.startswith("/") else Path(c).name for c in command)
                rows.append(
                    Row(
                        figure=f"jobtui {shown}",
                        unit="ms",
                        jobtui=value,
                        reference=floor * 1000,
                        reference_name="python -c pass",
                        target=f"<= {bound:.0f} ms, no {' or '.join(sorted(banned))}",
                        passed=value <= bound and not wrong,
                        note=f"imports {', '.join(wrong)}" if wrong else "",
                        runs=repeat,
                        samples=[s * 1000 for s in seconds],
                    )
                )
            # What no jobtui code can go below: Python importing what each path needs.
            for what, statement in (
                ("config check, config init", "import jobtui.config"),
                ("ls", "import jobtui.config, jobtui.services.bsub.service, asyncio"),
                (
                    "the dashboard",
                    # jobtui.services keeps httpx from importing its command-line interface
                    "import jobtui.services, textual.app, textual.widgets, pydantic.main, httpx",
                ),
                ("a Textual app", "import textual.app"),
            ):
                # Ended by os._exit, as the jobtui command ends: the imports alone, no teardown.
                argv = [sys.executable, "-c", f"{statement}; import os; os._exit(0)"]
                seconds = [wall(argv, env=PYDANTIC_ENV) for _ in range(repeat)]
                rows.append(
                    Row(
                        figure=f"  of which imports for {what}: {statement}",
                        unit="ms",
                        jobtui=median(seconds) * 1000,
                        reference=floor * 1000,
                        reference_name="python -c pass",
                        target="context",
                        passed=None,
                        runs=repeat,
                        samples=[s * 1000 for s in seconds],
                    )
                )
            marks = ("bsub.io", "ID", "Quit")
            runs = [first_frame([JOBTUI, "--config", str(config)], marks) for _ in range(repeat)]
    frames = [wall for wall, _ in runs]
    rows.append(four_services_ls(repeat, floor))
    cpu = median([cpu for _, cpu in runs]) * 1000
    htop = shutil.which("htop")
    reference = None
    if htop is not None:
        reference = median([first_frame([htop], ("PID", "F10"))[0] for _ in range(repeat)]) * 1000
    value = median(frames) * 1000
    rows.append(
        Row(
            figure="dashboard to first frame (pty)",
            unit="ms",
            jobtui=value,
            reference=reference,
            reference_name="htop",
            target="<= 500 ms",
            passed=at_most(value, 500),
            note=f"CPU {cpu:.0f} ms"
            + ("" if htop else "; htop is not installed: apt-get install htop"),
            runs=repeat,
            samples=[s * 1000 for s in frames],
        )
    )
    return rows


def four_services_ls(repeat: int, floor: float) -> Row:
    """`jobtui ls` against the four kinds of service at once (40 jobs each, the emulators' seeds:
    dsp-ingest's include a project whose mapping is locked), to its last line."""
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        with Emulators(["bsub", "ecotaxa", "leia", "dsp-ingest"], jobs=40, config=config):
            argv = [JOBTUI, "--config", str(config), "ls"]
            seconds = [wall(argv) for _ in range(repeat)]
    value = median(seconds) * 1000
    return Row(
        figure="jobtui ls, four services (bsub.io, EcoTaxa, Leia, dsp-ingest; 40 jobs each)",
        unit="ms",
        jobtui=value,
        reference=floor * 1000,
        reference_name="python -c pass",
        target="<= 400 ms",
        passed=at_most(value, 400),
        runs=repeat,
        samples=[s * 1000 for s in seconds],
    )
