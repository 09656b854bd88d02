"""The installed `jobtui demo`, started in a real pseudo-terminal, read as a person would see it."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.e2e.terminal import Terminal

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(
    JOBTUI is None, reason="the jobtui command is not installed in this environment"
)
def test_demo_shows_jobs_and_quits_cleanly() -> None:
    assert JOBTUI is not None
    term = Terminal([JOBTUI, "demo", "--seed", "7"], env={"TERM": "xterm-256color"})
    try:
        term.wait_for(lambda text: "bsub.io" in text and "● live" in text, timeout=30)
        term.send("1")  # All jobs comes first; the bsub.io tab shows its own states
        term.wait_for(
            lambda text: (
                re.search(r"\b(finished|processing|pending|failed)\b", text) is not None
                and "every 2s" in text
            ),
            timeout=30,
        )
        term.send("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
