"""BsubClient against the bsub.io emulator over loopback HTTP: every endpoint, every documented
error, streamed uploads and downloads, and the simulated worker."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    NotFoundError,
    RefusedError,
    ServerError,
    ServiceError,
)
from jobtui.core.secret import Secret
from jobtui.emulators.bsub.state import CATALOGUE, BsubState
from jobtui.emulators.runner import RunningEmulator
from jobtui.services._http import make_client
from jobtui.services.bsub.client import BsubClient
from jobtui.services.bsub.wire import BsubJob
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import advance_until, make_file, seeded, start, token_of

MiB = 1024 * 1024


@pytest.fixture
async def closing() -> AsyncIterator[list[BsubClient]]:
    items: list[BsubClient] = []
    yield items
    for item in items:
        await item.aclose()


def client_for(
    running: RunningEmulator, closing: list[BsubClient], token: str | None = None
) -> BsubClient:
    client = BsubClient(running.url, token if token is not None else token_of(running))
    closing.append(client)
    return client


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def loaded_job(client: BsubClient, path: Path, type_id: str = "sha256") -> BsubJob:
    created = await client.create_job(type_id)
    assert created.upload_token is not None
    await client.upload(created.id, created.upload_token, path)
    return await client.get_job(created.id)


# -- system -------------------------------------------------------------------------------------


async def test_version_needs_no_key(emulator: EmulatorFactory, closing: list[BsubClient]) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing, token="not-the-key")
    version = await client.get_version()
    assert version.version == "1.0.0"
    assert version.server and version.build
    with pytest.raises(AuthError):
        await client.get_types()  # the same client is refused where a key is needed


async def test_types_catalogue(emulator: EmulatorFactory, closing: list[BsubClient]) -> None:
    running, _ = start(emulator, jobs=5)
    types = await client_for(running, closing).get_types()
    assert [t.type for t in types] == [kind.type for kind in CATALOGUE]
    assert len(types) >= 5
    pdf = types[0]
    assert pdf.name == "PDF to text"
    assert pdf.input is not None and pdf.input.mime_in == ["application/pdf"]
    assert pdf.output is not None and pdf.output.ext == "txt" and pdf.output.display == "text"
    assert pdf.example is not None and pdf.example.cmd and pdf.example.desc
    assert pdf.extension == "txt"


# -- authentication -----------------------------------------------------------------------------


async def test_bad_key_is_one_line_auth_error(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing, token="bsk_wrong")
    with pytest.raises(AuthError) as caught:
        await client.list_jobs()
    assert caught.value.status == 401
    assert caught.value.line == "bsub: Invalid API key (HTTP 401)"
    assert "bsk_wrong" not in caught.value.line


def test_missing_key_answers_401_with_error_body(emulator: EmulatorFactory) -> None:
    running, _ = start(emulator, jobs=5)
    with httpx.Client(base_url=running.url) as http:
        for method, path in [
            ("GET", "/v1/types"),
            ("GET", "/v1/jobs"),
            ("POST", "/v1/jobs"),
            ("GET", "/v1/jobs/00000000-0000-4000-8000-000000000000"),
        ]:
            answer = http.request(method, path)
            assert answer.status_code == 401, path
            assert answer.json() == {
                "success": False,
                "error": "Missing API key (Authorization: Bearer <key>)",
            }
        answer = http.get("/v1/jobs", headers={"Authorization": "Basic abc"})
        assert answer.status_code == 401


# -- the job lifecycle --------------------------------------------------------------------------


async def test_create_upload_submit(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5)
    client = client_for(running, closing)
    created = await client.create_job("pdf-text")
    assert created.status == "created"
    assert created.type == "pdf-text"
    assert created.data_size == 0
    assert isinstance(created.upload_token, Secret)
    token = created.upload_token.get_secret_value()
    assert token == state.jobs[created.id].upload_token
    assert token not in repr(created) and token not in str(created.wire())

    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"x" * 5000)
    result = await client.upload(created.id, created.upload_token, path)
    assert result.success is True
    assert result.data_size == path.stat().st_size

    loaded = await client.get_job(created.id)
    assert loaded.status == "loaded"
    assert loaded.data_size == path.stat().st_size
    assert loaded.upload_token is None  # only sent while the job is created
    assert "upload_token" not in loaded.wire()
    assert state.jobs[created.id].filename == "report.pdf"

    message = await client.submit(created.id)
    assert message
    pending = await client.get_job(created.id)
    assert pending.status == "pending"
    assert pending.updated_at is not None and pending.created_at is not None


async def test_create_refuses_unknown_type(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, _ = start(emulator, jobs=5)
    with pytest.raises(RefusedError) as caught:
        await client_for(running, closing).create_job("no-such-type")
    assert caught.value.status == 400
    assert caught.value.line == "bsub: Unknown processing type: no-such-type (HTTP 400)"


async def test_upload_with_bad_token_is_refused(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    path = make_file(tmp_path / "data.bin", 300_000)
    with pytest.raises(AuthError) as caught:
        await client.upload(created.id, "upl_guessed", path)
    assert caught.value.line == "bsub: Invalid upload token (HTTP 401)"
    assert state.jobs[created.id].status == "created"
    assert "upl_guessed" not in caught.value.line


async def test_upload_token_stays_out_of_the_http_log(
    emulator: EmulatorFactory,
    closing: list[BsubClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    assert created.upload_token is not None
    secret = created.upload_token.get_secret_value()
    with caplog.at_level(logging.INFO, logger="httpx"):
        await client.upload(created.id, created.upload_token, make_file(tmp_path / "a.bin", 10))
    assert f"/v1/upload/{created.id}?token=***" in caplog.text
    assert secret not in caplog.text
    assert token_of(running) not in caplog.text


async def test_upload_over_the_limit_names_the_file_and_its_size(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5, max_upload=1 * MiB)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    assert created.upload_token is not None
    path = make_file(tmp_path / "big.iso", MiB + 1)
    with pytest.raises(RefusedError) as caught:
        await client.upload(created.id, created.upload_token, path)
    error = caught.value
    assert error.status == 413
    assert "big.iso" in error.line
    assert "1.0 MiB" in error.line and str(MiB + 1) in error.line
    assert "File too large" in error.line
    assert state.jobs[created.id].status == "created"
    assert [p.name for p in state.upload_dir.iterdir()] == []  # the partial upload is gone
    # Exactly at the limit is accepted.
    exact = make_file(tmp_path / "exact.bin", MiB)
    result = await client.upload(created.id, created.upload_token, exact)
    assert result.data_size == MiB


async def test_streamed_upload_reports_progress_to_the_total(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5)
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    http = make_client(running.url)
    http.event_hooks["request"] = [record]
    client = BsubClient(running.url, token_of(running), http=http)
    closing.append(client)
    created = await client.create_job("sha256")
    assert created.upload_token is not None
    size = 6 * MiB + 12_345
    path = make_file(tmp_path / "video.raw", size)
    calls: list[tuple[int, int | None]] = []
    result = await client.upload(
        created.id, created.upload_token, path, lambda done, total: calls.append((done, total))
    )
    assert result.data_size == size
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)
    assert len(calls) >= size // (256 * 1024)  # one report per chunk read from disk
    dones = [done for done, _ in calls]
    assert dones == sorted(dones)
    upload = sent[-1]
    assert upload.url.path == f"/v1/upload/{created.id}"
    assert int(upload.headers["Content-Length"]) > size  # the length is known up front
    assert "Transfer-Encoding" not in upload.headers
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    stored = state.jobs[created.id]
    assert stored.data_path is not None
    assert stored.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stored.data_path.stat().st_size == size


async def test_upload_of_a_missing_file_is_one_line(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    with pytest.raises(ServiceError) as caught:
        await client.upload(created.id, "token", tmp_path / "gone.bin")
    assert caught.value.line.startswith("bsub: cannot read ")
    assert "gone.bin" in caught.value.line


async def test_upload_twice_is_refused(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    assert created.upload_token is not None
    path = make_file(tmp_path / "a.bin", 1000)
    await client.upload(created.id, created.upload_token, path)
    with pytest.raises(RefusedError) as caught:
        await client.upload(created.id, created.upload_token, path)
    assert caught.value.status == 400
    assert "loaded" in caught.value.line


async def test_submit_needs_a_loaded_job(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    created = await client.create_job("sha256")
    with pytest.raises(RefusedError) as caught:
        await client.submit(created.id)
    assert caught.value.status == 400
    assert "'created'" in caught.value.line
    with pytest.raises(RefusedError):
        await client.submit(seeded(state, "processing").id)
    assert state.jobs[created.id].status == "created"


async def test_unknown_job_is_not_found_everywhere(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, _ = start(emulator, jobs=5)
    client = client_for(running, closing)
    missing = "0b6f4a8e-0000-4000-8000-000000000000"
    calls = [
        client.get_job(missing),
        client.submit(missing),
        client.cancel(missing),
        client.delete(missing),
        client.logs(missing),
        client.output(missing, tmp_path / "out.bin"),
        client.upload(missing, "token", make_file(tmp_path / "x.bin", 10)),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as caught:
            await call
        assert caught.value.line == "bsub: Job not found (HTTP 404)"
    assert not (tmp_path / "out.bin").exists()


# -- listing ------------------------------------------------------------------------------------


async def test_list_defaults_to_twenty_newest_first(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator, jobs=40)
    client = client_for(running, closing)
    listing = await client.list_jobs()
    assert listing.total == 40
    assert len(listing.jobs) == 20
    assert [j.id for j in listing.jobs] == [j.id for j in reversed(state.order)][:20]
    created = [j.created_at for j in listing.jobs]
    assert all(c is not None for c in created)
    assert created == sorted(created, reverse=True)  # type: ignore[type-var]

    everything = await client.list_jobs(limit=1000)
    assert len(everything.jobs) == 40 and everything.total == 40
    assert {j.status for j in everything.jobs} >= {
        "created",
        "loaded",
        "pending",
        "claimed",
        "preparing",
        "processing",
        "finished",
        "failed",
    }


async def test_list_filters_by_status_and_counts_before_the_limit(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator, jobs=60)
    client = client_for(running, closing)
    counts = state.status_counts()
    finished = await client.list_jobs(status="finished", limit=3)
    assert finished.total == counts["finished"] > 3
    assert len(finished.jobs) == 3
    assert {j.status for j in finished.jobs} == {"finished"}
    none = await client.list_jobs(status="archived")
    assert none.total == 0 and none.jobs == []


async def test_list_serves_at_most_the_published_maximum(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, _ = start(emulator, jobs=130)
    listing = await client_for(running, closing).list_jobs(limit=1000)
    assert len(listing.jobs) == 100
    assert listing.total == 130


async def test_list_refuses_a_bad_limit(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, _ = start(emulator, jobs=5)
    with pytest.raises(RefusedError) as caught:
        await client_for(running, closing).list_jobs(limit=0)
    assert caught.value.line == "bsub: Invalid limit: 0 (HTTP 400)"
    strict, _ = start(emulator, jobs=5, refuse_over_max=True)
    with pytest.raises(RefusedError) as over:
        await client_for(strict, closing).list_jobs(limit=101)
    assert over.value.line == "bsub: Invalid limit: 101 (must be between 1 and 100) (HTTP 400)"
    assert len((await client_for(strict, closing).list_jobs(limit=100)).jobs) == 5


# -- cancel and delete --------------------------------------------------------------------------


async def test_cancel_ends_the_job_failed_with_code_cancelled(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    for status in ("pending", "processing", "created", "loaded"):
        job = seeded(state, status)
        assert await client.cancel(job.id) == "Job cancelled"
        after = await client.get_job(job.id)
        assert after.status == "failed"
        assert after.error_code == "cancelled"
        assert after.error_message
        assert after.finished_at is not None
        assert after.cancelled


async def test_cancel_of_an_ended_job_is_refused(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    with pytest.raises(RefusedError) as caught:
        await client.cancel(seeded(state, "finished").id)
    assert caught.value.status == 400
    assert caught.value.line == "bsub: Job cannot be cancelled: it is already finished (HTTP 400)"
    with pytest.raises(RefusedError):
        await client.cancel(seeded(state, "failed").id)


async def test_delete_only_ended_jobs(emulator: EmulatorFactory, closing: list[BsubClient]) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    for status in ("processing", "pending", "created", "loaded", "claimed", "preparing"):
        with pytest.raises(ConflictError) as caught:
            await client.delete(seeded(state, status).id)
        assert caught.value.status == 409
        assert f"while it is {status}" in caught.value.line
    for status in ("finished", "failed"):
        job = seeded(state, status)
        await client.delete(job.id)
        with pytest.raises(NotFoundError):
            await client.get_job(job.id)
    assert len(state.order) == 38


# -- logs and output ----------------------------------------------------------------------------


async def test_logs_are_the_jobs_stderr(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    job = seeded(state, "processing")
    text = await client.logs(job.id)
    assert f"claimed job {job.id}" in text
    assert "process:" in text
    assert text == state.logs_of(job)
    failed = seeded(state, "failed", cancelled=False)
    assert f"error: {failed.error_code}" in await client.logs(failed.id)
    assert await client.logs(seeded(state, "pending").id) == ""


async def test_output_streams_to_the_destination(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=200)
    client = client_for(running, closing)
    ids = state.ids_in("finished")
    big = max(ids, key=lambda i: state.output_size(state.jobs[i]))
    job = state.jobs[big]
    size, chunks = state.output_chunks(job)
    assert size > 1 * MiB
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "result.mp4"
    path = await client.output(job.id, dest, lambda done, total: calls.append((done, total)))
    assert path == dest
    assert dest.read_bytes() == b"".join(chunks)
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert len(calls) > 2
    assert names_in(tmp_path) == ["result.mp4"]  # no temporary file left


async def test_output_of_an_unfinished_job_is_a_conflict(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    dest = tmp_path / "out.txt"
    dest.write_text("previous")
    for status in ("processing", "failed"):
        with pytest.raises(ConflictError) as caught:
            await client.output(seeded(state, status).id, dest)
        assert caught.value.status == 409
        assert f"job is {status}" in caught.value.line
    assert dest.read_text() == "previous"  # left as it was
    assert names_in(tmp_path) == ["out.txt"]


# -- the worker ---------------------------------------------------------------------------------


async def test_worker_takes_a_submitted_job_to_finished(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5, fail_rate=0)
    client = client_for(running, closing)
    path = make_file(tmp_path / "backup.tar", 200_000)
    job = await loaded_job(client, path)
    await client.submit(job.id)
    seen: list[str] = []
    records: list[BsubJob] = []
    for _ in range(600):
        record = await client.get_job(job.id)
        if not seen or seen[-1] != record.status:
            seen.append(record.status_text)
            records.append(record)
        if record.terminal:
            break
        state.clock.advance(0.5)
    assert seen == ["pending", "claimed", "preparing", "processing", "finished"]
    claimed, finished = records[1], records[-1]
    assert claimed.claimed_by and claimed.claimed_by.startswith("worker-")
    assert claimed.claimed_at is not None and claimed.finished_at is None
    assert finished.finished_at is not None and finished.claimed_at == claimed.claimed_at
    assert finished.updated_at == finished.finished_at
    updated = [r.updated_at for r in records]
    assert updated == sorted(updated)  # type: ignore[type-var]
    assert len(set(updated)) == len(updated)

    dest = tmp_path / "backup.sha256"
    await client.output(job.id, dest)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert dest.read_text() == f"{digest}  backup.tar\n"
    logs = await client.logs(job.id)
    assert logs.splitlines()[-1].endswith("written")


async def test_failing_jobs_carry_a_code_and_a_message(
    emulator: EmulatorFactory, closing: list[BsubClient], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5, fail_rate=1)
    client = client_for(running, closing)
    job = await loaded_job(client, make_file(tmp_path / "in.pdf", 1000), "pdf-text")
    await client.submit(job.id)
    advance_until(state, lambda: state.jobs[job.id].terminal)
    record = await client.get_job(job.id)
    assert record.status == "failed"
    assert record.error_code and record.error_code != "cancelled"
    assert record.error_message
    assert record.finished_at is not None


async def test_speed_zero_freezes_the_world(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator)
    client = client_for(running, closing)
    first = await client.list_jobs(limit=100)
    second = await client.list_jobs(limit=100)
    assert first == second
    state.clock.advance(120)
    third = await client.list_jobs(limit=100)
    assert [j.status for j in third.jobs] != [j.status for j in first.jobs]


# -- faults -------------------------------------------------------------------------------------


async def test_malformed_body_is_bad_payload(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator, jobs=5)
    client = client_for(running, closing)
    state.faults.malformed = True
    for call in (client.list_jobs(), client.get_types(), client.get_version()):
        with pytest.raises(BadPayloadError) as caught:
            await call
        assert caught.value.line.startswith("bsub: unexpected ")
        assert "\n" not in caught.value.line


async def test_forced_status_uses_the_error_body(
    emulator: EmulatorFactory, closing: list[BsubClient]
) -> None:
    running, state = start(emulator, jobs=5)
    client = client_for(running, closing)
    state.faults.fail_status = 503
    with pytest.raises(ServerError) as caught:
        await client.list_jobs()
    assert caught.value.line == "bsub: Simulated failure (HTTP 503)"
    state.faults.fail_status = None
    assert (await client.list_jobs()).total == 5


def test_emulator_state_type(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=5)
    assert isinstance(running.state, BsubState)
    assert running.emulator.config == {"kind": "bsub", "token": state.token}
    assert running.emulator.credentials == {"token": state.token}
    assert running.url.startswith("http://127.0.0.1:")
