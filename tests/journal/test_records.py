"""The wire records in the journal: packed with a dictionary per service, read back exactly as
they were recorded, readable from older journals, and a damaged dictionary said in one line."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobtui.core.models import JobState
from jobtui.core.text import json_text
from jobtui.journal import ServiceRef, clear, prune
from jobtui.journal.records import DICTIONARIES_MAX, DICTIONARY_MAX, RecordError, unpack
from jobtui.journal.schema import migrate
from jobtui.journal.writer import record_text
from tests.journal.conftest import BSUB, START, Clock, OpenJournal, job, reader

LEIA = ServiceRef("leia", "http://127.0.0.1:2")


def wire(n: int, state: str = "queued", **extra: Any) -> dict[str, Any]:
    """A record as bsub.io sends one (about 210 bytes of JSON)."""
    created = START + timedelta(seconds=37 * n, microseconds=n * 7919 % 1_000_000)
    return {
        "job_id": f"job-{n:07d}",
        "type": "pdf-ocr",
        "status": state,
        "created_at": created.isoformat(),
        "claimed_at": (created + timedelta(seconds=n % 50)).isoformat()
        if state != "queued"
        else None,
        "finished_at": None,
        "input": f"scan-{n:07d}.pdf",
        "queue": "default",
        **extra,
    }


def stored(path: Path) -> list[tuple[str, object, int | None]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT job_id, record, dictionary FROM job ORDER BY id").fetchall()
    finally:
        conn.close()


def test_a_typical_record_takes_a_fraction_of_its_text(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    for n in range(40):
        clock.advance(seconds=60)
        journal.record_jobs(BSUB, [job(f"j{n}", JobState.QUEUED, raw=wire(n))], complete=False)
    assert journal.flush()
    rows = stored(path)
    texts = [len(json_text(wire(n)).encode()) for n in range(40)]
    assert min(texts) >= 190 and max(texts) <= 230
    sizes = [len(record) if isinstance(record, bytes) else -1 for _, record, _ in rows]
    assert min(sizes) > 0  # each one packed
    assert max(sizes) <= 40  # a ~200-byte record takes at most 40 bytes in the file
    assert sum(sizes) * 6 < sum(texts)


RECORDS: list[dict[str, Any]] = [
    wire(1),
    wire(2, "running", note="naïve — ünïcode ✓ 日本語", tags=["a", "b"], nested={"x": [1, 2.5]}),
    wire(3, "failed", message='quotes " and \\ and \n newlines', token="••••••"),
    {"only": "a different shape", "n": 0},
    {"big": "y" * 50_000},
]


def test_records_read_back_exactly_as_recorded(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    jobs = [job(f"r{n}", JobState.RUNNING, raw=raw) for n, raw in enumerate(RECORDS)]
    journal.record_jobs(BSUB, jobs, complete=False)
    journal.record_jobs(LEIA, [job("l", JobState.RUNNING, raw={"leia": True})], complete=False)
    assert journal.flush()
    found = reader(path, clock)
    texts = {j.id: record_text(j) for j in jobs}
    for job_id, record, dictionary in stored(path):
        assert isinstance(record, bytes) and dictionary is not None
        if job_id in texts:
            assert found.record_text(record, dictionary) == texts[job_id]  # the very same text
    by_id = {r.id: r for r in found.jobs()}
    assert [by_id[f"r{n}"].record for n in range(len(RECORDS))] == RECORDS
    assert by_id["l"].record == {"leia": True}
    assert all(not r.unreadable for r in by_id.values())
    # Each service has a dictionary of its own.
    services = found.conn.execute("SELECT DISTINCT service FROM dictionary").fetchall()
    assert len(services) == 2


def test_a_dictionary_grows_by_new_shapes_and_old_records_keep_theirs(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", JobState.QUEUED, raw=wire(1))], complete=False)
    assert journal.flush()
    clock.advance(seconds=60)
    other = {"kind": "another shape", "values": list(range(40))}
    journal.record_jobs(BSUB, [job("b", JobState.QUEUED, raw=other)], complete=False)
    assert journal.flush()
    first, second = [d for _, _, d in stored(path)]
    assert first is not None and second is not None and second > first
    found = reader(path, clock)
    assert [r.record for r in found.jobs()] == [wire(1), other]
    rows = found.conn.execute("SELECT id, length(data) FROM dictionary ORDER BY id").fetchall()
    assert rows[0][1] < rows[1][1] <= DICTIONARY_MAX
    # Growth is bounded: at most DICTIONARIES_MAX rows a service, however many shapes come.
    for n in range(3 * DICTIONARIES_MAX):
        clock.advance(seconds=60)
        shape = {f"field{n}-{i}": n * i for i in range(10)}
        journal.record_jobs(BSUB, [job(f"s{n}", JobState.QUEUED, raw=shape)], complete=False)
    assert journal.flush()
    assert found.conn.execute("SELECT count(*) FROM dictionary").fetchone()[0] == DICTIONARIES_MAX
    assert all(not r.unreadable for r in found.jobs())


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_journal_with_records_migrates_and_reads_back_identically(
    version: int, open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    conn.execute("INSERT INTO service (id, name, url) VALUES (1, ?, ?)", (BSUB.name, BSUB.url))
    at = int(START.timestamp())
    for n, raw in enumerate(RECORDS):
        conn.execute(
            "INSERT INTO job (service, job_id, type, state, raw_state, first_seen, changed, "
            "message, record) VALUES (1, ?, 'pdf-ocr', 2, 'running', ?, ?, '', ?)",
            (f"r{n}", at, at, json_text(raw)),
        )
    conn.close()
    journal = open_journal()
    assert journal.off == "" and journal.warning == ""
    # One job changes: its record is packed from now on; the others stay text.
    clock.advance(seconds=60)
    changed = {**RECORDS[0], "status": "succeeded"}
    journal.record_jobs(
        BSUB, [job("r0", JobState.SUCCEEDED, raw_state="succeeded", raw=changed)], complete=False
    )
    assert journal.flush()
    kinds = [type(record) for _, record, _ in stored(path)]
    assert kinds == [bytes] + [str] * (len(RECORDS) - 1)
    found = reader(path, clock)
    assert [r.record for r in found.jobs()] == [*RECORDS[1:], changed]  # by last change
    assert found.conn.execute("PRAGMA user_version").fetchone()[0] == 3


def damage(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("statement", "case"),
    [
        ("DELETE FROM dictionary", "missing"),
        ("UPDATE dictionary SET data = substr(data, 1, 10) || 'garbage'", "damaged"),
    ],
)
def test_a_missing_or_damaged_dictionary_is_one_line_and_the_rest_is_kept(
    statement: str, case: str, open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", JobState.RUNNING, raw=wire(1, "running"))], complete=False)
    journal.record_jobs(LEIA, [job("l", JobState.RUNNING, raw={"leia": 1})], complete=False)
    assert journal.flush()
    journal.close()
    dictionary = next(d for job_id, _, d in stored(path) if job_id == "a")
    damage(path, statement + (" WHERE service = 1" if case == "damaged" else ""))
    found = reader(path, clock)
    records = {r.id: r for r in found.jobs()}
    a = records["a"]
    assert a.record == {}
    assert a.unreadable == (
        f"record unreadable: the journal's dictionary {dictionary} is missing or damaged"
    )
    assert (a.state, a.raw_state, a.type) == (JobState.RUNNING, "running", "pdf-ocr")
    if case == "damaged":
        assert records["l"].record == {"leia": 1} and not records["l"].unreadable
    timeline = found.timeline("bsub.io", "a", clock())
    assert timeline is not None and timeline.steps[0].state is JobState.RUNNING
    # The journal goes on: the next record starts a sound dictionary and reads back.
    journal = open_journal()
    assert journal.off == "" and journal.warning == ""
    clock.advance(seconds=60)
    journal.record_jobs(BSUB, [job("b", JobState.QUEUED, raw=wire(2))], complete=False)
    assert journal.flush()
    again = {r.id: r for r in found.jobs()}
    assert again["b"].record == wire(2) and not again["b"].unreadable
    assert again["a"].unreadable


def test_a_damaged_record_is_one_line() -> None:
    with pytest.raises(RecordError, match=r"^record damaged \("):
        unpack(b"\xff\xfe not deflate", b"dictionary")
    blob = b"\x03\x00"  # an empty stream: fine
    assert unpack(blob, b"dictionary") == ""


def test_clear_takes_the_dictionaries_and_a_writer_that_knew_one_makes_another(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal()
    journal.record_jobs(BSUB, [job("a", JobState.QUEUED, raw=wire(1))], complete=False)
    assert journal.flush()
    found = reader(path, clock)
    clear(found.conn)  # as `jobtui journal clear` does, while the dashboard writes
    assert found.conn.execute("SELECT count(*) FROM dictionary").fetchone()[0] == 0
    clock.advance(seconds=60)
    journal.record_jobs(BSUB, [job("b", JobState.QUEUED, raw=wire(2))], complete=False)
    assert journal.flush()
    (b,) = found.jobs()
    assert (b.id, b.record, b.unreadable) == ("b", wire(2), "")


def test_two_writers_share_a_service_s_dictionaries(
    open_journal: OpenJournal, path: Path, clock: Clock, tmp_path: Path
) -> None:
    def shape(n: int) -> dict[str, Any]:
        return wire(n) if n % 3 else {"shape": n, "items": list(range(30 + n))}

    def write(writers: tuple[Any, ...]) -> None:
        for n in range(6):
            clock.advance(seconds=60)
            writer = writers[n % len(writers)]
            writer.record_jobs(BSUB, [job(f"j{n}", JobState.QUEUED, raw=shape(n))], complete=False)
            assert writer.flush()

    alone = tmp_path / "alone.sqlite3"
    write((open_journal(path=alone),))
    write((open_journal(), open_journal()))
    # Each transaction packs with the latest dictionary, whichever writer made it: two writers
    # take turns and end with the very dictionaries one writer makes.
    assert [d for _, _, d in stored(path)] == [d for _, _, d in stored(alone)]
    assert [r.record for r in reader(path, clock).jobs()] == [shape(n) for n in range(6)]


def test_a_dictionary_lives_no_longer_than_the_records_it_was_made_of(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    journal = open_journal(retention_days=1)
    journal.record_jobs(BSUB, [job("a", JobState.QUEUED, raw=wire(1))], complete=False)
    assert journal.flush()
    clock.advance(days=2)
    # Past the retention, a new record starts a new dictionary.
    journal.record_jobs(BSUB, [job("b", JobState.QUEUED, raw=wire(2))], complete=False)
    assert journal.flush()
    first, second = [d for _, _, d in stored(path)]
    assert first is not None and second is not None and second > first
    found = reader(path, clock)
    cutoff = int(clock().timestamp()) - 86400

    def dictionaries() -> list[int]:
        return [d for (d,) in found.conn.execute("SELECT id FROM dictionary ORDER BY id")]

    prune(found.conn, cutoff)  # a still waits: its record still needs the first dictionary
    assert dictionaries() == [first, second]
    assert [r.record for r in found.jobs()] == [wire(1), wire(2)]
    clock.advance(minutes=1)
    journal.record_jobs(
        BSUB, [job("a", JobState.SUCCEEDED, raw=wire(1, "succeeded"))], complete=False
    )
    assert journal.flush()
    prune(found.conn, cutoff)  # a's record is packed anew: nothing needs the first any more
    assert dictionaries() == [second]
    assert [r.record for r in found.jobs()] == [wire(2), wire(1, "succeeded")]
