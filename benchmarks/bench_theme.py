"""The theme chooser (`T`) in a real pseudo-terminal: how soon a move answers.

jobtui runs as a user starts it (the installed `jobtui`, 120x40) on four services (one emulator of
each kind, in another process, 40 jobs each as in `jobtui demo`). Showing a theme restyles and
repaints the whole dashboard, so the chooser moves its highlight at once and shows the theme the
highlight rests on (`jobtui/tui/modals/theme.py`).

* move: from an up arrow to the first bytes of the screen update (the highlight moved), each
  move made once the previous theme is on screen. The reference is a cursor key in the job table.
* shown: from that arrow to the last bytes of the repaint that shows the theme (the screen
  then stays quiet for 1 s: a restyle writes nothing until it is done): the rest, the restyle and the repaint.
* held: eight up arrows 30 ms apart (a key repeat): from the last to the theme shown.
* open: from `T` to the chooser on screen.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.bench_terminal import KINDS, LIVE, key_latencies
from benchmarks.common import JOBTUI, Emulators, Pty, Row, at_most, median

JOBS = 40
QUIET = 1.0
UP = "\x1b[A"
END = "\x1b[F"


def _last_read(term: Pty) -> float:
    """Seconds since the terminal's start of the last bytes it read."""
    return term.reads[-1][0] if term.reads else 0.0


def _press(term: Pty, keys: str) -> float:
    """Send `keys`; the seconds since the terminal's start when they were sent."""
    sent = time.perf_counter() - term.started
    term.send(keys)
    return sent


def _answer(term: Pty, sent: float, timeout: float = 10.0) -> tuple[float, float]:
    """(seconds to the first bytes, seconds to the last bytes before a quiet gap) after `sent`."""
    deadline = time.perf_counter() + timeout
    while not term.read(0.05):
        if time.perf_counter() > deadline:
            raise TimeoutError("no screen update after a key press")
    first = _last_read(term) - sent
    term.quiet(QUIET, timeout=timeout)
    return first, _last_read(term) - sent


def run_theme(quick: bool) -> list[Row]:
    moves = 2 if quick else 10
    held = 4 if quick else 8
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        with Emulators(KINDS, jobs=JOBS, config=config):
            term = Pty([JOBTUI, "--config", str(config)], columns=120, lines=40)
            try:
                term.wait_for(lambda text: LIVE in text, timeout=60)
                table = key_latencies(term, 3 if quick else 10)
                term.quiet(QUIET, timeout=10)
                opened, _ = _answer(term, _press(term, "T"))
                if "shows a theme" not in term.text():
                    term.wait_for(lambda text: "shows a theme" in text, timeout=30)
                term.quiet(QUIET, timeout=10)
                # From the last theme up: Textual's true-colour themes (the ANSI ones, at the
                # top, draw nearly the same bytes in every variant).
                term.send(END)
                term.quiet(QUIET, timeout=10)
                answered: list[float] = []
                shown: list[float] = []
                for _ in range(moves):
                    first, last = _answer(term, _press(term, UP))
                    answered.append(first)
                    shown.append(last)
                term.send(END)
                term.quiet(QUIET, timeout=10)
                sent = 0.0
                for _ in range(held):
                    sent = _press(term, UP)
                    time.sleep(0.03)
                term.quiet(QUIET, timeout=10)
                held_shown = _last_read(term) - sent
                term.send("\x1b")
                term.quiet(QUIET, timeout=10)
            finally:
                term.close()
    move = median(answered) * 1000
    reference = median(table) * 1000
    return [
        Row(
            figure="theme chooser: a move to the screen update (4 services, 120x40)",
            unit="ms",
            jobtui=move,
            reference=reference,
            reference_name="a cursor key in the job table",
            target="<= 100 ms",
            passed=at_most(move, 100.0),
            runs=len(answered),
            samples=[s * 1000 for s in answered],
        ),
        Row(
            figure="  the theme under the highlight shown (0.15 s rest, restyle, repaint)",
            unit="ms",
            jobtui=median(shown) * 1000,
            reference=None,
            reference_name="",
            target="context",
            passed=None,
            runs=len(shown),
            samples=[s * 1000 for s in shown],
        ),
        Row(
            figure=f"  {held} moves 30 ms apart (a held key): the last to its theme shown",
            unit="ms",
            jobtui=held_shown * 1000,
            reference=None,
            reference_name="",
            target="context",
            passed=None,
        ),
        Row(
            figure="theme chooser: T to the chooser on screen",
            unit="ms",
            jobtui=opened * 1000,
            reference=reference,
            reference_name="a cursor key in the job table",
            target="context",
            passed=None,
        ),
    ]
