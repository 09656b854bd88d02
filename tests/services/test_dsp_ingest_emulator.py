"""The dsp-ingest emulator on its own, over loopback HTTP with a plain httpx client."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings
from jobtui.emulators.dsp_ingest import build
from jobtui.emulators.dsp_ingest.auth import JwtError, decode_jwt, encode_jwt
from jobtui.emulators.dsp_ingest.state import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    DEFAULT_SECRET,
    DspIngestState,
)
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory
from tests.services.dsp_ingest_support import start, wait_for


@pytest.fixture
async def http() -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    yield clients
    for client in clients:
        await client.aclose()


def raw_client(
    running: RunningEmulator, clients: list[httpx.AsyncClient], token: str | None = None
) -> httpx.AsyncClient:
    state = running.state
    assert isinstance(state, DspIngestState)
    headers = {"Authorization": f"Bearer {token or state.token}"}
    client = httpx.AsyncClient(base_url=running.url, headers=headers)
    clients.append(client)
    return client


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token with an empty signature."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_the_seed_is_reproducible_and_sets_up_each_role() -> None:
    one = build(EmulatorSettings(seed=7, speed=0, jobs=4))
    two = build(EmulatorSettings(seed=7, speed=0, jobs=4))
    other = build(EmulatorSettings(seed=8, speed=0, jobs=4))
    a, b, c = one.state, two.state, other.state
    assert isinstance(a, DspIngestState) and isinstance(b, DspIngestState)
    assert isinstance(c, DspIngestState)
    try:
        assert a.roles == b.roles and a.seeded == b.seeded != c.seeded
        assert set(a.roles) == {"mapped", "uploaded", "empty", "ingesting"}
        mapped, uploaded, empty, ingesting = (
            a.roles[r] for r in ("mapped", "uploaded", "empty", "ingesting")
        )
        assert a.mapping_rows(mapped) == b.mapping_rows(mapped) and len(a.mapping_rows(mapped)) == 6
        assert a.uploaded_files(mapped) == ["photos/corrupt scan.tif"]
        assert len(a.uploaded_files(uploaded)) == 8 and not a.mapping_file(uploaded).exists()
        assert not a.import_folder(empty).exists() and a.holder(empty) is None
        assert a.holder(ingesting) == "ingest"
        assert one.config == {"kind": "dsp-ingest", "token": a.token, "projects": a.seeded}
        assert one.credentials == {"token": a.token}
        assert one.base_path == ""
    finally:
        for state in (a, b, c):
            state.close()


def test_seeded_project_count_follows_jobs_or_the_option() -> None:
    none = build(EmulatorSettings(seed=1, speed=0, jobs=0)).state
    six = build(EmulatorSettings(seed=1, speed=0, jobs=40, options={"projects": 6})).state
    default = build(EmulatorSettings(seed=1, speed=0)).state
    assert isinstance(none, DspIngestState) and isinstance(six, DspIngestState)
    assert isinstance(default, DspIngestState)
    try:
        assert none.seeded == [] and none.roles == {}
        assert len(six.seeded) == 6 and len(set(six.seeded)) == 6
        assert len(default.seeded) == 4
    finally:
        for state in (none, six, default):
            state.close()


def test_tokens_are_hs256_with_the_services_claims() -> None:
    state = build(EmulatorSettings(seed=1, speed=0, jobs=0)).state
    assert isinstance(state, DspIngestState)
    try:
        now = state.unix_now()
        claims = decode_jwt(state.token, DEFAULT_SECRET, now)
        assert claims["iss"] == DEFAULT_ISSUER
        assert claims["aud"] == ["Knora", "Sipi", DEFAULT_AUDIENCE]
        assert claims["sub"] and claims["scope"] == "admin"
        assert claims["exp"] == int(now) + 30 * 86400
        token = encode_jwt({"sub": "x"}, "k")
        header, payload, signature = token.split(".")
        assert "=" not in token and header and payload and signature
        with pytest.raises(JwtError, match="Invalid signature"):
            decode_jwt(token, "other", now)
        assert decode_jwt(token, "k", now) == {"sub": "x"}  # no exp: not checked
    finally:
        state.close()


async def test_jwt_edge_cases(emulator: EmulatorFactory, http: list[httpx.AsyncClient]) -> None:
    running, state = start(
        emulator, jwt_secret="s3cret-for-tests", jwt_audience="https://ingest.example"
    )
    code = state.roles["uploaded"]
    cases = {
        "alg none": (
            unsigned({"alg": "none"}, {"sub": "x", "scope": "admin"}),
            "Invalid signature for this token or wrong algorithm.",
        ),
        "default secret": (
            encode_jwt({"sub": "x", "scope": "admin"}, DEFAULT_SECRET),
            "Invalid signature for this token or wrong algorithm.",
        ),
        "not yet valid": (
            state.make_token(nbf=DEMO_EPOCH + timedelta(hours=2)),
            "The token will only be valid after 2026-11-02T11:00:00Z",
        ),
        "audience as a string": (state.make_token(aud="https://ingest.example"), None),
        "no exp": (state.make_token(exp=None), None),
        "scope not a string": (
            state.make_token(extra={"scope": ["admin"]}),
            "Invalid contents: .scope(expected a string)",
        ),
        "unknown scope values are ignored": (state.make_token(scope="foo bar admin"), None),
    }
    for what, (token, reason) in cases.items():
        client = raw_client(running, http, token)
        response = await client.get(f"/projects/{code}/bulk-ingest/mapping.csv")
        if reason is None:
            assert response.status_code == 404, what
        else:
            assert (response.status_code, response.json()) == (401, {"reason": reason}), what
    anything = raw_client(running, http)
    anything.headers["Authorization"] = "Basic dXNlcjpwYXNz"
    response = await anything.get(f"/projects/{code}/bulk-ingest/mapping.csv")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


async def test_routes_paths_and_methods(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator)
    client = raw_client(running, http)
    code = state.roles["empty"]
    # %2F stays inside the {file} segment; a literal "/" matches no route
    ok = await client.post(f"/projects/{code}/bulk-ingest/ingest/a%2Fb%2Fc.txt", content=b"1")
    assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
    assert state.uploaded_files(code) == ["a/b/c.txt"]
    unmatched = await client.post(f"/projects/{code}/bulk-ingest/ingest/a/b.txt", content=b"1")
    assert unmatched.status_code == 404 and not unmatched.headers["content-type"].startswith(
        "application/json"
    )
    assert (await client.get("/info/")).status_code == 404
    wrong_method = await client.get(f"/projects/{code}/bulk-ingest")
    assert wrong_method.status_code == 405
    # a "." or ".." path is normalized; leaving the folder is refused
    inside = await client.post(f"/projects/{code}/bulk-ingest/ingest/x%2F..%2Fy.txt", content=b"2")
    assert inside.status_code == 200 and "y.txt" in state.uploaded_files(code)
    out = await client.post(f"/projects/{code}/bulk-ingest/ingest/..%2Fz.txt", content=b"3")
    assert (
        out.json()["errors"][0]["reason"]
        == "'../z.txt' is invalid: Cannot traverse out of the upload directory"
    )
    empty = await client.post(f"/projects/{code}/bulk-ingest/ingest/a%2F..", content=b"3")
    assert empty.json()["errors"][0]["reason"] == "'a/..' is invalid: Is empty"
    # a lower-case shortcode is taken as sent (the server does not upper-case path variables)
    lower = await client.post(f"/projects/{code.lower()}/bulk-ingest/ingest/l.txt", content=b"4")
    assert lower.status_code == 200 and state.uploaded_files(code.lower()) == ["l.txt"]
    scoped = raw_client(running, http, state.make_token(scope=f"write:project:{code}"))
    refused = await scoped.post(f"/projects/{code.lower()}/bulk-ingest/ingest/l.txt", content=b"4")
    assert (refused.status_code, refused.json()) == (401, {"reason": "No project access."})


async def test_projects_listing_and_single_project(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator)
    admin = raw_client(running, http)
    response = await admin.get("/projects")
    expected = sorted([state.roles["mapped"], state.roles["ingesting"]])
    assert response.json() == [{"id": code} for code in expected]
    assert response.headers["content-range"] == "items 0-2/2"
    reader = raw_client(running, http, state.make_token(scope=f"read:project:{expected[0]}"))
    assert (await reader.get(f"/projects/{expected[0]}")).json() == {"id": expected[0]}
    denied = await reader.get("/projects")
    assert (denied.status_code, denied.json()) == (401, {"reason": "Admin permissions required."})
    missing = await admin.get(f"/projects/{state.roles['uploaded']}")
    assert (missing.status_code, missing.json()) == (
        404,
        {"id": state.roles["uploaded"], "type": "project"},
    )


async def test_mapping_file_header_once_and_csv_escaping_of_folder_names(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator, files_per_second=100)
    client = raw_client(running, http)
    code = state.roles["empty"]
    rel = 'a "quoted", folder/x.jpg'  # folder names are not checked against the character rule
    assert (
        await client.post(
            f"/projects/{code}/bulk-ingest/ingest/{quote(rel, safe='')}", content=b"1"
        )
    ).status_code == 200
    assert (await client.post(f"/projects/{code}/bulk-ingest")).status_code == 202
    state.clock.advance(1)
    await client.post(f"/projects/{code}/bulk-ingest/ingest/second.txt", content=b"2")
    assert (await client.post(f"/projects/{code}/bulk-ingest")).json() == {"id": code}
    state.clock.advance(1)
    text = (await client.get(f"/projects/{code}/bulk-ingest/mapping.csv")).text
    lines = text.split("\n")
    assert lines[0] == "original,derivative" and text.count("original,derivative") == 1
    assert lines[1].startswith('"a ""quoted"", folder/x.jpg",') and lines[1].endswith(".jpx")
    assert lines[2].startswith("second.txt,")
    assert state.mapping_rows(code)[0][0] == rel
    assert len(state.asset_files(code)) == 6  # original, derivative and sidecar of each


async def test_finalize_deletes_in_the_background_and_conflicts_with_an_ingest(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator, finalize_seconds=2)
    client = raw_client(running, http)
    busy = state.roles["ingesting"]
    response = await client.post(f"/projects/{busy}/bulk-ingest/finalize")
    assert (response.status_code, response.json()) == (
        409,
        {"reason": f"A bulk ingest is currently in progress for project {busy}."},
    )
    missing = await client.post(f"/projects/{state.roles['empty']}/bulk-ingest/finalize")
    assert missing.json() == {"id": state.roles["empty"], "type": "Import folder not found."}
    code = state.roles["uploaded"]  # finalized without ever ingesting: no mapping file
    assert (await client.post(f"/projects/{code}/bulk-ingest/finalize")).json() == {"id": code}
    assert state.holder(code) == "finalize" and state.import_folder(code).exists()
    state.clock.advance(2)
    assert state.holder(code) is None and not state.import_folder(code).exists()
    assert state.log[-1].startswith(f"Error finalizing project {code}")


async def test_simulated_time_runs_at_speed(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running = emulator("dsp-ingest", seed=1, speed=50.0, jobs=4, files_per_second=2)
    state = running.state
    assert isinstance(state, DspIngestState)
    code = state.roles["ingesting"]
    began = time.monotonic()
    await wait_for(lambda: state.holder(code) is None)  # 24 files: 12 simulated seconds
    assert time.monotonic() - began < 5
    client = raw_client(running, http)
    response = await client.get(f"/projects/{code}/bulk-ingest/mapping.csv")
    assert len(response.text.split("\n")) == 25


async def test_faults_apply_to_every_request(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator)
    client = raw_client(running, http)
    state.faults.latency = 0.2
    began = time.monotonic()
    assert (await client.get("/health")).json() == {"status": "UP"}
    assert time.monotonic() - began >= 0.2
    state.faults.latency = 0
    state.faults.malformed = True
    response = await client.get("/info")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    state.faults.malformed = False
    state.faults.fail_status = 409
    response = await client.post("/projects/0001/bulk-ingest/ingest/x.txt", content=b"x" * 100_000)
    assert (response.status_code, response.json()) == (409, {"reason": "Simulated failure"})
    state.faults.fail_status = None
    state.healthy = False
    down = await client.get("/health")
    assert down.status_code == 503 and down.json()["status"] == "DOWN"


async def test_concurrent_uploads_to_one_project_conflict_after_400_ms(
    emulator: EmulatorFactory, http: list[httpx.AsyncClient]
) -> None:
    running, state = start(emulator)
    client = raw_client(running, http)
    code = state.roles["empty"]
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a"
        await release.wait()
        yield b"b"

    first = asyncio.create_task(
        client.post(f"/projects/{code}/bulk-ingest/ingest/one.txt", content=slow())
    )
    await wait_for(lambda: state.holder(code) == "upload")
    began = time.monotonic()
    second = await client.post(f"/projects/{code}/bulk-ingest/ingest/two.txt", content=b"x")
    waited = time.monotonic() - began
    assert second.status_code == 409 and 0.35 <= waited < 2
    release.set()
    assert (await first).status_code == 200
    assert state.uploaded_files(code) == ["one.txt"]


def test_seeded_ingests_are_up_to_date_before_the_first_request(emulator: EmulatorFactory) -> None:
    # What the running ingests were due to have done by the start is done at seeding: the first
    # request finds nothing to catch up on (with thousands of projects it would wait seconds).
    _, state = start(emulator, projects=8)
    codes = [code for code in state.seeded if code in state.ingests]
    assert codes
    before = {code: state.uploaded_files(code) for code in codes}
    assert all(len(files) < 24 for files in before.values())  # some already ingested
    state.tick()
    assert {code: state.uploaded_files(code) for code in codes} == before
