"""Keep Python's full garbage collections short while a large job list loads.

A full collection scans every object the collector tracks. With 100,000 jobs that is millions of
objects and a pause of 0.6 s, repeated each time the heap grows by a quarter, so keys go unanswered
while a long list loads. `HeapGuard` watches the collections (`gc.callbacks`): when a full one took
longer than `slow` seconds, it moves the survivors to the permanent generation (`gc.freeze()`) as the
collection ends, so later full collections scan only what was made since. Frozen objects are
still freed by reference counting as usual; only a reference cycle among them would outlive its
use, and the survivors of a full collection are the long-lived jobs, records and widgets.

Freezing happens only after a slow collection, that is while the heap grows by hundreds of thousands
of objects, never in the steady state of a dashboard whose list does not grow.

`QuietCollector` chooses when full collections run. Drawing a frame is what allocates most, so the
interpreter's own trigger started nearly every full collection (10 to 35 ms, several times that on a
busy machine) in the middle of a frame, most often the frame answering a key: the cyclic garbage of
Textual's rendering (strips that cache themselves, styles of component classes) is some 10,000
objects a second while keys are pressed. The collector turns that trigger off and runs each full
collection once no key came for `quiet` seconds (at the latest `at_most` seconds after it was due).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

SLOW_FULL_COLLECTION = 0.02
"""Seconds a full collection may take before its survivors are frozen."""


class HeapGuard:
    """Freeze the heap after each full collection slower than `slow` seconds (see the module)."""

    def __init__(
        self,
        *,
        slow: float = SLOW_FULL_COLLECTION,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.slow = slow
        self.clock = clock
        self.freezes = 0
        """How many times the heap was frozen after a slow collection."""
        self._started: float | None = None

    def install(self) -> HeapGuard:
        gc.callbacks.append(self._on_collection)
        return self

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Called by the collector, in whichever thread made it collect, once the collection is done
        # ("stop"): freezing then only moves the survivors' lists to the permanent generation.
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = self.clock()
            return
        started, self._started = self._started, None
        if started is not None and self.clock() - started >= self.slow:
            gc.freeze()
            self.freezes += 1


QUIET = 0.1
"""Seconds without a key before a full collection that is due runs."""
AT_MOST = 5.0
"""Seconds a due full collection waits for a pause in the keys, at most (a held key)."""
NEVER = 1 << 30
"""The threshold of full collections that keeps the interpreter from starting one."""


class QuietCollector:
    """Runs Python's full collections on the event loop between keys (see the module).

    The interpreter still makes the young collections; when as many of them as its own threshold
    says have passed (a full collection is due), the collection waits for `quiet` seconds without
    a key (`key` is told of each), or `at_most` seconds in all."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        quiet: float = QUIET,
        at_most: float = AT_MOST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.quiet = quiet
        self.at_most = at_most
        self.clock = clock
        self.collections = 0
        """How many full collections it ran."""
        self._thresholds: tuple[int, int, int] | None = None
        self._last_key = -float("inf")
        self._due_since: float | None = None
        self._asked = False
        self._timer: asyncio.TimerHandle | None = None

    def install(self) -> QuietCollector:
        self._thresholds = gc.get_threshold()
        young, middle, _full = self._thresholds
        gc.set_threshold(young, middle, NEVER)
        gc.callbacks.append(self._on_collection)
        return self

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def due(self) -> bool:
        """Whether the interpreter would have made a full collection by now."""
        full = (self._thresholds or gc.get_threshold())[2]
        return gc.get_count()[2] >= full

    def key(self) -> None:
        """A key (or a click) came: a due collection waits for the next pause."""
        self._last_key = self.clock()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Called by the collector in whichever thread made it collect: only asks the loop.
        if phase != "stop" or info.get("generation") != 1 or self._asked or not self.due:
            return
        self._asked = True
        try:
            self.loop.call_soon_threadsafe(self.run_when_quiet)
        except RuntimeError:  # the loop is closed: the app has ended
            self._asked = False

    def run_when_quiet(self) -> None:
        """Collect now if no key came for `quiet` seconds (or the collection waited `at_most`);
        else look again once that pause would be over."""
        self._timer = None
        now = self.clock()
        if self._due_since is None:
            self._due_since = now
        if self._thresholds is None:  # uninstalled meanwhile
            return
        wait = min(self._last_key + self.quiet, self._due_since + self.at_most) - now
        if wait > 0:
            self._timer = self.loop.call_later(wait, self.run_when_quiet)
            return
        gc.collect(2)
        self.collections += 1
        self._due_since = None
        self._asked = False


__all__ = ["AT_MOST", "QUIET", "SLOW_FULL_COLLECTION", "HeapGuard", "QuietCollector"]
