"""SVG snapshots of the demo's dashboard in an 80x24 terminal (UTF-8): every tab with its key bar
(quit, help, filter and the palette pinned on the right, the job's actions on the left) and its
columns (Updated and Message in view, the least useful ones scrolled to), the filter line's keys
and a dialog's own keys.

Deterministic: the four services on seeded emulators with frozen clocks (speed 0), the app's
clock fixed a few minutes after the emulators' epoch, no blinking cursors; each snapshot is taken
once every first poll is on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from jobtui.config import config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.services import build_service
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.screens.dashboard import ALL_PANE, DashboardScreen, pane_id
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (80, 24)
KINDS = ("bsub", "ecotaxa", "leia", "dsp-ingest")
"""The demo's services, in its tab order (tab 1 is bsub.io)."""


def fixed_clock() -> datetime:
    return NOW


def demo_app(emulator: EmulatorFactory) -> tuple[JobtuiApp, BsubState]:
    """The four services as `jobtui demo` sets them up, on seeded frozen emulators."""
    running = [emulator(kind, seed=1, speed=0, jobs=DEMO_JOBS) for kind in KINDS]
    state = running[0].state
    assert isinstance(state, BsubState)
    config = config_from_data({"services": service_entries(running)}, source="demo")
    services = [build_service(entry) for entry in config.services]
    for service in services:
        if isinstance(service, DspIngestService):
            service.now = fixed_clock  # it stamps its rows with the time it read them
    app = JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock)
    return app, state


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def dashboard(pilot: Pilot[int]) -> DashboardScreen:
    return next(s for s in pilot.app.screen_stack if isinstance(s, DashboardScreen))


async def first_polls(pilot: Pilot[int]) -> None:
    """Every service's first poll on screen, the All jobs cursor on its first row."""
    screen = dashboard(pilot)
    tabs = list(screen.query(ServiceTab))
    assert len(tabs) == len(KINDS)
    await until(pilot, lambda: all(t.health.polls >= 1 for t in tabs), "every first poll")
    table = screen.query_one(AllJobsTab).table
    total = sum(t.table.total_count for t in tabs)
    await until(pilot, lambda: table.total_count == total, "every service in All jobs")
    await until(pilot, lambda: table.has_focus, "the table's focus")
    # The cursor stays on the first job that arrived, which depends on which service answered
    # first: home puts it on the newest job of all.
    await pilot.press("home")
    first = table.job_at(0)
    await until(pilot, lambda: table.cursor_job is first, "the cursor on the first row")


async def show_tab(pilot: Pilot[int], key: str, pane: str) -> None:
    await first_polls(pilot)
    await pilot.press(key)
    screen = dashboard(pilot)
    await until(pilot, lambda: screen.active_pane() is not None, "a pane")
    await until(pilot, lambda: getattr(screen.active_pane(), "id", None) == pane, pane)
    table = screen.active_table()
    assert table is not None
    await until(pilot, lambda: table.has_focus, "the tab's table")


@pytest.mark.parametrize(
    ("key", "pane"),
    [
        ("0", ALL_PANE),
        ("1", pane_id(0)),
        ("2", pane_id(1)),
        ("3", pane_id(2)),
        ("4", pane_id(3)),
    ],
    ids=["all-jobs", "bsub", "ecotaxa", "leia", "dsp-ingest"],
)
def test_small_terminal_tab(
    snap_compare: SnapCompare, emulator: EmulatorFactory, key: str, pane: str
) -> None:
    """One tab at 80x24: Updated and Message in view, the key bar's pinned keys whole."""
    app, _state = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_tab(pilot, key, pane)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_small_terminal_columns_scrolled_right(
    snap_compare: SnapCompare, emulator: EmulatorFactory
) -> None:
    """bsub.io at 80x24 after `ctrl+pagedown`: Type, Data and Worker, the ID kept in place."""
    app, _state = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_tab(pilot, "1", pane_id(0))
        table = dashboard(pilot).active_table()
        assert table is not None
        await pilot.press("ctrl+pagedown", "ctrl+pagedown")
        await until(pilot, lambda: table.column_offset > 0, "the columns scrolled")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_small_terminal_filter_line(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """`/` on bsub.io with "fail" typed: the key bar says what enter and escape do there."""
    app, _state = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_tab(pilot, "1", pane_id(0))
        await pilot.press("slash")
        screen = dashboard(pilot)
        bar = screen.active_bar()
        assert bar is not None
        field = bar.query_one(Input)
        field.cursor_blink = False
        await until(pilot, lambda: field.has_focus, "the filter line")
        await pilot.press(*"fail")
        table = screen.active_table()
        assert table is not None
        await until(pilot, lambda: table.row_count < table.total_count, "the filter")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_small_terminal_confirm_dialog(
    snap_compare: SnapCompare, emulator: EmulatorFactory
) -> None:
    """Cancelling a running bsub.io job at 80x24: the dialog's own keys in the key bar."""
    app, state = demo_app(emulator)
    job = seeded(state, "processing")

    async def run_before(pilot: Pilot[int]) -> None:
        await show_tab(pilot, "1", pane_id(0))
        table = dashboard(pilot).active_table()
        assert table is not None and table.move_cursor(job.id)
        await until(pilot, lambda: getattr(table.cursor_job, "id", None) == job.id, "the job")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the question")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
