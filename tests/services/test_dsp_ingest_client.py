"""DspIngestClient against the dsp-ingest emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import resource
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
    ServerError,
    ServiceError,
)
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.services.dsp_ingest.client import (
    DspIngestClient,
    IngestNotFoundError,
    IngestRequestError,
    IngestUnhealthyError,
    UploadCancelledError,
    upload_path,
)
from jobtui.services.dsp_ingest.names import name_problem
from jobtui.services.paging import parse_content_range
from tests.conftest import EmulatorFactory
from tests.services.dsp_ingest_support import Closer, Gate, client_for, start, wait_for

MiB = 1024 * 1024


@pytest.fixture
async def closing() -> AsyncIterator[Closer]:
    items: Closer = []
    yield items
    for item in items:
        await item.aclose()


# -- uploads and paths ----------------------------------------------------------------------------

NESTED = {
    "plain.txt": b"plain",
    "a b/c d.png": b"spaces",
    "images/sub/deep/Zürich Hauptbahnhof.jpg": b"umlaut",
    "Łódź 1920/Ærø (kopi), 2.tif": b"letters and punctuation",
    "docs/résumé [v2] {final}.pdf": b"brackets",
    "日本/写真 1.jpg": b"cjk",
    "empty.png": b"",
}


async def test_nested_paths_and_unusual_names_land_at_their_relative_paths(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    code = state.roles["empty"]
    for rel, data in NESTED.items():
        source = tmp_path / "src" / rel
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
        sent = await client.upload_file(code, rel, source)
        assert sent == len(data)

    assert state.uploaded_files(code) == sorted(NESTED)
    folder = state.import_folder(code)
    for rel, data in NESTED.items():
        assert (folder / rel).read_bytes() == data
    # on the wire: each "/" of the relative path is %2F exactly once, nothing double-encoded
    prefix = f"/projects/{code}/bulk-ingest/ingest/".encode()
    for request, rel in zip(recorder.requests, NESTED, strict=True):
        raw = request.url.raw_path
        assert raw == prefix + quote(rel, safe="").encode()
        segment = raw[len(prefix) :]
        assert b"/" not in segment
        assert segment.count(b"%2F") == rel.count("/")
        assert b"%25" not in segment
        assert request.headers["content-type"] == "application/octet-stream"
        assert request.headers["content-length"] == str(len(NESTED[rel]))
        assert "transfer-encoding" not in request.headers


async def test_an_upload_overwrites_and_an_empty_body_is_accepted(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    code = state.roles["empty"]
    await client.upload_stream(code, "x/file.txt", b"first version")
    await client.upload_stream(code, "x/file.txt", b"second")
    await client.upload_stream(code, "x/nothing.txt", b"")
    assert (state.import_folder(code) / "x/file.txt").read_bytes() == b"second"
    assert (state.import_folder(code) / "x/nothing.txt").read_bytes() == b""


def test_upload_path_quotes_once() -> None:
    assert upload_path("0801", "a b/c.jpg") == "/projects/0801/bulk-ingest/ingest/a%20b%2Fc.jpg"
    assert upload_path("0801", "ü/%.jpg").endswith("%C3%BC%2F%25.jpg")


@pytest.mark.parametrize(
    "rel",
    [
        "bad#name.jpg",
        "what?.png",
        "a/b:c.tif",
        "emoji 😀.jpg",
        "no-extension",
        "archive.rar",
        "../outside.jpg",
        "a/../../outside.jpg",
        "..hidden-dir/x.jpg",
        "back\\slash.jpg",
        "percent%.jpg",
    ],
)
async def test_names_the_service_refuses_are_never_sent(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path, rel: str
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    source = tmp_path / "f.bin"
    source.write_bytes(b"data")
    assert name_problem(rel) is not None
    with pytest.raises(InputError) as caught:
        await client.upload_file(state.roles["empty"], rel, source)
    assert caught.value.field == "file" and rel in str(caught.value)
    with pytest.raises(InputError):
        await client.upload_stream(state.roles["empty"], rel, b"data")
    assert recorder.requests == []
    assert state.counts["upload"] == 0


# name rules: the client's local check agrees with the emulator's verdict, name by name
AGREEMENT = [
    "ok.jpg",
    "UPPER.JPG",
    "dir with spaces/and name.Tiff",
    "d/e/f/g.mp4",
    "apostrophe's `tick` + = ! < > | ( ) [ ] { } , - _.pdf",
    "Ωmega 3.txt",
    "x.svg",
    ".hidden.jpg",
    "a/./b/../c.jpg",
    "/leading-slash.jpg",
    "e\u0301tude.jpg",  # decomposed é: valid once NFC-normalized
    "x.",
    "bad#.jpg",
    "semi;colon.jpg",
    "at@sign.png",
    "tilde~.png",
    "dollar$.png",
    "amp&.png",
    "noext",
    "movie.mkv",
    "../up.jpg",
    "a/../../up.jpg",
    "..x/y.jpg",
    "tab\there.jpg",
    "emoji 😀.jpg",
]


async def test_local_name_rules_agree_with_the_server(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    headers = {"Authorization": f"Bearer {state.token}"}
    async with httpx.AsyncClient(base_url=running.url) as raw:
        for rel in AGREEMENT:
            response = await raw.post(
                f"/projects/{code}/bulk-ingest/ingest/{quote(rel, safe='')}",
                content=b"x",
                headers=headers,
            )
            local_ok = name_problem(rel) is None
            assert (response.status_code == 200) == local_ok, (rel, response.text)
            if not local_ok:
                body = response.json()
                assert body["errors"][0]["argument"] == "Path variable: 'filename''"
                assert body["errors"][0]["reason"].startswith(f"'{rel}' is invalid: ")
    assert state.uploaded_files(code) == sorted(
        [
            ".hidden.jpg",
            "Ωmega 3.txt",
            "UPPER.JPG",
            "a/c.jpg",
            "apostrophe's `tick` + = ! < > | ( ) [ ] { } , - _.pdf",
            "d/e/f/g.mp4",
            "dir with spaces/and name.Tiff",
            "e\u0301tude.jpg",
            "leading-slash.jpg",
            "ok.jpg",
            "x.svg",
        ]
    )


# -- the project lock -----------------------------------------------------------------------------


async def test_a_streaming_upload_holds_the_lock_and_a_mapping_read_gets_409(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    other, _ = client_for(running, closing)
    code = state.roles["mapped"]
    gate = Gate()
    upload = asyncio.create_task(client.upload_stream(code, "slow/file.tif", gate.body()))
    try:
        await wait_for(lambda: state.holder(code) == "upload")
        began = time.monotonic()
        with pytest.raises(ConflictError) as caught:
            await other.mapping_csv(code)
        assert time.monotonic() - began >= 0.35  # the server tried the lock for 400 ms
        assert caught.value.status == 409
        assert caught.value.message == (
            f"A bulk ingest is currently in progress for project {code}. (HTTP 409)"
        )
        with pytest.raises(ConflictError):
            await other.upload_stream(code, "another.txt", b"x")
        with pytest.raises(ConflictError):
            await other.start_ingest(code)
        # another project is not affected
        await other.upload_stream(state.roles["empty"], "free.txt", b"x")
    finally:
        gate.open.set()
        await upload
    assert state.holder(code) is None
    assert (state.import_folder(code) / "slow/file.tif").read_bytes() == b"head-tail"
    assert "another.txt" not in state.uploaded_files(code)
    assert len(await other.mapping(code)) == 6


# -- trigger, mapping, finalize -------------------------------------------------------------------


async def test_ingest_lifecycle_with_the_clock(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator, files_per_second=2.0, finalize_seconds=1.0)
    client, _ = client_for(running, closing)
    code = state.roles["uploaded"]
    waiting = state.uploaded_files(code)
    assert len(waiting) == 8  # seven supported files and a .DS_Store

    with pytest.raises(IngestNotFoundError):
        await client.mapping(code)
    assert await client.start_ingest(code.lower()) == code
    with pytest.raises(ConflictError):
        await client.mapping(code)
    assert state.holder(code) == "ingest"

    state.clock.advance(1.0)  # two of seven files
    state.tick()
    assert len(state.mapping_rows(code)) == 2
    assert state.holder(code) == "ingest"
    state.clock.advance(3.0)
    rows = await client.mapping(code)
    originals = {original for original, _ in rows}
    assert originals == {
        "docs/inventar.xlsx",
        "docs/readme.txt",
        "images/Genève.jpg",
        "images/a b/Plan der Stadt.png",
        "images/Łódź 1920.tif",
    }
    derivatives = dict(rows)
    assert derivatives["images/Genève.jpg"].endswith(".jpx")
    assert derivatives["docs/readme.txt"].endswith(".txt")
    # failed (corrupt, empty image) and skipped (hidden) files stay, without a row
    assert state.uploaded_files(code) == [
        ".DS_Store",
        "images/corrupt_scan.tif",
        "images/empty.png",
    ]
    assert any(
        "Ingested 5 assets successfully, failed 2 and skipped 0 files" in line for line in state.log
    )

    text = await client.mapping_csv(code)
    assert text.startswith("original,derivative\n") and not text.endswith("\n")

    # a second ingest appends to the same mapping
    await client.upload_stream(code, "late/extra.pdf", b"%PDF")
    await client.start_ingest(code)
    state.clock.advance(10)
    rows2 = await client.mapping(code)
    assert rows2[: len(rows)] == rows and rows2[-1][0] == "late/extra.pdf"

    assert await client.finalize(code) == code
    with pytest.raises(ConflictError):
        await client.mapping(code)  # deletion runs in the background, holding the lock
    assert state.import_folder(code).is_dir()
    state.clock.advance(1.0)
    with pytest.raises(IngestNotFoundError) as missing:
        await client.mapping(code)
    assert (missing.value.ident, missing.value.what) == (code, "project")
    assert not state.import_folder(code).exists()
    assert not state.mapping_file(code).exists()
    with pytest.raises(IngestNotFoundError) as no_folder:
        await client.start_ingest(code)
    assert no_folder.value.what == "Import folder not found."
    assert no_folder.value.message == f"Import folder not found: {code} (HTTP 404)"
    with pytest.raises(IngestNotFoundError):
        await client.finalize(code)


async def test_mapping_csv_escapes_commas_and_keeps_unicode(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    code = state.roles["mapped"]
    async with httpx.AsyncClient(base_url=running.url) as raw:
        response = await raw.get(
            f"/projects/{code}/bulk-ingest/mapping.csv",
            headers={"Authorization": f"Bearer {state.token}"},
        )
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["content-disposition"] == "attachment; filename=mapping.csv"
    assert '\n"letters/Brief, 1848.pdf",' in response.text
    rows = await client.mapping(code)
    assert ("letters/Brief, 1848.pdf", rows[3][1]) == rows[3]
    assert "photos/Zürich Hauptbahnhof.jpg" in dict(rows)
    assert "photos/corrupt scan.tif" not in dict(rows)
    assert state.uploaded_files(code) == ["photos/corrupt scan.tif"]


async def test_projects_info_and_health(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    ids, total = await client.list_projects()
    assert ids == sorted([state.roles["mapped"], state.roles["ingesting"]])
    assert total == 2
    info = await client.info()
    assert info.name == "dsp-ingest" and info.version and info.gitCommit
    assert (await client.health()).status == "UP"
    state.healthy = False
    with pytest.raises(IngestUnhealthyError) as down:
        await client.health()
    assert down.value.components == {"folders": "DOWN", "db": "UP"}
    assert down.value.message == "service DOWN (folders: DOWN, db: UP) (HTTP 503)"


async def test_legacy_content_range_is_read_leniently(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, legacy_content_range=True)
    async with httpx.AsyncClient(base_url=running.url) as raw:
        response = await raw.get("/projects", headers={"Authorization": f"Bearer {state.token}"})
    assert response.headers["content-range"] == "Content-Range: items 0-2/2"
    assert parse_content_range(response.headers["content-range"]) == 2
    client, _ = client_for(running, closing)
    assert await client.list_projects() == (sorted(state.project_ids()), 2)


# -- error shapes ---------------------------------------------------------------------------------


async def test_every_error_body_becomes_a_typed_one_line_error(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    code = state.roles["uploaded"]
    auth = {"Authorization": f"Bearer {state.token}"}
    async with httpx.AsyncClient(base_url=running.url) as raw:
        # 400 JSON BadRequest (a name sent without the local check)
        response = await raw.post(
            f"/projects/{code}/bulk-ingest/ingest/bad%23name.jpg", content=b"x", headers=auth
        )
        error = client.error(response)
        assert isinstance(error, IngestRequestError)
        assert error.errors == (
            (
                "Path variable: 'filename''",
                "'bad#name.jpg' is invalid: Filename contains invalid characters",
            ),
        )
        assert error.line == (
            "dsp-ingest: 'bad#name.jpg' is invalid: Filename contains invalid characters (HTTP 400)"
        )
        # 400 text/plain: a shortcode that is not 4 hex digits
        response = await raw.post("/projects/08X1/bulk-ingest", headers=auth)
        assert response.headers["content-type"].startswith("text/plain")
        error = client.error(response)
        assert type(error) is RefusedError
        assert error.message == "Invalid value for: path parameter shortcode (HTTP 400)"
        # 401 text/plain with WWW-Authenticate: no Authorization header
        response = await raw.post(f"/projects/{code}/bulk-ingest")
        assert response.headers["www-authenticate"] == "Bearer"
        error = client.error(response)
        assert isinstance(error, AuthError)
        assert error.message == "Invalid value for: header Authorization (missing) (HTTP 401)"
        # 404 text: an unencoded "/" inside {file} matches no route
        response = await raw.post(
            f"/projects/{code}/bulk-ingest/ingest/a/b.jpg", content=b"x", headers=auth
        )
        error = client.error(response)
        assert type(error) is NotFoundError and error.status == 404
        # 404 JSON NotFound
        response = await raw.get(f"/projects/{code}/bulk-ingest/mapping.csv", headers=auth)
        error = client.error(response)
        assert isinstance(error, IngestNotFoundError) and error.line == (
            f"dsp-ingest: project {code} not found (HTTP 404)"
        )

    # 500 JSON errorMessage
    state.faults.read_error = True
    with pytest.raises(ServerError) as read_error:
        await client.mapping(state.roles["mapped"])
    assert read_error.value.message.startswith("Error reading mapping file")
    state.faults.read_error = False
    # 500 text/plain from a failed write
    state.faults.write_error = True
    with pytest.raises(ServerError) as write_error:
        await client.upload_stream(code, "w.txt", b"data")
    assert write_error.value.message == "Internal server error (HTTP 500)"
    state.faults.write_error = False


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (400, IngestRequestError, "Simulated failure (HTTP 400)"),
        (401, AuthError, "Simulated failure (HTTP 401)"),
        (403, AuthError, "Simulated failure (HTTP 403)"),
        (404, IngestNotFoundError, "Simulated failure: simulated (HTTP 404)"),
        (409, ConflictError, "Simulated failure (HTTP 409)"),
        (500, ServerError, "Simulated failure (HTTP 500)"),
        (502, ServerError, "Simulated failure (HTTP 502)"),
        (503, IngestUnhealthyError, "service DOWN (folders: DOWN, db: UP) (HTTP 503)"),
    ],
)
async def test_forced_statuses_map_to_typed_errors(
    emulator: EmulatorFactory,
    closing: Closer,
    status: int,
    kind: type[ServiceError],
    message: str,
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    state.faults.fail_status = status
    with pytest.raises(kind) as caught:
        await client.start_ingest(state.roles["uploaded"])
    assert caught.value.message == message
    assert caught.value.status == status
    assert "\n" not in caught.value.line


async def test_malformed_bodies_are_bad_payloads(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    state.faults.malformed = True
    with pytest.raises(BadPayloadError) as trigger:
        await client.start_ingest(state.roles["uploaded"])
    assert trigger.value.line.startswith("dsp-ingest: unexpected ingest answer")
    with pytest.raises(BadPayloadError) as mapping:
        await client.mapping(state.roles["mapped"])
    assert mapping.value.message == "mapping.csv does not start with original,derivative"
    with pytest.raises(BadPayloadError):
        await client.list_projects()


async def test_unreachable_server_is_a_transport_error(tmp_path: Path) -> None:
    client = DspIngestClient("http://127.0.0.1:9", "token")
    try:
        with pytest.raises(ServiceError) as caught:
            await client.health()
        assert caught.value.line.startswith("dsp-ingest: cannot connect")
    finally:
        await client.aclose()


# -- JWT ------------------------------------------------------------------------------------------


async def test_jwt_failures_are_401_with_the_servers_reasons(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    code = state.roles["uploaded"]
    cases = {
        "bad signature": (
            state.make_token(secret="not the secret"),
            "Invalid signature for this token or wrong algorithm.",
        ),
        "expired": (
            state.make_token(exp=DEMO_EPOCH - timedelta(days=1)),
            "The token is expired since 2026-11-01T09:00:00Z",
        ),
        "wrong audience": (
            state.make_token(aud=["Knora", "Sipi"]),
            "Invalid audience: expected http://localhost:3340",
        ),
        "wrong issuer and no subject": (
            state.make_token(iss="elsewhere", sub=None),
            "Invalid issuer: expected 0.0.0.0:3333, Subject is missing.",
        ),
        "no scope": (state.make_token(scope=None), "No project access."),
        "other project": (state.make_token(scope="write:project:0001"), "No project access."),
        "read only": (state.make_token(scope=f"read:project:{code}"), "No project access."),
        "bad scope value": (
            state.make_token(scope="write:project:XYZ"),
            "Invalid contents: Invalid project shortcode: XYZ",
        ),
        "not a jwt": (
            "not-a-jwt",
            "Expected token to be composed of 2 or 3 parts separated by dots.",
        ),
    }
    for what, (token, reason) in cases.items():
        client, _ = client_for(running, closing, token=token)
        with pytest.raises(AuthError) as caught:
            await client.start_ingest(code)
        assert caught.value.message == f"{reason} (HTTP 401)", what
        assert token not in caught.value.line and token not in repr(client)


async def test_project_scope_allows_its_project_but_not_the_admin_routes(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    code = state.roles["mapped"]
    client, recorder = client_for(
        running, closing, token=state.make_token(scope=f"write:project:{code.lower()}")
    )
    assert client.token_info.write == (code,) and not client.token_info.admin
    assert len(await client.mapping(code.lower())) == 6
    assert recorder.requests[-1].url.path == f"/projects/{code}/bulk-ingest/mapping.csv"
    with pytest.raises(AuthError) as caught:
        await client.list_projects()
    assert caught.value.message == "Admin permissions required. (HTTP 401)"


async def test_a_token_expires_as_simulated_time_passes(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(
        running, closing, token=state.make_token(exp=DEMO_EPOCH + timedelta(hours=1))
    )
    await client.mapping(state.roles["mapped"])
    state.clock.advance(3601)
    with pytest.raises(AuthError) as caught:
        await client.mapping(state.roles["mapped"])
    assert "The token is expired since 2026-11-02T10:00:00Z" in caught.value.message


async def test_shortcodes_are_checked_and_upper_cased_before_sending(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    for bad in ("", "123", "12345", "0g01", "08 01", "../x"):
        with pytest.raises(InputError) as caught:
            await client.start_ingest(bad)
        assert caught.value.field == "shortcode"
    assert recorder.requests == []
    code = state.roles["mapped"]
    await client.mapping(f" {code.lower()} ")
    assert recorder.requests[0].url.path == f"/projects/{code}/bulk-ingest/mapping.csv"


# -- large and cancelled uploads ------------------------------------------------------------------


async def test_cancel_cuts_a_file_off_and_the_server_keeps_the_partial_copy(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing, chunk_size=64 * 1024)
    code = state.roles["empty"]
    source = tmp_path / "big.tif"
    source.write_bytes(b"\x01" * (4 * MiB))
    cancel = asyncio.Event()
    seen: list[int] = []

    def progress(sent: int, size: int) -> None:
        seen.append(sent)
        if sent >= MiB:
            cancel.set()

    with pytest.raises(UploadCancelledError) as caught:
        await client.upload_file(code, "big.tif", source, progress=progress, cancel=cancel)
    assert MiB <= caught.value.sent < 4 * MiB
    await wait_for(lambda: any("was cut off" in line for line in state.log))
    assert state.holder(code) is None
    kept = state.import_folder(code) / "big.tif"
    assert kept.is_file() and kept.stat().st_size < 4 * MiB
    # the connection pool recovers: the next call works
    await client.upload_file(code, "big.tif", source)
    assert kept.stat().st_size == 4 * MiB


async def test_a_200_mb_upload_streams_with_flat_memory(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    code = state.roles["empty"]
    size = 200 * MiB
    source = tmp_path / "huge.tif"
    with source.open("wb") as handle:  # sparse: no disk blocks, reads as zeros
        handle.truncate(size)
    calls = 0

    def progress(sent: int, total: int) -> None:
        nonlocal calls
        calls += 1
        assert total == size

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        sent = await client.upload_file(code, "huge.tif", source, progress=progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    try:
        assert sent == size
        stored = state.import_folder(code) / "huge.tif"
        assert stored.stat().st_size == size
        assert calls >= size // client.chunk_size
        # both the client and the emulator (a thread of this process) stream
        assert peak < 16 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
        assert rss_growth < 64 * MiB, f"peak RSS grew by {rss_growth / MiB:.1f} MiB"
    finally:
        (state.import_folder(code) / "huge.tif").unlink(missing_ok=True)
