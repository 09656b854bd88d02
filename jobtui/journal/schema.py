"""The journal's tables, versioned by `PRAGMA user_version`, and the migrations between versions.

Times are whole seconds since the epoch (UTC) and states small integers (`STATE_CODES`): a change
is a handful of bytes. The migrations run in one transaction with the version they set, so that a
journal is at its old version or the new one, never between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Final

from jobtui.core.models import JobState

STATE_CODES: Final[Mapping[JobState, int]] = {
    JobState.QUEUED: 1,
    JobState.RUNNING: 2,
    JobState.NEEDS_INPUT: 3,
    JobState.SUCCEEDED: 4,
    JobState.FAILED: 5,
    JobState.CANCELLED: 6,
    JobState.UNKNOWN: 7,
}
STATES: Final[Mapping[int, JobState]] = {code: state for state, code in STATE_CODES.items()}
TERMINAL_CODES: Final = tuple(STATE_CODES[s] for s in JobState if s.terminal)

V1: Final = """
CREATE TABLE service (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    UNIQUE (name, url)
);
CREATE TABLE job (
    id INTEGER PRIMARY KEY,
    service INTEGER NOT NULL REFERENCES service (id),
    job_id TEXT NOT NULL,
    type TEXT NOT NULL,
    state INTEGER NOT NULL,
    raw_state TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    created INTEGER,
    started INTEGER,
    finished INTEGER,
    gone INTEGER,
    message TEXT NOT NULL,
    record TEXT,
    UNIQUE (service, job_id)
);
CREATE INDEX job_changed ON job (changed);
CREATE TABLE change (
    job INTEGER NOT NULL,
    at INTEGER NOT NULL,
    before INTEGER,
    after INTEGER NOT NULL,
    server_at INTEGER
);
CREATE INDEX change_job ON change (job);
CREATE TABLE action (
    at INTEGER NOT NULL,
    service INTEGER NOT NULL REFERENCES service (id),
    name TEXT NOT NULL,
    jobs TEXT NOT NULL,
    origin TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX action_at ON action (at);
CREATE TABLE session (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER NOT NULL
);
"""
"""The first version: services, jobs, their changes, actions and sessions."""

V2: Final = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX job_stats ON job (service, type, finished, state, created, started)
    WHERE finished IS NOT NULL;
CREATE INDEX job_running ON job (state) WHERE state = 2 AND gone IS NULL;
CREATE INDEX job_gone ON job (gone) WHERE gone IS NOT NULL;
"""
"""Version 2: the last pruning time (`meta`), and the indexes of statistics, overdue jobs and
gone jobs (a covering index for the statistics, by service and type, then end: each type's
window is one range of it, and they never read a job's record).

Changes have no index by time: a change since T belongs to a job whose last change (`job.changed`,
indexed) is since T, which is how history finds them; each index costs bytes on every change."""

V3: Final = """
CREATE TABLE dictionary (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service INTEGER NOT NULL REFERENCES service (id),
    made INTEGER NOT NULL,
    data BLOB NOT NULL,
    crc INTEGER NOT NULL
);
ALTER TABLE job ADD COLUMN dictionary INTEGER REFERENCES dictionary (id);
CREATE TABLE change_v3 (
    job INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    before INTEGER,
    after INTEGER NOT NULL,
    server_lag INTEGER,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
INSERT INTO change_v3 (job, seq, at, before, after, server_lag)
    SELECT job, rowid, at, before, after, at - server_at FROM change;
INSERT OR REPLACE INTO meta (key, value) SELECT 'changes', coalesce(max(rowid), 0) FROM change;
DROP TABLE change;
ALTER TABLE change_v3 RENAME TO change;
"""
"""Version 3, about half the bytes of version 2 a change:

- Records packed with a preset dictionary per service (`records.py`): a record is a BLOB of raw
  deflate, `job.dictionary` names the dictionary row it was packed with (never reused:
  AUTOINCREMENT), and each dictionary carries its CRC-32 and when it was made (one older than
  the retention packs no new record, and is pruned once no job's record needs it). The TEXT
  records of earlier versions stay as they are (read as text) until their job changes.
- Changes are kept in order of their job (a table without rowid, keyed by job and `seq`), which
  is how every query reads them: the index of changes by job goes. `seq` numbers the changes in
  the order they were recorded (the counter is `meta`'s `changes`; a change keeps its version 2
  rowid). The server's time is kept as `server_lag`, how many seconds before jobtui saw the
  change the server says it happened (`at - server_at`: a byte or two instead of four)."""

MIGRATIONS: Final = (V1, V2, V3)
"""`MIGRATIONS[n]` takes a journal from version n to n + 1."""
VERSION: Final = len(MIGRATIONS)


class NewerJournalError(Exception):
    """The journal was written by a newer jobtui (its version is above `VERSION`)."""


def migrate(conn: sqlite3.Connection, target: int = VERSION) -> int:
    """Bring the journal to version `target` in one transaction; returns the version it was at.

    `conn` is in autocommit mode (isolation_level None)."""
    found: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if found == target:
        return found  # the usual case: no write lock for a reader
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > VERSION:
            raise NewerJournalError(f"its version {found} is newer than this jobtui's ({VERSION})")
        for version in range(found, target):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
