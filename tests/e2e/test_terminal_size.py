"""The pseudo-terminal the end-to-end tests run jobtui in has its size before the command starts:
a command that asks at once (as Textual does) never gets the 80x24 default instead."""

from __future__ import annotations

import shutil
import sys
import time

import pytest

from tests.e2e.terminal import Terminal

STTY = shutil.which("stty")


@pytest.mark.skipif(STTY is None, reason="needs stty")
def test_a_command_that_asks_at_once_gets_the_size() -> None:
    assert STTY is not None
    sizes = []
    for _ in range(30):  # the race it guards against was lost about once in 30 starts
        term = Terminal([STTY, "size"], columns=160, lines=48)
        try:
            deadline = time.monotonic() + 10
            while term.poll() is None and time.monotonic() < deadline:
                term.read(0.05)
            term.read(0.05)
            sizes.append(term.text().split("\n")[0].strip())
        finally:
            term.close()
    assert sizes == ["48 160"] * 30


def test_the_size_a_command_reads_is_the_terminals_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytest-xdist sets COLUMNS=80 and LINES=24 in its workers, which shutil.get_terminal_size
    # (Textual's way of asking) prefers to the terminal's own size.
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    asks = "import shutil; print(*shutil.get_terminal_size())"
    term = Terminal([sys.executable, "-c", asks], columns=160, lines=48)
    try:
        assert term.wait_exit() == 0
        term.read(0.05)
        assert term.text().split("\n")[0].strip() == "160 48"
    finally:
        term.close()
