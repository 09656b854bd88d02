"""Poll scheduling and per-service health, without any UI.

`ServiceMonitor.poll_once` runs one poll, keeps the last good snapshot, and returns a `PollOutcome`
with the delta and the health; it never raises. `Backoff` decides how long to wait before the next
poll: the configured interval after a success, an exponential backoff with jitter after failures,
and never less than a server's `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobtui.core.errors import RateLimitedError, ServiceError
from jobtui.core.models import Job, JobsDelta, diff_jobs, diff_jobs_paced
from jobtui.core.pacing import Pacer
from jobtui.core.service import Service

Clock = Callable[[], datetime]

log = logging.getLogger("jobtui.poll")


DIFF_PACED = 5_000
"""Jobs (before and after) from which a poll's jobs are compared in turns, the event loop running
in between (`diff_jobs_paced`)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Health:
    """How a service's polling is going."""

    ok: bool = True
    error: str | None = None
    last_success: datetime | None = None
    failures: int = 0
    polls: int = 0

    def stale_for(self, now: datetime) -> float | None:
        """Seconds since the last good poll when the current data is stale, else None."""
        if self.ok or self.last_success is None:
            return None
        return max(0.0, (now - self.last_success).total_seconds())


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One poll's result for the UI: what changed, the whole snapshot, and the health."""

    service: str
    delta: JobsDelta
    snapshot: dict[str, Job]
    health: Health
    total: int | None = None
    note: str = ""
    retry_after: float | None = None
    generation: int = 0
    """Counts the snapshots of this service: the delta leads from `generation - 1` to this one."""
    partial: bool = False
    """The first part of a long list (`PollResult.partial`): the rest follows at the next poll."""


@dataclass
class Backoff:
    """Delay before the next poll: `interval` while healthy, exponential with jitter on errors."""

    interval: float
    maximum: float = 300.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        if failures <= 0:
            base = self.interval
        else:
            base = min(self.maximum, self.interval * self.factor ** min(failures, 16))
            base *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            base = max(base, retry_after)
        return max(0.05, base)


async def compared(old: Mapping[str, Job], new: Sequence[Job]) -> tuple[dict[str, Job], JobsDelta]:
    """`diff_jobs`; for tens of thousands of jobs (`DIFF_PACED`) in turns of the event loop
    (`diff_jobs_paced`), so that keys are answered in between (in a thread the comparison,
    Python code, would hold the interpreter's lock). `old` must not change until it returns."""
    if len(new) + len(old) > DIFF_PACED:
        return await diff_jobs_paced(old, new, Pacer())
    return diff_jobs(old, new)


class ServiceMonitor:
    """The last good state of one service, updated by `poll_once`."""

    def __init__(self, service: Service, clock: Clock = utc_now) -> None:
        self.service = service
        self.clock = clock
        self.snapshot: dict[str, Job] = {}
        self._jobs: Sequence[Job] | None = None
        """The list of the last poll (a service hands it out again when nothing changed)."""
        self.health = Health()
        self.total: int | None = None
        self.generation = 0

    async def poll_once(self) -> PollOutcome:
        retry_after: float | None = None
        try:
            result = await self.service.poll()
        except ServiceError as error:
            if isinstance(error, RateLimitedError):
                retry_after = error.retry_after
            log.warning("poll failed: %s", error.line)
            return self._failed(error.line, retry_after)
        except Exception as error:  # a bug must not stop the dashboard: report it as one line
            log.exception("poll of %s failed unexpectedly", self.service.name)
            return self._failed(f"{self.service.name}: unexpected {type(error).__name__}")
        if result.jobs is self._jobs:  # the service's very same list: nothing changed
            delta = JobsDelta((), (), ())
        else:
            self.snapshot, delta = await compared(self.snapshot, result.jobs)
            self._jobs = result.jobs
        log.info(
            "poll %s: %d jobs, %d new, %d changed, %d gone",
            self.service.name,
            len(result.jobs),
            len(delta.added),
            len(delta.changed),
            len(delta.removed),
        )
        self.generation += 1
        self.total = result.total
        self.health = Health(
            ok=True, last_success=self.clock(), failures=0, polls=self.health.polls + 1
        )
        return PollOutcome(
            self.service.name,
            delta,
            self.snapshot,
            self.health,
            result.total,
            result.note,
            generation=self.generation,
            partial=result.partial,
        )

    def _failed(self, line: str, retry_after: float | None = None) -> PollOutcome:
        self.health = Health(
            ok=False,
            error=line,
            last_success=self.health.last_success,
            failures=self.health.failures + 1,
            polls=self.health.polls + 1,
        )
        return PollOutcome(
            self.service.name,
            JobsDelta(),
            self.snapshot,
            self.health,
            self.total,
            retry_after=retry_after,
            generation=self.generation,
        )


INTERVAL_STEPS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""The poll intervals `+` and `-` step through, in seconds."""


def step_interval(interval: float, step: int) -> float:
    """The next longer (`step` > 0) or shorter (`step` < 0) interval of `INTERVAL_STEPS`.

    An interval between two steps goes to the neighbouring step; the ends stay where they are.
    """
    if step > 0:
        longer = [s for s in INTERVAL_STEPS if s > interval]
        return longer[0] if longer else max(interval, INTERVAL_STEPS[-1])
    shorter = [s for s in INTERVAL_STEPS if s < interval]
    return shorter[-1] if shorter else min(interval, INTERVAL_STEPS[0])


MIN_GAP = 0.05
"""Seconds at least between the end of one poll and the start of the next."""


class PollSchedule:
    """When the next poll of one service is due, changeable while the poll loop waits for it.

    The poll loop calls `wait()` (returns when a poll is due) and `polled(...)` after each poll.
    Everything else (a new interval, pause, resume, poll now) takes effect at once, also in the
    middle of a wait: the wait is re-armed from the start of the last poll ("every 2 s" counts from
    one poll's start to the next), never less than a moment (nor a server's `Retry-After`) after
    its end, so polls never overlap.
    """

    def __init__(self, backoff: Backoff, time: Callable[[], float]) -> None:
        self.backoff = backoff
        self.time = time
        self.paused = False
        self.last_poll: float | None = None
        """When the last poll ended (by `time`), None before the first one."""
        self.last_start: float | None = None
        """When the last poll started (by `time`)."""
        self.due: float | None = None
        """When the next poll is due (by `time`); None when paused or before the first poll."""
        self._failures = 0
        self._retry_after: float | None = None
        self._now = False
        self._changed = asyncio.Event()

    @property
    def interval(self) -> float:
        return self.backoff.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self.backoff.interval = seconds
        self._rearm()

    @property
    def delay(self) -> float | None:
        """The time from the last poll's start to the next one's (None when paused or not yet)."""
        if self.due is None or self.last_poll is None:
            return None
        return self.due - (self.last_poll if self.last_start is None else self.last_start)

    def polled(
        self, failures: int, retry_after: float | None, *, started: float | None = None
    ) -> None:
        """A poll (begun at `started`, by `time`) ended with `failures` failures in a row;
        schedule the next one."""
        self.last_poll = self.time()
        self.last_start = self.last_poll if started is None else started
        self._failures = failures
        self._retry_after = retry_after
        self._rearm()

    def pause(self) -> None:
        self.paused = True
        self._rearm()

    def resume(self) -> None:
        """Resume and poll at once."""
        self.paused = False
        self._rearm()
        self.poll_now()

    def poll_now(self) -> None:
        """Poll at once (also while paused: one poll, then paused again)."""
        self._now = True
        self._changed.set()

    async def wait(self) -> bool:
        """Return when a poll is due: True when asked for (`poll_now`), False when its time came."""
        while True:
            self._changed.clear()
            if self._now:
                self._now = False
                return True
            timeout: float | None = None
            if self.due is not None:
                timeout = self.due - self.time()
                if timeout <= 0:
                    return False
            elif not self.paused and self.last_poll is None:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _rearm(self) -> None:
        if self.paused or self.last_poll is None:
            self.due = None
        else:
            delay = self.backoff.delay(self._failures, self._retry_after)
            start = self.last_poll if self.last_start is None else self.last_start
            self.due = max(start + delay, self.last_poll + max(MIN_GAP, self._retry_after or 0.0))
        self._changed.set()
