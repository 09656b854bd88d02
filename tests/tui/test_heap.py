"""`HeapGuard`: a slow full collection freezes its survivors; a quick one, or a young one, does not.
`QuietCollector`: a full collection that is due waits for a pause in the keys."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest

from jobtui.tui.heap import NEVER, HeapGuard, QuietCollector
from tests.services.dsp_ingest_support import wait_for


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Clock:
    """Each reading is `step` seconds after the previous one."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_slow_full_collection_freezes_what_survived_it(unfrozen: None) -> None:
    kept = [[i] for i in range(1000)]  # tracked containers that survive
    guard = HeapGuard(slow=0.02, clock=Clock(0.05)).install()
    try:
        gc.collect(1)
        assert guard.freezes == 0 and gc.get_freeze_count() == 0  # a young collection: no
        gc.collect()
        assert guard.freezes == 1
        assert gc.get_freeze_count() >= len(kept)
    finally:
        guard.uninstall()


def test_a_quick_full_collection_freezes_nothing(unfrozen: None) -> None:
    guard = HeapGuard(slow=0.02, clock=Clock(0.001)).install()
    try:
        gc.collect()
        assert guard.freezes == 0 and gc.get_freeze_count() == 0
    finally:
        guard.uninstall()
    assert guard._on_collection not in gc.callbacks


async def test_the_dashboard_guards_its_heap_from_its_first_frame_to_its_end(
    unfrozen: None,
) -> None:
    from jobtui.tui.app import JobtuiApp

    app = JobtuiApp([])
    app.freeze_heap = True  # as `jobtui` and `jobtui demo` run it
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            if app._heap_guard is not None:
                break
            await pilot.pause()
        guard = app._heap_guard
        assert guard is not None and guard._on_collection in gc.callbacks
        collector = app._collector
        assert collector is not None and gc.get_threshold()[2] == NEVER
        await pilot.press("down")
        assert time.monotonic() - collector._last_key < 5  # the key was told
    assert guard._on_collection not in gc.callbacks
    assert collector._on_collection not in gc.callbacks and gc.get_threshold()[2] != NEVER


def make_due(collector: QuietCollector) -> None:
    """Young collections until a full one is due (as the interpreter counts them)."""
    while not collector.due:
        gc.collect(1)


async def test_a_due_full_collection_waits_for_a_pause_in_the_keys() -> None:
    before = gc.get_threshold()
    collector = QuietCollector(asyncio.get_running_loop(), quiet=0.2, at_most=30).install()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)  # the interpreter's is off
        collector.key()
        make_due(collector)
        typed = time.monotonic() + 0.5
        while time.monotonic() < typed:  # a key every 20 ms: never a pause of 0.2 s
            collector.key()
            await asyncio.sleep(0.02)
            assert collector.collections == 0
        last_key = time.monotonic()
        await wait_for(lambda: collector.collections == 1)
        assert time.monotonic() - last_key >= 0.2
        assert not collector.due
    finally:
        collector.uninstall()
    assert gc.get_threshold() == before
    assert collector._on_collection not in gc.callbacks


async def test_a_full_collection_waits_for_keys_at_most_so_long() -> None:
    collector = QuietCollector(asyncio.get_running_loop(), quiet=0.2, at_most=0.3).install()
    try:
        collector.key()
        make_due(collector)
        started = time.monotonic()
        while collector.collections == 0:  # a held key
            collector.key()
            await asyncio.sleep(0.01)
            assert time.monotonic() - started < 10
        assert time.monotonic() - started >= 0.25
    finally:
        collector.uninstall()


async def test_without_keys_a_due_full_collection_runs_at_once() -> None:
    collector = QuietCollector(asyncio.get_running_loop(), quiet=60, at_most=60).install()
    try:
        make_due(collector)
        await wait_for(lambda: collector.collections == 1)
    finally:
        collector.uninstall()
