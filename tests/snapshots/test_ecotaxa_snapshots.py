"""SVG snapshots of the EcoTaxa tab and its answer form.

Deterministic: a seeded emulator with a frozen clock (speed 0), so that every poll answers the
same; the app's clock fixed a few minutes after the emulator's epoch; no blinking cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from textual.pilot import Pilot
from textual.widgets import Input

from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.ecotaxa.answer import AnswerScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import seeded

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)


def fixed_clock() -> datetime:
    return NOW


def ecotaxa_app(emulator: EmulatorFactory) -> tuple[JobtuiApp, EcoTaxaState]:
    running = emulator("ecotaxa", seed=1, speed=0, jobs=30)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    config = running.emulator.config
    service = EcoTaxaService(
        "EcoTaxa",
        running.url,
        username=str(config["username"]),
        password=str(config["password"]),
    )
    return JobtuiApp([service], refresh=60.0, clock=fixed_clock), state


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def show_job(pilot: Pilot[int], job_id: str) -> None:
    """Wait for the first poll, then put the cursor on `job_id` and wait for its detail, and
    for the look at it to count (the header's attention count then leaves it out)."""
    screen = pilot.app.screen
    table = screen.query_one(JobTable)
    await until(pilot, lambda: table.row_count > 1, "the first poll")
    # The cursor arrives on the job from another one: a look, whether the tab was shown
    # before or after the first poll (which decides whether showing it was a look already).
    other = next(table.job_at(row).id for row in range(2) if table.job_at(row).id != job_id)
    assert table.move_cursor(other)
    assert table.move_cursor(job_id)
    detail = screen.query_one(JobDetail)
    await until(pilot, lambda: detail.job is not None and detail.job.id == job_id, "the detail")
    app = pilot.app
    assert isinstance(app, JobtuiApp)
    await until(pilot, lambda: app.attention == 0, "the look at the job")


def no_blink(pilot: Pilot[int]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def test_ecotaxa_tab_with_an_asking_job(
    snap_compare: SnapCompare, emulator: EmulatorFactory
) -> None:
    """The table, and an asking import's detail: owner, the question, params."""
    app, state = ecotaxa_app(emulator)
    job_id = str(seeded(state, "A", "FileImport").id)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, job_id)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_ecotaxa_answer_form(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The answer form of that job, after a non-integer id was refused."""
    app, state = ecotaxa_app(emulator)
    sim = seeded(state, "A", "FileImport")

    async def run_before(pilot: Pilot[int]) -> None:
        await show_job(pilot, str(sim.id))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, AnswerScreen), "the form")
        no_blink(pilot)
        form = pilot.app.screen
        assert isinstance(form, AnswerScreen)
        inputs = list(form.query(Input))
        inputs[0].value = "12"
        inputs[1].value = "4x"
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: "whole number" in str(form.query_one("#message").render()), "the error"
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
