"""The wire records the journal keeps, compressed: raw deflate (the standard library's zlib) with
a preset dictionary per service, kept in the journal's `dictionary` table.

A record is JSON of the same keys over and over, so a dictionary of a few of the service's own
records takes most of a record away. A service's first stored record starts its dictionary; a
later record that still compresses poorly (a state whose fields the dictionary lacks) is joined to
it as a new dictionary row, up to `DICTIONARY_MAX` bytes and `DICTIONARIES_MAX` rows. A dictionary
row is never changed once written: each record names the row it was packed with
(`job.dictionary`), so every record stays readable for as long as the journal keeps it. A
dictionary carries its CRC-32: a damaged one is found, never used (the writer starts a new one; a
reader shows the record as unreadable in one line). A dictionary is made of records, so it lives
no longer than they would: one older than the journal's retention packs no new record (the next
record starts a new one), and pruning deletes it once no job's record needs it. Records of a
journal from before version 3 are TEXT and read as they are.
"""

from __future__ import annotations

import sqlite3
import zlib
from dataclasses import dataclass
from typing import Final

DICTIONARY_MAX: Final = 8192
"""The most bytes of a dictionary (deflate looks back 32 KiB; a longer dictionary costs time to
set up for each record, and a few records of each shape are all it needs)."""
DICTIONARIES_MAX: Final = 8
"""The most dictionary rows per service (each a whole dictionary: at most 64 KiB a service)."""
POOR: Final = 0.3
"""A record packed to more than this share of its size joins the dictionary, while there is room."""
LEVEL: Final = 9
WBITS: Final = -15
"""Raw deflate: no header or checksum per record (the dictionary carries the checksum)."""
MEMLEVEL: Final = 5
"""The compressor's hash table: zlib's default (8) allocates enough that making one costs ~50 µs
a record; 5 makes it ~7 µs, for the same bytes on records of a few KiB."""
RECORD_MAX: Final = 16 * 1024 * 1024
"""The most bytes a record may unpack to (a service's record is at most 4 MiB): more is damage."""


class RecordError(Exception):
    """A record that cannot be read back; the message is one line."""


@dataclass(frozen=True, slots=True)
class Dictionary:
    id: int
    data: bytes


def checksum(data: bytes) -> int:
    return zlib.crc32(data)


def pack(text: str, dictionary: bytes) -> bytes:
    """`text` (a record's JSON) as raw deflate with `dictionary` preset."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEMLEVEL, zdict=dictionary)
    return packer.compress(text.encode()) + packer.flush()


def unpack(blob: bytes, dictionary: bytes) -> str:
    """The record's JSON text, exactly as it was packed; `RecordError` when it cannot be."""
    try:
        unpacker = zlib.decompressobj(WBITS, zdict=dictionary)
        data = unpacker.decompress(blob, RECORD_MAX)
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise RecordError("record damaged (cut short or too long)")
        return data.decode()
    except (zlib.error, UnicodeDecodeError) as error:
        raise RecordError(f"record damaged ({error})") from None


def sound(data: object, crc: object) -> bytes | None:
    """A dictionary row's data when its checksum holds, else None."""
    if isinstance(data, bytes) and data and isinstance(crc, int) and checksum(data) == crc:
        return data
    return None


def unreadable(dictionary: int | None) -> str:
    return (
        f"record unreadable: the journal's dictionary {dictionary} is missing or damaged"
        if dictionary is not None
        else "record unreadable: it names no dictionary"
    )


class Packer:
    """The writer's side: packs each record with its service's latest dictionary, starting it
    from the service's first record and growing it by the records that still pack poorly.

    Other processes may write the same journal: each transaction looks again at which dictionary
    is its service's latest (`begin`), under the transaction's write lock."""

    def __init__(self, retention: int) -> None:
        self.retention = retention
        """Seconds a dictionary packs new records after it was made."""
        self._latest: dict[int, Dictionary] = {}
        self._counts: dict[int, int] = {}
        self._checked: set[int] = set()

    def begin(self) -> None:
        """A new transaction: look again before using a service's dictionary."""
        self._checked.clear()

    def forget(self) -> None:
        """What a rolled-back transaction wrote is not there: read it again."""
        self._latest.clear()
        self._counts.clear()
        self._checked.clear()

    def _current(self, conn: sqlite3.Connection, sid: int, at: int) -> Dictionary | None:
        if sid in self._checked:
            return self._latest.get(sid)
        latest, count = conn.execute(
            "SELECT max(id), count(*) FROM dictionary WHERE service = ? AND made >= ?",
            (sid, at - self.retention),
        ).fetchone()
        self._checked.add(sid)
        self._counts[sid] = count
        known = self._latest.get(sid)
        if known is not None and known.id == latest:
            return known
        self._latest.pop(sid, None)
        if latest is None:
            return None
        row = conn.execute("SELECT data, crc FROM dictionary WHERE id = ?", (latest,)).fetchone()
        data = sound(*row) if row is not None else None
        if data is None:
            return None  # damaged: the next record starts a new one
        self._latest[sid] = found = Dictionary(latest, data)
        return found

    def _add(self, conn: sqlite3.Connection, sid: int, data: bytes, at: int) -> Dictionary:
        rowid = conn.execute(
            "INSERT INTO dictionary (service, made, data, crc) VALUES (?, ?, ?, ?)",
            (sid, at, data, checksum(data)),
        ).lastrowid
        assert rowid is not None
        self._latest[sid] = added = Dictionary(rowid, data)
        self._counts[sid] = self._counts.get(sid, 0) + 1
        return added

    def pack(
        self, conn: sqlite3.Connection, sid: int, text: str, at: int
    ) -> tuple[str | bytes, int | None]:
        """What to store of a record (its JSON text) for service `sid` at time `at`: the packed
        bytes and the dictionary's id; an empty record stays the empty text."""
        if not text:
            return "", None
        data = text.encode()
        current = self._current(conn, sid, at)
        if current is None:
            current = self._add(conn, sid, data[:DICTIONARY_MAX], at)
            return pack(text, current.data), current.id
        blob = pack(text, current.data)
        if (
            len(blob) > POOR * len(data)
            and len(current.data) + len(data) <= DICTIONARY_MAX
            and self._counts.get(sid, 0) < DICTIONARIES_MAX
        ):
            current = self._add(conn, sid, current.data + data, at)
            blob = pack(text, current.data)
        return blob, current.id
