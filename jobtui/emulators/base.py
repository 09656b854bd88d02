"""What every emulator shares: settings, a simulated clock, and the description of a running one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.types import ASGIApp

DEMO_EPOCH = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
"""The simulated wall-clock time at which every emulator starts: fixed, so runs are reproducible."""


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """How an emulator behaves: `seed` fixes every random choice; `speed` scales simulated time
    (1.0 = real time, 0 = frozen, useful for snapshots); `jobs` is how many seeded jobs it starts with."""

    seed: int = 1
    speed: float = 1.0
    jobs: int = 40
    epoch: datetime = DEMO_EPOCH
    options: Mapping[str, Any] = field(default_factory=dict)


class SimClock:
    """Simulated time: starts at `epoch` and runs `speed` times faster than the real clock.

    `advance(seconds)` moves it forward by hand (tests use it with speed 0).
    """

    def __init__(self, epoch: datetime = DEMO_EPOCH, speed: float = 1.0) -> None:
        self.epoch = epoch
        self.speed = speed
        self._started = time.monotonic()
        self._offset = 0.0

    def seconds(self) -> float:
        """Simulated seconds since the epoch."""
        return (time.monotonic() - self._started) * self.speed + self._offset

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.seconds())

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@dataclass
class Emulator:
    """A built emulator: its ASGI app, the path its API lives under, and how to log in to it.

    `config` is the `[[services]]` table (without `name` and `url`) that points jobtui at it;
    `credentials` is what `jobtui emulate` prints.
    """

    kind: str
    app: ASGIApp
    base_path: str
    config: dict[str, Any]
    credentials: dict[str, str]
    state: Any = None
    """The emulator's in-memory state object, for tests that need to reach in (faults, clock)."""
