"""Notifications reach a real terminal: `jobtui --config` in a pseudo-terminal, on a bsub.io
emulator served by the test; a job fails there, `r` polls, and the bell and the OSC 9 sequence
arrive among the bytes the terminal gets, once."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from tests.conftest import EmulatorFactory
from tests.e2e.terminal import Terminal
from tests.services.bsub_support import start
from tests.tui.live_support import fail_job, running_job

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(
    JOBTUI is None, reason="the jobtui command is not installed in this environment"
)
def test_a_failed_job_rings_and_sends_osc_9_to_the_terminal(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    assert JOBTUI is not None
    running, state = start(emulator, jobs=10)
    config = {
        "ui": {"refresh": 60.0},
        "notifications": {"events": ["failed"], "bell": True, "osc": "9"},
        "services": service_entries([running]),
    }
    path = write_config_file(tmp_path / "config.toml", to_toml(config))
    env = {"TERM": "xterm-256color", "TMUX": ""}
    term = Terminal([JOBTUI, "--config", str(path)], env=env)
    try:
        term.wait_for(lambda text: "● live · 10 jobs" in text, timeout=30)
        bells = term.raw.count(b"\x07")  # Textual's own sequences may end with one
        job = running_job(state)
        fail_job(state, job)
        term.send("r")
        term.wait_for(lambda text: f"{job.id} failed" in text)  # the toast
        sequence = f"\x1b]9;jobtui: bsub.io: {job.id} failed\x07".encode()
        term.wait_for_bytes(sequence)  # written between frames: maybe after the toast's
        term.read(0.2)
        assert term.raw.count(sequence) == 1
        assert term.raw.count(b"\x07") - bells == 2  # the bell, and the end of the OSC 9
        term.send("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
