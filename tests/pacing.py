"""A `Pacer` whose turns are counted in work items instead of seconds, for tests that check where
long work lets the event loop run."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from jobtui.core.pacing import Pacer


def turns_of(items: int) -> Callable[[], Pacer]:
    """A `Pacer` factory whose turn is over after `items` checks (a clock that moves one tick at
    each look), and whose rests are one turn of the event loop."""

    def make() -> Pacer:
        ticks = itertools.count()
        return Pacer(turn=items, rest=0.0, clock=lambda: float(next(ticks)))

    return make
