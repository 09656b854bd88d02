"""Poll scheduling and per-service health, without any UI.

`ServiceMonitor.poll_once` runs one poll, keeps the last good snapshot, and returns a `PollOutcome`
with the delta and the health; it never raises. `Backoff` decides how long to wait before the next
poll: the configured interval after a success, an exponential backoff with jitter after failures,
and never less than a server's `Retry-After`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jobtui.core.errors import RateLimitedError, ServiceError
from jobtui.core.models import Job, JobsDelta, diff_jobs
from jobtui.core.service import Service

Clock = Callable[[], datetime]

log = logging.getLogger("jobtui.poll")


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


class ServiceMonitor:
    """The last good state of one service, updated by `poll_once`."""

    def __init__(self, service: Service, clock: Clock = utc_now) -> None:
        self.service = service
        self.clock = clock
        self.snapshot: dict[str, Job] = {}
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
        self.snapshot, delta = diff_jobs(self.snapshot, result.jobs)
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
