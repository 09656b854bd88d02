"""SVG snapshots of the Leia tab, its chain view and its dialogs.

Deterministic: a seeded emulator with a frozen clock (speed 0), so that every poll answers the
same; the app's clock fixed a few minutes after the emulator's epoch; no blinking cursor.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.leia.state import LeiaState, SimJob
from jobtui.services.leia.service import LeiaService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.leia.chain import ChainScreen
from jobtui.tui.leia.conditional import ConditionalJobScreen
from jobtui.tui.leia.filters import LeiaFilterScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory

SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[int]], Awaitable[None]]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)


def fixed_clock() -> datetime:
    return NOW


def leia_app(emulator: EmulatorFactory) -> tuple[JobtuiApp, LeiaState]:
    running = emulator("leia", seed=1, speed=0, jobs=24)
    state = running.state
    assert isinstance(state, LeiaState)
    service = LeiaService("leia", running.url, str(running.emulator.config["api_key"]))
    return JobtuiApp([service], refresh=60.0, clock=fixed_clock), state


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def show_job(pilot: Pilot[int], job_id: str) -> None:
    """Wait for the first poll, then put the cursor on `job_id` and wait for its detail."""
    screen = pilot.app.screen
    table = screen.query_one(JobTable)
    await until(pilot, lambda: table.row_count > 0, "the first poll")
    assert table.move_cursor(job_id)
    detail = screen.query_one(JobDetail)
    await until(pilot, lambda: detail.job is not None and detail.job.id == job_id, "the detail")


def no_blink(pilot: Pilot[int]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def find(state: LeiaState, test: Callable[[SimJob], bool]) -> SimJob:
    return next(job for job in state.own if test(job))


def test_leia_tab_on_a_conditional_job(
    snap_compare: SnapCompare, emulator: EmulatorFactory
) -> None:
    """The table, and a conditional job's detail: what it waited on, the job its rule ran, and
    the rule's result."""
    app, state = leia_app(emulator)
    job = find(state, lambda j: j.job_type == "conditional" and j.status == "PROCESSED")

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_tab_on_a_failed_job(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """A job that failed because the job it waited on failed: the reason, the code, the chain."""
    app, state = leia_app(emulator)
    job = find(state, lambda j: j.status == "FAILED" and j.execute_after_id is not None)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_chain_view(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """Enter on a waiting job: what it waits on and what waits on it, with their states."""
    app, state = leia_app(emulator)
    job = find(
        state,
        lambda j: (
            j.status == "WAITING"
            and bool(state.dependants.get(j.id))
            and j.job_type != "conditional"
        ),
    )

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChainScreen), "the chain view")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_conditional_dialog(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The conditional-job form after a classification, with a mistake named under it."""
    app, state = leia_app(emulator)
    job = find(state, lambda j: j.status == "PROCESSED" and j.result_type == "classification")

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConditionalJobScreen), "dialog")
        no_blink(pilot)
        await pilot.press(*"invoice", "ctrl+s")
        await until(
            pilot,
            lambda: pilot.app.screen.query_one("#model-id", Input).has_focus,
            "the model error",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_filter_dialog(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The server-side filters, one chosen and one mistyped."""
    app, _ = leia_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        table = pilot.app.screen.query_one(JobTable)
        await until(pilot, lambda: table.row_count > 0, "the first poll")
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, LeiaFilterScreen), "dialog")
        no_blink(pilot)
        screen = pilot.app.screen
        screen.query_one("#f-job-type", Select).value = "predict"
        screen.query_one("#f-created-after", Input).value = "last tuesday"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.query_one("#f-created-after").has_focus, "the error")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_tab_filtered(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """After filtering on the server: only FAILED jobs, and the status line says so."""
    app, _ = leia_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        screen = pilot.app.screen
        table = screen.query_one(JobTable)
        await until(pilot, lambda: table.row_count > 0, "the first poll")
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, LeiaFilterScreen), "dialog")
        pilot.app.screen.query_one("#f-status", Select).value = "FAILED"
        await pilot.press("ctrl+s")
        tab = screen.query_one(ServiceTab)
        await until(
            pilot,
            lambda: (
                all(table.job_at(r).raw_state == "FAILED" for r in range(table.row_count))
                and "filter status=FAILED" in str(tab.query_one("#status", Static).content)
            ),
            "the filtered list",
        )
        pilot.app.clear_notifications()  # the toast saying so would only time the snapshot

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_leia_cancel_confirmation(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """Cancelling a running job names the jobs waiting on it, which will fail."""
    app, state = leia_app(emulator)
    job = find(
        state,
        lambda j: (
            j.status == "PROCESSING"
            and any(d.status == "WAITING" for d in state.dependants.get(j.id, ()))
        ),
    )

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job.id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the question")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
