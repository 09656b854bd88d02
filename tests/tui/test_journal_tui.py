"""The dashboard and its job journal: polls and actions recorded from the dashboard, the "since you
were last here" line, a journal that cannot open, against seeded bsub.io emulators over loopback,
with a journal file in tmp_path and a clock the test moves."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from jobtui.core.models import Action, JobState
from jobtui.emulators.bsub import BsubState
from jobtui.journal import JournalSettings, Reader
from jobtui.tui.journal import JournalLink
from jobtui.tui.notify import Notice
from jobtui.tui.widgets.detail import JobDetail
from tests.conftest import EmulatorFactory
from tests.tui.live_support import Live, ManualClock, fail_job, live_app, running_job


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
    async with live_app(emulator, journal=JournalSettings(path=path)) as live:
        link = link_of(live)
        await live.until(lambda: bool(link.off), "the journal off")
        await live.until(lambda: "journal off" in live.status(), "the status line")
        assert str(blocker) in live.status()
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
