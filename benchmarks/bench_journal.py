"""The job journal's costs: recording a poll (the caller's share and the writer thread's), the
queries over a journal of 1,000,000 recorded changes (the start-up summary, a 30-day statistics
screen), the bytes each change takes on disk, and what an idle dashboard writes (nothing).

The big journal is filled through the journal's own API (`Journal.record_poll`, its writer thread
and its transactions), with a fixed clock and seed: 90 days of jobs that are queued, run, and end.
"""

from __future__ import annotations

import gc
import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import Row, at_most, median, timed

if TYPE_CHECKING:
    from jobtui.core.models import Job

CALLER_TARGET_MS = 2.0
WRITER_TARGET_MS = 10.0
SUMMARY_TARGET_MS = 50.0
STATS_TARGET_MS = 200.0
BYTES_TARGET = 120.0

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ("pdf-ocr", "thumbnail", "transcode", "classify", "ingest")
RUN_SECONDS = {"pdf-ocr": 600, "thumbnail": 20, "transcode": 1800, "classify": 240, "ingest": 90}


def _job(
    i: int, state: str, created: datetime, started: datetime | None, finished: datetime | None
) -> Job:
    from jobtui.core.models import Job, JobState

    kind = TYPES[i % len(TYPES)]
    raw = {
        "job_id": f"job-{i:07d}",
        "type": kind,
        "status": state,
        "created_at": created.isoformat(),
        "claimed_at": started.isoformat() if started else None,
        "finished_at": finished.isoformat() if finished else None,
        "input": f"scan-{i:07d}.pdf",
    }
    return Job(
        "bsub.io",
        f"job-{i:07d}",
        JobState(state),
        state,
        type=kind,
        created=created,
        started=started,
        finished=finished,
        raw=raw,
    )


def _events(jobs: int, days: float, rng: random.Random) -> Iterator[tuple[datetime, int, str]]:
    """(when, job, state) of `jobs` jobs created evenly over `days` days, sorted by time."""
    import heapq

    step = days * 86400 / jobs
    heap: list[tuple[float, int, str]] = []
    for i in range(jobs):
        created = i * step
        wait = rng.uniform(1, 300)
        run = rng.lognormvariate(0, 0.5) * RUN_SECONDS[TYPES[i % len(TYPES)]]
        end = "succeeded" if rng.random() < 0.9 else "failed"
        heapq.heappush(heap, (created, i, "queued"))
        heapq.heappush(heap, (created + wait, i, "running"))
        heapq.heappush(heap, (created + wait + run, i, end))
        while heap and heap[0][0] <= created:
            at, job, state = heapq.heappop(heap)
            yield EPOCH + timedelta(seconds=at), job, state
    while heap:
        at, job, state = heapq.heappop(heap)
        yield EPOCH + timedelta(seconds=at), job, state


def fill(path: Path, changes: int, days: float = 90.0, poll: float = 60.0) -> datetime:
    """Record `changes` changes over `days` days, a poll every `poll` simulated seconds, through
    the journal's API; returns the simulated time at the end."""
    from jobtui.core.models import JobsDelta
    from jobtui.journal import Journal, JournalSettings, ServiceRef

    clock = [EPOCH]
    service = ServiceRef("bsub.io", "https://bsub.example")
    times: dict[int, list[datetime | None]] = {}
    journal = Journal(JournalSettings(path), now=lambda: clock[0]).start()
    added: list[Job] = []
    changed: list[Job] = []
    poll_end = EPOCH + timedelta(seconds=poll)
    polls = 0

    def send() -> None:
        nonlocal polls
        if added or changed:
            journal.record_poll(service, JobsDelta(tuple(added), tuple(changed)))
            added.clear()
            changed.clear()
            polls += 1
            if polls % 200 == 0:
                journal.flush(600)

    for at, i, state in _events(changes // 3, days, random.Random(7)):
        while at >= poll_end:
            clock[0] = poll_end
            send()
            poll_end += timedelta(seconds=poll)
        stamps = times.setdefault(i, [at, None, None])
        if state == "running":
            stamps[1] = at
        elif state != "queued":
            stamps[2] = at
        created = stamps[0]
        assert created is not None
        job = _job(i, state, created, stamps[1], stamps[2])
        (added if state == "queued" else changed).append(job)
        if state not in ("queued", "running"):
            del times[i]
    clock[0] = poll_end
    send()
    journal.close(600)
    return poll_end


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _written_bytes() -> int:
    """Bytes this process handed to write(2) so far (/proc/self/io's wchar)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def run_poll_record(folder: Path, quick: bool) -> list[Row]:
    from jobtui.core.models import JobState, diff_jobs
    from jobtui.journal import Journal, JournalSettings, ServiceRef

    count, share = 10_000, 0.01
    repeat = 10 if quick else 60
    clock = [EPOCH]
    service = ServiceRef("bsub.io", "https://bsub.example")
    journal = Journal(JournalSettings(folder / "poll.sqlite3"), now=lambda: clock[0]).start()
    states = ("queued", "running", "succeeded")
    jobs = [_job(i, "queued", EPOCH, None, None) for i in range(count)]
    snapshot, delta = diff_jobs({}, jobs)
    journal.record_poll(service, delta, snapshot)
    journal.flush()
    rng = random.Random(3)
    caller: list[float] = []
    caller_cpu: list[float] = []
    writer: list[float] = []
    writer_cpu: list[float] = []
    for _ in range(repeat):
        clock[0] += timedelta(seconds=2)
        for i in rng.sample(range(count), int(count * share)):
            old: Job = jobs[i]
            state = states[(states.index(old.raw_state) + 1) % 3]
            jobs[i] = _job(i, state, EPOCH, clock[0] if state != "queued" else None, None)
            if state == "queued":
                jobs[i] = _job(i, "queued", EPOCH, None, None)
        snapshot, delta = diff_jobs(snapshot, jobs)  # the poll's own work, not the journal's
        assert len(delta.changed) == int(count * share)
        before = journal.written
        gc.collect()
        gc.disable()
        start, cpu = time.perf_counter(), time.thread_time()
        journal.record_poll(service, delta, snapshot)
        caller_cpu.append(time.thread_time() - cpu)
        caller.append(time.perf_counter() - start)
        gc.enable()
        journal.flush()
        assert journal.written == before + 1
        writer.append(journal.write_seconds)
        writer_cpu.append(journal.write_cpu)
    assert not journal.off, journal.off
    # Idle: polls where nothing changed (the same list again) for a while.
    wrote = journal.written
    disk = _disk_bytes(journal.path), journal.path.stat().st_mtime_ns
    chars = _written_bytes()
    idle_polls = 200 if quick else 2000
    empty = diff_jobs(snapshot, jobs)[1]
    assert not empty and not JobState.QUEUED.terminal
    for _ in range(idle_polls):
        clock[0] += timedelta(seconds=2)
        journal.record_poll(service, empty, snapshot)
    journal.flush()
    time.sleep(0.5)  # a writer that wrote late would show in the counts below
    idle_written = _written_bytes() - chars
    idle_ok = (
        journal.written == wrote
        and (_disk_bytes(journal.path), journal.path.stat().st_mtime_ns) == disk
    )
    journal.close()
    return [
        Row(
            figure=f"record a poll where {share:.0%} of {count:,} jobs changed: "
            "the caller's CPU time (record_poll)",
            unit="ms",
            jobtui=median(caller_cpu) * 1000,
            reference=CALLER_TARGET_MS,
            reference_name="target",
            target=f"<= {CALLER_TARGET_MS:g} ms",
            passed=at_most(median(caller_cpu) * 1000, CALLER_TARGET_MS),
            runs=repeat,
            samples=[s * 1000 for s in caller_cpu[:20]],
        ),
        Row(
            figure="  the caller's wall time (with waits for the GIL and the CPU)",
            unit="ms",
            jobtui=median(caller) * 1000,
            reference=None,
            reference_name="",
            target="context",
            passed=None,
            runs=repeat,
            samples=[s * 1000 for s in caller[:20]],
        ),
        Row(
            figure="  the writer thread's transaction for it",
            unit="ms",
            jobtui=median(writer) * 1000,
            reference=WRITER_TARGET_MS,
            reference_name="target",
            target=f"<= {WRITER_TARGET_MS:g} ms",
            passed=at_most(median(writer) * 1000, WRITER_TARGET_MS),
            note=f"CPU {median(writer_cpu) * 1000:.1f} ms",
            runs=repeat,
            samples=[s * 1000 for s in writer[:20]],
        ),
        Row(
            figure=f"idle: bytes written while {idle_polls:,} polls change nothing",
            unit="B",
            jobtui=float(idle_written),
            reference=0.0,
            reference_name="target",
            target="0 B, journal files untouched",
            passed=idle_written == 0 and idle_ok,
            note="" if idle_ok else "journal files changed",
        ),
    ]


def run_big(folder: Path, quick: bool) -> list[Row]:
    from jobtui.journal import Reader

    changes = 30_000 if quick else 1_000_000
    repeat = 3 if quick else 15
    path = folder / "big.sqlite3"
    started = time.perf_counter()
    end = fill(path, changes)
    fill_s = time.perf_counter() - started
    reader = Reader.open(path, end)
    assert reader is not None
    recorded = reader.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    records = reader.conn.execute("SELECT sum(length(record)) FROM job").fetchone()[0] or 0
    reader.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reader.close()
    per_change = _disk_bytes(path) / recorded
    own = (_disk_bytes(path) - records) / recorded
    # The last dashboard session ended 15 h before the end.
    setup = Reader.open(path, end)
    assert setup is not None
    back = int((end - timedelta(hours=15)).timestamp())
    setup.conn.execute("DELETE FROM session")  # the filling's own
    setup.conn.execute(
        "INSERT INTO session (origin, started, ended) VALUES ('dashboard', ?, ?)",
        (back - 86400, back),
    )
    setup.close()
    counted = [0]

    def summary() -> None:
        reader = Reader.open(path, end)
        assert reader is not None
        result = reader.summary(reader.last_seen())
        counted[0] = len(result.jobs)
        reader.close()

    stats_reader = Reader.open(path, end)
    assert stats_reader is not None
    types = [0]

    def stats() -> None:
        found = stats_reader.stats(end, 30)
        types[0] = sum(s.count for s in found)

    summary_s = [timed(summary) for _ in range(repeat)]
    stats_s = [timed(stats) for _ in range(repeat)]
    stats_reader.close()
    size = f"{recorded:,} changes"
    return [
        Row(
            figure=f"start-up summary over {size} (open, last session, {counted[0]:,} jobs since)",
            unit="ms",
            jobtui=median(summary_s) * 1000,
            reference=SUMMARY_TARGET_MS,
            reference_name="target",
            target=f"<= {SUMMARY_TARGET_MS:g} ms",
            passed=at_most(median(summary_s) * 1000, SUMMARY_TARGET_MS),
            runs=repeat,
            samples=[s * 1000 for s in summary_s],
        ),
        Row(
            figure=f"30-day statistics over {size} ({types[0]:,} jobs ended in the window)",
            unit="ms",
            jobtui=median(stats_s) * 1000,
            reference=STATS_TARGET_MS,
            reference_name="target",
            target=f"<= {STATS_TARGET_MS:g} ms",
            passed=at_most(median(stats_s) * 1000, STATS_TARGET_MS),
            runs=repeat,
            samples=[s * 1000 for s in stats_s],
        ),
        Row(
            figure=f"bytes on disk per recorded change ({size}, records included)",
            unit="B",
            jobtui=per_change,
            reference=BYTES_TARGET,
            reference_name="target",
            target=f"<= {BYTES_TARGET:g} B",
            passed=at_most(per_change, BYTES_TARGET),
            note=f"filled through the API in {fill_s:.0f} s",
        ),
        Row(
            figure=f"  of which the journal's own rows (the wire records, packed: "
            f"{records / recorded:.0f} B, left out)",
            unit="B",
            jobtui=own,
            reference=BYTES_TARGET,
            reference_name="target",
            target="context",
            passed=None,
        ),
    ]


def run_journal(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-journal-") as tmp:
        folder = Path(tmp)
        rows = run_poll_record(folder, quick)
        rows += run_big(folder, quick)
        os.sync()
    return rows
