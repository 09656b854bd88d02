"""When the journal cannot be used: a damaged file is moved aside and a new one starts; an
unwritable folder, a full disk or a newer journal turn the journal off with one line, and the
caller goes on."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from jobtui.core.models import JobState
from jobtui.journal import Reader
from jobtui.journal.schema import VERSION
from tests.journal.conftest import BSUB, Clock, OpenJournal, job, reader


def test_a_damaged_journal_is_moved_aside_and_a_new_one_starts(
    open_journal: OpenJournal, path: Path, clock: Clock
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it is " + bytes(range(256)) * 40)
    journal = open_journal()
    assert journal.off == ""
    aside = path.with_name("journal.sqlite3.corrupt-20260302T090000Z")
    assert journal.warning == (
        f"journal: {path} was damaged (file is not a database); moved aside to "
        f"{aside.name}, a new journal starts"
    )
    assert "\n" not in journal.warning
    assert aside.read_bytes().startswith(b"this is not a database")
    journal.record_jobs(BSUB, [job("a", JobState.RUNNING)])
    assert journal.flush()
    assert [r.id for r in reader(path, clock).jobs()] == ["a"]


def test_reading_a_damaged_journal_moves_nothing(path: Path, clock: Clock) -> None:
    from jobtui.journal import JournalOff

    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    try:
        Reader.open(path, clock())
    except JournalOff as off:
        assert off.line == f"journal off: {path}: file is not a database"
    else:
        raise AssertionError("a damaged journal was read")
    assert path.read_bytes() == b"garbage" * 1000


def test_an_unwritable_folder_turns_the_journal_off(
    open_journal: OpenJournal, tmp_path: Path
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    path = blocker / "jobtui" / "journal.sqlite3"
    journal = open_journal(path=path)
    assert journal.off == f"journal off: cannot make {path.parent}: Not a directory"
    journal.record_jobs(BSUB, [job("a", JobState.RUNNING)])  # nothing happens, nothing raises
    journal.record_action(BSUB, "cancel", ["a"])
    assert journal.flush()
    assert journal._queue.empty()


def test_a_full_disk_turns_the_journal_off_and_the_caller_goes_on(
    open_journal: OpenJournal, path: Path
) -> None:
    def small_disk(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    journal = open_journal(on_connect=small_disk)
    assert journal.off == ""
    for n in range(20):
        big = {"id": "x", "text": random.Random(n).randbytes(15_000).hex()}  # packs to ~15 KB
        journal.record_jobs(BSUB, [job(f"j{n}", JobState.RUNNING, raw=big)], complete=False)
        assert journal.flush()
    assert journal.off == f"journal off: {path}: database or disk is full"
    written = journal.written
    journal.record_jobs(BSUB, [job("late", JobState.RUNNING)])
    assert journal.flush()
    assert journal.written == written


def test_a_journal_from_a_newer_jobtui_is_left_alone(open_journal: OpenJournal, path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    conn.close()
    journal = open_journal()
    assert journal.off == (
        f"journal off: {path}: its version {VERSION + 1} is newer than this jobtui's ({VERSION})"
    )
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == VERSION + 1
