"""The vendor's own generated client (`bsubio` 0.0.6, used unchanged) against the bsub.io emulator:
the whole job lifecycle, the documented errors, and every seeded job validating against its
models."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bsubio
import pytest
from bsubio.exceptions import (
    BadRequestException,
    ConflictException,
    NotFoundException,
    UnauthorizedException,
)

from jobtui.emulators.bsub.state import BsubState
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded, start


@dataclass
class Vendor:
    client: Any
    jobs: Any
    output: Any
    system: Any

    def close(self) -> None:
        self.client.__exit__(None, None, None)  # clears its connection pool


def vendor(url: str, token: str) -> Vendor:
    client = bsubio.ApiClient(bsubio.Configuration(host=url, access_token=token))
    return Vendor(
        client, bsubio.JobsApi(client), bsubio.OutputApi(client), bsubio.SystemApi(client)
    )


@pytest.fixture
def world(emulator: EmulatorFactory) -> Iterator[tuple[Vendor, BsubState, str]]:
    running, state = start(emulator, jobs=40, fail_rate=0)
    api = vendor(running.url, state.token)
    try:
        yield api, state, running.url
    finally:
        api.close()


def error_of(error: bsubio.ApiException) -> str:
    """The `error` of the Error body the vendor's client read from a failed answer."""
    body = error.data
    assert isinstance(body, bsubio.Error)
    assert body.success is False
    return str(body.error)


def test_version_and_types(world: tuple[Vendor, BsubState, str]) -> None:
    api, _, _ = world
    version = api.system.get_version()
    assert isinstance(version, bsubio.GetVersion200Response)
    assert version.version == "1.0.0"
    types = api.system.get_types()
    assert isinstance(types, bsubio.GetTypes200Response)
    assert types.types is not None and len(types.types) >= 5
    first = types.types[0]
    assert isinstance(first, bsubio.ProcessingType)
    assert first.input is not None and first.input.mime_in
    assert first.output is not None and first.output.ext and first.output.display
    assert first.example is not None and first.example.cmd


def test_whole_lifecycle(world: tuple[Vendor, BsubState, str]) -> None:
    api, state, _ = world
    created = api.jobs.create_job(bsubio.CreateJobRequest(type="sha256"))
    assert isinstance(created, bsubio.CreateJob201Response)
    assert created.success is True
    job = created.data
    assert isinstance(job, bsubio.Job)
    assert job.status == "created" and job.upload_token and job.data_size == 0
    job_id = str(job.id)

    data = b"jobtui vendor client test\n" * 4000
    uploaded = api.jobs.upload_job_data(job_id, job.upload_token, ("archive.tar", data))
    assert isinstance(uploaded, bsubio.UploadJobData200Response)
    assert uploaded.success is True and uploaded.data_size == len(data)
    loaded = api.jobs.get_job(job_id).data
    assert loaded.status == "loaded" and loaded.upload_token is None

    submitted = api.jobs.submit_job(job_id)
    assert isinstance(submitted, bsubio.SubmitJob200Response) and submitted.success is True

    statuses: list[str] = []
    for _ in range(1000):
        current = api.jobs.get_job(job_id).data
        if not statuses or statuses[-1] != current.status:
            statuses.append(current.status)
        if current.status in ("finished", "failed"):
            break
        state.clock.advance(1.0)
    assert statuses == ["pending", "claimed", "preparing", "processing", "finished"]
    assert current.claimed_by and current.claimed_at and current.finished_at
    assert current.finished_at >= current.claimed_at >= current.created_at

    listed = api.jobs.list_jobs(status="finished", limit=5)
    assert isinstance(listed, bsubio.ListJobs200Response)
    assert listed.data is not None and listed.data.jobs is not None
    assert listed.data.total == state.status_counts()["finished"]
    assert len(listed.data.jobs) == 5
    assert str(listed.data.jobs[0].id) == job_id  # newest first

    logs = api.output.get_job_logs(job_id)
    assert isinstance(logs, str) and f"claimed job {job_id}" in logs
    output = api.output.get_job_output(job_id)
    assert bytes(output) == f"{hashlib.sha256(data).hexdigest()}  archive.tar\n".encode()

    assert api.jobs.delete_job(job_id) is None
    with pytest.raises(NotFoundException):
        api.jobs.get_job(job_id)


def test_cancel(world: tuple[Vendor, BsubState, str]) -> None:
    api, state, _ = world
    job_id = seeded(state, "processing").id
    answer = api.jobs.cancel_job(job_id)
    assert isinstance(answer, bsubio.CancelJob200Response) and answer.success is True
    job = api.jobs.get_job(job_id).data
    assert job.status == "failed" and job.error_code == "cancelled" and job.finished_at
    with pytest.raises(BadRequestException) as caught:
        api.jobs.cancel_job(job_id)
    assert caught.value.status == 400
    assert error_of(caught.value) == "Job cannot be cancelled: it is already failed"


def test_documented_errors(world: tuple[Vendor, BsubState, str]) -> None:
    api, state, url = world
    with pytest.raises(ConflictException) as conflict:
        api.jobs.delete_job(seeded(state, "processing").id)
    assert error_of(conflict.value).startswith("Job cannot be deleted")
    with pytest.raises(ConflictException):
        api.output.get_job_output(seeded(state, "pending").id)
    with pytest.raises(BadRequestException):
        api.jobs.submit_job(seeded(state, "created").id)
    created = api.jobs.create_job(bsubio.CreateJobRequest(type="pdf-text")).data
    with pytest.raises(UnauthorizedException) as bad_token:
        api.jobs.upload_job_data(str(created.id), "upl_wrong", b"%PDF-1.4")
    assert error_of(bad_token.value) == "Invalid upload token"
    with pytest.raises(NotFoundException):
        api.jobs.get_job("0b6f4a8e-0000-4000-8000-000000000000")
    stranger = vendor(url, "bsk_not_mine")
    try:
        with pytest.raises(UnauthorizedException) as refused:
            stranger.jobs.list_jobs()
        assert error_of(refused.value) == "Invalid API key"
        assert stranger.system.get_version().version == "1.0.0"  # public
    finally:
        stranger.close()


def test_upload_too_large(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=5, max_upload=1000)
    api = vendor(running.url, state.token)
    try:
        created = api.jobs.create_job(bsubio.CreateJobRequest(type="sha256")).data
        with pytest.raises(bsubio.ApiException) as caught:
            api.jobs.upload_job_data(str(created.id), created.upload_token, b"x" * 1001)
        assert caught.value.status == 413
        assert error_of(caught.value) == "File too large (maximum 1000 bytes)"
    finally:
        api.close()


ALL_STATUSES = {
    "created",
    "loaded",
    "pending",
    "claimed",
    "preparing",
    "processing",
    "finished",
    "failed",
}


def every_job(api: Vendor, state: BsubState) -> dict[str, Any]:
    """Every job the vendor's client can see: the newest 100, then up to 100 of each state."""
    newest = api.jobs.list_jobs(limit=100)
    assert newest.data.total == len(state.order)
    assert len(newest.data.jobs) == min(100, len(state.order))
    jobs: dict[str, Any] = {str(job.id): job for job in newest.data.jobs}
    for status, count in state.status_counts().items():
        listed = api.jobs.list_jobs(status=status, limit=100)
        assert listed.data.total == count
        jobs.update((str(job.id), job) for job in listed.data.jobs)
    return jobs


def check_job(job: Any) -> None:
    assert isinstance(job, bsubio.Job)
    assert job.status in ALL_STATUSES
    assert (job.upload_token is not None) == (job.status == "created")
    assert job.created_at is not None and job.updated_at is not None
    assert job.updated_at >= job.created_at
    assert (job.finished_at is not None) == (job.status in ("finished", "failed"))
    assert (job.claimed_by is not None) == (job.claimed_at is not None)
    if job.status == "failed":
        assert job.error_code and job.error_message


def test_every_seeded_job_validates(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=400, arrivals=20)
    api = vendor(running.url, state.token)
    try:
        jobs = every_job(api, state)
        assert {job.status for job in jobs.values()} == ALL_STATUSES
        for job in jobs.values():
            check_job(job)
        state.clock.advance(200)  # let jobs move and new ones arrive
        later = every_job(api, state)
        assert len(state.order) > 400
        assert {"created", "loaded", "pending", "processing"} & {j.status for j in later.values()}
        for job in later.values():
            check_job(job)
    finally:
        api.close()
