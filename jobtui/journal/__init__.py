"""The job journal: what happened while you were away, how long jobs take, which ones are stuck.

An embedded SQLite database (the standard library's `sqlite3`, WAL mode) records, per service
(its config name and URL) and job, when jobtui first saw it, each state change it saw, the last
known record, and when it left the server's list; and every action jobtui sent. `Journal` writes
from a thread of its own (the caller only enqueues); `Reader` answers the queries. No Textual here.

Each name is imported from its module when first asked for: a command that only records (`jobtui
ls`, the dashboard's start) does not load the queries, and one that only reads not the writer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobtui.journal.queries import (
        Event,
        JobRecord,
        Overdue,
        Reader,
        Step,
        Summary,
        Timeline,
        TypeStats,
    )
    from jobtui.journal.settings import JournalSettings, default_journal_path, journal_settings
    from jobtui.journal.store import JournalOff
    from jobtui.journal.writer import Journal, ServiceRef, clear, prune

_HOMES: dict[str, str] = {
    **dict.fromkeys(
        ("Event", "JobRecord", "Overdue", "Reader", "Step", "Summary", "Timeline", "TypeStats"),
        "queries",
    ),
    **dict.fromkeys(("JournalSettings", "default_journal_path", "journal_settings"), "settings"),
    "JournalOff": "store",
    **dict.fromkeys(("Journal", "ServiceRef", "clear", "prune"), "writer"),
}
"""Each public name and the module (of this package) it lives in."""

__all__ = [
    "Event",
    "JobRecord",
    "Journal",
    "JournalOff",
    "JournalSettings",
    "Overdue",
    "Reader",
    "ServiceRef",
    "Step",
    "Summary",
    "Timeline",
    "TypeStats",
    "clear",
    "default_journal_path",
    "journal_settings",
    "prune",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
