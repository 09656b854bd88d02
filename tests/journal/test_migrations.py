"""The schema's versions: a journal of the first version is migrated to the current one with its
rows intact, and ends up with the same schema as a new journal."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobtui.core.models import JobsDelta, JobState
from jobtui.journal.schema import MIGRATIONS, STATES, VERSION, migrate
from tests.journal.conftest import BSUB, START, Clock, OpenJournal, job, reader


def schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        conn.close()


def test_each_version_migrates_to_the_current_one(
    open_journal: OpenJournal, path: Path, tmp_path: Path, clock: Clock
) -> None:
    assert VERSION == len(MIGRATIONS) >= 2
    fresh = tmp_path / "fresh.sqlite3"
    open_journal(path=fresh).close()
    for start in range(1, VERSION):
        old = tmp_path / f"v{start}.sqlite3"
        conn = sqlite3.connect(old, isolation_level=None)
        assert migrate(conn, target=start) == 0
        at = int(START.timestamp())
        # Rows as the first version's writer wrote them.
        conn.execute("INSERT INTO service (id, name, url) VALUES (1, ?, ?)", (BSUB.name, BSUB.url))
        conn.execute(
            "INSERT INTO job (id, service, job_id, type, state, raw_state, first_seen, changed, "
            "created, started, finished, message, record) "
            "VALUES (1, 1, 'a', 'ocr', 4, 'done', ?, ?, ?, ?, ?, '', '{\"id\": \"a\"}')",
            (at, at, at - 60, at - 50, at),
        )
        conn.execute("INSERT INTO change (job, at, before, after) VALUES (1, ?, NULL, 4)", (at,))
        conn.execute(
            "INSERT INTO session (origin, started, ended) VALUES ('dashboard', ?, ?)", (at, at)
        )
        conn.close()
        journal = open_journal(path=old)
        assert journal.off == "" and journal.last_seen == START
        journal.record_jobs(BSUB, [job("a", JobState.SUCCEEDED, raw_state="done")])
        journal.record_jobs(BSUB, [job("b", JobState.RUNNING)], complete=False)
        assert journal.flush()
        journal.close()
        assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert schema(old) == schema(fresh)
        found = reader(old, clock)
        assert [(r.id, r.state, r.record) for r in found.jobs()] == [
            ("a", JobState.SUCCEEDED, {"id": "a"}),
            ("b", JobState.RUNNING, {"id": "b"}),
        ]
        (stats,) = found.stats(clock(), 7)
        assert (stats.count, stats.run_median, stats.wait_median) == (1, 50, 10)


@pytest.mark.parametrize("version", [1, 2])
def test_changes_migrate_with_their_order_and_server_times(
    version: int, open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    at = int(START.timestamp())
    conn.execute("INSERT INTO service (id, name, url) VALUES (1, ?, ?)", (BSUB.name, BSUB.url))
    for rowid, job_id in ((1, "a"), (2, "b")):
        conn.execute(
            "INSERT INTO job (id, service, job_id, type, state, raw_state, first_seen, changed, "
            "created, started, message, record) "
            "VALUES (?, 1, ?, 'ocr', 2, 'running', ?, ?, ?, ?, '', '')",
            (rowid, job_id, at, at + 60, at - 30, at + 50),
        )
    # b's changes were recorded before a's, at the same seconds: history keeps that order.
    changes = [
        (2, at, None, 1, at - 30),
        (1, at, None, 1, None),
        (2, at + 60, 1, 2, at + 50),
        (1, at + 60, 1, 2, at + 59 - 2**20),  # a server clock far off: a lag of 2**20 s
    ]
    conn.executemany(
        "INSERT INTO change (job, at, before, after, server_at) VALUES (?, ?, ?, ?, ?)", changes
    )
    conn.close()
    journal = open_journal()
    assert journal.off == ""
    clock.advance(minutes=2)
    journal.record_jobs(
        BSUB,
        [
            job("b", JobState.SUCCEEDED, type="ocr", raw={}),
            job("a", JobState.FAILED, type="ocr", raw={}),
        ],
        complete=False,
    )
    assert journal.flush()
    found = reader(path, clock)
    events = found.history()
    seen = [(e.jobs[0], e.at, e.after, e.server_at) for e in events]
    expected = [
        ("b" if job == 2 else "a", _t(when), STATES[after], _t(server) if server else None)
        for job, when, _, after, server in changes
    ]
    assert seen == [
        *expected,
        ("b", clock(), JobState.SUCCEEDED, None),
        ("a", clock(), JobState.FAILED, None),
    ]
    timeline = found.timeline(BSUB.name, "a", clock())
    assert timeline is not None
    assert [(s.state, s.at, s.server) for s in timeline.steps] == [
        (JobState.QUEUED, START, False),
        (JobState.RUNNING, _t(at + 59 - 2**20), True),
        (JobState.FAILED, clock(), False),
    ]
    # The changes recorded after the migration are numbered after the migrated ones.
    seqs = found.conn.execute("SELECT seq FROM change ORDER BY seq").fetchall()
    assert [s for (s,) in seqs] == [1, 2, 3, 4, 5, 6]
    assert found.conn.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone() == (6,)


def test_changes_at_the_same_second_keep_the_order_they_were_recorded_in(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", JobState.QUEUED), job("b", JobState.QUEUED)])
    journal.record_poll(
        BSUB, JobsDelta(changed=(job("b", JobState.RUNNING), job("a", JobState.RUNNING)))
    )
    assert journal.flush()
    events = reader(path, clock).history()
    assert [(e.jobs[0], e.after) for e in events] == [
        ("a", JobState.QUEUED),
        ("b", JobState.QUEUED),
        ("b", JobState.RUNNING),
        ("a", JobState.RUNNING),
    ]
    assert all(e.at == START for e in events)


def _t(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)
