"""The journal through its API: what is recorded (and what is not), and what the queries answer."""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from jobtui.core.models import Action, JobsDelta, JobState, diff_jobs
from jobtui.core.secret import Secret
from jobtui.journal import Journal, JournalSettings, ServiceRef
from jobtui.journal.queries import OVERDUE_MIN_RUNS
from tests.journal.conftest import BSUB, START, Clock, OpenJournal, job, reader

Q, R, S, F = JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED


def files(path: Path) -> dict[str, str]:
    """The journal's database and WAL files by content (the shared-memory index aside)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (path, path.with_name(path.name + "-wal"))
        if p.exists()
    }


def test_a_poll_that_changed_nothing_queues_and_writes_nothing(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    snapshot, delta = diff_jobs({}, [job("a", Q), job("b", R, progress=10)])
    journal.record_poll(BSUB, delta, snapshot)
    assert journal.flush()
    written, before = journal.written, files(path)
    for _ in range(50):
        clock.advance(seconds=2)
        snapshot, delta = diff_jobs(snapshot, [job("a", Q), job("b", R, progress=10)])
        assert not delta
        journal.record_poll(BSUB, delta, snapshot)
        assert journal._queue.empty()
    # Progress alone is a delta for the table, not a change for the journal.
    snapshot, delta = diff_jobs(snapshot, [job("a", Q), job("b", R, progress=60)])
    assert delta.changed
    journal.record_poll(BSUB, delta, snapshot)
    assert journal.flush()
    assert journal.written == written
    assert files(path) == before


def test_state_changes_are_recorded_once_with_both_clocks(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    created = START - timedelta(minutes=3)
    snapshot, delta = diff_jobs({}, [job("a", Q, created=created)])
    journal.record_poll(BSUB, delta, snapshot)
    clock.advance(minutes=2)
    started = clock() - timedelta(seconds=30)
    snapshot, delta = diff_jobs(snapshot, [job("a", R, created=created, started=started)])
    journal.record_poll(BSUB, delta, snapshot)
    journal.record_poll(BSUB, delta, snapshot)  # the same delta again: no second change
    assert journal.flush()
    events = reader(path, clock).history()
    assert [(e.kind, e.before, e.after) for e in events] == [
        ("change", None, Q),
        ("change", Q, R),
    ]
    assert [e.at for e in events] == [START, clock()]
    assert [e.server_at for e in events] == [created, started]


def test_a_raw_state_change_updates_the_job_without_a_state_change(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    snapshot, delta = diff_jobs({}, [job("a", R, raw_state="Running")])
    journal.record_poll(BSUB, delta, snapshot)
    snapshot, delta = diff_jobs(snapshot, [job("a", R, raw_state="Running: step 2")])
    journal.record_poll(BSUB, delta, snapshot)
    assert journal.flush()
    found = reader(path, clock)
    assert found.jobs("a")[0].raw_state == "Running: step 2"
    assert len(found.history()) == 1


def test_the_record_keeps_cleaned_text_and_masks_secrets(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    raw = {"id": "a", "token": Secret("s3cr3t-value"), "nested": [{"key": Secret("k3y")}]}
    journal.record_jobs(BSUB, [job("a", F, message="bad \u241b[2J input", raw=raw)])
    journal.record_action(BSUB, Action.CANCEL, ["a"], outcome="bsub.io: \x1b[31mno\nway")
    assert journal.flush()
    data = path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
    assert b"s3cr3t-value" not in data and b"k3y" not in data
    found = reader(path, clock)
    record = found.jobs("a")[0]
    assert record.record == {"id": "a", "token": "**********", "nested": [{"key": "**********"}]}
    assert record.message == "bad \u241b[2J input"
    (action,) = found.history(actions=True)
    assert action.outcome == "bsub.io: \u241b[31mno way"
    assert "\x1b" not in action.outcome


def test_actions_are_an_audit_trail(open_journal: OpenJournal, path: Path, clock: Clock) -> None:
    journal = open_journal(origin="headless")
    journal.record_action(BSUB, "cancel", ["a", "b"])
    clock.advance(minutes=1)
    journal.record_action(
        ServiceRef("EcoTaxa", "http://127.0.0.1:2"),
        "erase",
        ["7"],
        origin="dashboard",
        outcome="EcoTaxa: job 7: not allowed",
    )
    with pytest.raises(ValueError, match="no action 'logs'"):
        journal.record_action(BSUB, Action.LOGS, ["a"])
    assert journal.flush()
    found = reader(path, clock)
    events = found.history(actions=True)
    assert [(e.service, e.action, e.jobs, e.origin, e.outcome) for e in events] == [
        ("bsub.io", "cancel", ("a", "b"), "headless", "ok"),
        ("EcoTaxa", "erase", ("7",), "dashboard", "EcoTaxa: job 7: not allowed"),
    ]
    assert [e.action for e in found.history(job="b", actions=True)] == ["cancel"]
    assert [e.service for e in found.history(service="ecotaxa", actions=True)] == ["EcoTaxa"]


def test_jobs_that_leave_the_list_are_gone_and_stay_findable(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    snapshot, delta = diff_jobs({}, [job("a", R), job("b", S), job("c", Q)])
    journal.record_poll(BSUB, delta, snapshot)
    clock.advance(minutes=1)
    snapshot, delta = diff_jobs(snapshot, [job("a", R), job("c", Q)])
    journal.record_poll(BSUB, delta, snapshot)
    journal.close()
    # While jobtui was not running, "a" left the list too: the first poll's whole list says so.
    clock.advance(hours=5)
    again = open_journal()
    again.record_jobs(BSUB, [job("c", Q), job("b", S)])
    assert again.flush()
    found = reader(path, clock)
    gone = {r.id: r.gone for r in found.jobs(gone=True)}
    assert gone == {"a": clock()}
    gone_events = [(e.at, e.jobs, e.before) for e in found.history(START) if e.kind == "gone"]
    assert gone_events == [(clock(), ("a",), R)]
    assert found.jobs("b")[0].gone is None  # back in the list: gone no more
    assert found.gone_ids("A") == [("bsub.io", "a")]  # the palette's search
    assert found.gone_ids("b") == []


def test_a_cut_list_marks_nothing_gone(open_journal: OpenJournal, path: Path, clock: Clock) -> None:
    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", R), job("b", R)])
    journal.record_poll(BSUB, JobsDelta(removed=("a",)), complete=False)
    assert journal.flush()
    assert reader(path, clock).jobs(gone=True) == []


def test_timeline_with_what_happened_before_jobtui_saw_the_job(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    created, started = START - timedelta(minutes=5), START - timedelta(minutes=3)
    journal.record_jobs(BSUB, [job("a", R, created=created, started=started)])
    journal.record_jobs(BSUB, [job("b", Q)])
    clock.advance(minutes=15)
    finished = clock() - timedelta(minutes=1)
    journal.record_jobs(BSUB, [job("a", S, created=created, started=started, finished=finished)])
    journal.record_jobs(BSUB, [job("b", R)])
    assert journal.flush()
    found = reader(path, clock)
    timeline = found.timeline("bsub.io", "a", clock())
    assert timeline is not None
    assert [(s.state, s.at, s.server, s.duration) for s in timeline.steps] == [
        (Q, created, True, 120),
        (R, started, True, (finished - started).total_seconds()),
        (S, finished, True, None),
    ]
    ongoing = found.timeline("bsub.io", "b", clock() + timedelta(minutes=2))
    assert ongoing is not None
    assert [(s.state, s.at, s.server, s.duration) for s in ongoing.steps] == [
        (Q, START, False, 900),
        (R, clock(), False, 120),
    ]
    assert found.timeline("bsub.io", "nope", clock()) is None


def test_since_you_were_last_here(open_journal: OpenJournal, path: Path, clock: Clock) -> None:
    first = open_journal()
    assert first.last_seen is None
    first.record_jobs(BSUB, [job("a", R), job("b", R), job("c", Q), job("d", S)])
    clock.advance(minutes=10)
    first.close()
    left = clock()
    clock.advance(hours=11)
    second = open_journal()
    assert second.last_seen == left
    second.record_jobs(
        BSUB,
        [job("a", S), job("b", F), job("c", JobState.NEEDS_INPUT), job("d", S), job("e", R)],
    )
    assert second.flush()
    found = reader(path, clock)
    summary = found.summary(second.last_seen)
    assert summary.counts == {S: 1, F: 1, JobState.NEEDS_INPUT: 1}
    assert summary.jobs == (("bsub.io", "a"), ("bsub.io", "b"), ("bsub.io", "c"))
    assert summary.line(clock(), UTC) == (
        "since Mon 09:10 (11 h ago): 1 succeeded, 1 failed, 1 asks a question"
    )
    # The command line's view: the last dashboard session that ended before now.
    assert found.last_seen(before=clock()) == left


def record_runs(journal: Journal, clock: Clock, runs: list[int], *, kind: str = "ocr") -> None:
    """Jobs of `kind` that waited 10 s and ran `runs` seconds, ending before now."""
    jobs = []
    for n, run in enumerate(runs):
        created = clock() - timedelta(hours=2, minutes=n)
        started = created + timedelta(seconds=10)
        jobs.append(
            job(
                f"{kind}-{n}",
                S,
                type=kind,
                created=created,
                started=started,
                finished=started + timedelta(seconds=run),
            )
        )
    journal.record_jobs(BSUB, jobs)


def test_statistics_per_service_and_type(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    record_runs(journal, clock, [60 + 10 * n for n in range(20)])
    journal.record_jobs(BSUB, [job(f"bad-{n}", F, type="ocr") for n in range(5)])
    old = clock() - timedelta(days=10)
    journal.record_jobs(BSUB, [job("old", S, type="ocr", created=old, started=old, finished=old)])
    assert journal.flush()
    found = reader(path, clock)
    (ocr,) = found.stats(clock(), 7)
    assert (ocr.service, ocr.type, ocr.count, ocr.succeeded, ocr.failed) == (
        "bsub.io",
        "ocr",
        25,
        20,
        5,
    )
    assert ocr.success_rate == 0.8
    assert (ocr.wait_median, ocr.wait_p95) == (10, 10)
    assert (ocr.run_median, ocr.run_p95) == (155, 240)
    assert ocr.histogram[:6] == (0, 0, 1, 6, 13, 0) and sum(ocr.histogram) == 20
    assert found.stats(clock(), 30)[0].count == 26
    assert found.stats(clock(), 7, service="leia") == []


@pytest.mark.parametrize("runs", [OVERDUE_MIN_RUNS - 1, OVERDUE_MIN_RUNS])
def test_overdue_needs_enough_past_runs(
    open_journal: OpenJournal, path: Path, clock: Clock, runs: int
) -> None:
    journal = open_journal()
    record_runs(journal, clock, [60 + 10 * n for n in range(runs)])
    now = clock()
    journal.record_jobs(
        BSUB,
        [
            job("slow", R, type="ocr", started=now - timedelta(seconds=1000)),
            job("fine", R, type="ocr", started=now - timedelta(seconds=100)),
            job("other", R, type="thumb", started=now - timedelta(days=1)),
        ],
    )
    assert journal.flush()
    overdue = reader(path, clock).overdue(now)
    if runs < OVERDUE_MIN_RUNS:
        assert overdue == []
    else:
        p95 = 60 + 10 * (runs - 2)  # nearest rank: the 19th of 20
        (slow,) = overdue
        assert (slow.id, slow.type, slow.limit, slow.runs) == ("slow", "ocr", 1.5 * p95, runs)
        assert slow.running_for == 1000


def test_retention_prunes_at_open_and_daily(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal(retention_days=30)
    journal.record_jobs(BSUB, [job("old-done", S), job("old-running", R)])
    journal.record_action(BSUB, "cancel", ["old-done"])
    journal.close()
    clock.advance(days=31)
    reopened = open_journal(retention_days=30)  # prunes at open
    reopened.record_jobs(BSUB, [job("new", Q)], complete=False)
    assert reopened.flush()
    found = reader(path, clock)
    assert {r.id for r in found.jobs()} == {"old-running", "new"}
    assert found.history(actions=True) == []
    # A day later the running writer prunes again, at its next write.
    clock.advance(days=30, hours=2)
    reopened.record_jobs(BSUB, [job("new", S)], complete=False)
    assert reopened.flush()
    assert {r.id for r in found.jobs()} == {"old-running", "new"}
    clock.advance(days=31)
    reopened.record_jobs(BSUB, [job("newest", Q)], complete=False)
    assert reopened.flush()
    assert {r.id for r in found.jobs()} == {"old-running", "newest"}


def test_clear_deletes_every_row(open_journal: OpenJournal, path: Path, clock: Clock) -> None:
    from jobtui.journal import clear

    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", S, raw={"id": "a", "note": "private words"})])
    journal.close()
    found = reader(path, clock)
    clear(found.conn)
    assert found.jobs() == [] and found.history() == []
    assert b"private words" not in path.read_bytes()


def test_a_disabled_journal_records_nothing(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(JournalSettings(path, enabled=False), now=clock).start()
    journal.record_jobs(BSUB, [job("a", R)])
    journal.record_action(BSUB, "cancel", ["a"])
    assert journal.flush()
    journal.close()
    assert journal.off == "journal off: enabled = false in [journal]"
    assert not path.exists()


def test_default_path_follows_xdg(tmp_path: Path) -> None:
    from jobtui.journal import default_journal_path

    state = tmp_path / "state"
    assert default_journal_path({"XDG_STATE_HOME": str(state)}) == (
        state / "jobtui" / "journal.sqlite3"
    )
    assert default_journal_path({"XDG_STATE_HOME": "relative"}) == (
        Path.home() / ".local" / "state" / "jobtui" / "journal.sqlite3"
    )
    assert JournalSettings().retention_days == 90 and JournalSettings().enabled


def test_an_older_answer_from_another_dashboard_is_not_a_step_back(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    first, second = open_journal(), open_journal()
    first.record_jobs(BSUB, [job("a", Q)], complete=False)
    assert first.flush()
    clock.advance(seconds=5)
    first.record_jobs(BSUB, [job("a", R)], complete=False)
    assert first.flush()
    clock.advance(seconds=1)
    second.record_jobs(BSUB, [job("a", Q)], complete=False)  # its poll began before the start
    assert second.flush()
    clock.advance(seconds=2)
    second.record_jobs(BSUB, [job("a", R)], complete=False)
    assert second.flush()
    steps = [(e.before, e.after) for e in reader(path, clock).history()]
    assert steps == [(None, Q), (Q, R)]
    # A step back that lasts is a change (a restart): recorded once the moment has passed.
    clock.advance(seconds=90)
    second.record_jobs(BSUB, [job("a", Q)], complete=False)
    assert second.flush()
    steps = [(e.before, e.after) for e in reader(path, clock).history()]
    assert steps == [(None, Q), (Q, R), (R, Q)]


def test_recording_a_lazy_record_does_not_keep_its_mapping(
    open_journal: OpenJournal, path: Path
) -> None:
    # A service's job holds its wire record lazily: the mapping is made for the detail pane, and
    # kept there. The journal reads every job's record once; were the mapping kept, a dashboard
    # of 100,000 jobs would hold a dict per job for the whole session.
    from dataclasses import replace

    from jobtui.services._wire import LazyRecord

    class Model:
        dumps = 0

        def wire(self) -> dict[str, object]:
            Model.dumps += 1
            return {"id": "a", "status": "queued"}

    model = Model()
    lazy = LazyRecord(model)
    journal = open_journal()
    snapshot, delta = diff_jobs({}, [replace(job("a", Q), raw=lazy)])
    journal.record_poll(BSUB, delta, snapshot)
    assert journal.flush()
    assert Model.dumps == 1, "the journal read the record"
    assert lazy._source is model, "and did not keep its mapping"
    (kept,) = reader(path, Clock()).jobs("a", "bsub.io")
    assert kept.record == {"id": "a", "status": "queued"}
