"""SVG snapshots of the dsp-ingest tab, its upload dialog after a check, and its mapping view.

Deterministic: a seeded emulator with a frozen clock (speed 0), so that every poll answers the
same; the app's clock fixed a few minutes after the emulator's epoch, and the service's own
timestamps (when a project changed, was checked) fixed to the same instant; the uploaded folder
named relative to a temporary working folder; no blinking cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input

from jobtui.config import config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.dsp_ingest.state import DspIngestState
from jobtui.services import build_service
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.dsp_ingest.mapping import MappingScreen
from jobtui.tui.dsp_ingest.upload import UploadScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from tests.conftest import EmulatorFactory

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)


def fixed_clock() -> datetime:
    return NOW


def ingest_app(emulator: EmulatorFactory) -> tuple[JobtuiApp, DspIngestState]:
    """The dsp-ingest tab as `jobtui demo` builds it: its `[[services]]` entry (token and seeded
    projects), its seeded emulator."""
    running = emulator("dsp-ingest", seed=1, speed=0, jobs=DEMO_JOBS)
    state = running.state
    assert isinstance(state, DspIngestState)
    config = config_from_data({"services": service_entries([running])}, source="demo")
    services = [build_service(entry) for entry in config.services]
    assert [type(s) for s in services] == [DspIngestService]
    for service in services:
        assert isinstance(service, DspIngestService)
        service.now = fixed_clock
    return JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock), state


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def show_project(pilot: Pilot[int], code: str, count: int) -> None:
    """Wait for the first poll, then put the cursor on `code` and wait for its detail."""
    screen = pilot.app.screen
    table = screen.query_one(JobTable)
    await until(pilot, lambda: table.row_count == count, "the first poll")
    assert table.move_cursor(code)
    detail = screen.query_one(JobDetail)
    await until(pilot, lambda: detail.job is not None and detail.job.id == code, "the detail")


def no_blink(pilot: Pilot[int]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def test_dsp_ingest_tab(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The seeded projects (done, files waiting, never used, locked by an ingest) and the detail
    of the one with a mapping."""
    app, state = ingest_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_project(pilot, state.roles["mapped"], len(state.seeded))

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_dsp_ingest_upload_checked(
    snap_compare: SnapCompare,
    emulator: EmulatorFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upload dialog after its check: what is sent, and the files left out with reasons."""
    folder = tmp_path / "scans"
    for i in range(1, 13):
        path = folder / ("letters" if i > 8 else "") / f"scan_{i:02d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (1000 * i))
    for name in ("draft#2.tif", "notes.exe", ".DS_Store", "README"):
        (folder / name).write_bytes(b"left out")
    (folder / "empty.png").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    app, state = ingest_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await show_project(pilot, state.roles["empty"], len(state.seeded))
        await pilot.press("u")
        await until(pilot, lambda: isinstance(pilot.app.screen, UploadScreen), "the dialog")
        screen = pilot.app.screen
        assert isinstance(screen, UploadScreen)
        screen.query_one("#folder", Input).value = "scans"
        await pilot.click("#check")
        await until(pilot, lambda: screen.plan is not None, "the check")
        # the clicked button stays highlighted for a moment: shoot it settled, however slow the
        # check was
        button = screen.query_one("#check", Button)
        await until(pilot, lambda: not button.has_class("-active"), "the button to settle")
        no_blink(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_dsp_ingest_mapping_view(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """The mapping of the seeded project with a finished ingest, and where it would be saved."""
    app, state = ingest_app(emulator)
    code = state.roles["mapped"]

    async def run_before(pilot: Pilot[int]) -> None:
        await show_project(pilot, code, len(state.seeded))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(pilot.app.screen, MappingScreen), "the view")
        table = pilot.app.screen.query_one("#rows", DataTable)
        rows = len(state.mapping_rows(code))
        await until(pilot, lambda: rows > 0 and table.row_count == rows, "the rows")
        no_blink(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
