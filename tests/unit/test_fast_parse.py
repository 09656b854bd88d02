"""bsub.io job lists: the fast decoder gives what the tolerant models give, or steps aside."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from benchmarks.bench_parse import list_body
from jobtui.services.bsub import _LIST_ANSWER, BsubJob, FastBsubJob, parse_job_list

FIELDS = (
    "id",
    "status",
    "type",
    "user_id",
    "data_size",
    "claimed_by",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
    "claimed_at",
    "finished_at",
)


def body_of(jobs: list[dict[str, Any]]) -> bytes:
    return json.dumps({"success": True, "data": {"jobs": jobs, "total": len(jobs)}}).encode()


def test_a_published_list_decodes_fast_into_the_same_records() -> None:
    body = list_body(300)  # the emulator's own answer, with every state and an upload token
    fast = parse_job_list("bsub.io", body)
    tolerant = _LIST_ANSWER.validate_json(body).data
    assert all(isinstance(job, FastBsubJob) for job in fast.jobs)
    assert fast.total == tolerant.total == 300
    assert len(fast.jobs) == len(tolerant.jobs) == 300
    for mine, theirs in zip(fast.jobs, tolerant.jobs, strict=True):
        assert mine.wire() == theirs.wire()
        for name in FIELDS:
            assert getattr(mine, name) == getattr(theirs, name), name
        assert (mine.status_text, mine.cancelled, mine.started, mine.terminal) == (
            theirs.status_text,
            theirs.cancelled,
            theirs.started,
            theirs.terminal,
        )
    assert any(job.status == "created" for job in fast.jobs)


def test_the_upload_token_stays_masked() -> None:
    body = list_body(300)
    created = [job for job in parse_job_list("bsub.io", body).jobs if job.status == "created"]
    assert created
    token = created[0].upload_token
    assert isinstance(token, SecretStr) and token.get_secret_value().startswith("upl_")
    assert token.get_secret_value() not in repr(created[0])
    assert token.get_secret_value() not in str(created[0].wire())


def test_anything_else_goes_through_the_tolerant_models() -> None:
    base = json.loads(list_body(3))["data"]["jobs"]
    odd = [
        {**base[0], "priority": 5},  # an unknown field is kept
        {**base[1], "data_size": "1234"},  # a number sent as text
        {**base[2], "created_at": "2026-11-02T08:59:31"},  # a time without its zone
    ]
    listing = parse_job_list("bsub.io", body_of(odd))
    assert all(isinstance(job, BsubJob) for job in listing.jobs)
    first, second, third = listing.jobs
    assert first.wire()["priority"] == 5
    assert second.data_size == 1234
    assert third.created_at is not None and third.created_at.tzinfo is not None
