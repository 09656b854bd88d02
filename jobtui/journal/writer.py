"""`Journal`: records polls and actions from any thread through a queue, written by a thread of
its own, so that the event loop never waits on the disk.

`record_poll` and `record_action` only put a tuple on the queue (nothing when nothing changed);
the writer thread compares each job with what it knows, and writes the changes of everything
queued in one short transaction. Other processes may write the same journal at the same time:
each transaction starts with `BEGIN IMMEDIATE` (waiting up to the busy timeout) and checks each
job's row again before it records a change, so that two dashboards record one change once.

When the journal cannot be written (an unwritable folder, a full disk), it turns itself off:
`off` holds the one line to show, and recording does nothing from then on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from jobtui.core.models import Action, Job, JobsDelta, JobState
from jobtui.core.text import clean, json_text
from jobtui.journal.records import Packer
from jobtui.journal.schema import STATE_CODES, TERMINAL_CODES
from jobtui.journal.settings import JournalSettings
from jobtui.journal.store import JournalOff, open_store, reason

log = logging.getLogger("jobtui.journal")

Clock = Callable[[], datetime]
Origin = Literal["dashboard", "headless"]

ACTIONS: Final = frozenset(
    {"submit", "cancel", "delete", "erase", "restart", "answer", "upload", "ingest", "finalize"}
)
"""The actions the journal records (EcoTaxa's delete is called erase)."""


def journal_action(action: Action, label: str) -> str | None:
    """The journal's name of an action a service ran (`label`: what the service calls it, as
    EcoTaxa calls its delete erase), or None for those it does not record (logs, download,
    mapping). A new job, a Leia conditional job and Leia's start of a BLOCKED job are submits."""
    if label.lower() == "erase":
        return "erase"
    if action in (Action.NEW, Action.START, Action.CONDITIONAL):
        return "submit"
    return action.value if action.value in ACTIONS else None


STALE_FOR: Final = 60
"""Seconds after another process recorded a job's change during which a step back in the job's
life (running to queued, ended to running) is taken for a poll answer older than that process's,
not for a change."""
RANKS: Final = {
    STATE_CODES[JobState.UNKNOWN]: -1,  # never a step back, nor a step back from
    STATE_CODES[JobState.QUEUED]: 0,
    STATE_CODES[JobState.RUNNING]: 1,
    STATE_CODES[JobState.NEEDS_INPUT]: 1,
    **dict.fromkeys(TERMINAL_CODES, 2),
}
"""How far along its life a state is (unknown: anywhere)."""

PRUNE_EVERY: Final = timedelta(days=1)
PRUNE_CHUNK: Final = 5000
"""Rows deleted per transaction when pruning, so that other writers wait milliseconds at most."""
CHECK_EVERY: Final = 3600.0
"""Seconds the idle writer thread sleeps between looks at whether pruning is due."""
BUSY_RETRIES: Final = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


def seconds(moment: datetime | None) -> int | None:
    """A time as whole seconds since the epoch (None stays None)."""
    return None if moment is None else int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A service as the journal knows it: its config name and URL."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class _Poll:
    service: ServiceRef
    delta: JobsDelta
    snapshot: Mapping[str, Job] | None
    complete: bool
    at: int


@dataclass(frozen=True, slots=True)
class _Act:
    service: ServiceRef
    name: str
    jobs: tuple[str, ...]
    origin: str
    outcome: str
    at: int


_STOP: Final = object()


def server_time(job: Job) -> datetime | None:
    """The server's own time for the job's present state, where the service gives one."""
    if job.state is JobState.QUEUED:
        return job.created
    if job.state is JobState.RUNNING:
        return job.started
    if job.state.terminal:
        return job.finished
    return job.updated


def record_text(job: Job) -> str:
    """The wire record as JSON: cleaned text already; a `Secret` in it shows as its mask.

    A record that makes its mapping on first use (the services' lazy records) is read through
    its `dumped()`, which does not keep the mapping: the journal reads every job's record once,
    and a kept mapping per job would hold a dict for each of 100,000 jobs for the whole session.
    """
    dumped: Callable[[], Mapping[str, Any]] | None = getattr(job.raw, "dumped", None)
    record = dumped() if dumped is not None else job.raw
    return json_text(dict(record)) if record else ""


class Journal:
    """The journal of one process: `start()`, record from any thread, `close()` at the end."""

    def __init__(
        self,
        settings: JournalSettings,
        *,
        origin: Origin = "dashboard",
        now: Clock = utc_now,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self.settings = settings
        self.origin = origin
        self.now = now
        self.on_connect = on_connect
        self.off: str = "" if settings.enabled else "journal off: enabled = false in [journal]"
        """Why nothing is recorded (one line), or "" while the journal works."""
        self.warning = ""
        """One line when a damaged journal was moved aside at start."""
        self.last_seen: datetime | None = None
        """When the previous dashboard session ended (for "since you were last here")."""
        self.session: int | None = None
        self.ready = threading.Event()
        """Set once the writer thread has opened the journal (or turned it off)."""
        self.written = 0
        """Transactions committed by the writer thread (for tests and benchmarks)."""
        self.write_seconds = 0.0
        """How long the writer thread's last transaction took (for the benchmark)."""
        self.write_cpu = 0.0
        """The writer thread's CPU time for it."""
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._services: dict[ServiceRef, int] = {}
        self._known: dict[int, dict[str, tuple[int, str]]] = {}
        self._pairs: dict[tuple[int, str], tuple[int, str]] = {}
        """One (state, raw state) tuple per distinct pair, shared by every job in it: a service
        lists many jobs and few states, and `_known` holds a pair per job."""
        self._packer = Packer(settings.retention_days * 86400)
        self._seq: int | None = None
        """The last change's number in the transaction (`meta`'s `changes` when it began)."""
        self._pruned = 0

    @property
    def path(self) -> Path:
        return self.settings.path

    # -- the caller's side --------------------------------------------------------------------

    def start(self) -> Journal:
        """Start the writer thread (it opens the journal: `ready` is set once it has)."""
        if self.off:
            self.ready.set()
            return self
        self._thread = threading.Thread(target=self._run, name="jobtui-journal", daemon=True)
        self._thread.start()
        return self

    def record_poll(
        self,
        service: ServiceRef,
        delta: JobsDelta,
        snapshot: Mapping[str, Job] | None = None,
        *,
        complete: bool = True,
    ) -> None:
        """Hand one poll's delta to the writer (nothing is queued when nothing changed).

        `snapshot` is the whole list after the poll: at the service's first poll it tells which
        jobs left while jobtui was not running. `complete` is false when the service cut its list
        (a job missing from it has not necessarily left the server).
        """
        if self.off or not delta:
            return
        self._queue.put(_Poll(service, delta, snapshot, complete, int(self.now().timestamp())))

    def record_jobs(
        self, service: ServiceRef, jobs: Sequence[Job], *, complete: bool = True
    ) -> None:
        """Record a whole list of jobs (a headless `ls`): only what differs from the journal."""
        if jobs:
            snapshot = {job.id: job for job in jobs}
            self.record_poll(service, JobsDelta(added=tuple(jobs)), snapshot, complete=complete)

    def record_action(
        self,
        service: ServiceRef,
        action: Action | str,
        job_ids: Collection[str],
        *,
        origin: Origin | None = None,
        outcome: str = "ok",
    ) -> None:
        """Record an action jobtui sent: its jobs, the time, where it came from, and its outcome
        ("ok", or the one-line error)."""
        name = str(action.value if isinstance(action, Action) else action)
        if name not in ACTIONS:
            raise ValueError(f"the journal records no action {name!r}")
        if self.off:
            return
        self._queue.put(
            _Act(
                service,
                name,
                tuple(job_ids),
                origin or self.origin,
                clean(" ".join(outcome.split())) or "ok",
                int(self.now().timestamp()),
            )
        )

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written (or the journal is off)."""
        if self._thread is None or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, end the session, and stop the writer thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Journal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open()
        except JournalOff as error:
            self._turn_off(error.line)
        finally:
            self.ready.set()
        while True:
            try:
                item = self._queue.get(timeout=CHECK_EVERY)
            except queue.Empty:
                self._guard(self._prune_if_due)
                continue
            batch = [item]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 1000:
                    batch.append(self._queue.get_nowait())
            records = [i for i in batch if isinstance(i, _Poll | _Act)]
            if records and not self.off:
                self._guard(functools.partial(self._write, records))
                self._guard(self._prune_if_due)
            for i in batch:
                if isinstance(i, threading.Event):
                    i.set()
            if any(i is _STOP for i in batch):
                self._guard(self._end_session)
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                return

    def _guard(self, work: Callable[[], None]) -> None:
        """Run `work`; a failure to write turns the journal off with its one line."""
        if self.off or self._conn is None:
            return
        for attempt in range(BUSY_RETRIES):
            try:
                work()
                return
            except sqlite3.OperationalError as error:
                busy = getattr(error, "sqlite_errorname", "").startswith("SQLITE_BUSY")
                if busy and attempt < BUSY_RETRIES - 1:
                    continue
                self._turn_off(f"journal off: {self.path}: {reason(error)}")
                return
            except (sqlite3.Error, OSError) as error:
                self._turn_off(f"journal off: {self.path}: {reason(error)}")
                return

    def _turn_off(self, line: str) -> None:
        self.off = line
        log.warning("%s", line)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def _open(self) -> None:
        now = self.now()
        opened = open_store(self.path, now)
        self._conn = conn = opened.conn
        self.warning = opened.warning
        if self.warning:
            log.warning("%s", self.warning)
        if self.on_connect is not None:
            self.on_connect(conn)
        at = int(now.timestamp())
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT max(ended) FROM session WHERE origin = 'dashboard'"
            ).fetchone()
            if row[0] is not None:
                self.last_seen = datetime.fromtimestamp(row[0], UTC)
            if self.origin == "dashboard":
                self.session = conn.execute(
                    "INSERT INTO session (origin, started, ended) VALUES (?, ?, ?)",
                    (self.origin, at, at),
                ).lastrowid
            conn.execute("COMMIT")
            self._prune_if_due()
        except (sqlite3.Error, OSError) as error:
            self._turn_off(f"journal off: {self.path}: {reason(error)}")
            raise JournalOff(self.off) from None

    def _service_id(self, conn: sqlite3.Connection, service: ServiceRef) -> int:
        sid = self._services.get(service)
        if sid is None:
            name, url = clean(service.name), clean(service.url)
            conn.execute("INSERT OR IGNORE INTO service (name, url) VALUES (?, ?)", (name, url))
            sid = int(
                conn.execute(
                    "SELECT id FROM service WHERE name = ? AND url = ?", (name, url)
                ).fetchone()[0]
            )
            self._services[service] = sid
        return sid

    def _write(self, records: Sequence[_Poll | _Act]) -> None:
        conn = self._conn
        assert conn is not None
        start, cpu = time.perf_counter(), time.thread_time()
        conn.execute("BEGIN IMMEDIATE")
        self._packer.begin()
        self._seq = None
        try:
            last = 0
            dirty = False
            for record in records:
                sid = self._service_id(conn, record.service)
                last = max(last, record.at)
                if isinstance(record, _Act):
                    conn.execute(
                        "INSERT INTO action (at, service, name, jobs, origin, outcome) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            record.at,
                            sid,
                            record.name,
                            json_text([clean(j) for j in record.jobs]),
                            record.origin,
                            record.outcome,
                        ),
                    )
                    dirty = True
                else:
                    dirty = self._write_poll(conn, sid, record) or dirty
            if not dirty:  # only progress or messages changed: nothing to write
                conn.execute("ROLLBACK")
                return
            if self.session is not None:
                conn.execute("UPDATE session SET ended = ? WHERE id = ?", (last, self.session))
            if self._seq is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('changes', ?)", (self._seq,)
                )
            conn.execute("COMMIT")
        except BaseException:
            self._known.clear()  # what was rolled back is not known: read it again
            self._packer.forget()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.written += 1
        self.write_seconds = time.perf_counter() - start
        self.write_cpu = time.thread_time() - cpu

    def _pair(self, state: int, raw: str) -> tuple[int, str]:
        pair = (state, raw)
        return self._pairs.setdefault(pair, pair)

    def _load(
        self, conn: sqlite3.Connection, sid: int, poll: _Poll
    ) -> tuple[dict[str, tuple[int, str]], bool]:
        """What the journal knows of a service's present jobs; at the service's first poll with
        its whole list, the jobs missing from it are marked gone."""
        known = {
            job_id: self._pair(state, raw)
            for job_id, state, raw in conn.execute(
                "SELECT job_id, state, raw_state FROM job WHERE service = ? AND gone IS NULL",
                (sid,),
            )
        }
        if poll.snapshot is not None and poll.complete:
            left = [job_id for job_id in known if job_id not in poll.snapshot]
            conn.executemany(
                "UPDATE job SET gone = ? WHERE service = ? AND job_id = ? AND gone IS NULL",
                [(poll.at, sid, job_id) for job_id in left],
            )
            for job_id in left:
                del known[job_id]
        else:
            left = []
        self._known[sid] = known
        return known, bool(left)

    def _write_poll(self, conn: sqlite3.Connection, sid: int, poll: _Poll) -> bool:
        """Record one poll; whether anything was written."""
        known = self._known.get(sid)
        dirty = False
        if known is None:
            known, dirty = self._load(conn, sid, poll)
        at = poll.at
        for job in (*poll.delta.added, *poll.delta.changed):
            code = STATE_CODES[job.state]
            if known.get(job.id) == (code, job.raw_state):
                continue
            known[job.id] = self._pair(code, job.raw_state)
            dirty = self._write_job(conn, sid, job, code, at, known) or dirty
        if poll.complete and poll.delta.removed:
            gone = [job_id for job_id in poll.delta.removed if known.pop(job_id, None)]
            conn.executemany(
                "UPDATE job SET gone = ? WHERE service = ? AND job_id = ? AND gone IS NULL",
                [(at, sid, job_id) for job_id in gone],
            )
            dirty = dirty or bool(gone)
        return dirty

    def _write_job(
        self,
        conn: sqlite3.Connection,
        sid: int,
        job: Job,
        code: int,
        at: int,
        known: dict[str, tuple[int, str]],
    ) -> bool:
        server = seconds(server_time(job))
        row = conn.execute(
            "SELECT id, state, raw_state, gone, started, finished, changed FROM job "
            "WHERE service = ? AND job_id = ?",
            (sid, job.id),
        ).fetchone()
        terminal = code in TERMINAL_CODES
        if row is None:
            created = seconds(job.created)
            if created is None and job.state is JobState.QUEUED:
                created = at
            started = seconds(job.started)
            if started is None and job.state is JobState.RUNNING:
                started = at
            finished = seconds(job.finished) if terminal else None
            if terminal and finished is None:
                finished = at
            record, dictionary = self._packer.pack(conn, sid, record_text(job), at)
            rowid = conn.execute(
                "INSERT INTO job (service, job_id, type, state, raw_state, first_seen, changed, "
                "created, started, finished, message, record, dictionary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    job.id,
                    job.type,
                    code,
                    job.raw_state,
                    at,
                    at,
                    created,
                    started,
                    finished,
                    job.message,
                    record,
                    dictionary,
                ),
            ).lastrowid
            assert rowid is not None
            self._change(conn, rowid, at, None, code, server)
            return True
        rowid, before, raw_before, gone, started, finished, changed = row
        if before == code and raw_before == job.raw_state and gone is None:
            return False  # another process recorded it first
        if 0 <= RANKS[code] < RANKS[before] and at - changed < STALE_FOR:
            # Another dashboard recorded a later state moments ago: this poll's answer is older
            # than its. Not known either: the next poll tells again (a restart is recorded then).
            del known[job.id]
            return False
        if before != code:
            self._change(conn, rowid, at, before, code, server)
        if job.state is JobState.RUNNING and (started is None or before != code):
            started = seconds(job.started) or at
        if terminal and (finished is None or before != code):
            finished = seconds(job.finished) or at
        elif not terminal:
            finished = None
        record, dictionary = self._packer.pack(conn, sid, record_text(job), at)
        conn.execute(
            "UPDATE job SET state = ?, raw_state = ?, type = ?, changed = CASE WHEN ? THEN ? "
            "ELSE changed END, started = ?, finished = ?, gone = NULL, message = ?, record = ?, "
            "dictionary = ? WHERE id = ?",
            (
                code,
                job.raw_state,
                job.type,
                before != code,
                at,
                started,
                finished,
                job.message,
                record,
                dictionary,
                rowid,
            ),
        )
        return True

    def _change(
        self,
        conn: sqlite3.Connection,
        job: int,
        at: int,
        before: int | None,
        after: int,
        server: int | None,
    ) -> None:
        """Record one change of job row `job`, numbered after the last one recorded."""
        if self._seq is None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'changes'").fetchone()
            if row is None:  # a new or cleared journal
                row = conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()
            self._seq = int(row[0])
        self._seq += 1
        conn.execute(
            "INSERT INTO change (job, seq, at, before, after, server_lag) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job, self._seq, at, before, after, None if server is None else at - server),
        )

    def _end_session(self) -> None:
        if self._conn is not None and self.session is not None:
            self._conn.execute(
                "UPDATE session SET ended = ? WHERE id = ?",
                (int(self.now().timestamp()), self.session),
            )

    def _prune_if_due(self) -> None:
        conn = self._conn
        if conn is None:
            return
        now = int(self.now().timestamp())
        if now - self._pruned < PRUNE_EVERY.total_seconds():
            return
        row = conn.execute("SELECT value FROM meta WHERE key = 'pruned'").fetchone()
        self._pruned = row[0] if row else 0
        if now - self._pruned < PRUNE_EVERY.total_seconds():
            return
        prune(conn, now - self.settings.retention_days * 86400)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned', ?)", (now,))
        self._pruned = now


def prune(conn: sqlite3.Connection, cutoff: int) -> int:
    """Delete what is older than `cutoff` (seconds since the epoch), a chunk per transaction:
    the jobs whose last change is older and that have ended or left the server's list (with
    their changes), the older changes of the other jobs, actions and sessions, and the records'
    dictionaries made before it that no job's record needs any more (one look through the jobs
    each: a few a service in a retention period). Returns the rows deleted."""
    terminal = ", ".join(map(str, TERMINAL_CODES))
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM job INDEXED BY job_changed WHERE changed < ? "
                    f"AND coalesce(gone, 0) < ? AND (gone IS NOT NULL OR state IN ({terminal})) "
                    "LIMIT ?",
                    (cutoff, cutoff, PRUNE_CHUNK),
                )
            ]
            marks = ", ".join("?" * len(ids))
            if ids:
                total += conn.execute(f"DELETE FROM change WHERE job IN ({marks})", ids).rowcount
                total += conn.execute(f"DELETE FROM job WHERE id IN ({marks})", ids).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if len(ids) < PRUNE_CHUNK:
            break
    statements: tuple[tuple[str, tuple[int, ...]], ...] = (
        (
            "DELETE FROM change WHERE at < ? AND job IN (SELECT id FROM job WHERE first_seen < ?)",
            (cutoff, cutoff),
        ),
        ("DELETE FROM action WHERE at < ?", (cutoff,)),
        ("DELETE FROM session WHERE ended < ?", (cutoff,)),
        *(
            (
                "DELETE FROM dictionary WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM job WHERE dictionary = ?)",
                (dictionary, dictionary),
            )
            for (dictionary,) in conn.execute(
                "SELECT id FROM dictionary WHERE made < ?", (cutoff,)
            ).fetchall()
        ),
    )
    for statement, args in statements:
        conn.execute("BEGIN IMMEDIATE")
        try:
            total += conn.execute(statement, args).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return total


def clear(conn: sqlite3.Connection) -> None:
    """Delete every job, change, action and session, and the records' dictionaries (made of
    records), then rewrite the file without them.

    The services' names and URLs stay (they come from the config, and a dashboard writing at the
    same time holds their ids; it looks again for its dictionary in each transaction)."""
    conn.execute("BEGIN IMMEDIATE")
    for table in ("change", "action", "job", "session", "meta", "dictionary"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
