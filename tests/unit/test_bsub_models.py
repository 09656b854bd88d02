"""bsub.io wire models, state mapping, allowed actions, messages and the streamed multipart body,
without a server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from jobtui.core.format import human_size
from jobtui.core.models import Action, JobState
from jobtui.services.bsub.client import BsubClient, _root_url
from jobtui.services.bsub.service import BsubService, actions_of, message_of, state_of
from jobtui.services.bsub.upload import MultipartFile
from jobtui.services.bsub.wire import BsubJob, JobList, ProcessingType

JOB = TypeAdapter(BsubJob)


def job(**fields: Any) -> BsubJob:
    return JOB.validate_json(json.dumps({"id": "6f1c9a8e-2b1d-4f6e-9c3a-0d2e5b7a9f10", **fields}))


def test_a_full_record_parses() -> None:
    record = job(
        status="failed",
        type="pdf-text",
        user_id="usr_1",
        data_size=1234,
        claimed_by="worker-eu1-01",
        error_code="timeout",
        error_message="Processing exceeded the time limit",
        created_at="2026-11-02T08:00:00.000Z",
        updated_at="2026-11-02T08:05:00+01:00",
        claimed_at="2026-11-02T08:01:00",
        finished_at=None,
    )
    assert record.created_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert record.updated_at is not None and record.updated_at.utcoffset() is not None
    assert record.claimed_at == datetime(2026, 11, 2, 8, 1, tzinfo=UTC)  # naive means UTC
    assert record.finished_at is None
    assert record.data_size == 1234
    assert record.terminal and not record.cancelled and record.started


def test_records_are_tolerant() -> None:
    record = job(
        status="archived",
        data_size="2048",
        created_at="yesterday",
        priority=5,
        tags=["a"],
    )
    assert record.status == "archived"  # an unknown state is kept as sent
    assert record.data_size == 2048
    assert record.created_at is None  # an unreadable date is dropped, not an error
    assert record.wire()["priority"] == 5 and record.wire()["tags"] == ["a"]
    assert job(data_size=12.0).data_size == 12
    assert job(data_size="lots").data_size is None
    assert job(status=None).status_text == ""
    with pytest.raises(ValidationError):
        JOB.validate_json(b'{"status": "created"}')  # no id: the client makes it BadPayloadError


def test_upload_token_is_masked_everywhere() -> None:
    record = job(status="created", upload_token="upl_secret_value")
    assert record.upload_token is not None
    assert record.upload_token.get_secret_value() == "upl_secret_value"
    assert "upl_secret_value" not in repr(record)
    assert "upl_secret_value" not in str(record)
    assert record.wire()["upload_token"] == "**********"


def test_list_answer_and_types_are_tolerant() -> None:
    listing = TypeAdapter(JobList).validate_python({"jobs": [{"id": "a"}], "total": "7"})
    assert listing.total == 7 and listing.jobs[0].id == "a"
    kind = TypeAdapter(ProcessingType).validate_python(
        {"type": None, "input": {"mime_in": "text/plain"}, "output": {"ext": ".txt"}, "x": 1}
    )
    assert kind.type == ""
    assert kind.input is not None and kind.input.mime_in == ["text/plain"]
    assert kind.extension == "txt"
    assert TypeAdapter(ProcessingType).validate_python({"type": "a"}).extension is None


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("created", None, JobState.NEEDS_INPUT),
        ("loaded", None, JobState.NEEDS_INPUT),
        ("pending", None, JobState.QUEUED),
        ("claimed", None, JobState.RUNNING),
        ("preparing", None, JobState.RUNNING),
        ("processing", None, JobState.RUNNING),
        ("finished", None, JobState.SUCCEEDED),
        ("failed", "timeout", JobState.FAILED),
        ("failed", None, JobState.FAILED),
        ("failed", "cancelled", JobState.CANCELLED),
        ("archived", None, JobState.UNKNOWN),
        ("", None, JobState.UNKNOWN),
    ],
)
def test_state_mapping(status: str, code: str | None, expected: JobState) -> None:
    assert state_of(status, code) is expected


@pytest.mark.parametrize(
    ("fields", "actions"),
    [
        ({"status": "created"}, {Action.CANCEL}),
        ({"status": "loaded"}, {Action.CANCEL, Action.SUBMIT}),
        ({"status": "pending"}, {Action.CANCEL}),
        ({"status": "claimed"}, {Action.CANCEL, Action.LOGS}),
        ({"status": "processing"}, {Action.CANCEL, Action.LOGS}),
        ({"status": "finished"}, {Action.DELETE, Action.LOGS, Action.DOWNLOAD}),
        (
            {"status": "failed", "claimed_at": "2026-11-02T08:00:00Z"},
            {Action.DELETE, Action.LOGS},
        ),
        ({"status": "failed", "error_code": "cancelled"}, {Action.DELETE}),
        ({"status": "archived"}, {Action.CANCEL}),
        (
            {"status": "archived", "claimed_at": "2026-11-02T08:00:00Z"},
            {Action.CANCEL, Action.LOGS},
        ),
    ],
)
def test_allowed_actions(fields: dict[str, Any], actions: set[Action]) -> None:
    assert actions_of(job(**fields)) == actions


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "created"}, "waiting for its input upload"),
        ({"status": "loaded"}, "input uploaded, not submitted"),
        ({"status": "pending"}, "queued for a worker"),
        ({"status": "claimed", "claimed_by": "w-1"}, "claimed by w-1"),
        ({"status": "preparing", "claimed_by": "w-1"}, "preparing on w-1"),
        ({"status": "processing"}, "processing on a worker"),
        ({"status": "finished"}, "finished"),
        ({"status": "failed", "error_code": "oom", "error_message": "Out"}, "Out (oom)"),
        ({"status": "failed", "error_code": "oom"}, "oom"),
        ({"status": "failed"}, "failed"),
        (
            {"status": "failed", "error_code": "cancelled", "error_message": "By user"},
            "cancelled: By user",
        ),
        ({"status": "archived"}, "state 'archived'"),
        ({}, "no state"),
    ],
)
def test_messages(fields: dict[str, Any], message: str) -> None:
    assert message_of(job(**fields)) == message


def test_to_job_keeps_the_record() -> None:
    service = BsubService("mine", "http://127.0.0.1:9", "bsk_x")
    record = job(
        status="processing",
        type="video-mp4",
        data_size=3 * 1024 * 1024,
        claimed_by="worker-us1-02",
        created_at="2026-11-02T08:00:00Z",
        updated_at="2026-11-02T08:03:00Z",
        claimed_at="2026-11-02T08:01:00Z",
        extra_field="kept",
    )
    converted = service.to_job(record)
    assert converted.service == "mine"
    assert converted.key == ("mine", record.id)
    assert converted.state is JobState.RUNNING and converted.raw_state == "processing"
    assert converted.type == "video-mp4"
    assert converted.extra == {"size": "3.0 MiB", "worker": "worker-us1-02"}
    assert converted.started == datetime(2026, 11, 2, 8, 1, tzinfo=UTC)
    assert converted.raw["extra_field"] == "kept"
    assert converted.revision.startswith("2026-11-02T08:03:00+00:00|processing|")
    assert service.output_name(converted) == f"{record.id}.out"  # types not read yet
    assert "bsk_x" not in repr(service) and "bsk_x" not in repr(service.client)


def test_human_size() -> None:
    assert human_size(None) == ""
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(5 * 1024**3) == "5.0 GiB"


def test_root_url() -> None:
    assert _root_url("https://app.bsub.io") == "https://app.bsub.io"
    assert _root_url("https://app.bsub.io/v1/") == "https://app.bsub.io"
    assert _root_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


def test_reason_reads_the_error_body() -> None:
    def answer(body: bytes) -> httpx.Response:
        return httpx.Response(400, content=body)

    assert (
        BsubClient.reason(answer(b'{"success": false, "error": "Job not found"}'))
        == "Job not found"
    )
    assert BsubClient.reason(answer(b"upstream timed out")) == "upstream timed out"
    assert BsubClient.reason(answer(b'{"detail": "x"}')) == ""
    assert BsubClient.reason(answer(b"<html>bad gateway</html>")) == ""


async def test_multipart_body_is_built_from_disk_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / 'odd "name".pdf'
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    calls: list[tuple[int, int | None]] = []
    body = MultipartFile(path, chunk_size=10_000, progress=lambda d, t: calls.append((d, t)))
    pieces = [piece async for piece in body]
    whole = b"".join(pieces)
    assert len(whole) == body.length
    assert body.headers() == {
        "Content-Type": f"multipart/form-data; boundary={body.boundary}",
        "Content-Length": str(body.length),
    }
    head = (
        f"--{body.boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="odd \\"name\\".pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    assert whole == head + data + f"\r\n--{body.boundary}--\r\n".encode()
    assert max(len(p) for p in pieces[1:-1]) == 10_000
    assert calls[0] == (0, len(data)) and calls[-1] == (len(data), len(data))
    assert len(calls) == 1 + -(-len(data) // 10_000)


def test_the_wire_models_load_without_httpx_or_another_service() -> None:
    script = (
        "import json, sys\n"
        "import jobtui.services.bsub.wire\n"
        # jobtui.services puts None for httpx._main: not a module, a refused import
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "jobtui.services.bsub.wire" in loaded
    assert not {name.partition(".")[0] for name in loaded} & {"httpx", "httpcore", "textual"}
    others = ("ecotaxa", "leia", "dsp_ingest")
    assert not {name for name in loaded if name.split(".")[2:3] in ([o] for o in others)}
