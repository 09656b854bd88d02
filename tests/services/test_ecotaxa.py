"""EcoTaxaClient and EcoTaxaService against the EcoTaxa emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from jobtui.config import EcoTaxaConfig
from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
    ServerError,
    TransportError,
)
from jobtui.core.models import Action, JobState
from jobtui.core.secret import Secret
from jobtui.emulators.runner import RunningEmulator
from jobtui.services import build_service
from jobtui.services._http import make_client
from jobtui.services.ecotaxa import service as ecotaxa_service
from jobtui.services.ecotaxa.client import EcoTaxaClient, EcoTaxaServerError
from jobtui.services.ecotaxa.files import JobFileExistsError
from jobtui.services.ecotaxa.service import EcoTaxaService
from tests.conftest import EmulatorFactory
from tests.robustness.hostile import Answer, HostileServer, json_answer, raw
from tests.services.ecotaxa_support import (
    Recorder,
    advance_until,
    credentials,
    seeded,
    start,
)

Closer = list[EcoTaxaClient | EcoTaxaService]


@pytest.fixture
async def closing() -> AsyncIterator[Closer]:
    items: Closer = []
    yield items
    for item in items:
        await item.aclose()


def client_for(
    running: RunningEmulator, closing: Closer, **kwargs: Any
) -> tuple[EcoTaxaClient, Recorder]:
    recorder = Recorder()
    http = make_client(running.url)
    http.event_hooks["request"] = [recorder]
    if "token" not in kwargs and "username" not in kwargs:
        username, password = credentials(running)
        kwargs.update(username=username, password=password)
    client = EcoTaxaClient(running.url, service="EcoTaxa", http=http, **kwargs)
    closing.append(client)
    return client, recorder


def service_for(running: RunningEmulator, closing: Closer, **kwargs: Any) -> EcoTaxaService:
    username, password = credentials(running)
    service = EcoTaxaService("EcoTaxa", running.url, username=username, password=password, **kwargs)
    closing.append(service)
    return service


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- login and tokens ---------------------------------------------------------------------------


async def test_login_then_bearer_on_every_call(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    jobs = await client.list_jobs()
    assert {job.id for job in jobs} == {j.id for j in state.owned_by(2)}
    assert recorder.lines() == ["POST /api/login", "GET /api/jobs/?for_admin=false"]
    listing = recorder.requests[1]
    assert listing.headers["authorization"].startswith("Bearer ")
    assert "authorization" not in recorder.requests[0].headers
    await client.get_job(jobs[0].id)
    assert client.logins == 1


async def test_bad_credentials_are_one_line_without_the_password(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator)
    username, _ = credentials(running)
    client, _ = client_for(running, closing, username=username, password="hunter2-secret")
    with pytest.raises(AuthError) as caught:
        await client.list_jobs()
    assert caught.value.line == "EcoTaxa: login refused: You can't do this. (HTTP 403)"
    assert "hunter2" not in repr(client) and "hunter2" not in caught.value.line


async def test_a_configured_token_is_used_without_login(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing, token=Secret(state.token_for(state.user)))
    await client.list_jobs()
    assert recorder.lines() == ["GET /api/jobs/?for_admin=false"]
    state.invalidate_tokens()
    with pytest.raises(AuthError) as caught:
        await client.list_jobs()
    assert caught.value.status == 401
    assert caught.value.line == (
        "EcoTaxa: Could not validate credentials "
        "(configure a username and password to log in) (HTTP 401)"
    )


async def test_one_relogin_on_401_when_a_password_is_configured(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    username, password = credentials(running)
    stale = state.token_for(state.user)
    state.invalidate_tokens()
    client, recorder = client_for(
        running, closing, username=username, password=password, token=stale
    )
    job = seeded(state, "F")
    record = await client.get_job(job.id)
    assert record.id == job.id
    assert recorder.lines() == [
        f"GET /api/jobs/{job.id}/",
        "POST /api/login",
        f"GET /api/jobs/{job.id}/",
    ]
    state.invalidate_tokens()  # the server forgets every token: the next call logs in once more
    await client.list_jobs()
    assert client.logins == 2
    assert stale not in repr(client)


async def test_no_credentials_at_all(emulator: EmulatorFactory, closing: Closer) -> None:
    running, _ = start(emulator)
    client = EcoTaxaClient(running.url, service="EcoTaxa")
    closing.append(client)
    with pytest.raises(AuthError) as caught:
        await client.list_jobs()
    assert caught.value.line == (
        "EcoTaxa: Not authenticated (configure a token, or a username and password) (HTTP 403)"
    )


# -- routes and errors --------------------------------------------------------------------------


async def test_for_admin_is_always_sent_and_a_403_names_the_admin_right(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    with pytest.raises(AuthError) as caught:
        await client.list_jobs(for_admin=True)
    assert caught.value.line == (
        "EcoTaxa: listing every user's jobs (for_admin) needs the application administrator "
        "right: You can't do this. (HTTP 403)"
    )
    assert recorder.lines()[-1] == "GET /api/jobs/?for_admin=true"
    admin, _ = client_for(
        running, closing, username=state.admin.email, password=state.admin.password
    )
    everyone = await admin.list_jobs(for_admin=True)
    assert {job.owner_id for job in everyone} >= {1, 2, 3}
    asking = await admin.list_jobs(for_admin=True, job_type="FileImport", job_status="A")
    assert asking and all(j.state == "A" and j.type == "FileImport" for j in asking)


async def test_filters_also_apply_on_the_client_for_old_servers(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator, legacy=True)
    client, _ = client_for(running, closing)
    asking = await client.list_jobs(job_status="A")
    assert asking and {job.state for job in asking} == {"A"}


async def test_routing_quirks_are_not_followed(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    job = seeded(state, "F").id
    with pytest.raises(RefusedError) as redirect:
        await client._request("list_jobs", "GET", "/jobs", params={"for_admin": "false"})
    assert redirect.value.status == 307
    assert "redirected to https://ecotaxa.invalid/api/jobs/?for_admin=false" in redirect.value.line
    assert all(r.url.host == "127.0.0.1" for r in recorder.requests)
    with pytest.raises(RefusedError) as wrong_method:
        await client._request("get_job", "GET", f"/jobs/{job}", job_id=job)
    assert wrong_method.value.line == f"EcoTaxa: job {job}: Method Not Allowed (HTTP 405)"
    with pytest.raises(NotFoundError) as nowhere:
        await client._request("x", "GET", "/nowhere")
    assert "Not Found: no such route" in nowhere.value.line
    with pytest.raises(RefusedError) as invalid:
        await client._request("list_jobs", "GET", "/jobs/", params={"for_admin": "maybe"})
    assert invalid.value.line == (
        "EcoTaxa: query.for_admin: value could not be parsed to a boolean (HTTP 422)"
    )


async def test_missing_job_and_not_owner(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    with pytest.raises(NotFoundError) as missing:
        await client.get_job(999999)
    assert missing.value.line == "EcoTaxa: job 999999: Not found. (HTTP 404)"
    other = state.owned_by(3)[0]
    was = (other.state, other.archived)
    for call in (client.get_job, client.restart_job, client.erase_job, client.job_log):
        with pytest.raises(AuthError) as refused:
            await call(other.id)
        assert refused.value.line == f"EcoTaxa: job {other.id}: You can't do this. (HTTP 403)"
    assert (other.state, other.archived) == was


async def test_server_failures_and_malformed_bodies(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    await client.login()
    state.faults.malformed = True
    with pytest.raises(BadPayloadError) as malformed:
        await client.list_jobs()
    assert malformed.value.line.startswith("EcoTaxa: unexpected job list:")
    state.faults.malformed = False
    state.faults.fail_status = 500
    with pytest.raises(EcoTaxaServerError) as crash:
        await client.list_jobs()
    assert crash.value.line == (
        "EcoTaxa: server error: sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) "
        "server closed the connection unexpectedly (HTTP 500)"
    )
    assert "BACK-END" in crash.value.traceback
    state.faults.fail_status = 503
    with pytest.raises(ServerError) as unavailable:
        await client.get_job(1)
    assert unavailable.value.line == "EcoTaxa: job 1: Simulated failure (HTTP 503)"


# -- actions on the wire ------------------------------------------------------------------------


async def test_answer_restart_erase_routes(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    asking, failed, done = (
        seeded(state, "A"),
        seeded(state, "E", "GeneralExport"),
        seeded(state, "F"),
    )
    await client.answer_job(asking.id, {"users": {}, "taxa": {}})
    await client.restart_job(failed.id)
    await client.erase_job(done.id)
    assert recorder.lines()[1:] == [
        f"POST /api/jobs/{asking.id}/answer",
        f"GET /api/jobs/{failed.id}/restart",
        f"DELETE /api/jobs/{done.key}",
    ]
    assert recorder.requests[1].headers["content-type"] == "application/json"
    assert (asking.state, failed.state, done.archived) == ("P", "P", True)


async def test_silent_no_ops_are_detected(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    done = seeded(state, "F", "GeneralExport")
    job = service.jobs[str(done.id)]
    with pytest.raises(ConflictError) as refused:
        await service.restart(job)
    assert refused.value.line == (
        f"EcoTaxa: job {done.id} is finished now, not in error: nothing to restart"
    )
    assert service.client.requests["restart_job"] == 0
    # The server itself takes the wrong-state restart silently; the polls notice nothing changed.
    before = (await service.client.get_job(done.id)).updated_on
    state.clock.advance(1)
    await service.client.restart_job(done.id)
    after = await service.client.get_job(done.id)
    assert after.state == "F" and after.updated_on != before
    service.expect_change(str(done.id), "F", "restart", polls=2)
    assert (await service.poll()).note == ""
    assert (await service.poll()).note == f"EcoTaxa: job {done.id} is still in F after restart"
    assert (await service.poll()).note == ""
    assert not service.expectations


async def test_restart_only_in_error(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    failed = seeded(state, "E", "GeneralExport")
    job = service.jobs[str(failed.id)]
    assert Action.RESTART in job.actions
    assert service.confirm_text(Action.RESTART, job).startswith(f"Restart EcoTaxa job {failed.id}")
    line = await service.run_action(Action.RESTART, job)
    assert line == f"EcoTaxa: job {failed.id} restarting (pending)"
    restarted = await service.refresh(job)
    assert (restarted.raw["state"], restarted.message) == ("P", "Restarting")
    assert restarted.raw["errors"] == job.raw["errors"]
    result = await service.poll()
    assert result.note == "" and not service.expectations
    advance_until(state, lambda: failed.state == "F")
    finished = {j.id: j for j in (await service.poll()).jobs}[str(failed.id)]
    assert finished.state is JobState.SUCCEEDED and Action.RESTART not in finished.actions
    assert service.disabled_reason(Action.RESTART, finished) == (
        "only jobs in error can be restarted (this one is finished)"
    )


async def test_answer_flow_back_to_asking_then_finished(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    sim = seeded(state, "A", "FileImport")
    job = service.jobs[str(sim.id)]
    assert job.state is JobState.NEEDS_INPUT and job.raw_state == "asking"
    form = service.answer_form(job)
    assert list(form.missing_taxa) == sim.question["missing_taxa"]
    first = form.missing_taxa[0]
    users, taxa = form.parse(dict.fromkeys(form.missing_users, "2"), {first: "85011"})
    line = await service.answer(job, users, taxa)
    left = len(form.missing_taxa) - 1
    assert left >= 1  # seeded questions name two taxa at least
    assert line == (
        f"EcoTaxa: job {sim.id} answered ({len(users)} user(s), 1 taxon name(s)), now pending; "
        f"{left} name(s) left unmapped, it will ask again"
    )
    assert sim.state == "P" and sim.progress_msg == "Proceeding"
    advance_until(state, lambda: sim.state not in ("P", "R"))
    again = {j.id: j for j in (await service.poll()).jobs}[str(sim.id)]
    assert again.state is JobState.NEEDS_INPUT
    assert again.message == f"to map: 0 user(s), {left} taxon name(s)"
    second = service.answer_form(again)
    assert second.missing_users == () and second.missing_taxa == form.missing_taxa[1:]
    users, taxa = second.parse({}, dict.fromkeys(second.missing_taxa, "1000"))
    await service.answer(again, users, taxa)
    advance_until(state, lambda: sim.state not in ("P", "R"))
    assert sim.state == "F"
    finished = {j.id: j for j in (await service.poll()).jobs}[str(sim.id)]
    assert finished.state is JobState.SUCCEEDED and finished.progress == 100.0
    assert service.expectations == {}


async def test_a_reply_without_users_fails_and_restarts_into_asking(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    sim = seeded(state, "A", "FileImport")
    await service.client.answer_job(sim.id, {"taxa": {}})  # what a careless client would send
    advance_until(state, lambda: sim.state == "E")
    failed = {j.id: j for j in (await service.poll()).jobs}[str(sim.id)]
    assert failed.raw["progress_msg"] == "'users'"
    assert failed.message == "the reply had no 'users' map: restart to be asked again"
    await service.run_action(Action.RESTART, failed)
    advance_until(state, lambda: sim.state not in ("P", "R"))
    assert sim.state == "A"


async def test_answer_refused_when_the_job_moved_on(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    sim = seeded(state, "A", "FileImport")
    job = service.jobs[str(sim.id)]
    state.erase(sim, state.user)  # killed behind the dashboard's back
    with pytest.raises(ConflictError) as moved:
        await service.answer(job, {}, {sim.question["missing_taxa"][0]: 5})
    assert moved.value.line == (
        f"EcoTaxa: job {sim.id} is error now, not asking: the answer was not sent"
    )
    assert service.client.requests["reply_job_question"] == 0
    with pytest.raises(InputError) as empty:
        await service.answer(job, {}, {})
    assert empty.value.field == "answer"
    with pytest.raises(InputError) as negative:
        await service.answer(job, {"x": -1}, {})
    assert negative.value.field == "users[x]"


async def test_erase_is_two_step(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    sim = seeded(state, "R")
    key = str(sim.id)
    job = service.jobs[key]
    assert service.action_label(Action.DELETE) == "Erase"
    assert service.confirm_text(Action.DELETE, job) == (
        f"Erase EcoTaxa job {key} ({job.type}, running)? The job is killed and stays listed "
        "as error; erase it again to archive it."
    )
    line = await service.run_action(Action.DELETE, job)
    assert (
        line
        == f"EcoTaxa: job {key} killed; it stays listed as error (erase it again to archive it)"
    )
    killed = {j.id: j for j in (await service.poll()).jobs}[key]
    assert (killed.state, killed.raw_state, killed.message) == (JobState.FAILED, "error", "Killed")
    assert service.confirm_text(Action.DELETE, killed).endswith(
        "? It is archived and leaves the list."
    )
    assert "Process killed by user 2" in await service.read_log(killed)
    assert await service.run_action(Action.DELETE, killed) == f"EcoTaxa: job {key} archived"
    result = await service.poll()
    assert key not in {j.id for j in result.jobs}
    assert result.note == "" and not service.expectations
    archived = await service.client.get_job(-int(key))
    assert archived.id == -int(key)


# -- logs and downloads -------------------------------------------------------------------------


async def test_log_text_and_the_missing_log_line(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    jobs = {j.id: j for j in (await service.poll()).jobs}
    done = jobs[str(seeded(state, "F", "BackupExport").id)]
    log = await service.read_log(done)
    assert f"Creating job {done.id}" in log.splitlines()[0]
    # a job that has not run yet has its log already
    pending = jobs[str(seeded(state, "P", "Prediction").id)]
    assert (await service.read_log(pending)).endswith(f"INFO Creating job {pending.id}\n")
    # the log of an archived job is not found under its negated id: a 500, said as what it is
    await service.erase(done)
    archived = await service.refresh(f"-{done.id}")
    with pytest.raises(EcoTaxaServerError) as missing:
        await service.read_log(archived)
    assert missing.value.line == f"EcoTaxa: job -{done.id}: no log for an archived job (HTTP 500)"
    assert "does not exist" in missing.value.traceback


async def test_download_names_the_file_from_content_disposition(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator, file_size=400_000)
    service = service_for(running, closing)
    jobs = {j.id: j for j in (await service.poll()).jobs}
    sim = seeded(state, "F", "SummaryExport")
    job = jobs[str(sim.id)]
    name, data = state.file_of(sim)
    assert service.output_name(job) == name
    seen: list[tuple[int, int | None]] = []
    saved = await service.download(job, tmp_path, lambda done, total: seen.append((done, total)))
    assert saved == tmp_path / name and saved.read_bytes() == data
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not (tmp_path / f"{name}.part").exists()
    with pytest.raises(JobFileExistsError) as exists:
        await service.download(job, tmp_path)
    assert exists.value.path == saved and isinstance(exists.value, FileExistsError)
    assert str(exists.value) == f"EcoTaxa: {saved} exists (not overwritten)"
    requests = service.client.requests["get_job_file"]
    chosen = tmp_path / "summary.tsv"
    chosen.write_bytes(b"keep me")
    with pytest.raises(JobFileExistsError):
        await service.download(job, chosen)
    assert chosen.read_bytes() == b"keep me"
    assert service.client.requests["get_job_file"] == requests  # refused before any request
    await service.download(job, chosen, overwrite=True)
    assert chosen.read_bytes() == data


async def test_download_refusals_are_one_line(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    jobs = {j.id: j for j in (await service.poll()).jobs}
    imported = jobs[str(seeded(state, "F", "FileImport").id)]
    assert Action.DOWNLOAD not in imported.actions
    assert service.disabled_reason(Action.DOWNLOAD, imported) == "FileImport jobs produce no file"
    with pytest.raises(EcoTaxaServerError) as nofile:
        await service.download(imported, tmp_path / "x.zip")
    assert (
        nofile.value.line == f"EcoTaxa: job {imported.id}: no result file for this job (HTTP 500)"
    )
    running_export = jobs[str(seeded(state, "R", "GeneralExport").id)]
    assert service.disabled_reason(Action.DOWNLOAD, running_export) == (
        "the file exists once the job has finished (this one is running)"
    )
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()


async def test_an_interrupted_download_resumes_with_a_range(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator, file_size=3_000_000)
    client, _ = client_for(running, closing)
    sim = seeded(state, "F", "BackupExport")
    name, data = state.file_of(sim)
    state.faults.drop_after = 1_000_000
    state.faults.drops_left = 1
    with pytest.raises(TransportError) as broken:
        await client.download_file(sim.id, tmp_path, resume_attempts=0)
    part = tmp_path / f"{name}.part"
    kept = part.stat().st_size
    assert 0 < kept <= 1_000_000 and part.read_bytes() == data[:kept]
    assert broken.value.line.startswith(
        f"EcoTaxa: job {sim.id}: download interrupted at {kept} of 3000000 bytes"
    )
    assert not (tmp_path / name).exists() and state.ranges == []
    saved = await client.download_file(sim.id, tmp_path)
    assert state.ranges == [f"bytes={kept}-"]
    assert saved == tmp_path / name and file_hash(saved) == hashlib.sha256(data).hexdigest()
    assert not part.exists()


async def test_a_download_resumes_by_itself_within_one_call(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator, file_size=2_500_000)
    client, _ = client_for(running, closing)
    sim = seeded(state, "F", "GeneralExport")
    _, data = state.file_of(sim)
    state.faults.drop_after = 700_000
    state.faults.drops_left = 2
    target = tmp_path / "export.zip"
    saved = await client.download_file(sim.id, target, resume_attempts=2)
    assert saved.read_bytes() == data
    assert len(state.ranges) == 2 and state.faults.dropped == 2
    assert not (tmp_path / "export.zip.part").exists()


async def test_a_stale_part_file_starts_over(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator, file_size=100_000)
    client, _ = client_for(running, closing)
    sim = seeded(state, "F", "SummaryExport")
    _, data = state.file_of(sim)
    target = tmp_path / "summary.tsv"
    (tmp_path / "summary.tsv.part").write_bytes(b"x" * 200_000)  # longer than the file: 416
    saved = await client.download_file(sim.id, target)
    assert saved.read_bytes() == data
    assert state.ranges == ["bytes=200000-"]


@pytest.mark.parametrize("strict", [False, True], ids=["empty-206", "416"])
async def test_a_complete_part_file_is_finished(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path, strict: bool
) -> None:
    """EcoTaxa answers `Range: bytes=<size>-` with an empty 206; a server that answers 416
    is asked for the whole file, whose Content-Length shows that the part is complete."""
    running, state = start(emulator, file_size=3_000_000, strict_ranges=strict)
    client, recorder = client_for(running, closing)
    sim = seeded(state, "F", "BackupExport")
    name, data = state.file_of(sim)
    (tmp_path / f"{name}.part").write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    saved = await client.download_file(sim.id, tmp_path / name, lambda d, t: seen.append((d, t)))
    assert saved == tmp_path / name and saved.read_bytes() == data
    assert not (tmp_path / f"{name}.part").exists()
    assert state.ranges == [f"bytes={len(data)}-"]
    assert seen == [(len(data), len(data))]  # nothing was downloaded again
    assert client.requests["get_job_file"] == (2 if strict else 1)
    assert "HEAD" not in {r.method for r in recorder.requests}  # a 405 on EcoTaxa


# -- archived jobs and connections --------------------------------------------------------------


async def test_a_negated_id_is_never_erased(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    sim = seeded(state, "F", "GeneralExport")
    key = sim.id
    assert await service.run_action(Action.DELETE, service.jobs[str(key)]) == (
        f"EcoTaxa: job {key} archived"
    )
    archived = await service.refresh(str(-key))
    erased = state.counts["erase_job"]
    with pytest.raises(ConflictError) as refused:
        await service.run_action(Action.DELETE, archived)
    assert refused.value.line == (
        f"EcoTaxa: job {-key}: an archived job (erasing it would restore it); nothing sent"
    )
    with pytest.raises(ConflictError):
        await service.client.erase_job(-key)
    assert state.counts["erase_job"] == erased and sim.archived


async def test_the_poll_after_a_500_succeeds_over_a_new_connection(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    kept = state.peers[-1]
    await service.poll()
    assert state.peers[-1] == kept  # polls keep their connection
    state.faults.fail_status = 500
    with pytest.raises(EcoTaxaServerError):
        await service.poll()
    crashed = state.peers[-1]
    state.faults.fail_status = None
    result = await service.poll()
    assert {int(job.id) for job in result.jobs} == {j.id for j in state.owned_by(2)}
    assert state.peers[-1] != crashed  # the server closed that one


# -- the adapter --------------------------------------------------------------------------------


async def test_state_mapping_actions_and_columns(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator)
    service = service_for(running, closing)
    result = await service.poll()
    expected = {
        "P": ("pending", JobState.QUEUED),
        "R": ("running", JobState.RUNNING),
        "A": ("asking", JobState.NEEDS_INPUT),
        "E": ("error", JobState.FAILED),
        "F": ("finished", JobState.SUCCEEDED),
    }
    seen = set()
    ids = [int(j.id) for j in result.jobs]
    assert ids == sorted(ids, reverse=True)
    for job in result.jobs:
        letter = job.raw["state"]
        seen.add(letter)
        assert (job.raw_state, job.state) == expected[letter]
        assert {Action.DELETE, Action.LOGS} <= job.actions
        assert (Action.ANSWER in job.actions) == (letter == "A")
        assert (Action.RESTART in job.actions) == (letter == "E")
        has_file = letter == "F" and job.type.endswith("Export")
        assert (Action.DOWNLOAD in job.actions) == has_file
        assert job.extra["owner"] == "me" and job.extra["project"]
        if letter == "P" and job.raw["progress_pct"] is None:
            assert job.progress is None
    assert seen == set(expected)
    assert service.me is not None and service.me.id == 2


def test_from_config_and_build_service() -> None:
    cfg = EcoTaxaConfig(
        name="EcoTaxa",
        url="http://127.0.0.1:9/api",
        username="alice@example.org",
        password=SecretStr("pw-secret"),
        for_admin=True,
    )
    service = build_service(cfg)
    assert isinstance(service, EcoTaxaService)
    assert service.for_admin and service.client.can_login
    assert "pw-secret" not in repr(service) and "pw-secret" not in repr(service.client)


async def test_a_stopped_server_is_one_transport_line(closing: Closer) -> None:
    client = EcoTaxaClient("http://127.0.0.1:9/api", token="t", service="EcoTaxa")
    closing.append(client)
    with pytest.raises(TransportError) as caught:
        await client.list_jobs()
    assert caught.value.line == "EcoTaxa: cannot connect to 127.0.0.1:9"


async def test_the_emulator_config_makes_a_working_service(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    from jobtui.config import config_from_data

    running, state = start(emulator)
    entry = {"name": "EcoTaxa", "url": running.url, **running.emulator.config}
    config = config_from_data({"services": [entry]}, source="test")
    service = build_service(config.services[0])
    assert isinstance(service, EcoTaxaService)
    closing.append(service)
    result = await service.poll()
    assert {int(job.id) for job in result.jobs} == {j.id for j in state.owned_by(2)}
    assert set(running.emulator.credentials) == {
        "username",
        "password",
        "admin username",
        "admin password",
    }


# -- the headless commands ----------------------------------------------------------------------


def run_headless(
    running: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., str]:
    """A runner of jobtui's headless commands on a config for `running`: their output."""
    from jobtui.__main__ import main
    from jobtui.config import to_toml, write_config_file
    from jobtui.emulate_cli import service_entries

    data = {"services": service_entries([running])}
    config = write_config_file(tmp_path / "config.toml", to_toml(data), overwrite=True)

    def run(*args: str) -> str:
        code = main(["--config", str(config), *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    return run


def test_ls_and_show_give_the_reason_of_an_empty_message(
    emulator: EmulatorFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = start(emulator, seed=32)
    run = run_headless(running, tmp_path, capsys)
    crashed = next(j for j in state.owned_by(2, "E") if j.progress_msg == "")
    rows = {line.split()[1]: line for line in run("ls").splitlines()[1:]}
    assert rows[str(crashed.id)].endswith("  AssertionError")
    shown = run("show", "EcoTaxa", str(crashed.id)).splitlines()
    assert "message:    AssertionError" in shown and '    "progress_msg": "",' in shown


def test_show_prints_the_record_as_sent(
    emulator: EmulatorFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = start(emulator)
    run = run_headless(running, tmp_path, capsys)
    moving = next(j for j in state.owned_by(2, "R") if j.progress_pct)
    assert isinstance(moving.progress_pct, int)
    # an integer percentage stays an integer in the server's own record
    shown = run("show", "EcoTaxa", str(moving.id)).splitlines()
    assert f'    "progress_pct": {moving.progress_pct},' in shown
    assert f"progress:   {moving.progress_pct}%" in shown
    record = json.loads(run("show", "EcoTaxa", str(moving.id), "--json"))["record"]
    assert record["progress_pct"] == moving.progress_pct
    assert isinstance(record["progress_pct"], int)


# -- a long list --------------------------------------------------------------------------------


async def test_a_long_list_shows_its_first_part_then_the_whole_of_the_same_answer(
    emulator: EmulatorFactory, closing: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EcoTaxa sends its whole list in one answer: the jobs of its first bytes are shown at once
    (a partial result) and the next poll validates the whole answer, without asking again."""
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    running, state = start(emulator, jobs=60)
    client, recorder = client_for(running, closing)
    service = EcoTaxaService("EcoTaxa", running.url, client=client)
    closing.append(service)
    first = await service.poll()
    owned = {str(job.id) for job in state.owned_by(2)}
    assert first.partial and first.total is None
    assert 0 < len(first.jobs) < len(owned)
    assert {job.id for job in first.jobs} < owned
    assert all(service.records[job.id].wire()["id"] == int(job.id) for job in first.jobs)
    whole = await service.poll()
    assert not whole.partial
    assert {job.id for job in whole.jobs} == owned
    assert recorder.lines().count("GET /api/jobs/?for_admin=false") == 1
    again = await service.poll()
    assert again.jobs is whole.jobs  # nothing changed: the very same list
    assert recorder.lines().count("GET /api/jobs/?for_admin=false") == 1


async def test_the_first_part_of_a_long_list_is_shown_before_the_rest_has_come(
    closing: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs of the list's first bytes are shown as soon as those bytes have come, not once
    the whole answer is in (66 MB for 100,000 jobs, seconds away over a slow link); the next
    poll waits for the rest and shows every job."""
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    jobs = [{"id": n, "type": "Subset", "state": "F", "progress_msg": "Done"} for n in range(400)]
    body = json.dumps(jobs).encode()
    rest = threading.Event()

    async def held_list(writer: asyncio.StreamWriter) -> None:
        head = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        writer.write(raw("200 OK", head) + body[:8192])
        await writer.drain()
        await asyncio.to_thread(rest.wait, 10)  # the server's loop goes on meanwhile
        writer.write(body[8192:])
        await writer.drain()

    def route(method: str, path: str) -> Answer:
        if path.startswith("/api/jobs/"):
            return held_list
        return json_answer({"id": 2, "email": "me@example.org", "can_do": []})

    with HostileServer(route) as server:
        service = EcoTaxaService("EcoTaxa", server.url + "/api", token="t")
        closing.append(service)
        first = await asyncio.wait_for(service.poll(), 10)
        assert first.partial
        assert 0 < len(first.jobs) < len(jobs)
        rest.set()
        whole = await asyncio.wait_for(service.poll(), 10)
        assert not whole.partial
        assert {job.id for job in whole.jobs} == {str(n) for n in range(400)}
        assert server.requests.count(("GET", "/api/jobs/?for_admin=false")) == 1


async def test_a_list_still_being_read_is_let_go_when_the_service_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    body = json.dumps([{"id": n, "type": "Subset"} for n in range(400)]).encode()

    async def never_ends(writer: asyncio.StreamWriter) -> None:
        head = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        writer.write(raw("200 OK", head) + body[:8192])
        await writer.drain()
        await asyncio.sleep(3600)

    def route(method: str, path: str) -> Answer:
        if path.startswith("/api/jobs/"):
            return never_ends
        return json_answer({"id": 2, "can_do": []})

    with HostileServer(route) as server:
        service = EcoTaxaService("EcoTaxa", server.url + "/api", token="t")
        first = await asyncio.wait_for(service.poll(), 10)
        assert first.partial
        reading = service._rest
        assert reading is not None and not reading.done()
        await asyncio.wait_for(service.aclose(), 10)
        assert reading.cancelled()


async def test_a_whole_poll_of_a_long_list_reads_it_once(
    emulator: EmulatorFactory, closing: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jobtui ls` waits for the whole list: no first part, one request."""
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    running, state = start(emulator, jobs=60)
    client, recorder = client_for(running, closing)
    service = EcoTaxaService("EcoTaxa", running.url, client=client)
    closing.append(service)
    result = await service.poll_whole()
    assert not result.partial
    assert {job.id for job in result.jobs} == {str(job.id) for job in state.owned_by(2)}
    assert recorder.lines().count("GET /api/jobs/?for_admin=false") == 1


async def test_an_unchanged_list_is_the_earlier_body_itself(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """A list identical to the last one is compared as it arrives and not copied again: the
    parse is found without hashing a new copy of it."""
    running, state = start(emulator, jobs=40)
    client, _ = client_for(running, closing)
    first = await client.list_body()
    assert json.loads(first)
    await client.parse_list(first)
    assert await client.list_body() is first
    job = seeded(state, "E")
    await client.restart_job(job.id)
    changed = await client.list_body()
    assert changed is not first and changed != first


async def test_between_two_listings_of_every_job_only_the_active_ones_are_asked_for(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """With 50,000 jobs the whole list is 23 MB: between two listings of every job (each
    `full_every` polls), a poll asks for the jobs in P, R and A alone, fetches those that left
    them (or were sent an action), and sees a restarted job come back."""
    running, state = start(emulator, jobs=60)
    client, recorder = client_for(running, closing)
    service = EcoTaxaService("EcoTaxa", running.url, client=client, full_every=4)
    closing.append(service)
    whole = await service.poll()
    listing = "GET /api/jobs/?for_admin=false"
    assert recorder.lines()[-1] == listing
    before = len(recorder.requests)
    again = await service.poll()
    assert again.jobs is whole.jobs  # nothing changed: the very same list
    assert recorder.lines()[before:] == [f"{listing}&job_status={s}" for s in "PRA"]
    # a job restarted elsewhere (E to P) is seen at the next poll
    failed = seeded(state, "E")
    await client.restart_job(failed.id)
    moved = await service.poll()
    assert next(job for job in moved.jobs if job.id == str(failed.id)).raw_state == "pending"
    assert {job.id for job in moved.jobs} == {job.id for job in whole.jobs}
    # an erased finished job is archived: fetched, it is gone
    done = seeded(state, "F")
    job = next(job for job in moved.jobs if job.id == str(done.id))
    await service.erase(job)  # (the emulator negates an archived job's id)
    erased = await service.poll()
    assert job.id not in {job.id for job in erased.jobs}
    assert recorder.lines()[-1] == f"GET /api/jobs/{job.id}/"
    assert service.records.keys() == {job.id for job in erased.jobs}
    fourth = await service.poll()
    assert recorder.lines()[-1] == listing  # the fourth poll lists every job again
    assert fourth.jobs == erased.jobs  # the same jobs as the polls between had them


async def test_a_server_that_ignores_the_state_filter_is_listed_whole(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """Servers before v3.0.7 ignore `job_status` and send every job: then every poll lists
    every job, as before."""
    running, _ = start(emulator, jobs=40, legacy=True)
    client, recorder = client_for(running, closing)
    service = EcoTaxaService("EcoTaxa", running.url, client=client)
    closing.append(service)
    whole = await service.poll()
    second = await service.poll()
    assert {job.id for job in second.jobs} == {job.id for job in whole.jobs}
    third = await service.poll()
    assert third.jobs is second.jobs
    assert recorder.lines()[-1] == "GET /api/jobs/?for_admin=false"
    assert sum("job_status" in line for line in recorder.lines()) == 1  # asked once
