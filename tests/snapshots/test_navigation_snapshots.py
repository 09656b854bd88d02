"""SVG snapshots of the All jobs tab, the filter line, the key help and the command palette.

Deterministic: seeded bsub.io and Leia emulators with frozen clocks (speed 0), the app's clock
fixed a few minutes after the emulators' epoch, no blinking cursors; each snapshot is taken once
both first polls are on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from jobtui.config import config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.services import build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.widgets.all_jobs import AllJobsTab
from tests.conftest import EmulatorFactory

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)
LEIA_JOBS = 24


def fixed_clock() -> datetime:
    return NOW


def demo_app(emulator: EmulatorFactory) -> JobtuiApp:
    """bsub.io and Leia as `jobtui demo` sets them up, on seeded frozen emulators."""
    running = [
        emulator("bsub", seed=1, speed=0, jobs=DEMO_JOBS),
        emulator("leia", seed=1, speed=0, jobs=LEIA_JOBS),
    ]
    config = config_from_data({"services": service_entries(running)}, source="demo")
    services = [build_service(entry) for entry in config.services]
    return JobtuiApp(services, title="jobtui demo", clock=fixed_clock)


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def first_polls(pilot: Pilot[int]) -> None:
    table = pilot.app.screen.query_one(AllJobsTab).table
    await until(pilot, lambda: table.total_count == DEMO_JOBS + LEIA_JOBS, "both first polls")
    await until(pilot, lambda: table.has_focus, "the table's focus")
    # The cursor stays on the first job that arrived, which depends on which service answered
    # first: home puts it on the newest job of both.
    await pilot.press("home")
    first = table.job_at(0)
    await until(pilot, lambda: table.cursor_job is first, "the cursor on the first row")
    await pilot.pause()


def no_blink(pilot: Pilot[int]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def test_all_jobs_tab(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """Both services' jobs in one table with a Service column; the newest job's detail."""
    assert snap_compare(demo_app(emulator), terminal_size=SIZE, run_before=first_polls)


def test_filter_line(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """`/` with a regular expression typed: the matching rows of both services, the count."""

    async def run_before(pilot: Pilot[int]) -> None:
        await first_polls(pilot)
        await pilot.press("slash")
        no_blink(pilot)
        await pilot.press(*"fail|error")
        tab = pilot.app.screen.query_one(AllJobsTab)
        await until(pilot, lambda: tab.table.row_count < tab.table.total_count, "the filter")

    assert snap_compare(demo_app(emulator), terminal_size=SIZE, run_before=run_before)


def test_key_help(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """`?` on All jobs: every key of the screen, where it applies, the disabled ones marked."""

    async def run_before(pilot: Pilot[int]) -> None:
        await first_polls(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")

    assert snap_compare(demo_app(emulator), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """`:` with "go" typed: the tabs to go to."""

    async def run_before(pilot: Pilot[int]) -> None:
        await first_polls(pilot)
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
        no_blink(pilot)
        await pilot.press(*"go to")
        hits = pilot.app.screen.query_one(CommandList)
        await until(pilot, lambda: hits.option_count == 3, "the tabs")
        await pilot.pause(0.2)

    assert snap_compare(demo_app(emulator), terminal_size=SIZE, run_before=run_before)
