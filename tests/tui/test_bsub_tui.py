"""The bsub.io tab driven with Pilot against the bsub.io emulator over loopback HTTP.

Each test starts a seeded emulator with a frozen clock (speed 0) and the real app on a
`BsubService`. The tab polls every minute, so polls happen when a test (or an action) asks for
one, and time moves only when a test advances the emulator's clock; one test checks the timer on
its own with a short interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static, TextArea

from jobtui.core.models import JobState
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import KINDS_BY_TYPE, BsubState, SimJob
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.notify import Notice
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.detail import JobDetail
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import advance_until, make_file, seeded, start, token_of
from tests.settle import settle
from tests.tui.driver import TabDriver

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)
MiB = 1024 * 1024

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def fixed_clock() -> datetime:
    return NOW


class Bsub(TabDriver[BsubState, BsubService]):
    """One running emulator, the service on it, and the app being driven."""

    async def screen(self, kind: type[ScreenT], what: str) -> ScreenT:
        """Wait for a screen of `kind` to be the active one, and return it."""
        await self.until(lambda: isinstance(self.app.screen, kind), what)
        screen = self.app.screen
        assert isinstance(screen, kind)
        return screen

    async def back_on_dashboard(self) -> None:
        await self.until(lambda: isinstance(self.app.screen, DashboardScreen), "the dashboard")

    def notes(self) -> list[Notice]:
        """Every notification so far, shown as a toast or folded into "and N more"."""
        return list(self.app.notices)

    async def note(self, predicate: Callable[[Notice], bool], what: str) -> Notice:
        """Wait for a notification that `predicate` accepts, and return it."""
        await self.until(lambda: any(predicate(n) for n in self.notes()), what)
        return next(n for n in self.notes() if predicate(n))

    async def until_created(self) -> str:
        """The id of the job the dialog created, once the table lists it."""
        await self.until(lambda: self.state.counts["submit_job"] >= 1, "the submit")
        created = self.state.order[-1].id
        await self.until(lambda: self.table.get_job(created) is not None, "the new job listed")
        return created

    def matches_emulator(self) -> bool:
        """The table holds exactly the emulator's jobs, each in its state on the server."""
        state = self.state
        if set(self.table.row_ids()) != set(state.jobs):
            return False
        return all(self.shown(i).raw_state == state.jobs[i].status for i in state.jobs)


@asynccontextmanager
async def bsub_app(
    emulator: EmulatorFactory,
    *,
    jobs: int = 40,
    read_only: bool = False,
    refresh: float = 60.0,
    size: tuple[int, int] = SIZE,
    **options: Any,
) -> AsyncIterator[Bsub]:
    running, state = start(emulator, jobs=jobs, **options)
    service = BsubService("bsub", running.url, token_of(running))
    app = JobtuiApp([service], refresh=refresh, read_only=read_only, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        bsub = Bsub(running, state, service, app, pilot)
        await bsub.until(lambda: bsub.table.row_count > 0, "the first poll")
        yield bsub


def text_of(widget: Static) -> str:
    return str(widget.content)


def status_line(bsub: Bsub) -> str:
    return text_of(bsub.tab.query_one("#status", Static))


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def finished_text_job(state: BsubState) -> SimJob:
    """The newest finished job whose output is text (the emulator makes it up whole)."""
    for job_id in state.ids_in("finished"):
        job = state.jobs[job_id]
        if KINDS_BY_TYPE[job.type].text:
            return job
    raise AssertionError("the seed has no finished job with a text output")


def soon_running(state: BsubState, within: float) -> SimJob:
    """A running job whose next step is due within `within` simulated seconds."""
    for status in ("processing", "preparing", "claimed", "pending"):
        for job_id in state.ids_in(status):
            job = state.jobs[job_id]
            if job.due is not None and job.due - state.now() < within:
                return job
    raise AssertionError(f"no running job moves within {within} s")


# -- the table ----------------------------------------------------------------------------------


async def test_rows_are_the_emulators_jobs_newest_first(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator, jobs=40) as bsub:
        await bsub.until(lambda: bsub.table.row_count == 40, "every job")
        assert bsub.table.row_ids() == [job.id for job in reversed(bsub.state.order)]
        assert bsub.matches_emulator()
        counts = bsub.state.status_counts()
        assert {"created", "loaded", "pending", "processing", "finished", "failed"} <= set(counts)
        cancelled = seeded(bsub.state, "failed", cancelled=True)
        assert bsub.shown(cancelled.id).state is JobState.CANCELLED
        assert bsub.shown(cancelled.id).raw_state == "failed"
        assert bsub.cursor_on(bsub.state.order[-1].id)  # the newest, on the first row
        assert status_line(bsub).startswith("● live · 40 jobs · updated just now · every 60s")


async def test_states_change_when_time_moves_and_r_polls(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator, jobs=40) as bsub:
        state = bsub.state
        running = [
            j.id for j in state.order if not j.terminal and j.status not in ("created", "loaded")
        ]
        assert running
        before = {job_id: bsub.shown(job_id).raw_state for job_id in running}

        state.clock.advance(300)
        await bsub.pilot.pause(0.05)
        assert {i: bsub.shown(i).raw_state for i in running} == before  # nothing polled yet

        await bsub.poll()
        await bsub.until(bsub.matches_emulator, "the new states")
        after = {job_id: bsub.shown(job_id).raw_state for job_id in running}
        assert after != before
        assert all(state.jobs[i].status == after[i] for i in running)
        ended = next(i for i in running if after[i] == "finished")
        assert bsub.shown(ended).state is JobState.SUCCEEDED


async def test_r_says_that_it_polls(emulator: EmulatorFactory) -> None:
    """The status line read "updated just now" before and after `r`: it now says "polling…"
    while the poll runs, then "polled just now" for a moment."""
    async with bsub_app(emulator, jobs=10) as bsub:
        await bsub.until(lambda: "updated just now" in status_line(bsub), "fresh data")
        polls = bsub.tab.health.polls
        bsub.state.lock.acquire()  # the server waits: the poll is seen under way
        try:
            await bsub.pilot.press("r")
            await bsub.until(lambda: "· polling… ·" in status_line(bsub), "polling…")
            assert "updated" not in status_line(bsub)
        finally:
            bsub.state.lock.release()
        await bsub.until(lambda: "· polled just now ·" in status_line(bsub), "polled")
        assert bsub.tab.health.polls == polls + 1
        await bsub.until(lambda: "· updated just now ·" in status_line(bsub), "back to its age")


async def test_the_tab_polls_on_its_own(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator, jobs=20, refresh=0.2) as bsub:
        job = soon_running(bsub.state, 60)
        was = bsub.shown(job.id).raw_state
        bsub.state.clock.advance(60)
        await bsub.until(lambda: bsub.shown(job.id).raw_state != was, "a poll on the timer")
        assert bsub.shown(job.id).raw_state == bsub.state.jobs[job.id].status


async def test_cursor_stays_on_its_job_when_jobs_arrive_above(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator, jobs=30, arrivals=20) as bsub:
        state = bsub.state
        job = soon_running(state, 90)
        await bsub.select(job.id)
        row = bsub.table.cursor_row
        assert row is not None and row > 0
        was = bsub.shown(job.id).raw_state
        ids_before = set(bsub.table.row_ids())

        state.clock.advance(90)  # new jobs arrive (newest first: above the cursor), states move
        await bsub.poll()
        await bsub.until(bsub.matches_emulator, "the arrivals")
        added = [i for i in bsub.table.row_ids() if i not in ids_before]
        assert len(added) >= 2
        assert bsub.table.row_ids()[: len(added)] == added
        assert bsub.cursor_on(job.id)
        assert bsub.table.cursor_row == row + len(added)
        assert bsub.shown(job.id).raw_state != was
        detail = bsub.app.screen.query_one(JobDetail)
        assert detail.job is not None and detail.job.raw_state == bsub.shown(job.id).raw_state


async def test_cursor_stays_when_a_job_is_created_through_the_client(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_app(emulator, jobs=12) as bsub:
        top = bsub.table.row_ids()[0]
        assert bsub.cursor_on(top) and bsub.table.cursor_row == 0
        created = await bsub.service.client.create_job("image-ocr")
        await bsub.poll()
        await bsub.until(lambda: bsub.table.get_job(created.id) is not None, "the new job")
        assert bsub.table.row_ids()[:2] == [created.id, top]
        assert bsub.cursor_on(top) and bsub.table.cursor_row == 1
        assert bsub.shown(created.id).raw_state == "created"
        assert bsub.shown(created.id).state is JobState.NEEDS_INPUT


# -- cancel and delete --------------------------------------------------------------------------


async def test_cancel_asks_first_and_no_leaves_the_job(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        job = seeded(bsub.state, "processing")
        await bsub.select(job.id)
        await bsub.pilot.press("c")
        confirm = await bsub.screen(ConfirmScreen, "the confirmation")
        assert confirm.title_text == "Cancel · bsub"
        assert confirm.body == (
            f"Cancel job {job.id} ({job.type}), now processing? It will end as failed (cancelled)."
        )
        shown = text_of(confirm.query_one(".dialog-body Static", Static))
        assert job.id in shown

        await bsub.pilot.press("n")
        await bsub.back_on_dashboard()
        await bsub.poll()
        assert bsub.state.counts["cancel_job"] == 0
        assert bsub.state.jobs[job.id].status == "processing"
        assert bsub.shown(job.id).raw_state == "processing"
        assert bsub.cursor_on(job.id)


async def test_cancel_confirmed_ends_the_job_cancelled(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        job = seeded(bsub.state, "processing")
        await bsub.select(job.id)
        await bsub.pilot.press("c")
        await bsub.screen(ConfirmScreen, "the confirmation")
        await bsub.pilot.press("y")
        await bsub.until(lambda: bsub.state.jobs[job.id].status == "failed", "the cancel")
        assert bsub.state.jobs[job.id].error_code == "cancelled"
        assert bsub.state.counts["cancel_job"] == 1
        # The action asks for a poll: the table follows without pressing r.
        await bsub.until(lambda: bsub.shown(job.id).raw_state == "failed", "the new state")
        assert bsub.shown(job.id).state is JobState.CANCELLED
        assert bsub.shown(job.id).message == "cancelled: Job cancelled by user"
        note = await bsub.note(lambda n: job.id in n.message, "the result")
        assert note.message == f"bsub: job {job.id} cancelled"
        assert note.severity == "information"


async def test_delete_a_finished_job(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        job = seeded(bsub.state, "finished")
        await bsub.select(job.id)
        rows = bsub.table.row_count
        await bsub.pilot.press("d")
        confirm = await bsub.screen(ConfirmScreen, "the confirmation")
        assert confirm.title_text == "Delete · bsub"
        assert f"Delete job {job.id} ({job.type}) with its input and output?" in confirm.body
        assert bsub.state.counts["delete_job"] == 0
        await bsub.pilot.press("y")
        await bsub.until(lambda: job.id not in bsub.table.row_ids(), "the job to leave")
        assert job.id not in bsub.state.jobs
        assert bsub.table.row_count == rows - 1
        assert bsub.table.cursor_job is not None  # on the row that took its place
        await bsub.note(lambda n: n.message == f"bsub: job {job.id} deleted", "the result")


async def test_disallowed_actions_say_why_and_ask_nothing(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        finished = seeded(bsub.state, "finished")
        await bsub.select(finished.id)
        await bsub.pilot.press("c")
        note = await bsub.note(lambda n: "cannot cancel" in n.message, "the reason")
        assert note.message == "bsub: cannot cancel: finished jobs cannot be cancelled"
        assert note.severity == "warning"
        assert not isinstance(bsub.app.screen, ConfirmScreen)

        running = seeded(bsub.state, "processing")
        await bsub.select(running.id)
        await bsub.pilot.press("d")
        note = await bsub.note(lambda n: "cannot delete" in n.message, "the reason")
        assert note.message == (
            "bsub: cannot delete: only finished or failed jobs can be deleted; "
            "this one is processing"
        )
        await bsub.pilot.press("o")
        await bsub.note(lambda n: "cannot save output" in n.message, "the reason")
        await bsub.pilot.pause()
        assert isinstance(bsub.app.screen, DashboardScreen)
        assert bsub.state.counts["cancel_job"] == bsub.state.counts["delete_job"] == 0
        assert bsub.state.counts["get_job_output"] == 0


# -- refused actions ----------------------------------------------------------------------------


async def test_a_refused_delete_shows_one_line_naming_the_service(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_app(emulator) as bsub:
        job = seeded(bsub.state, "finished")
        await bsub.select(job.id)
        bsub.state.faults.fail_status = 409
        bsub.state.faults.paths = (f"/v1/jobs/{job.id}",)
        await bsub.pilot.press("d")
        await bsub.screen(ConfirmScreen, "the confirmation")
        await bsub.pilot.press("y")
        note = await bsub.note(lambda n: n.severity == "error", "the error")
        assert note.message == "bsub: Simulated failure (HTTP 409)"
        assert [n.message for n in bsub.notes() if n.severity == "error"] == [note.message]
        bsub.state.faults.fail_status = None
        await bsub.poll()
        assert job.id in bsub.state.jobs
        assert bsub.shown(job.id).raw_state == "finished"
        assert isinstance(bsub.app.screen, DashboardScreen) and bsub.app.is_running
        assert bsub.tab.health.ok


async def test_cancel_of_a_job_that_ended_since_the_last_poll(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        state = bsub.state
        job = seeded(state, "processing")
        await bsub.select(job.id)
        advance_until(state, lambda: state.jobs[job.id].terminal)  # the server moved on
        ended = state.jobs[job.id].status
        assert bsub.shown(job.id).raw_state == "processing"  # not polled yet

        await bsub.pilot.press("c")
        await bsub.screen(ConfirmScreen, "the confirmation")
        await bsub.pilot.press("y")
        note = await bsub.note(lambda n: n.severity == "error", "the refusal")
        assert note.message == (f"bsub: Job cannot be cancelled: it is already {ended} (HTTP 400)")
        assert "\n" not in note.message
        await bsub.until(lambda: bsub.shown(job.id).raw_state == ended, "the poll after it")
        assert state.jobs[job.id].error_code != "cancelled"
        assert isinstance(bsub.app.screen, DashboardScreen) and bsub.app.is_running


# -- new job ------------------------------------------------------------------------------------


async def open_new_job(bsub: Bsub) -> NewBsubJobScreen:
    await bsub.pilot.press("n")
    screen = await bsub.screen(NewBsubJobScreen, "the new-job dialog")
    select = screen.query_one("#type", Select)
    await bsub.until(lambda: select.prompt == "choose a type" and select.has_focus, "the types")
    return screen


async def choose_type(bsub: Bsub, screen: NewBsubJobScreen, search: str, type_id: str) -> None:
    """Open the type list, type to search it, pick the match."""
    select = screen.query_one("#type", Select)
    await bsub.pilot.press("enter")
    await bsub.until(lambda: select.expanded, "the type list")
    await bsub.pilot.press(*search, "enter")
    await bsub.until(lambda: select.value == type_id, f"type {type_id}")


async def test_new_job_uploads_submits_and_finishes(
    emulator: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_file(tmp_path / "backup.tar", 3 * MiB + 123)
    monkeypatch.chdir(tmp_path)  # a name relative to the current folder is enough
    async with bsub_app(emulator, jobs=10, fail_rate=0.0) as bsub:
        state = bsub.state
        screen = await open_new_job(bsub)
        await choose_type(bsub, screen, "sha", "sha256")
        description = screen.query_one("#description", Static)
        assert text_of(description) == "Compute the SHA-256 digest of any file."
        await bsub.pilot.press("tab")
        assert screen.query_one("#file", Input).has_focus
        await bsub.pilot.press(*source.name)

        bar = screen.query_one("#progress", ProgressBar)
        assert not bar.display
        state.lock.acquire()  # the server waits: the dialog is seen while its requests run
        try:
            await bsub.pilot.press("enter")
            await bsub.until(lambda: bar.display, "the progress bar")
            assert isinstance(bsub.app.screen, NewBsubJobScreen)
            assert screen.query_one("#create", Button).disabled
            message = screen.query_one("#message", Label)
            assert text_of(message) == "uploading backup.tar (3.0 MiB)…"
            assert message.has_class("-note")  # how it goes, not an error
        finally:
            state.lock.release()
        await bsub.back_on_dashboard()
        assert bar.total == bar.progress == source.stat().st_size

        created = state.order[-1]
        assert created.type == "sha256" and created.filename == "backup.tar"
        assert created.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert created.status == "pending"
        assert state.counts["create_job"] == state.counts["upload_job_data"] == 1
        assert state.counts["submit_job"] == 1
        await bsub.note(lambda n: n.message == f"bsub: job {created.id} submitted", "the result")
        await bsub.until(lambda: bsub.table.get_job(created.id) is not None, "the new job")
        assert bsub.table.row_ids()[0] == created.id
        assert bsub.shown(created.id).raw_state == "pending"

        state.clock.advance(120)
        await bsub.poll()
        await bsub.until(lambda: bsub.shown(created.id).raw_state == "finished", "the end")
        assert bsub.shown(created.id).state is JobState.SUCCEEDED
        assert bsub.shown(created.id).extra["size"] == "3.0 MiB"


async def test_a_new_job_is_selected_and_shown(
    emulator: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_file(tmp_path / "small.tar", 1000)
    monkeypatch.chdir(tmp_path)
    async with bsub_app(emulator, jobs=40, fail_rate=0.0, size=(80, 24)) as bsub:
        await bsub.pilot.press("end")  # far from the top, where the newest job will be
        await bsub.until(lambda: bsub.table.scroll_y > 0, "scrolled down")
        screen = await open_new_job(bsub)
        await choose_type(bsub, screen, "sha", "sha256")
        await bsub.pilot.press("tab", *source.name, "enter")
        await bsub.back_on_dashboard()
        created = await bsub.until_created()
        await bsub.until(lambda: bsub.cursor_on(created), "the cursor on the new job")
        await settle(bsub.pilot)
        row = bsub.table.row_ids().index(created)
        top = int(bsub.table.scroll_y)
        assert top <= row < top + bsub.table.size.height - 1  # on screen, under the header
        detail = bsub.app.screen.query_one(JobDetail)
        assert detail.job is not None and detail.job.id == created


async def test_new_job_form_refuses_mistakes_and_sends_nothing(
    emulator: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with bsub_app(emulator, jobs=10) as bsub:
        screen = await open_new_job(bsub)
        sent = {op: bsub.state.counts[op] for op in ("create_job", "upload_job_data", "submit_job")}
        message = screen.query_one("#message", Label)

        screen.query_one("#file", Input).focus()
        missing = "missing.pdf"
        await bsub.pilot.press(*missing, "enter")
        await bsub.until(lambda: text_of(message) == "type: choose a processing type", "error")

        screen.query_one("#type", Select).focus()
        await choose_type(bsub, screen, "pdf-t", "pdf-text")
        screen.query_one("#file", Input).focus()
        await bsub.pilot.press("enter")
        await bsub.until(
            lambda: text_of(message) == f"file: {missing} does not exist", "the file error"
        )
        await bsub.pilot.press("ctrl+s")  # the other way to create: the same answer
        await bsub.pilot.pause()
        assert text_of(message) == f"file: {missing} does not exist"

        screen.query_one("#file", Input).value = str(tmp_path)
        await bsub.pilot.press("enter")
        await bsub.until(lambda: text_of(message) == f"file: {tmp_path} is not a file", "error")
        assert not message.has_class("-note")

        assert isinstance(bsub.app.screen, NewBsubJobScreen)
        assert not screen.query_one("#progress", ProgressBar).display
        assert {op: bsub.state.counts[op] for op in sent} == sent
        await bsub.pilot.press("escape")
        await bsub.back_on_dashboard()
        assert {op: bsub.state.counts[op] for op in sent} == sent


async def test_types_arriving_late_leave_the_focus_alone(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator, jobs=10) as bsub:
        # A slow server: its requests wait while the test holds its lock, so the user moves on
        # to the file field before the types come.
        bsub.state.lock.acquire()
        try:
            await bsub.pilot.press("n")
            screen = await bsub.screen(NewBsubJobScreen, "the new-job dialog")
            select = screen.query_one("#type", Select)
            assert select.has_focus
            await bsub.pilot.press("tab", *"in")
            assert select.prompt == "loading types…"
        finally:
            bsub.state.lock.release()
        field = screen.query_one("#file", Input)
        await bsub.until(lambda: select.prompt == "choose a type", "the types")
        await bsub.pilot.press(*"put.pdf")
        assert field.has_focus and field.value == "input.pdf"


# -- logs and output ----------------------------------------------------------------------------


async def test_logs_open_with_the_log_text_and_close_with_escape(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_app(emulator) as bsub:
        job = seeded(bsub.state, "failed", cancelled=False)
        await bsub.select(job.id)
        await bsub.pilot.press("l")
        view = await bsub.screen(TextViewScreen, "the log view")
        status = view.query_one("#status", Label)
        await bsub.until(lambda: "lines" in text_of(status), "the log")
        log = bsub.state.logs_of(job)
        area = view.query_one("#text", TextArea)
        assert area.text == log
        assert f"error: {job.error_code}: {job.error_message}" in area.text
        assert text_of(status) == f"{log.count(chr(10))} lines"
        assert view.title_text == f"Logs of {job.id} · bsub"
        assert bsub.state.counts["get_job_logs"] == 1

        await bsub.pilot.press("escape")
        await bsub.back_on_dashboard()
        assert bsub.cursor_on(job.id)


async def test_save_output_writes_the_file_and_asks_before_overwriting(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with bsub_app(emulator) as bsub:
        job = finished_text_job(bsub.state)
        output = bsub.state.output_of(job)
        ext = KINDS_BY_TYPE[job.type].ext
        await bsub.select(job.id)

        await bsub.pilot.press("o")
        dialog = await bsub.screen(SaveFileScreen, "the save dialog")
        field = dialog.query_one("#path", Input)
        assert field.has_focus and field.value.endswith(f"/{job.id}.{ext}")
        fresh = tmp_path / f"{job.id}.{ext}"
        field.value = str(fresh)
        await bsub.pilot.press("enter")
        await bsub.back_on_dashboard()
        assert fresh.read_bytes() == output
        await bsub.note(lambda n: n.message == f"bsub: saved {fresh}", "the result")

        existing = tmp_path / "kept.txt"
        existing.write_bytes(b"keep me")
        await bsub.pilot.press("o")
        dialog = await bsub.screen(SaveFileScreen, "the save dialog")
        dialog.query_one("#path", Input).value = str(existing)
        await bsub.pilot.press("enter")
        message = dialog.query_one("#message", Label)
        await bsub.until(
            lambda: text_of(message) == "kept.txt exists: press Save again to overwrite it",
            "the question",
        )
        assert message.has_class("-warning")
        button = dialog.query_one("#save", Button)
        assert str(button.label) == "Overwrite"
        assert existing.read_bytes() == b"keep me"
        assert bsub.state.counts["get_job_output"] == 1

        await bsub.pilot.press("end", "x")  # another path: the question no longer holds
        await bsub.until(lambda: str(button.label) == "Save" and not text_of(message), "reset")
        await bsub.pilot.press("backspace", "enter")  # back to the existing file: asked again
        await bsub.until(lambda: str(button.label) == "Overwrite", "the question again")
        assert existing.read_bytes() == b"keep me"
        await bsub.pilot.press("enter")
        await bsub.back_on_dashboard()
        assert existing.read_bytes() == output
        assert bsub.state.counts["get_job_output"] == 2
        assert names_in(tmp_path) == sorted([fresh.name, "kept.txt"])  # no partial file left


def shown_text(widget: Widget) -> str:
    """What a widget shows on screen, its lines joined by spaces."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(line.text.strip() for line in lines if line.text.strip())


async def test_the_overwrite_question_is_shown_whole_at_80_columns(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with bsub_app(emulator, size=(80, 24)) as bsub:
        job = finished_text_job(bsub.state)
        await bsub.select(job.id)
        await bsub.pilot.press("o")
        dialog = await bsub.screen(SaveFileScreen, "the save dialog")
        field = dialog.query_one("#path", Input)
        existing = tmp_path / Path(field.value).name  # the offered name: the job id, long
        existing.write_bytes(b"keep me")
        field.value = str(existing)
        await bsub.pilot.press("enter")
        message = dialog.query_one("#message", Label)
        question = f"{existing.name} exists: press Save again to overwrite it"
        await bsub.until(lambda: text_of(message) == question, "the question")
        await settle(bsub.pilot)
        box = message.parent
        assert isinstance(box, Widget)
        assert message.region.right <= box.content_region.right  # not cut by the dialog
        assert message.size.height == 2  # the question wraps at 80 columns
        assert shown_text(message) == question


# -- read-only ----------------------------------------------------------------------------------


async def test_read_only_hides_the_changes_and_their_keys_do_nothing(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_app(emulator, read_only=True) as bsub:
        assert bsub.app.sub_title == "read-only"
        running = seeded(bsub.state, "processing")
        finished = seeded(bsub.state, "finished")
        loaded = seeded(bsub.state, "loaded")
        for job in (running, finished, loaded):
            await bsub.select(job.id)
            keys = set(bsub.app.active_bindings)
            assert not {"c", "d", "n", "s"} & keys
            assert "r" in keys
        assert {"l", "o"} <= set(bsub.app.active_bindings)  # reading is still allowed

        await bsub.select(running.id)
        await bsub.pilot.press("c", "n", "s")
        await bsub.select(finished.id)
        await bsub.pilot.press("d")
        await bsub.pilot.pause(0.05)
        assert isinstance(bsub.app.screen, DashboardScreen)
        assert not bsub.notes()
        changes = ("create_job", "cancel_job", "delete_job", "submit_job")
        assert all(bsub.state.counts[op] == 0 for op in changes)
        await bsub.poll()
        assert bsub.matches_emulator()


async def test_actions_are_offered_by_state(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        expected = {
            seeded(bsub.state, "processing").id: {"c", "l"},
            seeded(bsub.state, "finished").id: {"d", "l", "o"},
            seeded(bsub.state, "loaded").id: {"s", "c"},
            seeded(bsub.state, "pending").id: {"c"},
        }
        for job_id, keys in expected.items():
            await bsub.select(job_id)
            bindings = bsub.app.active_bindings
            enabled = {
                key
                for key in ("s", "c", "d", "l", "o")
                if key in bindings and bindings[key].enabled
            }
            assert enabled == keys, job_id
            assert "n" in bindings and bindings["n"].enabled
