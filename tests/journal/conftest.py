"""Fixtures of the journal's tests: a clock the test moves, jobs, and journals in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobtui.core.models import Job, JobState
from jobtui.journal import Journal, JournalSettings, Reader, ServiceRef

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BSUB = ServiceRef("bsub.io", "http://127.0.0.1:1")


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.time = start

    def __call__(self) -> datetime:
        return self.time

    def advance(self, **delta: float) -> datetime:
        self.time += timedelta(**delta)
        return self.time


def job(
    job_id: str,
    state: JobState,
    *,
    service: str = "bsub.io",
    type: str = "pdf-ocr",
    raw_state: str | None = None,
    created: datetime | None = None,
    started: datetime | None = None,
    finished: datetime | None = None,
    progress: float | None = None,
    message: str = "",
    raw: dict[str, Any] | None = None,
) -> Job:
    return Job(
        service,
        job_id,
        state,
        raw_state if raw_state is not None else state.value,
        type=type,
        created=created,
        started=started,
        finished=finished,
        progress=progress,
        message=message,
        raw=raw if raw is not None else {"id": job_id},
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "jobtui" / "journal.sqlite3"


OpenJournal = Callable[..., Journal]


@pytest.fixture
def open_journal(path: Path, clock: Clock) -> Iterator[OpenJournal]:
    """Start journals on `path` with the test's clock; each is closed when the test ends."""
    started: list[Journal] = []

    def start(**settings: Any) -> Journal:
        origin = settings.pop("origin", "dashboard")
        on_connect = settings.pop("on_connect", None)
        journal = Journal(
            JournalSettings(settings.pop("path", path), **settings),
            origin=origin,
            now=clock,
            on_connect=on_connect,
        ).start()
        assert journal.ready.wait(30)
        started.append(journal)
        return journal

    yield start
    for journal in started:
        journal.close()


def reader(path: Path, clock: Clock) -> Reader:
    opened = Reader.open(path, clock())
    assert opened is not None
    return opened
