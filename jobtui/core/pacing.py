"""Long work on the event loop, in short turns: the dashboard keeps answering keys meanwhile.

Making 100,000 jobs from a listing, comparing them with the last poll or putting them in the table
takes a second or more of CPU. Done in one go it would hold every key for that long; done in a
thread it would not run any sooner (the work is Python code, which holds the interpreter's lock)
and every key would wait on that thread for the lock at each step of its way to the screen.

A `Pacer` measures the work instead of counting items: after each `turn` of work (5 ms) the loop
gets a `rest` (1 ms) in which everything else that is ready runs, a key's many small steps from
the terminal to the screen among them. The work then goes on at about 80 % of its speed, whatever
the machine's speed or load, and no callback of it holds the loop longer than a turn and an item.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TURN = 0.005
"""Seconds of work between two rests."""
REST = 0.001
"""Seconds the loop is left to everything else after each turn."""


class Pacer:
    """Tells long work on the event loop when to let the loop run (see the module).

    ::

        pacer = Pacer()
        for item in items:
            work(item)
            if pacer.due():
                await pacer.rest()
    """

    __slots__ = ("_clock", "_since", "rest_for", "rests", "turn")

    def __init__(
        self,
        turn: float = TURN,
        rest: float = REST,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.turn = turn
        self.rest_for = rest
        self._clock = clock
        self._since = clock()
        self.rests = 0
        """How many times the work rested."""

    def now(self) -> float:
        """The pacer's clock: what a caller times its own steps with."""
        return self._clock()

    def due(self) -> bool:
        """Whether this turn is over: the work should `rest` before it goes on."""
        return self._clock() - self._since >= self.turn

    async def rest(self) -> None:
        """Let the loop run everything else that is ready, then start a new turn."""
        self.rests += 1
        await asyncio.sleep(self.rest_for)
        self._since = self._clock()

    async def tick(self) -> None:
        """`rest` if this turn is over."""
        if self.due():
            await self.rest()


__all__ = ["REST", "TURN", "Pacer"]
