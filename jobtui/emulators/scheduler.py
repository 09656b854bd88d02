"""The simulated workers of every emulator: one heap of timed events on the emulator's `SimClock`.

A kind's state pushes its events (`push(t, action)`: a job's next step, at simulated second `t`)
and calls `tick()` at the start of each request: every event due by the clock's now runs as
`action(t)`, in time order (ties in the order they were pushed); `SimState.at` makes actions that
drop themselves when a later change of their job made them stale. Nothing runs between requests, so speed 0
freezes every worker and `clock.advance(s)` followed by a tick moves them.

Jobs that arrive by themselves (`arrivals`) are events of the scheduler's own: each arrival hands
its time to the state's `arrive(t)` and schedules the next one a random gap later. After a long
jump of the clock only `most` arrivals are made up in one tick; the rest of the backlog is
skipped and the next arrival comes a gap after now.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.emulators.base import SimClock

Action = Callable[[float], None]
"""What a scheduled event does when it falls due: called with its simulated second."""


@dataclass(frozen=True, slots=True)
class Arrivals:
    """How new jobs arrive: every `gap` simulated seconds, scaled by a factor drawn from `rng`
    between `spread[0]` and `spread[1]`; at most `most` of them in one tick."""

    gap: float
    spread: tuple[float, float]
    rng: random.Random
    arrive: Callable[[float], None]
    most: int


class Scheduler:
    """Timed events of one emulator, applied lazily by `tick()` under the state's lock."""

    def __init__(self, clock: SimClock, lock: threading.RLock) -> None:
        self.clock = clock
        self.lock = lock
        self._events: list[tuple[float, int, Action | None]] = []
        self._seq = itertools.count()
        self.arrivals: Arrivals | None = None

    def push(self, t: float, action: Action) -> None:
        """Run `action(t)` once the simulated clock reaches `t`."""
        heapq.heappush(self._events, (t, next(self._seq), action))

    def start_arrivals(self, arrivals: Arrivals) -> None:
        """Let jobs arrive by themselves, the first one `arrivals.gap` seconds after the epoch."""
        self.arrivals = arrivals
        self._push_arrival(arrivals.gap)

    def _push_arrival(self, t: float) -> None:
        heapq.heappush(self._events, (t, next(self._seq), None))

    def tick(self) -> None:
        """Apply every event due by the simulated time now."""
        with self.lock:
            now = self.clock.seconds()
            events = self._events
            arrived = 0
            while events and events[0][0] <= now:
                t, _, event = heapq.heappop(events)
                if event is None:
                    arrivals = self.arrivals
                    assert arrivals is not None
                    gap = arrivals.gap * arrivals.rng.uniform(*arrivals.spread)
                    arrived += 1
                    if arrived <= arrivals.most:
                        arrivals.arrive(t)
                        self._push_arrival(t + gap)
                    else:  # the clock jumped far ahead: skip the backlog
                        self._push_arrival(now + gap)
                    continue
                event(t)
