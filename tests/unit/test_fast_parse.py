"""bsub.io job lists and processing types: the fast decoder gives what the tolerant models give,
or steps aside."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.bench_parse import list_body
from jobtui.core.secret import Secret
from jobtui.emulators.bsub.state import CATALOGUE
from jobtui.services._bsub_lenient import LIST_ANSWER, TYPES, BsubJob, ProcessingType
from jobtui.services.bsub import FastBsubJob, FastProcessingType, parse_job_list, parse_types

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
    tolerant = LIST_ANSWER.validate_json(body).data
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
    assert isinstance(token, Secret) and token.get_secret_value().startswith("upl_")
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


def types_body(types: list[dict[str, Any]]) -> bytes:
    return json.dumps({"types": types}).encode()


def test_the_published_types_decode_fast_into_the_same_values() -> None:
    body = types_body([kind.wire() for kind in CATALOGUE])
    fast = parse_types("bsub.io", body)
    tolerant = TYPES.validate_json(body).types or []
    assert all(isinstance(kind, FastProcessingType) for kind in fast)
    assert len(fast) == len(tolerant) == len(CATALOGUE)
    for mine, theirs in zip(fast, tolerant, strict=True):
        assert (mine.type, mine.name, mine.description, mine.extension) == (
            theirs.type,
            theirs.name,
            theirs.description,
            theirs.extension,
        )
        assert mine.input is not None and theirs.input is not None
        assert mine.input.mime_in == theirs.input.mime_in
        assert mine.output is not None and theirs.output is not None
        assert (mine.output.mime_out, mine.output.ext, mine.output.display) == (
            theirs.output.mime_out,
            theirs.output.ext,
            theirs.output.display,
        )
    assert fast[0].extension == CATALOGUE[0].ext.lstrip(".")


def test_odd_types_are_read_leniently() -> None:
    odd = {"type": 7, "name": "seven", "input": {"mime_in": "text/plain"}, "output": {"ext": ".md"}}
    [kind] = parse_types("bsub.io", types_body([odd]))
    assert isinstance(kind, ProcessingType)
    assert (kind.type, kind.extension) == ("7", "md")
    assert kind.input is not None and kind.input.mime_in == ["text/plain"]
