"""An idle dashboard's input thread sleeps: `jobtui --config` in a pseudo-terminal, on a frozen
bsub.io emulator, does not wake the thread that waits for keys while no key arrives. Textual's
own driver wakes it ten times a second. Keys still arrive, a lone Escape still closes a dialog,
and `q` still ends the app at once."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path

import pytest

from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from tests.conftest import EmulatorFactory
from tests.e2e.terminal import Terminal
from tests.services.bsub_support import start

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))
WINDOW = 3.0
"""Seconds without a key; Textual's driver would wake about 30 times in them."""


def input_thread(pid: int) -> Path:
    """The thread of `pid` that waits in select(2): the one reading the terminal."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        wchan = (task / "wchan").read_text()
        if task.name != str(pid) and ("select" in wchan or "poll_schedule" in wchan):
            return task
    pytest.skip("this kernel does not say where threads wait (/proc/*/wchan)")


def wakeups(task: Path) -> int:
    """Voluntary context switches of one thread: each time it blocked, having woken before."""
    for line in (task / "status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no context switch count in {task}/status")


@pytest.mark.skipif(
    JOBTUI is None or not Path("/proc/self/task").is_dir(),
    reason="needs the jobtui command and Linux's /proc",
)
def test_no_thread_wakes_while_no_key_arrives_and_keys_still_act(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    assert JOBTUI is not None
    running, _state = start(emulator, jobs=10)
    config = {"ui": {"refresh": 2.0}, "services": service_entries([running])}
    path = write_config_file(tmp_path / "config.toml", to_toml(config))
    term = Terminal([JOBTUI, "--config", str(path)], env={"TERM": "xterm-256color"})
    try:
        term.wait_for(lambda text: "● live · 10 jobs" in text, timeout=30)
        term.read(0.5)  # the last frame's bytes
        thread = input_thread(term.pid)
        before = wakeups(thread)
        end = time.monotonic() + WINDOW
        while (left := end - time.monotonic()) > 0:
            term.read(left)  # keep the terminal drained while nothing is typed
        woken = wakeups(thread) - before
        assert woken <= 1, f"the input thread woke {woken} times in {WINDOW:g} s without a key"

        term.send("?")
        term.wait_for(lambda text: "escape closes" in text)
        term.send("\x1b")  # alone: reported once no sequence follows it
        term.wait_for(lambda text: "escape closes" not in text, timeout=5)
        term.send("q")
        assert term.wait_exit(timeout=5) == 0
    finally:
        term.close()


@pytest.mark.skipif(
    JOBTUI is None or shutil.which("bash") is None, reason="needs the jobtui command and bash"
)
def test_ctrl_z_stops_the_app_and_fg_brings_it_back_with_its_keys(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    # Suspending ends application mode (and the driver's wake pipe with it); resuming starts it
    # again with a new input thread, which must wait on a new pipe.
    assert JOBTUI is not None
    running, _state = start(emulator, jobs=10)
    config = {"services": service_entries([running])}
    path = write_config_file(tmp_path / "config.toml", to_toml(config))
    shell = Terminal(
        ["bash", "--norc", "--noprofile", "-i"], env={"TERM": "xterm-256color", "PS1": "$ "}
    )
    try:
        shell.wait_for(lambda text: "$" in text)
        shell.send(f"{JOBTUI} --config {path}\r")
        shell.wait_for(lambda text: "● live · 10 jobs" in text, timeout=30)
        shell.send("\x1a")  # Ctrl+Z
        shell.wait_for(lambda text: "Stopped" in text)
        shell.send("fg\r")
        shell.wait_for(lambda text: "● live · 10 jobs" in text and "Stopped" not in text)
        shell.send("?")
        shell.wait_for(lambda text: "escape closes" in text)
        shell.send("\x1b")
        shell.wait_for(lambda text: "escape closes" not in text, timeout=5)
        left = len(shell.raw)
        shell.send("q")
        # Back at the prompt once the app leaves the alternate screen (pyte shows no second
        # screen: the last frame stays on its display).
        shell.wait_until(lambda: b"\x1b[?1049l" in shell.raw[left:])
        shell.send("echo EXIT=$?\r")
        shell.wait_for(lambda text: "EXIT=0" in text)
        shell.send("exit\r")
        assert shell.wait_exit() == 0
    finally:
        shell.close()


@pytest.mark.skipif(JOBTUI is None, reason="needs the jobtui command")
def test_keys_typed_right_after_q_do_nothing(emulator: EmulatorFactory, tmp_path: Path) -> None:
    # "o" arriving with "q" opened the save dialog while the app closed: its traceback was the
    # last thing on the terminal.
    assert JOBTUI is not None
    running, _state = start(emulator, jobs=10)
    path = write_config_file(
        tmp_path / "config.toml", to_toml({"services": service_entries([running])})
    )
    term = Terminal([JOBTUI, "--config", str(path)], env={"TERM": "xterm-256color"})
    try:
        term.wait_for(lambda text: "● live · 10 jobs" in text, timeout=30)
        term.send("q")
        deadline = time.monotonic() + 10
        while term.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # the terminal closes with the app
                term.send("o")  # save output: a dialog
            term.read(0.005)
        assert term.wait_exit(timeout=1) == 0
        assert b"Traceback" not in term.raw and b"NoMatches" not in term.raw
    finally:
        term.close()
