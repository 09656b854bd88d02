"""What the journal answers: "since you were last here", a job's timeline, statistics per
service and job type, history, overdue jobs, and jobs that left the server's list.

A `Reader` holds one connection of its own (readers never wait for the writer in WAL mode). Every
query takes its `now` from the caller: nothing here reads the clock.
"""

from __future__ import annotations

import bisect
import json
import math
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final, Literal

from jobtui.core.models import JobState
from jobtui.journal.records import RecordError, sound, unpack, unreadable
from jobtui.journal.schema import STATE_CODES, STATES
from jobtui.journal.store import open_store

RUN_EDGES: Final = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
"""Upper edges (seconds) of the run-time histogram's buckets; a last bucket holds the longer ones."""

OVERDUE_FACTOR: Final = 1.5
OVERDUE_MIN_RUNS: Final = 20
OVERDUE_WINDOW_DAYS: Final = 30

SUMMARY_STATES: Final = (
    JobState.SUCCEEDED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.NEEDS_INPUT,
)
"""What "since you were last here" counts: the jobs that ended or came to ask something."""


def _time(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _at(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted `values` (None for none)."""
    if not values:
        return None
    return float(values[max(0, math.ceil(share * len(values)) - 1)])


def median(values: Sequence[float]) -> float | None:
    """The median of sorted `values` (None for none)."""
    n = len(values)
    if not n:
        return None
    mid = n // 2
    return float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2


def ago(seconds: float) -> str:
    """A span as people say it: "40 min", "15 h", "3 d"."""
    if seconds < 3600:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


@dataclass(frozen=True, slots=True)
class Summary:
    """The jobs that ended (or came to ask a question) since `since`."""

    since: datetime | None
    counts: dict[JobState, int] = field(default_factory=dict)
    jobs: tuple[tuple[str, str], ...] = ()
    """(service name, job id) of each job counted: `Job.key`, for a filter of All jobs."""

    def line(self, now: datetime, tz: tzinfo | None = None) -> str:
        """ "since Mon 18:02 (15 h ago): 41 succeeded, 3 failed, 1 asks a question"."""
        if self.since is None:
            return "no earlier session in the journal"
        local = self.since.astimezone(tz) if tz is not None else self.since.astimezone()
        head = f"since {local:%a %H:%M} ({ago((now - self.since).total_seconds())} ago)"
        parts = []
        for state in SUMMARY_STATES:
            if count := self.counts.get(state, 0):
                if state is JobState.NEEDS_INPUT:
                    parts.append(f"{count} {'asks' if count == 1 else 'ask'} a question")
                else:
                    parts.append(f"{count} {state.label}")
        return f"{head}: {', '.join(parts) or 'no job ended'}"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as the journal last knew it (also one that left the server's list)."""

    service: str
    url: str
    id: str
    type: str
    state: JobState
    raw_state: str
    first_seen: datetime
    changed: datetime
    created: datetime | None
    started: datetime | None
    finished: datetime | None
    gone: datetime | None
    message: str
    record: dict[str, Any]
    unreadable: str = ""
    """One line when the record cannot be read back (its dictionary is missing or damaged), else
    "" (the record is then empty)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.id)


@dataclass(frozen=True, slots=True)
class Step:
    """One state of a job's timeline: when it began, by whose clock, and how long it lasted."""

    state: JobState
    at: datetime
    server: bool
    """True when `at` is the server's own timestamp (also for what happened while jobtui was
    not running); False when it is when jobtui saw the change."""
    duration: float | None
    """Seconds until the next step; for the last one, until `now` unless the job has ended."""


@dataclass(frozen=True, slots=True)
class Timeline:
    job: JobRecord
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class TypeStats:
    """One service's jobs of one type that ended within the window."""

    service: str
    type: str
    count: int
    succeeded: int
    failed: int
    cancelled: int
    wait_median: float | None
    wait_p95: float | None
    run_median: float | None
    run_p95: float | None
    histogram: tuple[int, ...]
    """Succeeded runs per bucket of `RUN_EDGES` (the last bucket: longer than the last edge)."""

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """One line of history: a state change, a job leaving the list, or an action jobtui sent."""

    at: datetime
    kind: Literal["change", "gone", "action"]
    service: str
    jobs: tuple[str, ...]
    before: JobState | None = None
    after: JobState | None = None
    server_at: datetime | None = None
    action: str = ""
    origin: str = ""
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class Overdue:
    """A running job past `OVERDUE_FACTOR` times its type's 95th-percentile run time."""

    service: str
    id: str
    type: str
    running_for: float
    limit: float
    runs: int


class Reader:
    """The queries, over a connection of the caller's thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._dictionaries: dict[int, bytes] = {}
        """The records' dictionaries read so far (a row never changes; its id is never reused)."""

    @classmethod
    def open(cls, path: Path, now: datetime) -> Reader | None:
        """The journal at `path`, or None when there is none (raises `JournalOff`)."""
        try:
            return cls(open_store(path, now, create=False).conn)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        self.conn.close()

    def _services(self, name: str | None = None) -> dict[int, str]:
        rows = self.conn.execute("SELECT id, name FROM service").fetchall()
        return {
            sid: sname
            for sid, sname in rows
            if name is None or sname == name or sname.casefold() == name.casefold()
        }

    # -- since you were last here -------------------------------------------------------------

    def last_seen(self, before: datetime | None = None) -> datetime | None:
        """When the last dashboard session ended (the last one that ended before `before`)."""
        sql = "SELECT max(ended) FROM session WHERE origin = 'dashboard'"
        args: tuple[int, ...] = ()
        if before is not None:
            sql += " AND ended < ?"
            args = (int(before.timestamp()),)
        return _time(self.conn.execute(sql, args).fetchone()[0])

    def summary(self, since: datetime | None) -> Summary:
        if since is None:
            return Summary(None)
        codes = ", ".join(str(STATE_CODES[s]) for s in SUMMARY_STATES)
        names = self._services()
        counts: dict[JobState, int] = {}
        jobs: list[tuple[str, str]] = []
        for sid, job_id, code in self.conn.execute(
            f"SELECT service, job_id, state FROM job WHERE changed > ? AND state IN ({codes}) "
            "ORDER BY changed, id",
            (int(since.timestamp()),),
        ):
            state = STATES[code]
            counts[state] = counts.get(state, 0) + 1
            jobs.append((names[sid], job_id))
        return Summary(since, counts, tuple(jobs))

    # -- jobs ---------------------------------------------------------------------------------

    def _dictionary(self, dictionary: int) -> bytes | None:
        data = self._dictionaries.get(dictionary)
        if data is None:
            row = self.conn.execute(
                "SELECT data, crc FROM dictionary WHERE id = ?", (dictionary,)
            ).fetchone()
            data = sound(*row) if row is not None else None
            if data is not None:
                self._dictionaries[dictionary] = data
        return data

    def record_text(self, stored: str | bytes | None, dictionary: int | None) -> str:
        """A stored record's JSON text, exactly as it was recorded: TEXT as it is (journals before
        version 3), a BLOB unpacked with its dictionary; `RecordError` when it cannot be."""
        if not isinstance(stored, bytes):
            return stored or ""
        data = self._dictionary(dictionary) if dictionary is not None else None
        if data is None:
            raise RecordError(unreadable(dictionary))
        return unpack(stored, data)

    def _record(
        self, stored: str | bytes | None, dictionary: int | None
    ) -> tuple[dict[str, Any], str]:
        """A stored record as a mapping, and "" or the one line saying why it cannot be read."""
        try:
            text = self.record_text(stored, dictionary)
            record = json.loads(text) if text else {}
        except RecordError as error:
            return {}, str(error)
        except ValueError:
            return {}, "record unreadable: not JSON"
        if not isinstance(record, dict):
            return {}, "record unreadable: not a JSON object"
        return record, ""

    def jobs(
        self, job_id: str | None = None, service: str | None = None, *, gone: bool = False
    ) -> list[JobRecord]:
        """Jobs by id and/or service; `gone`: only those that left the server's list."""
        sids = self._services(service)
        urls = dict(self.conn.execute("SELECT id, url FROM service").fetchall())
        where = ["1"]
        args: list[Any] = []
        if job_id is not None:  # by (service, job id): one seek of the unique index a service
            where.append(f"service IN ({', '.join('?' * len(sids))}) AND job_id = ?")
            args += [*sids, job_id]
        if gone:
            where.append("gone IS NOT NULL")
        rows = self.conn.execute(
            "SELECT service, job_id, type, state, raw_state, first_seen, changed, created, "
            f"started, finished, gone, message, record, dictionary FROM job "
            f"WHERE {' AND '.join(where)} ORDER BY changed, id",
            args,
        ).fetchall()
        return [
            JobRecord(
                sids[r[0]],
                urls[r[0]],
                r[1],
                r[2],
                STATES[r[3]],
                r[4],
                _at(r[5]),
                _at(r[6]),
                _time(r[7]),
                _time(r[8]),
                _time(r[9]),
                _time(r[10]),
                r[11],
                *self._record(r[12], r[13]),
            )
            for r in rows
            if r[0] in sids
        ]

    def gone_ids(self, needle: str, limit: int = 50) -> list[tuple[str, str]]:
        """(service, job id) of jobs that left their server's list whose id contains `needle`
        (case-insensitive), the latest gone first, at most `limit` (the palette's search)."""
        names = self._services()
        rows = self.conn.execute(
            "SELECT service, job_id FROM job INDEXED BY job_gone WHERE gone IS NOT NULL "
            "AND instr(lower(job_id), ?) ORDER BY gone DESC LIMIT ?",
            (needle.lower(), limit),
        ).fetchall()
        return [(names[sid], job_id) for sid, job_id in rows if sid in names]

    def timeline(self, service: str, job_id: str, now: datetime) -> Timeline | None:
        """The job's states with their durations, from the changes jobtui saw and the server's
        timestamps (which also cover what happened while jobtui was not running)."""
        found = self.jobs(job_id, service)
        if not found:
            return None
        job = found[-1]
        sid = next(s for s, name in self._services(job.service).items() if name == job.service)
        changes = self.conn.execute(
            "SELECT c.at, c.after, c.at - c.server_lag FROM change c JOIN job j ON j.id = c.job "
            "WHERE j.service = ? AND j.job_id = ? ORDER BY c.at, c.seq",
            (sid, job_id),
        ).fetchall()
        points: list[tuple[JobState, int, bool]] = []
        first = STATES[changes[0][1]] if changes else job.state
        first_at = (changes[0][2] or changes[0][0]) if changes else int(job.first_seen.timestamp())
        # Before jobtui first saw it: what the server's timestamps say.
        created = int(job.created.timestamp()) if job.created is not None else None
        started = int(job.started.timestamp()) if job.started is not None else None
        if first is not JobState.QUEUED and created is not None and created <= first_at:
            points.append((JobState.QUEUED, created, True))
        if first.terminal and started is not None and started <= first_at:
            points.append((JobState.RUNNING, started, True))
        for at, after, server_at in changes:
            points.append(
                (STATES[after], server_at if server_at is not None else at, server_at is not None)
            )
        steps: list[Step] = []
        for i, (state, at, server) in enumerate(points):
            if i + 1 < len(points):
                duration: float | None = max(0, points[i + 1][1] - at)
            elif state.terminal or job.gone is not None:
                duration = None
            else:
                duration = max(0.0, now.timestamp() - at)
            steps.append(Step(state, _at(at), server, duration))
        return Timeline(job, tuple(steps))

    # -- statistics ---------------------------------------------------------------------------

    def _types(self, sids: Collection[int]) -> list[tuple[int, str]]:
        """The (service, type) pairs of ended jobs: one index seek each."""
        found: list[tuple[int, str]] = []
        for sid in sorted(sids):
            kind = ""
            first = True
            while True:
                row = self.conn.execute(
                    "SELECT type FROM job INDEXED BY job_stats WHERE service = ? "
                    f"AND type {'>=' if first else '>'} ? AND finished IS NOT NULL "
                    "ORDER BY service, type LIMIT 1",
                    (sid, kind),
                ).fetchone()
                if row is None:
                    break
                kind, first = row[0], False
                found.append((sid, kind))
        return found

    def _window(
        self, sid: int, kind: str, since: int
    ) -> tuple[dict[int, int], list[int], list[int]]:
        """One type's jobs that ended since `since`: the count per state, and the sorted queue
        waits and (succeeded) run times. SQLite reads the range of the covering index once and
        hands over each list as one text."""
        succeeded = STATE_CODES[JobState.SUCCEEDED]
        row = self.conn.execute(
            "SELECT count(*), "
            + ", ".join(f"sum(state = {code})" for code in STATES)
            + ", group_concat(CASE WHEN started >= created THEN started - created END), "
            f"group_concat(CASE WHEN state = {succeeded} AND finished >= started "
            "THEN finished - started END) "
            "FROM job INDEXED BY job_stats WHERE service = ? AND type = ? AND finished >= ?",
            (sid, kind, since),
        ).fetchone()
        counts = {code: n for code, n in zip(STATES, row[1:-2], strict=True) if n}
        waits = sorted(map(int, row[-2].split(","))) if row[-2] else []
        runs = sorted(map(int, row[-1].split(","))) if row[-1] else []
        return counts, waits, runs

    def stats(self, now: datetime, days: float, service: str | None = None) -> list[TypeStats]:
        """Per service and job type, the jobs that ended in the last `days` days."""
        names = self._services(service)
        since = int((now - timedelta(days=days)).timestamp())
        result = []
        for sid, kind in self._types(names):
            counts, waits, runs = self._window(sid, kind, since)
            if not counts:
                continue
            histogram = [0] * (len(RUN_EDGES) + 1)
            start = 0
            for i, edge in enumerate(RUN_EDGES):  # sorted: a bisection per edge
                end = bisect.bisect_right(runs, edge, start)
                histogram[i] = end - start
                start = end
            histogram[-1] = len(runs) - start
            result.append(
                TypeStats(
                    names[sid],
                    kind,
                    sum(counts.values()),
                    counts.get(STATE_CODES[JobState.SUCCEEDED], 0),
                    counts.get(STATE_CODES[JobState.FAILED], 0),
                    counts.get(STATE_CODES[JobState.CANCELLED], 0),
                    median(waits),
                    percentile(waits, 0.95),
                    median(runs),
                    percentile(runs, 0.95),
                    tuple(histogram),
                )
            )
        result.sort(key=lambda s: (s.service, s.type))
        return result

    # -- overdue ------------------------------------------------------------------------------

    def run_limits(self, now: datetime) -> dict[tuple[str, str], tuple[float, int]]:
        """(service, type) -> (the run time past which a running job is overdue, the number of
        past runs), for the types of running jobs with at least `OVERDUE_MIN_RUNS` succeeded
        runs in the last `OVERDUE_WINDOW_DAYS` days."""
        names = self._services()
        since = int((now - timedelta(days=OVERDUE_WINDOW_DAYS)).timestamp())
        running = self.conn.execute(
            "SELECT DISTINCT service, type FROM job INDEXED BY job_running "
            "WHERE state = 2 AND gone IS NULL"
        ).fetchall()
        limits: dict[tuple[str, str], tuple[float, int]] = {}
        for sid, kind in running:
            runs = self._window(sid, kind, since)[2]
            if len(runs) >= OVERDUE_MIN_RUNS:
                p95 = percentile(runs, 0.95) or 0.0
                limits[(names[sid], kind)] = (OVERDUE_FACTOR * p95, len(runs))
        return limits

    def overdue(self, now: datetime) -> list[Overdue]:
        """Running jobs past `OVERDUE_FACTOR` x their type's p95 run time (given enough runs)."""
        limits = self.run_limits(now)
        if not limits:
            return []
        names = self._services()
        result = []
        for sid, job_id, type_, started in self.conn.execute(
            "SELECT service, job_id, type, started FROM job INDEXED BY job_running "
            "WHERE state = 2 AND gone IS NULL AND started IS NOT NULL ORDER BY started, id"
        ):
            limit = limits.get((names[sid], type_))
            running_for = now.timestamp() - started
            if limit is not None and running_for > limit[0]:
                result.append(Overdue(names[sid], job_id, type_, running_for, limit[0], limit[1]))
        return result

    # -- history ------------------------------------------------------------------------------

    def history(
        self,
        since: datetime | None = None,
        *,
        service: str | None = None,
        job: str | None = None,
        actions: bool = False,
    ) -> list[Event]:
        """State changes, jobs leaving the list and actions, oldest first; `actions`: only the
        actions (the audit trail)."""
        names = self._services(service)
        start = int(since.timestamp()) if since is not None else -(2**62)
        events: list[Event] = []
        job_where, job_args = ("", ()) if job is None else (" AND j.job_id = ?", (job,))
        if not actions:
            for at, before, after, server_at, sid, job_id in self.conn.execute(
                "SELECT c.at, c.before, c.after, c.at - c.server_lag, j.service, j.job_id "
                "FROM job j INDEXED BY job_changed JOIN change c ON c.job = j.id "
                f"WHERE j.changed >= ? AND c.at >= ?{job_where} ORDER BY c.at, c.seq",
                (start, start, *job_args),
            ):
                if sid in names:
                    events.append(
                        Event(
                            _at(at),
                            "change",
                            names[sid],
                            (job_id,),
                            STATES[before] if before is not None else None,
                            STATES[after],
                            _time(server_at),
                        )
                    )
            for at, state, sid, job_id in self.conn.execute(
                "SELECT j.gone, j.state, j.service, j.job_id FROM job j INDEXED BY job_gone "
                f"WHERE j.gone >= ?{job_where}",
                (start, *job_args),
            ):
                if sid in names:
                    events.append(Event(_at(at), "gone", names[sid], (job_id,), STATES[state]))
        for at, sid, name, jobs_text, origin, outcome in self.conn.execute(
            "SELECT at, service, name, jobs, origin, outcome FROM action WHERE at >= ? "
            "ORDER BY at, rowid",
            (start,),
        ):
            ids = tuple(json.loads(jobs_text))
            if sid in names and (job is None or job in ids):
                events.append(
                    Event(
                        _at(at),
                        "action",
                        names[sid],
                        ids,
                        action=name,
                        origin=origin,
                        outcome=outcome,
                    )
                )
        events.sort(key=lambda e: e.at)  # stable: each kind keeps its own order
        return events
