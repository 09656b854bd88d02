"""dsp-ingest with many projects: the first look at them comes in parts, a poll with nothing new
hands out the very same list, and what changes on the server is still seen within a bounded
number of polls (against the emulator over loopback HTTP)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import pytest

from jobtui.core.models import Job, JobState
from jobtui.core.polling import ServiceMonitor
from jobtui.core.service import PollResult
from jobtui.services.dsp_ingest.service import DspIngestService
from tests.conftest import EmulatorFactory
from tests.services.dsp_ingest_support import Closer, Recorder, client_for, service_for, start


@pytest.fixture
async def closing() -> AsyncIterator[Closer]:
    items: Closer = []
    yield items
    for item in items:
        await item.aclose()


class Clock:
    """A hand-moved monotonic clock for the service's backoff."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def mapping_gets(recorder: Recorder, code: str) -> int:
    path = f"/projects/{code}/bulk-ingest/mapping.csv"
    return sum(1 for r in recorder.requests if r.url.path == path)


def by_id(result: PollResult) -> dict[str, Job]:
    return {job.id: job for job in result.jobs}


async def poll_until(
    service: DspIngestService, clock: Clock, done: Callable[[dict[str, Job]], bool], polls: int
) -> tuple[int, PollResult]:
    """Poll (the clock moving 2 s a poll) until `done(jobs)` holds; (polls made, last result).
    Fails after `polls` polls."""
    for made in range(1, polls + 1):
        clock.now += 2
        result = await service.poll()
        if done(by_id(result)):
            return made, result
    raise AssertionError(f"not seen within {polls} polls")


async def test_many_projects_show_a_first_part_at_once_then_the_rest(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, projects=30)
    service, recorder = service_for(running, closing, projects=state.seeded, max_checks=5)
    shown: list[int] = []
    while True:
        result = await service.poll()
        shown.append(len(result.jobs))
        # only projects looked at are shown, each with what the server said of it
        assert all(job.raw_state != "unchecked" for job in result.jobs)
        if not result.partial:
            break
        assert result.total == 30
    # the first poll's part, then everything left (`sweep_checks` a poll)
    assert shown == [5, 30]
    assert result.total is None
    jobs = by_id(result)
    assert sorted(jobs) == sorted(state.seeded)
    assert jobs[state.roles["ingesting"]].raw_state == "locked"
    # every project was asked, at most twice (the first five again in the second poll)
    assert all(1 <= mapping_gets(recorder, code) <= 2 for code in state.seeded)

    # a command that prints the list once gets all of it
    whole, _ = service_for(running, closing, projects=state.seeded, max_checks=5)
    result = await whole.poll_whole()
    assert not result.partial and sorted(by_id(result)) == sorted(state.seeded)


async def test_a_poll_with_nothing_new_hands_out_the_same_list(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    clock = Clock()
    service, recorder = service_for(running, closing, projects=state.seeded, clock=clock)
    monitor = ServiceMonitor(service)
    first = await monitor.poll_once()
    assert len(first.delta.added) == len(state.seeded)
    before = len(recorder.requests)
    clock.now += 2
    again = await monitor.poll_once()
    # the server was asked again and answered the same: the service hands out the same list,
    # so the monitor has nothing to compare and keeps its snapshot
    assert len(recorder.requests) > before
    assert not again.delta
    assert again.snapshot is first.snapshot


async def test_changes_on_the_server_are_seen_within_a_bounded_number_of_polls(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, projects=12, files_per_second=2.0)
    clock = Clock()
    service, _ = service_for(
        running,
        closing,
        projects=state.seeded,
        clock=clock,
        max_checks=3,
        busy_backoff=4,
        busy_backoff_max=8,
    )
    result = await service.poll_whole()
    assert not result.partial and len(result.jobs) == 12
    code = state.roles["empty"]
    assert by_id(result)[code].raw_state == "no mapping"

    # another client uploads to a project that was settled and starts its ingest: the project
    # is locked within one turn of the projects, three a poll
    other, _ = client_for(running, closing)
    await other.upload_stream(code, "scan.tif", b"image")
    await other.start_ingest(code)
    turn = math.ceil(12 / 3) + 1
    await poll_until(service, clock, lambda jobs: jobs[code].raw_state == "locked", turn)

    # its ingest finishes: seen once the backoff of a locked project is over
    state.clock.advance(60)
    _, result = await poll_until(
        service, clock, lambda jobs: jobs[code].raw_state == "done", turn + 8 // 2
    )
    job = by_id(result)[code]
    assert (job.state, job.extra["mapped"]) == (JobState.SUCCEEDED, "1")


async def test_a_new_project_on_the_server_is_listed_within_list_every_polls(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, files_per_second=2.0)
    clock = Clock()
    admin, _ = service_for(running, closing, clock=clock, list_every=3)
    known = by_id(await admin.poll_whole())
    code = "0ABC"
    assert code not in known
    other, _ = client_for(running, closing)
    await other.upload_stream(code, "scan.tif", b"image")
    await other.start_ingest(code)
    state.clock.advance(60)  # its ingest is over: the project has assets, so it is listed
    _, result = await poll_until(
        admin, clock, lambda jobs: code in jobs and jobs[code].raw_state == "done", 3
    )
    assert by_id(result)[code].extra["mapped"] == "1"
