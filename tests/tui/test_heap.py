"""`HeapGuard`: a slow full collection freezes its survivors; a quick one, or a young one, does not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from jobtui.tui.heap import HeapGuard


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
    assert guard._on_collection not in gc.callbacks
