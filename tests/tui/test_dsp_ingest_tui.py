"""The dsp-ingest tab driven with Pilot against the dsp-ingest emulator over loopback HTTP.

Each test starts a seeded emulator with a frozen clock (speed 0) and the real app on a
`DspIngestService`; the tab polls every minute, so polls happen when a test (or an action) asks
for one, and the ingest and the finalize move only when a test advances the emulator's clock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Static

from jobtui.core.models import JobState
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.dsp_ingest.state import DspIngestState
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.dsp_ingest.mapping import MappingScreen
from jobtui.tui.dsp_ingest.upload import UploadScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.widgets.detail import JobDetail
from tests.conftest import EmulatorFactory
from tests.tui.driver import TabDriver

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)
FILES = 50
REJECTED = {"bad#name.jpg": "'#'", "notes.exe": "'.exe' is not a file type"}


def fixed_clock() -> datetime:
    return NOW


class Ingest(TabDriver[DspIngestState, DspIngestService]):
    """One running emulator, the service on it, and the app being driven."""

    noun = "project"
    wait = 15.0

    async def poll_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Poll (r) until `predicate()` holds."""
        deadline = time.monotonic() + 15.0
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await self.poll()

    async def click(self, selector: str) -> None:
        """Click a button once the effect of its last click is over (a button ignores clicks
        while it shows that)."""
        button = self.app.screen.query_one(selector, Button)
        await self.until(lambda: not button.has_class("-active"), f"{selector} to be clickable")
        assert await self.pilot.click(selector)

    def upload_screen(self) -> UploadScreen:
        screen = self.app.screen
        assert isinstance(screen, UploadScreen)
        return screen


@asynccontextmanager
async def ingest_app(emulator: EmulatorFactory, **options: object) -> AsyncIterator[Ingest]:
    running = emulator("dsp-ingest", seed=1, speed=0, jobs=4, **options)
    state = running.state
    assert isinstance(state, DspIngestState)
    service = DspIngestService(
        "ingest",
        running.url,
        state.token,
        projects=list(state.seeded),
        busy_backoff=0.0,
        busy_backoff_max=0.0,
        retry_delay=0.01,
    )
    app = JobtuiApp([service], refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        ingest = Ingest(running, state, service, app, pilot)
        await ingest.until(lambda: ingest.table.row_count == len(state.seeded), "the first poll")
        yield ingest


def make_folder(root: Path, count: int = FILES, size: int = 700) -> Path:
    folder = root / "scans"
    folder.mkdir()
    for i in range(1, count + 1):
        (folder / f"img_{i:03d}.jpg").write_bytes(bytes([i % 251]) * (size + i))
    for name in REJECTED:
        (folder / name).write_bytes(b"never sent")
    return folder


def plain(widget: Static | Label) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def detail_text(ingest: Ingest) -> str:
    body = ingest.app.screen.query_one(JobDetail)
    console = Console(width=110, record=True, color_system=None)
    console.print(body.content)
    return console.export_text()


async def open_upload(ingest: Ingest, code: str, folder: Path) -> UploadScreen:
    """Select `code`, press u, fill the folder and check it."""
    await ingest.select(code)
    await ingest.pilot.press("u")
    await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the upload dialog")
    screen = ingest.upload_screen()
    assert screen.query_one("#shortcode", Input).value == code
    screen.query_one("#folder", Input).value = str(folder)
    await ingest.pilot.click("#check")
    await ingest.until(lambda: screen.plan is not None, "the check")
    return screen


async def test_upload_ingest_mapping_finalize(emulator: EmulatorFactory, tmp_path: Path) -> None:
    async with ingest_app(emulator) as ingest:
        code = ingest.state.roles["empty"]
        folder = make_folder(tmp_path)
        screen = await open_upload(ingest, code, folder)

        # the check: what is sent, and every file left out with its reason
        plan = plain(screen.query_one("#plan", Static))
        assert f"{FILES} files" in plan and f"to upload to project {code}" in plan
        assert f"{len(REJECTED)} left out, never sent" in plan
        for name, reason in REJECTED.items():
            line = next(line for line in plan.splitlines() if name in line)
            assert reason in line, line
        assert ingest.state.counts["upload"] == 0

        await ingest.pilot.click("#upload")
        await ingest.until(lambda: screen.report is not None, "the upload", seconds=30)
        report = screen.report
        assert report is not None and report.complete
        assert len(report.uploaded) == FILES
        assert sorted(ingest.state.uploaded_files(code)) == [
            f"img_{i:03d}.jpg" for i in range(1, FILES + 1)
        ]
        assert ingest.state.counts["upload"] == FILES  # the rejected names were never sent
        progress = screen.progress
        assert progress is not None
        assert progress.files_done == FILES and progress.bytes_done == progress.bytes_total
        assert plain(screen.query_one("#total-line", Label)).startswith(f"{FILES} of {FILES} files")
        total_bar = screen.query_one("#total-bar", ProgressBar)
        assert total_bar.percentage == 1.0
        assert f"Uploaded ({FILES})" in plain(screen.query_one("#plan", Static))

        await ingest.pilot.click("#close")
        await ingest.until(lambda: not isinstance(ingest.app.screen, UploadScreen), "the close")
        await ingest.until(lambda: ingest.shown(code).raw_state == "uploaded", "the uploaded row")
        assert ingest.shown(code).extra["uploaded"] == str(FILES)
        await ingest.select(code)
        assert f"{FILES} (by this jobtui since the last finalize)" in detail_text(ingest)

        # start the ingest; the emulator ingests 2 files per simulated second
        await ingest.pilot.press("i")
        await ingest.until(lambda: ingest.shown(code).raw_state == "ingesting", "the ingest")
        assert ingest.state.counts["trigger"] == 1
        ingest.state.clock.advance(FILES / 2 + 1)
        await ingest.poll_until(lambda: ingest.shown(code).raw_state == "done", "the mapping")
        job = ingest.shown(code)
        assert job.state is JobState.SUCCEEDED
        assert job.extra["mapped"] == str(FILES)
        assert f"done ({FILES} files mapped)" in job.message
        await ingest.select(code)
        assert f"{FILES} rows" in detail_text(ingest)

        # the mapping view, and saving it
        await ingest.pilot.press("m")
        await ingest.until(lambda: isinstance(ingest.app.screen, MappingScreen), "the mapping")
        mapping = ingest.app.screen
        assert isinstance(mapping, MappingScreen)
        table = mapping.query_one("#rows", DataTable)
        await ingest.until(lambda: table.row_count == FILES, "the mapping rows")
        rows = ingest.state.mapping_rows(code)
        # The cells are Text: a file name is shown as it is, never read as markup.
        shown = [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(FILES)]
        assert shown == rows
        assert str(table.get_row_at(0)[0]) == "img_001.jpg"
        assert str(table.get_row_at(0)[1]).endswith(".jpx")

        dest = tmp_path / "out" / "mapping.csv"
        dest.parent.mkdir()
        mapping.query_one("#path", Input).value = str(dest)
        await ingest.pilot.click("#save")
        await ingest.until(lambda: mapping.saved is not None, "the save")
        lines = dest.read_text().splitlines()
        assert lines[0] == "original,derivative"
        assert [tuple(line.split(",")) for line in lines[1:]] == rows
        assert not [p for p in dest.parent.iterdir() if p != dest]  # no temporary file left

        # saving again over it asks first
        dest.write_text("keep me")
        await ingest.click("#save")
        message = mapping.query_one("#message", Label)
        await ingest.until(lambda: "exists: press Save again" in plain(message), "the question")
        assert dest.read_text() == "keep me"
        await ingest.click("#save")
        await ingest.until(lambda: dest.read_text().startswith("original,"), "the overwrite")
        await ingest.pilot.press("escape")
        await ingest.until(lambda: not isinstance(ingest.app.screen, MappingScreen), "the close")

        # finalize, confirmed first
        await ingest.pilot.press("F")
        await ingest.until(lambda: isinstance(ingest.app.screen, ConfirmScreen), "the question")
        confirm = ingest.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert f"import folder import/{code}" in confirm.body
        assert f"mapping-{code}.csv ({FILES} rows)" in confirm.body
        assert ingest.state.counts["finalize"] == 0
        await ingest.pilot.press("y")
        await ingest.until(lambda: ingest.state.counts["finalize"] == 1, "the finalize")
        ingest.state.clock.advance(ingest.state.finalize_seconds + 1)
        await ingest.poll_until(lambda: ingest.shown(code).raw_state == "finalized", "finalized")
        assert ingest.state.mapping_rows(code) == []
        assert not ingest.state.mapping_file(code).exists()


async def test_cancel_midway_reports_what_was_uploaded(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        code = ingest.state.roles["empty"]
        screen = await open_upload(ingest, code, make_folder(tmp_path))
        ingest.state.faults.latency = 0.05
        await ingest.pilot.click("#upload")
        await ingest.until(
            lambda: screen.progress is not None and screen.progress.files_done >= 3, "3 files"
        )
        await ingest.pilot.click("#cancel")
        await ingest.until(lambda: screen.report is not None, "the cancel")
        report = screen.report
        assert report is not None and report.cancelled
        on_server = set(ingest.state.uploaded_files(code))
        assert 3 <= len(report.uploaded) < FILES
        assert set(report.uploaded) <= on_server
        assert on_server - set(report.uploaded) <= {report.interrupted}
        assert len(report.uploaded) + len(report.not_uploaded) == FILES
        text = plain(screen.query_one("#plan", Static))
        assert f"uploaded {len(report.uploaded)} of {FILES} files" in text
        assert f"Uploaded ({len(report.uploaded)}):" in text
        assert f"Not uploaded ({len(report.not_uploaded)}):" in text
        uploaded_part, not_uploaded_part = text.split("Not uploaded")
        assert all(rel in uploaded_part for rel in report.uploaded)
        cut_off = report.interrupted  # named in its own line above the lists, if any
        assert not any(rel in uploaded_part for rel in report.not_uploaded if rel != cut_off)
        assert all(rel in not_uploaded_part for rel in report.not_uploaded)
        assert "upload cancelled" in plain(screen.query_one("#message", Label))

        await ingest.pilot.press("escape")
        await ingest.until(lambda: not isinstance(ingest.app.screen, UploadScreen), "the close")
        await ingest.until(lambda: ingest.shown(code).raw_state == "uploaded", "the row")
        assert ingest.shown(code).extra["uploaded"] == str(len(report.uploaded))


async def test_escape_while_uploading_cancels_and_keeps_the_dialog(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        code = ingest.state.roles["empty"]
        screen = await open_upload(ingest, code, make_folder(tmp_path))
        ingest.state.faults.latency = 0.05
        await ingest.pilot.click("#upload")
        await ingest.until(
            lambda: screen.progress is not None and screen.progress.files_done >= 1, "a file"
        )
        await ingest.pilot.press("escape")
        await ingest.until(lambda: screen.report is not None, "the cancel")
        assert ingest.app.screen is screen
        assert screen.report is not None and screen.report.cancelled


async def test_invalid_shortcode_is_refused_in_the_form(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        folder = make_folder(tmp_path, count=3)
        await ingest.select(ingest.state.roles["empty"])
        await ingest.pilot.press("u")
        await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the dialog")
        screen = ingest.upload_screen()
        screen.query_one("#shortcode", Input).value = "12G4"
        screen.query_one("#folder", Input).value = str(folder)
        await ingest.pilot.click("#check")
        await ingest.pilot.pause()
        message = plain(screen.query_one("#message", Label))
        assert "shortcode: '12G4' is not a project shortcode" in message
        assert screen.plan is None
        assert screen.query_one("#upload", Button).disabled
        assert screen.focused is screen.query_one("#shortcode", Input)
        assert ingest.state.counts["upload"] == 0


async def test_lowercase_shortcode_of_an_unlisted_project_is_upper_cased(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        folder = make_folder(tmp_path, count=3)
        await ingest.pilot.press("U")
        await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the dialog")
        screen = ingest.upload_screen()
        assert screen.query_one("#shortcode", Input).value == ""
        screen.query_one("#shortcode", Input).value = "0a1b"
        screen.query_one("#folder", Input).value = str(folder)
        await ingest.pilot.click("#check")
        await ingest.until(lambda: screen.plan is not None, "the check")
        assert screen.query_one("#shortcode", Input).value == "0A1B"
        await ingest.pilot.click("#upload")
        await ingest.until(lambda: screen.report is not None, "the upload")
        assert sorted(ingest.state.uploaded_files("0A1B")) == [
            "img_001.jpg",
            "img_002.jpg",
            "img_003.jpg",
        ]
        await ingest.pilot.click("#close")
        await ingest.until(lambda: ingest.table.get_job("0A1B") is not None, "the new row")
        assert ingest.shown("0A1B").raw_state == "uploaded"


async def test_a_folder_that_does_not_exist_is_named(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        await ingest.select(ingest.state.roles["empty"])
        await ingest.pilot.press("u")
        await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the dialog")
        screen = ingest.upload_screen()
        screen.query_one("#folder", Input).value = str(tmp_path / "missing")
        await ingest.pilot.click("#check")
        message = screen.query_one("#message", Label)
        await ingest.until(lambda: "is not a folder" in plain(message), "the error")
        assert plain(message).startswith("folder: ")
        assert screen.query_one("#upload", Button).disabled


async def test_files_the_ingest_left_without_a_mapping_are_listed(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with ingest_app(emulator) as ingest:
        code = ingest.state.roles["empty"]
        folder = make_folder(tmp_path, count=4)
        (folder / "corrupt_page.jpg").write_bytes(b"the emulator fails files named corrupt")
        (folder / "blank.png").write_bytes(b"")
        screen = await open_upload(ingest, code, folder)
        assert "1 empty image is sent, but the ingest will fail on it" in plain(
            screen.query_one("#plan", Static)
        )
        await ingest.click("#upload")
        await ingest.until(lambda: screen.report is not None, "the upload")
        await ingest.click("#close")
        await ingest.until(lambda: ingest.shown(code).raw_state == "uploaded", "the row")
        await ingest.select(code)
        await ingest.pilot.press("i")
        await ingest.until(lambda: ingest.shown(code).raw_state == "ingesting", "the ingest")
        ingest.state.clock.advance(10)
        await ingest.poll_until(
            lambda: ingest.shown(code).raw_state == "done, files unmapped", "the end"
        )
        job = ingest.shown(code)
        assert job.state is JobState.FAILED
        assert (job.extra["mapped"], job.extra["unmapped"]) == ("4", "2")
        await ingest.select(code)
        text = detail_text(ingest)
        assert "2 files failed in the ingest and are still in the import folder" in text
        section = text.split("without mapping", 1)[1].split("record", 1)[0]
        assert "blank.png" in section and "corrupt_page.jpg" in section
        assert "img_001.jpg" not in section
        assert sorted(ingest.state.uploaded_files(code)) == ["blank.png", "corrupt_page.jpg"]


async def test_read_only_opens_no_upload(emulator: EmulatorFactory) -> None:
    async with ingest_app(emulator) as ingest:
        ingest.tab.read_only = True
        await ingest.pilot.press("U")
        await ingest.pilot.press("u")
        await ingest.pilot.pause()
        assert not isinstance(ingest.app.screen, UploadScreen)
        assert ingest.state.counts["upload"] == 0
