"""The bsub.io emulator itself: seeding, determinism, time, arrivals, uploads from other encoders,
the multipart reader, faults and speed."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.bsub.state import STATUSES, BsubState
from jobtui.emulators.bsub.upload import MultipartReader
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import advance_until, seeded, start


class Api:
    """A plain httpx client with the key, for what the jobtui client would not send."""

    def __init__(self, running: RunningEmulator, token: str | None = None) -> None:
        key = token if token is not None else str(running.emulator.config["token"])
        self.http = httpx.Client(
            base_url=running.url, headers={"Authorization": f"Bearer {key}"} if key else {}
        )

    def close(self) -> None:
        self.http.close()

    def job(self, job_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    def create(self, type_id: str = "sha256") -> dict[str, Any]:
        answer = self.http.post("/v1/jobs", json={"type": type_id})
        assert answer.status_code == 201, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data


@pytest.fixture
def bsub(emulator: EmulatorFactory) -> Iterator[tuple[Api, BsubState]]:
    running, state = start(emulator, jobs=40)
    api = Api(running)
    try:
        yield api, state
    finally:
        api.close()


# -- seeding and determinism --------------------------------------------------------------------


def world(seed: int, jobs: int = 300, advance: float = 500.0) -> list[dict[str, Any]]:
    state = BsubState(EmulatorSettings(seed=seed, speed=0, jobs=jobs, options={"arrivals": 15}))
    try:
        state.advance(advance)
        return [state.to_json(job) for job in state.order]
    finally:
        state.close()


def test_same_seed_same_world() -> None:
    assert world(3) == world(3)
    assert world(3) != world(4)


def test_seeded_mix_has_every_state() -> None:
    state = BsubState(EmulatorSettings(seed=1, speed=0, jobs=40))
    try:
        counts = state.status_counts()
        assert set(counts) == set(STATUSES)
        assert sum(counts.values()) == 40
        assert counts["finished"] > counts["processing"]
        assert state.ids_in("failed", cancelled=True) and state.ids_in("failed", cancelled=False)
    finally:
        state.close()
    small = BsubState(EmulatorSettings(seed=9, speed=0, jobs=5))
    try:
        assert len(set(small.status_counts())) == 5
    finally:
        small.close()
    assert BsubState(EmulatorSettings(seed=1, speed=0, jobs=0)).order == []


def test_seeded_records_are_consistent() -> None:
    state = BsubState(EmulatorSettings(seed=5, speed=0, jobs=2000))
    try:
        for job in state.order:
            data = state.to_json(job)
            assert ("upload_token" in data) == (job.status == "created")
            assert data["created_at"] <= data["updated_at"] <= "2026-11-02T09:00:00.000Z"
            assert (job.claimed_at is None) == (job.claimed_by is None)
            if job.claimed_at is not None:
                assert job.created <= job.claimed_at <= job.updated
            if job.terminal:
                assert job.finished_at == job.updated
                assert job.due is None
            elif job.status in ("pending", "claimed", "preparing", "processing"):
                assert job.due is not None and job.due > 0  # it will move
            else:
                assert job.due is None  # created and loaded wait for the user
            if job.status == "failed":
                assert job.error_code and job.error_message
        created = [job.created for job in state.order]
        assert created == sorted(created)
        assert len({job.id for job in state.order}) == 2000
    finally:
        state.close()


def test_a_hundred_thousand_jobs_list_quickly(emulator: EmulatorFactory) -> None:
    running, _ = start(emulator, jobs=100_000)
    api = Api(running)
    try:
        for params in ({"limit": "100"}, {"status": "finished", "limit": "100"}, {}):
            # CPU time (the server runs in a thread of this process), not wall time: what the
            # answer costs, however busy the machine is
            began = time.process_time()
            answer = api.http.get("/v1/jobs", params=params)
            elapsed = time.process_time() - began
            assert answer.status_code == 200
            assert elapsed < 0.5, (params, elapsed)
        assert answer.json()["data"]["total"] == 100_000
    finally:
        api.close()


# -- time ---------------------------------------------------------------------------------------


def test_arrivals_upload_and_submit_by_themselves(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=10, arrivals=30)
    api = Api(running)
    try:
        waited = advance_until(state, lambda: len(state.order) == 11, step=0.5)
        assert 10 <= waited <= 50  # the first arrival comes after about 30 s
        newcomer = state.order[-1]
        seen = [api.job(newcomer.id)["status"]]
        for _ in range(400):
            state.advance(0.5)
            status = api.job(newcomer.id)["status"]
            if status != seen[-1]:
                seen.append(status)
            if status in ("finished", "failed"):
                break
        assert seen[:4] == ["created", "loaded", "pending", "claimed"]
        assert seen[-1] in ("finished", "failed")
        state.advance(600)
        total = api.http.get("/v1/jobs").json()["data"]["total"]
        assert 20 <= total <= 100
    finally:
        api.close()
    again = BsubState(EmulatorSettings(seed=1, speed=0, jobs=10, options={"arrivals": 30}))
    try:
        again.advance(state.clock.seconds())
        assert [job.id for job in again.order] == [job.id for job in state.order]
        assert [job.type for job in again.order] == [job.type for job in state.order]
    finally:
        again.close()


def test_speed_moves_jobs_without_help(emulator: EmulatorFactory) -> None:
    running = emulator("bsub", seed=1, speed=120.0, jobs=40)
    state = running.state
    assert isinstance(state, BsubState)
    api = Api(running)
    try:
        before = {job["id"]: job["status"] for job in jobs_of(api)}
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            after = {job["id"]: job["status"] for job in jobs_of(api)}
            if any(after[i] != before[i] for i in before):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("no job moved within 10 s at speed 120")
    finally:
        api.close()


def jobs_of(api: Api) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = api.http.get("/v1/jobs", params={"limit": "100"}).json()["data"][
        "jobs"
    ]
    return jobs


# -- HTTP details -------------------------------------------------------------------------------


def test_upload_token_only_while_created(bsub: tuple[Api, BsubState]) -> None:
    api, _ = bsub
    job = api.create()
    assert job["upload_token"].startswith("upl_")
    assert api.http.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    cancelled = api.job(job["id"])
    assert "upload_token" not in cancelled
    assert cancelled["status"] == "failed" and cancelled["error_code"] == "cancelled"


def test_upload_with_httpx_files_and_other_fields(bsub: tuple[Api, BsubState]) -> None:
    api, state = bsub
    job = api.create()
    data = b"a\r\n--not-the-boundary\r\n" * 5000
    answer = api.http.post(
        f"/v1/upload/{job['id']}",
        params={"token": job["upload_token"]},
        data={"note": "first a plain field"},
        files={"file": ("notes.txt", data, "text/plain")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "success": True,
        "message": "File uploaded successfully",
        "data_size": len(data),
    }
    stored = state.jobs[job["id"]]
    assert stored.data_path is not None and stored.data_path.read_bytes() == data
    assert stored.filename == "notes.txt"
    assert api.http.delete(f"/v1/jobs/{job['id']}").status_code == 409
    api.http.post(f"/v1/jobs/{job['id']}/cancel")
    assert api.http.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert not stored.data_path.exists()  # the input goes with the job


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        ({"Content-Type": "application/octet-stream"}, b"raw", 400, "Expected multipart"),
        (
            {"Content-Type": "multipart/form-data; boundary=XyZ"},
            b'--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--XyZ--\r\n',
            400,
            "Missing file field 'file'",
        ),
        (
            {"Content-Type": "multipart/form-data; boundary=XyZ"},
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
            400,
            "Incomplete upload",
        ),
    ],
)
def test_upload_refuses_bad_bodies(
    bsub: tuple[Api, BsubState], headers: dict[str, str], body: bytes, status: int, error: str
) -> None:
    api, state = bsub
    job = api.create()
    answer = api.http.post(
        f"/v1/upload/{job['id']}",
        params={"token": job["upload_token"]},
        content=body,
        headers=headers,
    )
    assert answer.status_code == status
    assert answer.json()["success"] is False
    assert answer.json()["error"].startswith(error)
    assert state.jobs[job["id"]].status == "created"
    assert list(state.upload_dir.iterdir()) == []


def test_upload_needs_the_key_and_the_token(bsub: tuple[Api, BsubState]) -> None:
    api, _ = bsub
    job = api.create()
    files = {"file": ("a.bin", b"123")}
    no_token = api.http.post(f"/v1/upload/{job['id']}", files=files)
    assert no_token.status_code == 401
    assert no_token.json() == {"success": False, "error": "Invalid upload token"}
    keyless = httpx.post(
        str(api.http.base_url.join(f"/v1/upload/{job['id']}")),
        params={"token": job["upload_token"]},
        files=files,
    )
    assert keyless.status_code == 401
    assert keyless.json()["error"].startswith("Missing API key")


def test_create_refuses_bad_bodies(bsub: tuple[Api, BsubState]) -> None:
    api, _ = bsub
    for body, error in [
        (b"", "Missing required field: type"),
        (b"{not json", "Invalid JSON body"),
        (b'{"kind": "sha256"}', "Missing required field: type"),
        (b'{"type": 3}', "Unknown processing type: 3"),
    ]:
        answer = api.http.post(
            "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400
        assert answer.json() == {"success": False, "error": error}


def test_unknown_routes_use_the_error_body(bsub: tuple[Api, BsubState]) -> None:
    api, _ = bsub
    missing = api.http.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"success": False, "error": "Not found"}
    wrong = api.http.put("/v1/jobs")
    assert wrong.status_code == 405
    assert wrong.json() == {"success": False, "error": "Method not allowed"}


def test_logs_and_outputs(bsub: tuple[Api, BsubState]) -> None:
    api, state = bsub
    cancelled = [state.jobs[i] for i in state.ids_in("failed", cancelled=True)]
    claimed = [job for job in cancelled if job.claimed_at is not None]
    for job in claimed:
        assert state.logs_of(job).splitlines()[-1].endswith("cancel requested, worker stopped")
    finished = seeded(state, "finished")
    answer = api.http.get(f"/v1/jobs/{finished.id}/logs")
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.splitlines()[-1].split(" ", 1)[1].startswith("done: exit status 0")
    output = api.http.get(f"/v1/jobs/{finished.id}/output")
    assert output.headers["content-type"] == "application/octet-stream"
    assert int(output.headers["content-length"]) == len(output.content) > 0
    assert output.content == api.http.get(f"/v1/jobs/{finished.id}/output").content


def test_same_seed_same_outputs(emulator: EmulatorFactory) -> None:
    outputs = []
    for _ in range(2):
        running, state = start(emulator, jobs=30, seed=7)
        api = Api(running)
        try:
            finished = state.ids_in("finished")
            outputs.append([api.http.get(f"/v1/jobs/{i}/output").content for i in finished])
        finally:
            api.close()
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 3


# -- faults -------------------------------------------------------------------------------------


def test_faults(bsub: tuple[Api, BsubState]) -> None:
    api, state = bsub
    state.faults.fail_status = 429
    answer = api.http.get("/v1/version")
    assert answer.status_code == 429
    assert answer.json() == {"success": False, "error": "Simulated failure"}
    state.faults.fail_status = None
    state.faults.malformed = True
    with pytest.raises(json.JSONDecodeError):
        api.http.get("/v1/jobs").json()
    state.faults.malformed = False
    state.faults.latency = 0.2
    answer = api.http.get("/v1/types")
    assert answer.status_code == 200 and answer.elapsed.total_seconds() >= 0.2
    assert state.counts["get_types"] == 1  # the faulted requests never reached the API


def test_uploads_are_removed_when_the_server_stops(tmp_path: Path) -> None:
    thread = ServerThread(build("bsub", EmulatorSettings(seed=1, speed=0, jobs=2)))
    running = thread.start()
    state = running.state
    assert isinstance(state, BsubState)
    api = Api(running)
    try:
        job = api.create()
        api.http.post(
            f"/v1/upload/{job['id']}",
            params={"token": job["upload_token"]},
            files={"file": ("a.bin", b"data")},
        )
        assert len(list(state.upload_dir.iterdir())) == 1
    finally:
        api.close()
        thread.stop()
    assert not state.upload_dir.exists()


# -- the multipart reader -----------------------------------------------------------------------

BODY = (
    b"preamble to ignore\r\n"
    b"--B0undary\r\n"
    b'Content-Disposition: form-data; name="note"\r\n\r\n'
    b"hello\r\n"
    b"--B0undary\r\n"
    b'Content-Disposition: form-data; name="file"; filename="we \\"quoted\\".bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
    b"line one\r\n--B0undar not yet\r\n\r\n--B0undary\r\n"
    b"\r\n"
    b"no headers\r\n"
    b"--B0undary--\r\nepilogue"
)


def parts_of(chunks: list[bytes]) -> list[tuple[dict[str, str], bytes]]:
    reader = MultipartReader(b"B0undary")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks:
        for event, value in reader.feed(chunk):
            if event == "part":
                parts.append((value, b""))
            elif event == "data":
                headers, data = parts[-1]
                parts[-1] = (headers, data + value)
    assert reader.done
    return parts


def test_multipart_reader_in_any_chunking() -> None:
    whole = parts_of([BODY])
    assert [data for _, data in whole] == [
        b"hello",
        b"line one\r\n--B0undar not yet\r\n",
        b"no headers",
    ]
    assert whole[1][0]["content-disposition"].endswith('filename="we \\"quoted\\".bin"')
    assert whole[2][0] == {}
    assert parts_of([bytes([b]) for b in BODY]) == whole
    rng = random.Random(1)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(BODY)), 6))
        pieces = [BODY[a:b] for a, b in zip([0, *cuts], [*cuts, len(BODY)], strict=True)]
        assert parts_of(pieces) == whole
