"""Helpers for the tests of the live parts of the dashboard: status line, refresh control,
notifications, history and themes. The app runs on one or more seeded, frozen (speed 0) bsub.io
emulators over loopback, with a clock the test moves by hand."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static, TabbedContent

from jobtui.config import NotificationsConfig
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState, SimJob
from jobtui.journal import Journal, JournalSettings, ServiceRef
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.journal import JournalLink
from jobtui.tui.notify import Notice
from jobtui.tui.screens.dashboard import pane_id
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import SEEN_AFTER_SECONDS, ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import start, token_of

SIZE = (160, 48)


class ManualClock:
    """The app's clock: it stands still until the test moves it."""

    def __init__(self, start: datetime = DEMO_EPOCH + timedelta(minutes=5)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def until(
    pilot: Pilot[int], predicate: Callable[[], bool], what: str, seconds: float = 10.0
) -> None:
    """Let the app run until `predicate()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def show_tab(pilot: Pilot[int], index: int) -> None:
    """Press the tab's number and wait until it is the tab shown, and stays so a moment
    (long enough for the job under its cursor to count as looked at)."""
    tabs = pilot.app.screen.query_one(TabbedContent)
    pane = pane_id(index)
    for _ in range(3):
        await pilot.press(str(index + 1))
        await until(pilot, lambda: tabs.active == pane, f"tab {index + 1}")
        await pilot.pause(SEEN_AFTER_SECONDS + 0.1)
        if tabs.active == pane:  # the dashboard's first focus may bring tab 1 back once
            return
    raise AssertionError(f"tab {index + 1} did not stay shown")


@dataclass
class Live:
    """The app being driven, and the emulator state behind each of its tabs (in tab order)."""

    app: JobtuiApp
    pilot: Pilot[int]
    states: list[BsubState]
    clock: ManualClock
    writes: list[str] = field(default_factory=list)

    def tab(self, index: int = 0) -> ServiceTab:
        return self.app.screen.query_one(f"#tab-{index}", ServiceTab)

    def table(self, index: int = 0) -> JobTable:
        return self.tab(index).query_one(JobTable)

    def status(self, index: int = 0) -> str:
        return str(self.tab(index).query_one("#status", Static).content)

    def requests(self, index: int = 0) -> int:
        """How many HTTP requests emulator `index` has answered."""
        return sum(self.states[index].counts.values())

    def polls(self, index: int = 0) -> int:
        return self.tab(index).health.polls

    def toasts(self) -> list[tuple[str, str]]:
        """(title, message) of every notification so far (shown, folded or held)."""
        return [(n.title, n.message) for n in self.app.notices]

    async def until(self, predicate: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
        await until(self.pilot, predicate, what, seconds)

    async def until_note(self, predicate: Callable[[Notice], bool], what: str) -> Notice:
        """The first notification of the session for which `predicate` holds, once there is one."""
        await self.until(lambda: any(predicate(n) for n in self.app.notices), what)
        return next(n for n in self.app.notices if predicate(n))

    async def show(self, index: int) -> None:
        await show_tab(self.pilot, index)

    async def poll(self, index: int = 0) -> None:
        """Ask tab `index` to poll now and wait until that poll is shown."""
        before = self.polls(index)
        self.tab(index).poll_now()
        await self.until(lambda: self.polls(index) > before, f"a poll of tab {index}")

    def capture_terminal(self) -> None:
        """Keep what the app writes to the terminal in `writes` (the headless driver drops it)."""
        driver = self.app._driver
        assert driver is not None
        original = driver.write

        def write(data: str) -> None:
            self.writes.append(data)
            original(data)

        driver.write = write  # type: ignore[method-assign]


@asynccontextmanager
async def live_app(
    emulator: EmulatorFactory,
    *,
    tabs: int = 1,
    refresh: float = 60.0,
    jobs: int = 20,
    notifications: NotificationsConfig | None = None,
    config_path: Path | None = None,
    journal: JournalSettings | None = None,
    clock: ManualClock | None = None,
    prepare: Callable[[list[BsubState]], None] | None = None,
    **options: Any,
) -> AsyncIterator[Live]:
    """The dashboard on `tabs` bsub.io emulators (tab titles "bsub-1", "bsub-2", ...); with
    `journal`, recording to (and reading) that journal, by the app's clock. `prepare` changes
    the emulators' states before the app starts."""
    states: list[BsubState] = []
    services: list[BsubService] = []
    refs: dict[str, ServiceRef] = {}
    for index in range(tabs):
        running, state = start(emulator, jobs=jobs, seed=index + 1, **options)
        states.append(state)
        name = f"bsub-{index + 1}"
        services.append(BsubService(name, running.url, token_of(running)))
        # The journal knows an account by name and URL: each run's emulator has a port of its
        # own, but one seed is one account, in every session of a test.
        refs[name] = ServiceRef(name, f"http://bsub.test/seed-{index + 1}")
    if prepare is not None:
        prepare(states)
    clock = clock or ManualClock()
    link = None
    if journal is not None:
        link = JournalLink(Journal(journal, now=clock), refs, clock=clock)
    app = JobtuiApp(
        services,
        refresh=refresh,
        clock=clock,
        notifications=notifications,
        config_path=config_path,
        journal=link,
        tz=UTC,
    )
    async with app.run_test(size=SIZE) as pilot:
        live = Live(app, pilot, states, clock)
        await live.until(
            lambda: all(live.table(i).row_count == jobs for i in range(tabs)), "the first polls"
        )
        if tabs > 1:  # All jobs comes first: start on the first service's tab
            await show_tab(pilot, 0)
        # The first tab painted, and what its showing posts handled (it looks at its cursor's job).
        await live.until(lambda: live.tab(0).is_on_screen, "the first paint")
        await pilot.pause()
        yield live


def running_job(state: BsubState) -> SimJob:
    """The newest job that is running on the emulator."""
    for status in ("processing", "preparing", "claimed"):
        ids = state.ids_in(status)
        if ids:
            return state.jobs[ids[0]]
    raise AssertionError("the seed has no running job")


def fail_job(state: BsubState, job: SimJob) -> None:
    """Make `job` fail on the emulator, as its worker would."""
    with state.lock:
        state.fail(job, state.now(), "worker_lost", "the worker went away")


def finish_job(state: BsubState, job: SimJob) -> None:
    with state.lock:
        job.finished_at = state.now()
        state.touch(job, "finished", state.now())
