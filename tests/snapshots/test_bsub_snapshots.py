"""SVG snapshots of the bsub.io tab and its dialogs.

Deterministic: a seeded emulator with a frozen clock (speed 0), so that every poll answers the
same; the app's clock fixed a few minutes after the emulator's epoch; no blinking cursor. Each
snapshot is taken once the first poll is on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from textual.pilot import Pilot
from textual.widgets import Input, Select

from jobtui.config import config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.services import build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)


def fixed_clock() -> datetime:
    return NOW


def demo_app(emulator: EmulatorFactory) -> tuple[JobtuiApp, BsubState]:
    """The bsub.io tab as `jobtui demo` builds it: its `[[services]]` entry, its seeded jobs."""
    running = emulator("bsub", seed=1, speed=0, jobs=DEMO_JOBS)
    state = running.state
    assert isinstance(state, BsubState)
    config = config_from_data({"services": service_entries([running])}, source="demo")
    services = [build_service(entry) for entry in config.services]
    return JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock), state


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def first_poll(pilot: Pilot[int]) -> None:
    table = pilot.app.screen.query_one(JobTable)
    await until(pilot, lambda: table.row_count == DEMO_JOBS, "the first poll")


async def show_job(pilot: Pilot[int], job_id: str) -> None:
    """Wait for the first poll, then put the cursor on `job_id` and wait for its detail."""
    await first_poll(pilot)
    screen = pilot.app.screen
    assert screen.query_one(JobTable).move_cursor(job_id)
    detail = screen.query_one(JobDetail)
    await until(pilot, lambda: detail.job is not None and detail.job.id == job_id, "the detail")


async def open_new_job(pilot: Pilot[int]) -> NewBsubJobScreen:
    await first_poll(pilot)
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewBsubJobScreen), "the dialog")
    screen = pilot.app.screen
    assert isinstance(screen, NewBsubJobScreen)
    for field in screen.query(Input):
        field.cursor_blink = False
    select = screen.query_one("#type", Select)
    await until(pilot, lambda: select.prompt == "choose a type", "the types")
    return screen


def test_bsub_dashboard(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The demo's bsub.io tab: every seeded state, the newest job's detail, the status line."""
    app, _ = demo_app(emulator)
    assert snap_compare(app, terminal_size=SIZE, run_before=first_poll)


def test_bsub_failed_job_detail(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """A failed job: its error in the table and the detail, what can and cannot be done."""
    app, state = demo_app(emulator)
    job = seeded(state, "failed", cancelled=False)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bsub_new_job_types(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The new-job dialog with the processing types listed."""
    app, _ = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        screen = await open_new_job(pilot)
        select = screen.query_one("#type", Select)
        await pilot.press("enter")
        await until(pilot, lambda: select.expanded, "the type list")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bsub_new_job_type_chosen(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The new-job dialog with a type chosen (its description under it) and a file typed."""
    app, _ = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        screen = await open_new_job(pilot)
        screen.query_one("#type", Select).value = "audio-transcribe"
        screen.query_one("#file", Input).focus()
        await pilot.press(*"interview.mp3")
        await until(
            pilot,
            lambda: screen.query_one("#file", Input).value == "interview.mp3",
            "the file name",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bsub_cancel_confirmation(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """Cancelling a running job names it, its type and its state."""
    app, state = demo_app(emulator)
    job = seeded(state, "processing")

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the question")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
