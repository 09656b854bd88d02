"""BsubService against the bsub.io emulator: polling, state mapping, allowed actions, the actions
themselves, logs, downloads and the new-job flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobtui.config import BsubConfig
from jobtui.core.errors import AuthError, NotFoundError, RefusedError
from jobtui.core.models import Action, Job, JobState
from jobtui.core.polling import ServiceMonitor
from jobtui.core.service import UnsupportedActionError
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.runner import RunningEmulator
from jobtui.services.bsub.service import BsubService
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import advance_until, make_file, seeded, start, token_of

MiB = 1024 * 1024

EXPECTED_STATE = {
    "created": JobState.NEEDS_INPUT,
    "loaded": JobState.NEEDS_INPUT,
    "pending": JobState.QUEUED,
    "claimed": JobState.RUNNING,
    "preparing": JobState.RUNNING,
    "processing": JobState.RUNNING,
    "finished": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}
EXPECTED_ACTIONS = {
    "created": {Action.CANCEL},
    "loaded": {Action.CANCEL, Action.SUBMIT},
    "pending": {Action.CANCEL},
    "claimed": {Action.CANCEL, Action.LOGS},
    "preparing": {Action.CANCEL, Action.LOGS},
    "processing": {Action.CANCEL, Action.LOGS},
    "finished": {Action.DELETE, Action.LOGS, Action.DOWNLOAD},
}


@pytest.fixture
async def closing() -> AsyncIterator[list[BsubService]]:
    items: list[BsubService] = []
    yield items
    for item in items:
        await item.aclose()


def service_for(
    running: RunningEmulator, closing: list[BsubService], **kwargs: object
) -> BsubService:
    service = BsubService("bsub", running.url, token_of(running), **kwargs)  # type: ignore[arg-type]
    closing.append(service)
    return service


async def polled(service: BsubService) -> dict[str, Job]:
    return {job.id: job for job in (await service.poll()).jobs}


# -- polling ------------------------------------------------------------------------------------


async def test_poll_maps_every_state_and_its_actions(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=60)
    service = service_for(running, closing)
    result = await service.poll()
    assert result.total is None  # everything came back
    assert len(result.jobs) == 60
    assert [job.id for job in result.jobs] == [job.id for job in reversed(state.order)]
    seen: set[str] = set()
    for job in result.jobs:
        sim = state.jobs[job.id]
        seen.add(job.raw_state)
        assert job.service == "bsub"
        assert job.raw_state == sim.status
        assert job.type == sim.type
        if sim.cancelled:
            assert job.state is JobState.CANCELLED
            assert job.actions == {Action.DELETE} | ({Action.LOGS} if sim.claimed_at else set())
            assert job.message.startswith("cancelled")
        elif sim.status == "failed":
            assert job.state is JobState.FAILED
            assert (
                job.actions == {Action.DELETE, Action.LOGS} if sim.claimed_at else {Action.DELETE}
            )
            assert sim.error_message and job.message.startswith(sim.error_message)
        else:
            assert job.state is EXPECTED_STATE[sim.status]
            assert job.actions == EXPECTED_ACTIONS[sim.status]
        assert job.extra["worker"] == (sim.claimed_by or "")
        assert (job.extra["size"] != "") == (sim.data_size > 0)
        assert job.created is not None and job.updated is not None
        assert (job.started is not None) == (sim.claimed_at is not None)
        assert (job.finished is not None) == (sim.finished_at is not None)
        assert job.revision
        assert job.raw["id"] == job.id
        if sim.status == "created":
            assert job.raw["upload_token"] == "**********"  # kept masked for the detail pane
    assert seen == set(EXPECTED_STATE)


async def test_poll_says_when_the_list_was_cut_and_still_shows_every_unfinished_job(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing, list_limit=10)
    result = await service.poll()
    assert result.total == 40
    ids = [job.id for job in result.jobs]
    newest = [job.id for job in reversed(state.order)]
    assert ids[:10] == newest[:10]
    unfinished = {job.id for job in state.order if not job.terminal}
    assert len(unfinished) > 10
    assert unfinished <= set(ids)  # none hidden behind newer jobs
    assert len(ids) < 40
    assert ids == [i for i in newest if i in set(ids)]  # still newest first
    assert state.counts["list_jobs"] == 7  # the list, then each unfinished state


async def test_poll_without_a_cut_makes_one_request(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing)
    result = await service.poll()
    assert result.total is None and len(result.jobs) == 40
    assert state.counts["list_jobs"] == 1


async def test_poll_falls_back_to_the_published_limit(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=150, refuse_over_max=True)
    service = service_for(running, closing)  # asks for 1000 jobs
    first = await service.poll()
    assert first.total == 150
    assert len(first.jobs) >= 100
    assert state.counts["list_jobs"] == 1 + 1 + 6  # refused, again with 100, unfinished states
    await service.poll()
    assert state.counts["list_jobs"] == 8 + 1  # 100 from then on: nothing refused


async def test_a_cut_list_asks_for_the_unfinished_states_only_when_due(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing, list_limit=10, unfinished_every=3)
    per_poll = []
    for _ in range(7):
        before = state.counts["list_jobs"]
        await service.poll()
        per_poll.append(state.counts["list_jobs"] - before)
    # Nothing moves: the unfinished states only on the first poll and every third after it.
    assert per_poll == [7, 1, 1, 7, 1, 1, 7]
    # A new job changes the cut list (its total, its newest job): asked again at once.
    await service.client.create_job(state.types[0].type)
    before = state.counts["list_jobs"]
    result = await service.poll()
    assert state.counts["list_jobs"] - before == 7
    assert result.total == 41


async def test_a_job_older_than_the_cut_list_is_never_stale_for_n_polls(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    every = 3
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing, list_limit=10, unfinished_every=every)
    newest = {job.id for job in state.order[-10:]}
    wrong_for: dict[str, int] = {}
    worst = 0
    moved = 0
    for _ in range(40):
        shown = {job.id: job.raw_state for job in (await service.poll()).jobs}
        with state.lock:
            truth = {job.id: (job.status, job.terminal) for job in state.order}
        for job_id, (status, terminal) in truth.items():
            right = shown.get(job_id) == status or (terminal and job_id not in shown)
            wrong_for[job_id] = 0 if right else wrong_for.get(job_id, 0) + 1
            worst = max(worst, wrong_for[job_id])
            if job_id in newest:
                assert right  # the cut list itself is always shown as it is
        before = dict(truth)
        state.advance(2.0)
        with state.lock:
            moved += sum(1 for job in state.order if before[job.id][0] != job.status)
    assert moved > 10  # jobs did move, older ones among them
    assert 0 < worst <= every - 1  # each change is shown at most `every` polls after it happened


async def test_poll_against_a_server_that_serves_its_maximum(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=150)
    service = service_for(running, closing)
    result = await service.poll()
    assert result.total == 150
    assert {job.id for job in state.order if not job.terminal} <= {job.id for job in result.jobs}
    assert state.counts["list_jobs"] == 7


async def test_poll_reads_the_types_once_and_names_outputs_by_them(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing)
    jobs = await polled(service)
    await service.poll()
    assert state.counts["get_types"] == 1
    assert state.counts["list_jobs"] == 2
    finished = {sim.type: sim.id for sim in state.order if sim.status == "finished"}
    extension = {"pdf-text": "txt", "video-mp4": "mp4", "image-ocr": "txt", "sha256": "sha256"}
    for type_id, job_id in finished.items():
        if type_id in extension:
            assert service.output_name(jobs[job_id]) == f"{job_id}.{extension[type_id]}"


async def test_poll_goes_on_without_the_types(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=10)
    service = service_for(running, closing)
    state.faults.paths = ("/v1/types",)
    state.faults.fail_status = 500
    first = await service.poll()
    assert len(first.jobs) == 10
    assert first.note == "processing types not available: Simulated failure (HTTP 500)"
    finished = next(job for job in first.jobs if job.raw_state == "finished")
    assert service.output_name(finished) == f"{finished.id}.out"
    state.faults.fail_status = None
    second = await service.poll()
    assert second.note == ""
    assert service.output_name(finished) != f"{finished.id}.out"
    await service.poll()
    assert state.counts["get_types"] == 1  # read once it answered (the failed try never got in)


async def test_poll_revision_changes_with_the_record(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=20)
    service = service_for(running, closing)
    job = seeded(state, "pending")
    before = (await polled(service))[job.id]
    assert before == (await polled(service))[job.id]
    advance_until(state, lambda: state.jobs[job.id].status != "pending")
    after = (await polled(service))[job.id]
    assert after.revision != before.revision
    assert after.raw_state == "claimed"
    assert after.message == f"claimed by {state.jobs[job.id].claimed_by}"


async def test_unknown_state_is_kept_as_text(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=20)
    service = service_for(running, closing)
    sim = seeded(state, "processing")
    with state.lock:
        state.touch(sim, "archiving", state.now())
    job = (await polled(service))[sim.id]
    assert job.state is JobState.UNKNOWN
    assert job.raw_state == "archiving"
    assert job.message == "state 'archiving'"
    assert job.actions == {Action.CANCEL, Action.LOGS}  # not ended, and a worker had it
    assert service.disabled_reason(Action.DELETE, job) == (
        "only finished or failed jobs can be deleted; this one is archiving"
    )


async def test_poll_failures_are_one_line(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=5)
    service = BsubService("acme", running.url, "bsk_wrong")
    closing.append(service)
    with pytest.raises(AuthError) as caught:
        await service.poll()
    assert caught.value.line == "acme: Invalid API key (HTTP 401)"

    good = service_for(running, closing)
    monitor = ServiceMonitor(good)
    assert (await monitor.poll_once()).health.ok
    state.faults.malformed = True
    outcome = await monitor.poll_once()
    assert not outcome.health.ok
    assert outcome.health.error is not None
    assert outcome.health.error.startswith("bsub: unexpected job list")
    assert len(outcome.snapshot) == 5  # the last good data stays


# -- allowed actions ----------------------------------------------------------------------------


async def test_disabled_reasons_explain_the_rules(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing)
    jobs = await polled(service)

    def job(status: str, *, cancelled: bool | None = None) -> Job:
        return jobs[seeded(state, status, cancelled=cancelled).id]

    reason = service.disabled_reason
    assert reason(Action.CANCEL, job("finished")) == "finished jobs cannot be cancelled"
    assert (
        reason(Action.CANCEL, job("failed", cancelled=False)) == "failed jobs cannot be cancelled"
    )
    assert reason(Action.CANCEL, job("failed", cancelled=True)) == "the job is already cancelled"
    assert reason(Action.SUBMIT, job("created")) == (
        "upload the input first: only loaded jobs can be submitted"
    )
    assert reason(Action.SUBMIT, job("pending")) == (
        "only loaded jobs can be submitted; this one is pending"
    )
    assert reason(Action.DELETE, job("processing")) == (
        "only finished or failed jobs can be deleted; this one is processing"
    )
    assert (
        reason(Action.LOGS, job("pending")) == "no log yet: no worker has claimed the job (pending)"
    )
    assert reason(Action.DOWNLOAD, job("processing")) == (
        "only finished jobs have an output; this one is processing"
    )
    assert reason(Action.DOWNLOAD, job("failed", cancelled=True)) == (
        "only finished jobs have an output; this one is cancelled"
    )
    for allowed in (Action.DELETE, Action.LOGS, Action.DOWNLOAD):
        assert reason(allowed, job("finished")) is None
    assert reason(Action.SUBMIT, job("loaded")) is None
    assert reason(Action.NEW, None) is None
    assert reason(Action.CANCEL, None) == "no job selected"
    assert reason(Action.RESTART, job("failed")) == "bsub has no restart action"


async def test_confirmations_name_the_job(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=20)
    service = service_for(running, closing)
    jobs = await polled(service)
    processing = jobs[seeded(state, "processing").id]
    text = service.confirm_text(Action.CANCEL, processing)
    assert processing.id in text and "processing" in text and "failed (cancelled)" in text
    finished = jobs[seeded(state, "finished").id]
    assert "cannot be undone" in service.confirm_text(Action.DELETE, finished)


# -- actions ------------------------------------------------------------------------------------


async def test_run_action_submit_cancel_delete(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing)
    jobs = await polled(service)

    loaded = jobs[seeded(state, "loaded").id]
    assert await service.run_action(Action.SUBMIT, loaded) == f"job {loaded.id} submitted"
    assert (await polled(service))[loaded.id].state is JobState.QUEUED

    processing = jobs[seeded(state, "processing").id]
    assert await service.run_action(Action.CANCEL, processing) == f"job {processing.id} cancelled"
    after = (await polled(service))[processing.id]
    assert after.state is JobState.CANCELLED
    assert after.raw_state == "failed"
    assert after.message == "cancelled: Job cancelled by user"
    assert Action.DELETE in after.actions and Action.CANCEL not in after.actions

    assert await service.run_action(Action.DELETE, after) == f"job {after.id} deleted"
    assert processing.id not in await polled(service)
    with pytest.raises(NotFoundError):
        await service.run_action(Action.DELETE, after)

    finished = jobs[seeded(state, "finished").id]
    with pytest.raises(RefusedError) as caught:
        await service.run_action(Action.CANCEL, finished)
    assert caught.value.status == 400
    with pytest.raises(UnsupportedActionError):
        await service.run_action(Action.LOGS, finished)


async def test_read_log_and_download(
    emulator: EmulatorFactory, closing: list[BsubService], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing)
    jobs = await polled(service)
    finished = jobs[seeded(state, "finished").id]
    log = await service.read_log(finished)
    assert log.splitlines()[0].endswith(f"claimed job {finished.id} ({finished.type})")
    dest = tmp_path / service.output_name(finished)
    calls: list[tuple[int, int | None]] = []
    saved = await service.download(finished, dest, lambda d, t: calls.append((d, t)))
    assert saved == dest and dest.stat().st_size > 0
    assert calls[-1] == (dest.stat().st_size, dest.stat().st_size)


# -- the new-job flow ---------------------------------------------------------------------------


async def test_types_for_the_new_job_dialog(
    emulator: EmulatorFactory, closing: list[BsubService]
) -> None:
    running, _ = start(emulator, jobs=5)
    types = await service_for(running, closing).types()
    assert {"pdf-text", "video-mp4", "audio-transcribe", "sha256"} <= {t.type for t in types}
    assert all(t.name and t.description for t in types)


async def test_new_job_creates_uploads_and_submits(
    emulator: EmulatorFactory, closing: list[BsubService], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5, fail_rate=0)
    service = service_for(running, closing)
    path = make_file(tmp_path / "clip.mov", 3 * MiB)
    calls: list[tuple[int, int | None]] = []
    job = await service.new_job("video-mp4", path, lambda d, t: calls.append((d, t)))
    assert job.raw_state == "pending" and job.state is JobState.QUEUED
    assert job.type == "video-mp4"
    assert job.extra["size"] == "3.0 MiB"
    assert calls[0] == (0, 3 * MiB) and calls[-1] == (3 * MiB, 3 * MiB)
    assert state.jobs[job.id].filename == "clip.mov"
    advance_until(state, lambda: state.jobs[job.id].terminal)
    done = (await polled(service))[job.id]
    assert done.state is JobState.SUCCEEDED
    assert service.output_name(done) == f"{job.id}.mp4"


async def test_new_job_says_which_job_the_failed_upload_left(
    emulator: EmulatorFactory, closing: list[BsubService], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5, max_upload=MiB)
    service = service_for(running, closing)
    path = make_file(tmp_path / "huge.wav", 2 * MiB)
    with pytest.raises(RefusedError) as caught:
        await service.new_job("audio-transcribe", path)
    left = state.order[-1]
    assert left.status == "created"
    line = caught.value.line
    assert line.startswith(f"bsub: job {left.id} was created but uploading huge.wav failed: ")
    assert f"huge.wav is too large to upload (2.0 MiB, {2 * MiB} bytes)" in line
    assert line.endswith("(HTTP 413)")
    assert caught.value.status == 413
    assert left.upload_token not in line


async def test_new_job_with_an_unknown_type_creates_nothing(
    emulator: EmulatorFactory, closing: list[BsubService], tmp_path: Path
) -> None:
    running, state = start(emulator, jobs=5)
    service = service_for(running, closing)
    with pytest.raises(RefusedError) as caught:
        await service.new_job("nope", make_file(tmp_path / "a.bin", 10))
    assert caught.value.line == "bsub: Unknown processing type: nope (HTTP 400)"
    assert len(state.order) == 5


# -- configuration and secrets ------------------------------------------------------------------


async def test_from_config_and_secrets_stay_out_of_reprs(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=10)
    cfg = BsubConfig(name="acme", url=running.url + "/v1", token=SecretStr(state.token))
    service = BsubService.from_config(cfg)
    try:
        assert service.name == "acme"
        assert len((await service.poll()).jobs) == 10  # a URL ending in /v1 works too
        for text in (repr(service), repr(service.client)):
            assert state.token not in text
        created = seeded(state, "created")
        record = await service.client.get_job(created.id)
        assert created.upload_token not in repr(record)
        assert created.upload_token not in str(service.to_job(record).raw)
    finally:
        await service.aclose()


def test_state_type(emulator: EmulatorFactory) -> None:
    _, state = start(emulator, jobs=1)
    assert isinstance(state, BsubState)
