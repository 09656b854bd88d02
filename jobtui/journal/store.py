"""Opening a journal file: WAL mode, a busy timeout, migrations, and what to do when it fails.

`open_store` returns a connection ready to use, or raises `JournalOff` with the one line to show.
A file that is not a database (or whose schema is damaged) is moved aside to
`journal.sqlite3.corrupt-<time>` and a new journal starts; the move is said in one warning line.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from jobtui.journal.schema import NewerJournalError, migrate

BUSY_TIMEOUT_MS: Final = 10_000
"""How long a statement waits for another process's write transaction (each lasts milliseconds)."""


class JournalOff(Exception):
    """The journal cannot be used; `line` says why, in one line naming the file."""

    def __init__(self, line: str) -> None:
        self.line = line
        super().__init__(line)


@dataclass(frozen=True, slots=True)
class Opened:
    conn: sqlite3.Connection
    warning: str = ""
    """One line when a damaged file was moved aside, else ""."""
    from_version: int = 0


def reason(error: BaseException) -> str:
    """An error as a short phrase: the OS's or SQLite's own words."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error) or type(error).__name__


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _prepare(conn: sqlite3.Connection) -> int:
    """WAL mode, then the migrations; the version the file was at. Reading the schema is what
    finds a file that is not a database, or a damaged one."""
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot use WAL mode (journal mode {mode})")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash of the process loses nothing
    return migrate(conn)


DAMAGED: Final = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def _damaged(error: sqlite3.DatabaseError) -> bool:
    name = getattr(error, "sqlite_errorname", "")
    return any(name.startswith(code) for code in DAMAGED)


def move_aside(path: Path, now: datetime) -> Path:
    """Rename a damaged journal (and its WAL and shared-memory files) out of the way."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    with contextlib.suppress(FileNotFoundError):  # another process moved it first
        path.rename(aside)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).rename(aside.with_name(aside.name + suffix))
    return aside


def open_store(path: Path, now: datetime, *, create: bool = True) -> Opened:
    """The journal at `path`, migrated to the current version.

    Raises `JournalOff` when its folder cannot be made or written, the disk is full, or the file
    is from a newer jobtui; `FileNotFoundError` when `create` is false and there is no journal.
    """
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise FileNotFoundError(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise JournalOff(f"journal off: cannot make {path.parent}: {reason(error)}") from None
    warning = ""
    for attempt in (1, 2):
        conn: sqlite3.Connection | None = None
        try:
            if not create and not path.is_file():
                raise FileNotFoundError(path)
            conn = _connect(path)
            version = _prepare(conn)
            if create:
                with contextlib.suppress(OSError):
                    path.chmod(0o600)  # what jobs you ran is yours alone
            return Opened(conn, warning, version)
        except NewerJournalError as error:
            if conn is not None:
                conn.close()
            raise JournalOff(f"journal off: {path}: {error}") from None
        except sqlite3.DatabaseError as error:
            if conn is not None:
                conn.close()
            if attempt == 1 and create and _damaged(error):
                aside = move_aside(path, now)
                warning = (
                    f"journal: {path} was damaged ({reason(error)}); moved aside to "
                    f"{aside.name}, a new journal starts"
                )
                continue
            raise JournalOff(f"journal off: {path}: {reason(error)}") from None
        except OSError as error:
            if conn is not None:
                conn.close()
            if isinstance(error, FileNotFoundError) and not create:
                raise
            raise JournalOff(f"journal off: {path}: {reason(error)}") from None
    raise AssertionError("unreachable")
