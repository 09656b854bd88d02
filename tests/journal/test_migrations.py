"""The schema's versions: a journal of the first version is migrated to the current one with its
rows intact, and ends up with the same schema as a new journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobtui.core.models import JobState
from jobtui.journal.schema import MIGRATIONS, VERSION, migrate
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
