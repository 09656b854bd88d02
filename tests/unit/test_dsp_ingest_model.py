"""dsp-ingest without a server: name rules, parsing, error mapping, state mapping, plans, reports."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobtui.core.errors import AuthError, BadPayloadError, NotFoundError, RefusedError, ServerError
from jobtui.core.models import Action, JobState
from jobtui.core.secret import Secret
from jobtui.services.dsp_ingest.client import (
    DspIngestClient,
    IngestNotFoundError,
    IngestRequestError,
    ingest_error,
)
from jobtui.services.dsp_ingest.ingest import (
    FileFailure,
    ProjectTrack,
    UploadProgress,
    UploadReport,
    plan_upload,
)
from jobtui.services.dsp_ingest.mapping import parse_mapping
from jobtui.services.dsp_ingest.names import RejectedFile, check_names, name_problem
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.services.dsp_ingest.token import token_info
from jobtui.services.paging import parse_content_range


@pytest.mark.parametrize(
    ("rel", "problem"),
    [
        ("a.jpg", None),
        ("A.JPG", None),
        ("deep/er/x y.tiff", None),
        ("dir#with$odd%chars/ok.pdf", None),  # folder names are not checked
        ("e\u0301.png", None),  # NFD é is a letter once composed
        ("x.svg", None),
        ("../a.jpg", "cannot traverse out of the upload directory (the path starts with ..)"),
        ("..a.jpg", "cannot traverse out of the upload directory (the path starts with ..)"),
        ("a/./../b.jpg", None),
        ("", "the path is empty"),
        ("a/..", "the path is empty"),
        ("README", "the file name has no extension (the service needs one to know the file type)"),
        (
            "trailing.",
            "the file name has no extension (the service needs one to know the file type)",
        ),
        ("film.mkv", "'.mkv' is not a file type the service ingests"),
        ("a#b.jpg", "the file name contains characters the service refuses: '#'"),
        ("a?b&c.jpg", "the file name contains characters the service refuses: '&' '?'"),
        ("tab\t.jpg", "the file name contains characters the service refuses: U+0009"),
        (
            "smile \U0001f600.jpg",
            "the file name contains characters the service refuses: '\U0001f600'",
        ),
    ],
)
def test_name_problem(rel: str, problem: str | None) -> None:
    assert name_problem(rel) == problem


def test_check_names_keeps_order_and_rejects_hidden_files_by_default() -> None:
    rels = ["ok.jpg", ".DS_Store", "x/.hidden.jpg", "bad#.jpg", "fine.txt"]
    assert check_names(rels) == [
        RejectedFile(".DS_Store", "'.DS_Store' is not a file type the service ingests"),
        RejectedFile("x/.hidden.jpg", "hidden file: the ingest skips it"),
        RejectedFile("bad#.jpg", "the file name contains characters the service refuses: '#'"),
    ]
    assert [r.rel for r in check_names(rels, skip_hidden=False)] == [".DS_Store", "bad#.jpg"]


@pytest.mark.parametrize(
    ("value", "total"),
    [
        ("items 0-3/3", 3),
        ("Content-Range: items 0-12/12", 12),
        ("items 0 - 5 / 5", 5),
        ("0-0/0", 0),
        ("items */7", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_content_range(value: str | None, total: int | None) -> None:
    assert parse_content_range(value) == total


def test_parse_mapping() -> None:
    text = 'original,derivative\na.jpg,X.jpx\n"b, c.pdf",Y.pdf\r\n"q ""x""/d.txt",Z.txt'
    assert parse_mapping("s", text) == [
        ("a.jpg", "X.jpx"),
        ("b, c.pdf", "Y.pdf"),
        ('q "x"/d.txt', "Z.txt"),
    ]
    assert parse_mapping("s", "\ufefforiginal,derivative") == []
    with pytest.raises(BadPayloadError) as header:
        parse_mapping("s", "{}")
    assert header.value.line == "s: mapping.csv does not start with original,derivative"
    with pytest.raises(BadPayloadError) as width:
        parse_mapping("s", "original,derivative\na,b,c")
    assert width.value.message == "mapping.csv line 2: 3 values instead of 2"


def _jwt(claims: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.sig"


def test_token_info_reads_scopes_and_expiry_without_the_secret() -> None:
    info = token_info(
        _jwt(
            {"scope": "write:project:0a01 read:project:0002 write:project:zz", "exp": 0, "sub": "u"}
        )
    )
    assert (info.admin, info.write, info.subject, info.readable) == (False, ("0A01",), "u", True)
    assert info.describe().startswith("token: write 0A01, expired 1970-01-01")
    assert token_info(_jwt({"scope": "admin"})).describe() == "token: admin"
    assert token_info(_jwt({})).describe() == "token: no scope"
    assert token_info("opaque").describe() == "token: not a readable JWT"
    assert not token_info("a.!!!.c").readable


def _response(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": content_type})


def test_ingest_error_shapes_without_a_server() -> None:
    bad = ingest_error(
        "s",
        _response(
            400, b'{"errors":[{"argument":"Body","reason":"empty"},{"argument":"x","reason":""}]}'
        ),
    )
    assert isinstance(bad, IngestRequestError)
    assert bad.errors == (("Body", "empty"), ("x", ""))
    assert bad.line == "s: empty; x (HTTP 400)"
    plain = ingest_error(
        "s",
        _response(
            400, b"Invalid value for: path parameter shortcode (expected 4 hex)\nmore", "text/plain"
        ),
    )
    assert type(plain) is RefusedError
    assert (
        plain.message == "Invalid value for: path parameter shortcode (expected 4 hex) (HTTP 400)"
    )
    html = ingest_error("s", _response(502, b"<html><body>Bad Gateway</body></html>", "text/html"))
    assert isinstance(html, ServerError) and html.message == "Bad Gateway (HTTP 502)"
    empty = ingest_error("s", _response(401, b""))
    assert isinstance(empty, AuthError) and empty.message == "authorization required (HTTP 401)"
    missing = ingest_error("s", _response(404, b'{"id":"0001","type":"Import folder not found."}'))
    assert (
        isinstance(missing, IngestNotFoundError)
        and missing.message == "Import folder not found: 0001 (HTTP 404)"
    )
    asset = ingest_error("s", _response(404, b'{"id":"0001/abc","type":"AssetRef"}'))
    assert (
        isinstance(asset, NotFoundError)
        and asset.message == "AssetRef 0001/abc not found (HTTP 404)"
    )
    secret = "eyJ.secret-token-value.sig"
    leaky = ingest_error(
        "s", _response(401, f'{{"reason":"bad token {secret}"}}'.encode()), secrets=[secret]
    )
    assert secret not in leaky.line and "***" in leaky.line


def test_client_repr_and_errors_keep_the_token_out() -> None:
    token = _jwt({"scope": "admin", "sub": "someone"})
    client = DspIngestClient("http://127.0.0.1:9", Secret(token))
    assert token not in repr(client)
    error = client.error(_response(401, f'{{"reason":"{token} is invalid"}}'.encode()))
    assert token not in error.line


# -- state mapping --------------------------------------------------------------------------------


@pytest.fixture
async def service() -> AsyncIterator[DspIngestService]:
    service = DspIngestService(
        "ingest", "http://127.0.0.1:9", _jwt({"scope": "admin"}), projects=["0001"]
    )
    yield service
    await service.aclose()


def _progress(done: int, total: int) -> UploadProgress:
    return UploadProgress("0001", "a.jpg", done + 1, 10, 100, done, total, done * 100, total * 100)


STATES: list[tuple[dict[str, Any], JobState, str, frozenset[Action]]] = [
    ({}, JobState.UNKNOWN, "unchecked", frozenset({Action.UPLOAD, Action.INGEST, Action.FINALIZE})),
    (
        {"error": "ingest: boom"},
        JobState.UNKNOWN,
        "error",
        frozenset({Action.UPLOAD, Action.INGEST, Action.FINALIZE}),
    ),
    ({"upload": _progress(3, 10)}, JobState.RUNNING, "uploading", frozenset()),
    ({"status": 409}, JobState.RUNNING, "locked", frozenset()),
    ({"status": 409, "ingesting": True}, JobState.RUNNING, "ingesting", frozenset()),
    ({"status": 409, "finalizing": True}, JobState.RUNNING, "finalizing", frozenset()),
    (
        {"status": 404},
        JobState.UNKNOWN,
        "no mapping",
        frozenset({Action.UPLOAD, Action.INGEST, Action.FINALIZE}),
    ),
    (
        {"status": 404, "pending": ["a.jpg"]},
        JobState.QUEUED,
        "uploaded",
        frozenset({Action.UPLOAD, Action.INGEST, Action.FINALIZE}),
    ),
    (
        {"status": 404, "finalized": True},
        JobState.SUCCEEDED,
        "finalized",
        frozenset({Action.UPLOAD}),
    ),
    (
        {"status": 200, "mapped": 1},
        JobState.SUCCEEDED,
        "done",
        frozenset({Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE}),
    ),
    (
        {"status": 200, "mapped": 0, "pending": ["x.jpg"]},
        JobState.QUEUED,
        "uploaded",
        frozenset({Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE}),
    ),
    (
        {"status": 200, "mapped": 0, "batch": ["x.jpg"], "unmapped": ["x.jpg"]},
        JobState.FAILED,
        "done, files unmapped",
        frozenset({Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE}),
    ),
    (
        {"status": 200, "mapped": 0, "partial": ["x.jpg"]},
        JobState.SUCCEEDED,
        "done",
        frozenset({Action.UPLOAD, Action.MAPPING, Action.FINALIZE}),
    ),
]


@pytest.mark.parametrize(("fields", "state", "raw_state", "actions"), STATES)
async def test_state_mapping(
    service: DspIngestService,
    fields: dict[str, Any],
    state: JobState,
    raw_state: str,
    actions: frozenset[Action],
) -> None:
    track = ProjectTrack("0001", **fields)
    job = service.to_job(track)
    assert (job.state, job.raw_state, job.actions) == (state, raw_state, actions)
    assert job.id == "0001" and job.type == "bulk ingest" and job.message
    for action in service.actions:
        reason = service.disabled_reason(action, job)
        assert (reason is None) == (action in actions), (action, reason)


async def test_jobs_change_only_when_their_view_changes(service: DspIngestService) -> None:
    track = ProjectTrack("0001", status=200, mapped=1)
    first = service.to_job(track)
    assert service.to_job(track) == first
    track.mapped = 2
    second = service.to_job(track)
    assert second != first and second.extra["mapped"] == "2"


# -- plans and reports ----------------------------------------------------------------------------


def test_plan_upload_sorts_sizes_and_explains_what_it_leaves_out(tmp_path: Path) -> None:
    root = tmp_path / "folder"
    for rel, data in {
        "b/2.jpg": b"22",
        "a/1.tif": b"1",
        "a/empty.png": b"",
        "notes.md": b"#",
        ".git/config": b"x",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "link-to-b").symlink_to(root / "b")
    (root / "dangling.jpg").symlink_to(root / "missing.jpg")
    plan = plan_upload(root)
    assert [(f.rel, f.size) for f in plan.files] == [
        ("a/1.tif", 1),
        ("a/empty.png", 0),
        ("b/2.jpg", 2),
    ]
    assert {r.rel: r.reason for r in plan.rejected} == {
        ".git/config": "the file name has no extension (the service needs one to know the file type)",
        "dangling.jpg": "cannot read it: No such file or directory",
        "link-to-b/": "a link to a folder: not followed",
        "notes.md": "'.md' is not a file type the service ingests",
    }
    assert plan.total_bytes == 3 and plan.empty_images == ("a/empty.png",)
    assert plan.summary() == "3 files (3 B) to upload, 4 left out"


def test_report_and_progress_lines() -> None:
    report = UploadReport(
        "0001",
        uploaded=("a.jpg",),
        failed=(FileFailure("b.jpg", "nope"),),
        not_uploaded=("c.jpg", "d.jpg"),
        interrupted="c.jpg",
        cancelled=True,
        bytes_uploaded=2048,
    )
    assert not report.complete
    assert report.summary() == (
        "0001: uploaded 1 of 4 files (2.0 KiB), 1 failed, cancelled (2 not uploaded); "
        "c.jpg was cut off (the server may keep a partial copy)"
    )
    stopped = UploadReport("0001", (), (), ("a",), stopped="No project access. (HTTP 401)")
    assert stopped.summary().endswith("stopped: No project access. (HTTP 401)")
    progress = UploadProgress("0001", "a.jpg", 2, 512, 1024, 1, 4, 3 * 1024 * 1024, 8 * 1024 * 1024)
    assert progress.fraction == 0.375
    assert progress.line() == "uploading 2 of 4 (3.0 MiB of 8.0 MiB)"
    waiting = UploadProgress(
        "0001", "a.jpg", 2, 0, 1, 1, 4, 0, 0, retry_in=2.0, note="the project is locked"
    )
    assert waiting.line().endswith("retrying in 2 s: the project is locked")
    assert waiting.fraction == 0.25
