"""The dashboard on two bsub.io emulators started from one seed, so that their job ids collide.

`bsub-a` and `bsub-b` hold the same ids, each job in the same state on both: a row, an action or a
detail that took the wrong service would show up at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import TabbedContent

from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.notify import Notice
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.filter_bar import FilterBar
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import start, token_of

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)
NAMES = ("bsub-a", "bsub-b")

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def fixed_clock() -> datetime:
    return NOW


@dataclass
class Two:
    """The app on two services, their emulators' states by service name, and the pilot."""

    app: JobtuiApp
    pilot: Pilot[int]
    states: dict[str, BsubState]

    @property
    def dashboard(self) -> DashboardScreen:
        return next(s for s in self.app.screen_stack if isinstance(s, DashboardScreen))

    @property
    def all_tab(self) -> AllJobsTab:
        return self.dashboard.query_one(AllJobsTab)

    @property
    def all_table(self) -> JobTable:
        return self.all_tab.table

    def tab(self, name: str) -> ServiceTab:
        tab = self.dashboard.service_tab(name)
        assert tab is not None, name
        return tab

    def table(self) -> JobTable:
        """The table of the tab shown."""
        table = self.dashboard.active_table()
        assert table is not None
        return table

    def active(self) -> str:
        """The id of the tab pane shown."""
        return self.dashboard.query_one(TabbedContent).active

    def bar(self) -> FilterBar:
        bar = self.dashboard.active_bar()
        assert bar is not None
        return bar

    async def until(self, predicate: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await self.pilot.pause(0.01)

    async def screen(self, kind: type[ScreenT], what: str) -> ScreenT:
        await self.until(lambda: isinstance(self.app.screen, kind), what)
        screen = self.app.screen
        assert isinstance(screen, kind)
        return screen

    async def back_on_dashboard(self) -> None:
        await self.until(lambda: self.app.screen is self.dashboard, "the dashboard")

    def notes(self) -> list[Notice]:
        """Every notification so far, shown as a toast or folded into "and N more"."""
        return list(self.app.notices)

    async def note(self, predicate: Callable[[Notice], bool], what: str) -> Notice:
        await self.until(lambda: any(predicate(n) for n in self.notes()), what)
        return next(n for n in self.notes() if predicate(n))

    async def poll_all(self) -> None:
        """Poll both services now and wait until both polls are shown."""
        tabs = [self.tab(name) for name in NAMES]
        before = [t.health.polls for t in tabs]
        for tab in tabs:
            tab.poll_now()
        await self.until(
            lambda: all(t.health.polls > b for t, b in zip(tabs, before, strict=True)), "polls"
        )


@asynccontextmanager
async def two_services(
    emulator: EmulatorFactory,
    *,
    jobs: int = 12,
    keys: dict[str, str] | None = None,
    read_only: bool = False,
) -> AsyncIterator[Two]:
    """Both emulators (same seed, so the same ids), the app on them, after both first polls."""
    states: dict[str, BsubState] = {}
    services = []
    for name in NAMES:
        running, state = start(emulator, jobs=jobs, seed=1)
        states[name] = state
        services.append(BsubService(name, running.url, token_of(running)))
    app = JobtuiApp(services, refresh=60.0, clock=fixed_clock, keys=keys, read_only=read_only)
    async with app.run_test(size=SIZE) as pilot:
        two = Two(app, pilot, states)
        await two.until(lambda: two.all_table.total_count == 2 * jobs, "both first polls")
        yield two
