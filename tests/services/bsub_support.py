"""Helpers shared by the bsub.io tests: start the emulator, reach its state, move its clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobtui.emulators.bsub.state import BsubState, SimJob
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory


def start(
    emulator: EmulatorFactory, jobs: int = 40, seed: int = 1, **options: Any
) -> tuple[RunningEmulator, BsubState]:
    """A frozen (speed 0) bsub.io emulator on loopback, and its state."""
    running = emulator("bsub", seed=seed, speed=0, jobs=jobs, **options)
    state = running.state
    assert isinstance(state, BsubState)
    return running, state


def token_of(running: RunningEmulator) -> str:
    return str(running.emulator.config["token"])


def advance_until(
    state: BsubState, done: Callable[[], bool], *, step: float = 1.0, limit: float = 3600.0
) -> float:
    """Move simulated time forward until `done()` holds; returns the seconds it took."""
    moved = 0.0
    while True:
        state.tick()
        if done():
            return moved
        if moved >= limit:
            raise AssertionError(f"condition not reached after {limit} simulated seconds")
        state.clock.advance(step)
        moved += step


def seeded(state: BsubState, status: str, *, cancelled: bool | None = None) -> SimJob:
    """The newest seeded job in `status`."""
    ids = state.ids_in(status, cancelled=cancelled)
    assert ids, f"the seed has no {status} job"
    return state.jobs[ids[0]]


def make_file(path: Path, size: int) -> Path:
    """A file of `size` random bytes, written in pieces."""
    with path.open("wb") as handle:
        left = size
        while left > 0:
            piece = min(left, 1024 * 1024)
            handle.write(os.urandom(piece))
            left -= piece
    return path
