"""bsub.io job lists and processing types: one pydantic model per record, which reads a published
answer field for field and tolerates anything else."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from benchmarks.bench_parse import list_body
from jobtui.core.secret import Secret
from jobtui.emulators.bsub.state import CATALOGUE
from jobtui.services.bsub.wire import BsubJob, ProcessingType, parse_job_list, parse_types

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


def test_a_published_list_reads_every_field_as_sent() -> None:
    body = list_body(300)  # the emulator's own answer, with every state and an upload token
    sent = json.loads(body)["data"]
    listing = parse_job_list("bsub.io", body)
    assert all(isinstance(job, BsubJob) for job in listing.jobs)
    assert listing.total == sent["total"] == 300
    assert len(listing.jobs) == len(sent["jobs"]) == 300
    for mine, theirs in zip(listing.jobs, sent["jobs"], strict=True):
        wire = mine.wire()
        if "upload_token" in theirs:
            assert wire.pop("upload_token") == "**********"
            theirs = {k: v for k, v in theirs.items() if k != "upload_token"}
        assert wire.keys() == theirs.keys() == set(FIELDS)
        for name, value in theirs.items():
            if name.endswith("_at") and value is not None:
                moment = datetime.fromisoformat(value)
                assert getattr(mine, name) == moment == datetime.fromisoformat(wire[name]), name
            else:
                assert getattr(mine, name) == value == wire[name], name
        assert mine.status_text == theirs["status"]
        assert mine.terminal == (theirs["status"] in ("finished", "failed"))
    assert any(job.status == "created" for job in listing.jobs)


def test_the_upload_token_stays_masked() -> None:
    body = list_body(300)
    created = [job for job in parse_job_list("bsub.io", body).jobs if job.status == "created"]
    assert created
    token = created[0].upload_token
    assert isinstance(token, Secret) and token.get_secret_value().startswith("upl_")
    assert token.get_secret_value() not in repr(created[0])
    assert token.get_secret_value() not in str(created[0].wire())


def test_anything_else_is_read_leniently() -> None:
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


def test_the_published_types_read_every_value() -> None:
    body = types_body([kind.wire() for kind in CATALOGUE])
    sent = json.loads(body)["types"]
    kinds = parse_types("bsub.io", body)
    assert all(isinstance(kind, ProcessingType) for kind in kinds)
    assert len(kinds) == len(sent) == len(CATALOGUE)
    for mine, theirs in zip(kinds, sent, strict=True):
        assert mine.model_dump(mode="json", exclude_unset=True) == theirs
        assert (mine.type, mine.name, mine.description) == (
            theirs["type"],
            theirs.get("name"),
            theirs.get("description"),
        )
        assert mine.input is not None and mine.input.mime_in == theirs["input"]["mime_in"]
        assert mine.output is not None and mine.output.ext == theirs["output"]["ext"]
    assert kinds[0].extension == CATALOGUE[0].ext.lstrip(".")


def test_odd_types_are_read_leniently() -> None:
    odd = {"type": 7, "name": "seven", "input": {"mime_in": "text/plain"}, "output": {"ext": ".md"}}
    [kind] = parse_types("bsub.io", types_body([odd]))
    assert isinstance(kind, ProcessingType)
    assert (kind.type, kind.extension) == ("7", "md")
    assert kind.input is not None and kind.input.mime_in == ["text/plain"]
