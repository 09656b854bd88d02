"""Memory per job, counted by tracemalloc (exact allocations, not timings): the wire records of a
list share pydantic's set of their sent fields, and `to_job` shares what is the same for many jobs
(action sets, extra names, small counts) instead of making it again for each one. The figures for
100,000 jobs on the dashboard are in the benchmarks."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from jobtui.core.models import Action, Job
from jobtui.services._wire import LazyRecord, SameBody
from jobtui.services.leia.service import LeiaService
from jobtui.services.leia.wire import parse_jobs

JOBS = 2000


def leia_page() -> bytes:
    """Records shaped as the Leia emulator sends them (declared and undeclared fields)."""
    return json.dumps(
        [
            {
                "id": f"job-{i:06d}",
                "application_id": "app",
                "status": "PROCESSED" if i % 3 else "PROCESSING",
                "job_type": "predict",
                "model_id": "m1",
                "document_ids": [f"d{i}"],
                "creation_time": "2026-11-02T08:00:00Z",
                "starting_time": "2026-11-02T08:01:00Z",
                "finished_time": "2026-11-02T08:02:00Z" if i % 3 else None,
                "submitter_id": "s1",
                "http_code": 200,
            }
            for i in range(JOBS)
        ]
    ).encode()


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Bytes allocated (and still held) since the block began."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]

    def held() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base

    try:
        yield held
    finally:
        if started:
            tracemalloc.stop()


def test_leia_records_and_jobs_stay_small() -> None:
    body = leia_page()
    parse_jobs("leia", body[:0] or b"[]")  # build the validator before counting
    service = LeiaService("leia", "http://127.0.0.1:9", "key")
    with traced() as held:
        records = parse_jobs("leia", body)
        per_record = held() / JOBS
        jobs: list[Job] = [service.to_job(record) for record in records]
        per_job = held() / JOBS - per_record
    # About 1,300 bytes per record (2,050 when each kept a set of its 11 sent fields) and 440
    # per job (920 with a set of actions, a dict of extra values and a dump closure each).
    assert per_record < 1600, per_record
    assert per_job < 600, per_job
    # What is the same is shared, and nothing of the record is lost.
    assert len({id(record.model_fields_set) for record in records}) <= 2
    assert len({id(job.actions) for job in jobs}) == 2
    assert jobs[0].actions == {Action.CONDITIONAL, Action.CANCEL}
    assert jobs[1].extra == {"job_type": "predict", "model": "m1", "documents": "1"}
    assert isinstance(jobs[1].raw, LazyRecord)
    assert jobs[1].raw["submitter_id"] == "s1" and jobs[1].raw["http_code"] == 200
    assert jobs[1].raw["document_ids"] == ["d1"]
    assert "result" not in jobs[1].raw  # only what was sent


def test_the_parses_of_answers_that_never_come_again_are_not_kept() -> None:
    # A service whose jobs move answers differently at every poll: bounded by the bodies' bytes
    # alone, the cache kept the parse of every answer of the last 8 MiB (some 230 bsub.io lists
    # and their records, for each service): the dashboard's memory grew for minutes.
    same: SameBody[list[int]] = SameBody()
    parses: list[bytes] = []

    def parse(body: bytes) -> list[int]:
        parses.append(body)
        return json.loads(body)  # type: ignore[no-any-return]

    for poll in range(100):
        same.parse(json.dumps([poll]).encode(), parse)  # the list: new at every poll
        same.parse(b"[1, 2, 3]", parse)  # an answer that stays the same
    assert len(same._parsed) <= 16
    assert parses.count(b"[1, 2, 3]") == 1, "an unchanged answer was parsed again"
    first = same.parse(b"[99]", parse)
    assert same.parse(b"[99]", parse) is first and parses.count(b"[99]") == 1
