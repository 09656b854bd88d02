"""What every emulator shares: settings, a simulated clock, the state every kind builds on
(`SimState`: clock, lock, faults, request counts and the scheduler of its simulated workers), and
the description of a built one (`Emulator`)."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from jobtui.emulators.faults import Faults
from jobtui.emulators.scheduler import Arrivals, Scheduler

Job = TypeVar("Job")
Found = TypeVar("Found")

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

    @classmethod
    def of(
        cls,
        kind: str,
        state: Any,
        app: ASGIApp,
        base_path: str,
        credentials: dict[str, str],
        config: dict[str, Any] | None = None,
    ) -> Emulator:
        """An emulator of `kind` whose config holds `config` (by default its `credentials`)."""
        given = credentials if config is None else config
        return cls(kind, app, base_path, {"kind": kind, **given}, credentials, state)


class SimState:
    """What the state of every emulator has: `settings`, `seed`, the simulated `clock`, `rng`
    (the kind's seeded stream), the `lock` every request holds, the switchable `faults`, `counts`
    (requests per operation) and the `scheduler` its simulated workers run on (`at`). A kind sets how its jobs arrive by themselves with the class attributes."""

    ARRIVAL_GAP: ClassVar[float] = 30.0
    """Seconds between jobs that arrive by themselves, for `arrivals = True`."""
    ARRIVAL_SPREAD: ClassVar[tuple[float, float]] = (0.4, 1.6)
    """The range of the random factor each gap is scaled by."""
    MAX_ARRIVALS_PER_TICK: ClassVar[int] = 5000
    """How many arrivals one tick makes up after a jump of the clock; the rest are skipped."""

    def __init__(self, settings: EmulatorSettings, name: str) -> None:
        self.settings = settings
        self.seed = settings.seed
        self.clock = SimClock(settings.epoch, settings.speed)
        self.rng = random.Random(f"{name}:{settings.seed}")
        self.lock = threading.RLock()
        self.faults = Faults(seed=settings.seed)
        self.counts: Counter[str] = Counter()
        self.scheduler = Scheduler(self.clock, self.lock)
        self.arrival_gap: float | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def at(
        self,
        t: float,
        job: Job,
        action: Callable[[Job, float], None],
        version: Callable[[Job], object],
    ) -> None:
        """Run `action(job, t)` once the simulated clock reaches `t`, unless the job's `version`
        changed by then (a later change of its course made the event stale)."""
        then = version(job)

        def run(due: float) -> None:
            if version(job) == then:
                action(job, due)

        self.scheduler.push(t, run)

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        return self.clock.seconds()

    def tick(self) -> None:
        """Apply every event due by the simulated time now."""
        self.scheduler.tick()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and apply what became due."""
        self.clock.advance(seconds)
        self.tick()

    def start_arrivals(self, option: Any, arrive: Callable[[float], None]) -> None:
        """Let jobs arrive by themselves (`arrive(t)` makes one) when the `arrivals` option asks
        for it: True for one every `ARRIVAL_GAP` seconds, a number for one every that many."""
        if not option:
            return
        self.arrival_gap = self.ARRIVAL_GAP if option is True else float(option)
        arrivals = Arrivals(
            self.arrival_gap, self.ARRIVAL_SPREAD, self.rng, arrive, self.MAX_ARRIVALS_PER_TICK
        )
        self.scheduler.start_arrivals(arrivals)

    def storage(self, option: Any, prefix: str) -> Path:
        """The folder the emulator keeps its files in: `option` when given (made if missing),
        else a temporary directory that `close()` removes."""
        if option:
            folder = Path(str(option))
            folder.mkdir(parents=True, exist_ok=True)
            return folder
        self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
        return Path(self._tmp.name)

    def close(self) -> None:
        """Remove the temporary storage (when the state made one)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def found(value: Found | None, error: Exception) -> Found:
    """`value`, or `error` raised when a lookup found nothing (the service's 404)."""
    if value is None:
        raise error
    return value


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def http_errors(
    error: Callable[[int, str], Response], messages: Mapping[int, str]
) -> dict[Any, ErrorHandler]:
    """Starlette's `exception_handlers` that answer its own errors (an unknown path, a method a
    route does not take) in the service's error body `error(status, message)`: the message from
    `messages` for the status, else the exception's detail."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    return {HTTPException: handler}
