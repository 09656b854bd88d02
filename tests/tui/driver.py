"""The part of a Pilot driver that every service tab's tests share.

A test file subclasses `TabDriver` with its emulator's state and its service, and adds what only
that tab needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from textual.pilot import Pilot

from jobtui.core.models import Job
from jobtui.emulators.runner import RunningEmulator
from jobtui.tui.app import JobtuiApp
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab

StateT = TypeVar("StateT")
ServiceT = TypeVar("ServiceT")


@dataclass
class TabDriver(Generic[StateT, ServiceT]):
    """One running emulator, the service on it, and the app being driven."""

    running: RunningEmulator
    state: StateT
    service: ServiceT
    app: JobtuiApp
    pilot: Pilot[int]

    # What a row is called in failure messages, and how long `until` waits by default.
    noun: ClassVar[str] = "job"
    wait: ClassVar[float] = 10.0

    @property
    def table(self) -> JobTable:
        return self.app.screen.query_one(JobTable)

    @property
    def tab(self) -> ServiceTab:
        return self.app.screen.query_one(ServiceTab)

    def listed(self, job_id: int | str) -> Job | None:
        """The row `job_id` shows, or None when the table has no such row."""
        return self.table.get_job(str(job_id))

    def shown(self, job_id: int | str) -> Job:
        job = self.listed(job_id)
        assert job is not None, f"{self.noun} {job_id} is not in the table"
        return job

    async def until(
        self, predicate: Callable[[], bool], what: str, seconds: float | None = None
    ) -> None:
        """Let the app run until `predicate()` holds; fail after `seconds` (`wait` if not given)."""
        deadline = time.monotonic() + (self.wait if seconds is None else seconds)
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await self.pilot.pause(0.01)

    async def select(self, job_id: int | str) -> None:
        """Put the table's cursor on a row and wait for its detail."""
        assert self.table.move_cursor(str(job_id)), f"{self.noun} {job_id} is not shown"
        detail = self.app.screen.query_one(JobDetail)
        await self.until(
            lambda: detail.job is not None and detail.job.id == str(job_id),
            f"the detail of {job_id}",
        )

    def cursor_on(self, job_id: int | str) -> bool:
        job = self.table.cursor_job
        return job is not None and job.id == str(job_id)

    async def poll(self) -> None:
        """Press r and wait for the poll it starts to be shown."""
        before = self.tab.health.polls
        await self.pilot.press("r")
        await self.until(lambda: self.tab.health.polls > before, "a poll")


def count_calls(obj: Any, name: str) -> list[Any]:
    """Record every call of `obj.name` (its first argument) while still running it."""
    calls: list[Any] = []
    original = getattr(obj, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else None)
        return original(*args, **kwargs)

    setattr(obj, name, counting)
    return calls
