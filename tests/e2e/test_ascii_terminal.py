"""The installed `jobtui demo` in a real pseudo-terminal under `LANG=C`, as a bare SSH session
starts it: every byte it writes is ASCII. Under a UTF-8 locale it keeps its glyphs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.e2e.terminal import Terminal

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(
    JOBTUI is None, reason="the jobtui command is not installed in this environment"
)


def run_demo(env: dict[str, str], live: str) -> bytes:
    """Every byte `jobtui demo` wrote until its tab showed `live`, at 80x24."""
    assert JOBTUI is not None
    term = Terminal(
        [JOBTUI, "demo", "--seed", "7", "--services", "bsub"],
        columns=80,
        lines=24,
        env={"TERM": "screen", "LC_ALL": "", "LC_CTYPE": "", **env},
    )
    try:
        term.wait_for(lambda text: live in text, timeout=30)
        term.send("q")
        assert term.wait_exit() == 0
        return bytes(term.raw)
    finally:
        term.close()


def test_under_a_c_locale_every_byte_is_ascii() -> None:
    raw = run_demo({"LANG": "C"}, "* live")
    assert raw.isascii(), sorted({chr(b) for b in raw if b > 127})


def test_under_a_utf8_locale_the_glyphs_stay() -> None:
    raw = run_demo({"LANG": "C.UTF-8"}, "● live")
    assert "⭘".encode() in raw


def test_ascii_forces_it_under_a_utf8_locale() -> None:
    assert JOBTUI is not None
    term = Terminal(
        [JOBTUI, "demo", "--ascii", "--seed", "7", "--services", "bsub"],
        columns=80,
        lines=24,
        env={"TERM": "screen", "LANG": "C.UTF-8"},
    )
    try:
        term.wait_for(lambda text: "* live" in text, timeout=30)
        term.send("q")
        assert term.wait_exit() == 0
        assert bytes(term.raw).isascii()
    finally:
        term.close()
