"""The dashboard and its job journal: polls and actions recorded from the dashboard, the "since you
were last here" line, a journal that cannot open, against seeded bsub.io emulators over loopback,
with a journal file in tmp_path and a clock the test moves."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import Static

from jobtui.core.models import Action, Job, JobState
from jobtui.emulators.bsub.state import BsubState, SimJob
from jobtui.journal import JobRecord, Journal, JournalSettings, Reader, ServiceRef
from jobtui.tui.journal import JournalLink
from jobtui.tui.modals.gone_job import GoneJobScreen, render_record
from jobtui.tui.modals.statistics import StatisticsScreen
from jobtui.tui.notify import Notice
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import SLOW_MARK
from tests.conftest import EmulatorFactory
from tests.tui.live_support import Live, ManualClock, fail_job, live_app, running_job

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def link_of(live: Live) -> JournalLink:
    link = live.app.journal
    assert link is not None
    return link


async def opened(live: Live) -> JournalLink:
    """The app's journal once it is open and has written the first poll."""
    link = link_of(live)
    await live.until(lambda: link.reader is not None or bool(link.off), "the journal open")
    assert link.off == ""
    assert link.journal.flush()
    return link


def reader(path: Path, clock: ManualClock) -> Reader:
    found = Reader.open(path, clock())
    assert found is not None
    return found


async def test_polls_are_recorded_from_the_poll_worker_and_nothing_when_nothing_changed(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        link = await opened(live)
        assert len(reader(path, live.clock).jobs(service="bsub-1")) == 20
        written = link.journal.written

        await live.poll()  # nothing changed: nothing queued, nothing written
        assert link.journal.flush()
        assert link.journal.written == written

        job = running_job(live.states[0])
        fail_job(live.states[0], job)
        live.clock.advance(60)
        await live.poll()
        assert link.journal.flush()
        assert link.journal.written == written + 1
        events = reader(path, live.clock).history(job=job.id)
        assert [(e.kind, e.after) for e in events][-1] == ("change", JobState.FAILED)

        with live.states[0].lock:  # the job leaves the server's list
            live.states[0].delete(job)
        await live.poll()
        assert link.journal.flush()
        gone = reader(path, live.clock).jobs(job.id, gone=True)
        assert [g.id for g in gone] == [job.id]


async def test_an_action_sent_from_the_dashboard_is_recorded_with_origin_and_outcome(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        link = await opened(live)
        job = live.table().get_job(running_job(live.states[0]).id)
        assert job is not None
        worker = live.tab().perform(Action.CANCEL, [job])
        await worker.wait()
        assert link.journal.flush()
        actions = reader(path, live.clock).history(actions=True)
        assert [(a.action, a.jobs, a.origin, a.outcome) for a in actions] == [
            ("cancel", (job.id,), "dashboard", "ok")
        ]

        # Sent again: the server refuses it now (the job is cancelled), and the journal says so.
        worker = live.tab().perform(Action.CANCEL, [job])
        await worker.wait()
        assert link.journal.flush()
        last = reader(path, live.clock).history(actions=True)[-1]
        assert last.action == "cancel" and last.outcome != "ok"
        assert "bsub-1" in last.outcome


async def test_since_you_were_last_here_at_start(emulator: EmulatorFactory, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    clock = ManualClock()
    async with live_app(emulator, journal=JournalSettings(path=path), clock=clock) as live:
        await opened(live)
        job = running_job(live.states[0])
    # The dashboard quit; 15 hours later the job has failed, and the dashboard starts again.
    clock.advance(15 * 3600)

    def failed_meanwhile(states: list[BsubState]) -> None:
        fail_job(states[0], states[0].jobs[job.id])

    settings = JournalSettings(path=path)
    async with live_app(emulator, journal=settings, clock=clock, prepare=failed_meanwhile) as again:
        link = await opened(again)
        note = await _since_note(again)
        seen = link.journal.last_seen
        assert seen is not None
        assert note.message == f"since {seen:%a %H:%M} (15 h ago): 1 failed"
        assert again.app.since_last is not None
        assert again.app.since_last.jobs == (("bsub-1", job.id),)


async def _since_note(live: Live) -> Notice:
    await live.until(
        lambda: any(n.title == "since you were last here" for n in live.app.notices),
        "the since-last line",
    )
    return next(n for n in live.app.notices if n.title == "since you were last here")


async def test_a_journal_that_cannot_open_is_one_line_in_the_status_line(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = blocker / "journal.sqlite3"
    async with live_app(emulator, tabs=2, journal=JournalSettings(path=path)) as live:
        link = link_of(live)
        await live.until(lambda: bool(link.off), "the journal off")
        await live.until(lambda: "journal off" in live.status(), "the status line")
        assert str(blocker) in live.status()
        all_status = live.app.screen.query_one(AllJobsTab).query_one("#status", Static)
        await live.until(lambda: "journal off" in str(all_status.content), "All jobs' status")
        await live.poll()  # the dashboard goes on
        assert live.table().row_count == 20


async def test_a_journal_turned_off_in_the_config_says_nothing(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    settings = JournalSettings(path=path, enabled=False)
    async with live_app(emulator, journal=settings) as live:
        await live.poll()
        assert "journal" not in live.status()
        assert not any("journal" in n.message for n in live.app.notices)
    assert not path.exists()


async def test_the_detail_pane_shows_the_jobs_timeline(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        await opened(live)
        job = running_job(live.states[0])
        assert live.table().move_cursor(job.id)
        detail = live.tab().query_one(JobDetail)
        await live.until(lambda: detail.job is not None and detail.job.id == job.id, "the job")
        await live.until(lambda: "timeline" in text_of(detail), "the timeline")
        assert "created " in text_of(detail)
        assert "→ running* " in text_of(detail)  # started while jobtui was not running

        live.clock.advance(14 * 60)
        fail_job(live.states[0], job)
        await live.poll()
        assert link_of(live).journal.flush()
        await live.until(lambda: "→ failed" in text_of(detail), "the timeline with the failure")
        timeline = text_of(detail)
        assert "the server's time" in timeline


def text_of(detail: JobDetail) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(detail.content)
    return console.export_text()


async def palette_hits(live: Live, query: str) -> list[str]:
    await live.pilot.press("colon")
    screen = await _screen(live, CommandPalette)
    await live.pilot.press(*query)
    hits = screen.query_one(CommandList)
    await live.until(lambda: hits.option_count > 0, f"hits for {query!r}")
    return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]


async def choose(live: Live, wanted: str) -> None:
    """Press enter on the palette's hit saying `wanted`, once it is the highlighted one (the
    palette searches while the query is typed: the first hits may be for its first letters)."""
    hits = live.app.screen.query_one(CommandList)

    def highlighted() -> bool:
        index = hits.highlighted
        return index is not None and wanted in str(hits.get_option_at_index(index).prompt)

    await live.until(highlighted, f"{wanted!r} highlighted")
    await live.pilot.press("enter")


async def _screen(live: Live, kind: type[ScreenT]) -> ScreenT:
    await live.until(lambda: isinstance(live.app.screen, kind), kind.__name__)
    screen = live.app.screen
    assert isinstance(screen, kind)
    return screen


async def test_the_palette_filters_all_jobs_to_exactly_those_since_last_time(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    clock = ManualClock()
    async with live_app(emulator, tabs=2, journal=JournalSettings(path=path), clock=clock) as live:
        await opened(live)
        ended = [running_job(live.states[0]).id, running_job(live.states[1]).id]
    clock.advance(3600)

    def failed_meanwhile(states: list[BsubState]) -> None:
        for state, job_id in zip(states, ended, strict=True):
            fail_job(state, state.jobs[job_id])

    settings = JournalSettings(path=path)
    async with live_app(
        emulator, tabs=2, journal=settings, clock=clock, prepare=failed_meanwhile
    ) as again:
        await opened(again)
        await _since_note(again)
        texts = await palette_hits(again, "since")
        assert any("Since you were last here" in t for t in texts)
        await choose(again, "Since you were last here")
        dashboard = again.app.screen
        assert isinstance(dashboard, DashboardScreen)
        await again.until(lambda: dashboard.active_pane() is not None, "a pane")
        table = dashboard.all_tab.table
        await again.until(lambda: table.row_count == 2, "the two jobs")
        shown = sorted(table.job_at(row).id for row in range(table.row_count))
        assert shown == sorted(ended)


async def test_statistics_screen_from_its_key(emulator: EmulatorFactory, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        await opened(live)
        expected = {j.type for j in live.table().held_jobs() if j.state.terminal}
        await live.pilot.press("G")
        screen = await _screen(live, StatisticsScreen)
        body = screen.query_one("#stats", Static)
        await live.until(lambda: "days" in str(body.render()), "the statistics")
        text = str(body.render())
        for kind in expected:
            assert f"bsub-1 · {kind}" in text
        assert " 7 days" in text and "30 days" in text
        await live.pilot.press("escape")
        await live.until(lambda: not isinstance(live.app.screen, StatisticsScreen), "closed")


async def test_a_job_gone_from_the_list_is_found_through_the_palette(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        await opened(live)
        state = live.states[0]
        job = next(j for j in state.jobs.values() if j.terminal)
        with state.lock:
            state.delete(job)
        await live.poll()
        assert link_of(live).journal.flush()
        texts = await palette_hits(live, job.id[:13])
        assert any(f"Gone job {job.id}" in t for t in texts)
        await choose(live, f"Gone job {job.id}")
        screen = await _screen(live, GoneJobScreen)
        shown = text_of_static(screen.query_one("#gone", Static))
        assert job.id in shown and "left the list" in shown
        # The record, unpacked from the journal, shown as the service sent it.
        record = shown.split("last known record", 1)[1]
        assert "status" in record and job.id in record


def text_of_static(static: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    content = static.content
    assert not isinstance(content, str)
    console.print(content)
    return console.export_text()


def test_a_gone_job_whose_record_cannot_be_read_says_so_in_one_line() -> None:
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    line = "record unreadable: the journal's dictionary 3 is missing or damaged"
    job = JobRecord(
        "bsub.io", "http://x", "a", "ocr", JobState.FAILED, "failed", moment, moment,
        None, None, moment, moment, "", {}, line,
    )  # fmt: skip
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_record(job, None))
    shown = console.export_text()
    assert shown.split("last known record", 1)[1].strip() == line


async def test_a_job_running_past_its_types_usual_time_is_marked_slow_and_notifies(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    clock = ManualClock()
    running: list[SimJob] = []

    def past_runs(states: list[BsubState]) -> None:
        """20 earlier jobs of the running job's type, each done in 10 s (a day ago)."""
        job = running_job(states[0])
        running.append(job)
        ref = ServiceRef("bsub-1", "http://bsub.test/seed-1")
        day_ago = clock() - timedelta(days=1)
        past = [
            Job(
                "bsub-1",
                f"past-{n}",
                JobState.SUCCEEDED,
                "finished",
                type=job.type,
                created=day_ago,
                started=day_ago,
                finished=day_ago + timedelta(seconds=10),
            )
            for n in range(20)
        ]
        with Journal(JournalSettings(path=path), origin="headless", now=clock) as journal:
            journal.record_jobs(ref, past, complete=False)

    settings = JournalSettings(path=path)
    async with live_app(emulator, journal=settings, clock=clock, prepare=past_runs) as live:
        await opened(live)
        job = running[0]
        await live.until(lambda: ("bsub-1", job.id) in live.app.overdue, "the job overdue")
        note = await live.until_note(lambda n: "overdue" in n.message, "the overdue toast")
        assert note.title == "bsub-1" and note.severity == "warning"
        assert note.message.startswith(f"{job.id} overdue: running ")
        assert note.message.endswith("usually within 10 s")
        table = live.table()
        assert job.id in table._slow
        row = next(r for r in range(table.row_count) if table.job_at(r).id == job.id)
        assert table.render_line(row + 1 - int(table.scroll_y)).text.startswith(SLOW_MARK)
