"""The job journal: what happened while you were away, how long jobs take, which ones are stuck.

An embedded SQLite database (the standard library's `sqlite3`, WAL mode) records, per service
(its config name and URL) and job, when jobtui first saw it, each state change it saw, the last
known record, and when it left the server's list; and every action jobtui sent. `Journal` writes
from a thread of its own (the caller only enqueues); `Reader` answers the queries. No Textual here.
"""

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
