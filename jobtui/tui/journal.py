"""The dashboard's side of the job journal: the writer it records to, and a reader it asks.

`JournalLink` holds the process's `Journal` (whose thread writes) and one `Reader` (opened once
the journal is). Recording only enqueues; every query runs in a worker thread (`query`), one at a
time, so that the event loop never waits on the disk. When the journal is off (disabled, or it
could not be opened or written) recording does nothing and queries answer None; `off` holds the
one line the status line shows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, TypeVar

from textual._context import NoActiveAppError
from textual.dom import DOMNode

from jobtui.core.models import Action
from jobtui.core.polling import Clock, utc_now
from jobtui.journal import Journal, JournalOff, ServiceRef
from jobtui.journal.writer import journal_action

if TYPE_CHECKING:
    from jobtui.journal import Reader

log = logging.getLogger("jobtui.journal")

T = TypeVar("T")


class JournalLink:
    """The journal of one dashboard: record to it from the event loop, ask it from threads."""

    def __init__(
        self, journal: Journal, refs: dict[str, ServiceRef], *, clock: Clock = utc_now
    ) -> None:
        self.journal = journal
        self.refs = refs
        """Service name -> its name and URL as the journal knows it."""
        self.clock = clock
        self.reader: Reader | None = None
        self._lock = threading.Lock()
        self._started = False

    @property
    def off(self) -> str:
        """Why nothing is recorded (one line), or ""."""
        return self.journal.off

    def ref(self, service: str) -> ServiceRef:
        return self.refs.get(service) or ServiceRef(service, "")

    async def open(self) -> str:
        """Start the writer thread and wait (in a thread) until the journal is open; then open
        the reader. Returns the line to show: why the journal is off, the damaged file moved
        aside, or ""."""
        if not self._started:
            self._started = True
            self.journal.start()
        await asyncio.to_thread(self.journal.ready.wait)
        if self.journal.off:
            return self.journal.off
        from jobtui.journal import Reader  # the queries: not needed before the journal is open

        try:
            self.reader = await asyncio.to_thread(Reader.open, self.journal.path, self.clock())
        except JournalOff as error:
            return error.line
        return self.journal.warning

    async def query(self, ask: Callable[[Reader], T]) -> T | None:
        """`ask(reader)` in a worker thread (one query at a time); None while there is no reader
        or when the journal cannot be read (said in the log)."""
        reader = self.reader
        if reader is None:
            return None

        def run() -> T | None:
            with self._lock:
                try:
                    return ask(reader)
                except Exception as error:  # a damaged or vanished file must not end the app
                    log.warning("journal query failed: %s", error)
                    return None

        return await asyncio.to_thread(run)

    def record_action(
        self, service: str, action: Action, label: str, jobs: Collection[str], outcome: str
    ) -> None:
        """Record an action sent from the dashboard (only enqueues)."""
        name = journal_action(action, label)
        if name is not None:
            self.journal.record_action(
                self.ref(service), name, list(jobs), origin="dashboard", outcome=outcome
            )

    def close(self) -> None:
        """Write what is queued and end the session (the writer thread stops)."""
        self.journal.close()
        reader, self.reader = self.reader, None
        if reader is not None:
            with self._lock:
                reader.close()


def journal_of(node: DOMNode) -> JournalLink | None:
    """The app's journal link, if it has one that records (None in an app without a journal)."""
    try:
        link = getattr(node.app, "journal", None)
    except NoActiveAppError:
        return None
    return link if isinstance(link, JournalLink) and not link.off else None


def journal_off(node: DOMNode) -> str:
    """Why the app's journal stopped recording (one line for the status line), or "" while it
    records, when the config turned it off, or when the app keeps none."""
    try:
        link = getattr(node.app, "journal", None)
    except NoActiveAppError:
        return ""
    if isinstance(link, JournalLink) and link.journal.settings.enabled:
        return link.off
    return ""


def record_action(
    node: DOMNode,
    service: str,
    action: Action,
    label: str,
    jobs: Collection[str],
    outcome: str = "ok",
) -> None:
    """Record an action sent from the dashboard in the app's journal, if it keeps one."""
    link = journal_of(node)
    if link is not None:
        link.record_action(service, action, label, jobs, outcome)
