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
"""

from __future__ import annotations

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


__all__ = ["SLOW_FULL_COLLECTION", "HeapGuard"]
