"""DspIngestService (the adapter) against the dsp-ingest emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from jobtui.config import DspIngestConfig
from jobtui.core.errors import ConflictError, InputError, ServerError
from jobtui.core.models import Action, Job, JobState
from jobtui.core.polling import ServiceMonitor
from jobtui.core.service import UnsupportedActionError
from jobtui.emulators.dsp_ingest import state as emulator_state
from jobtui.services import build_service
from jobtui.services.dsp_ingest.ingest import UploadPlan, UploadProgress
from jobtui.services.dsp_ingest.service import DspIngestService
from tests.conftest import EmulatorFactory
from tests.services.dsp_ingest_support import (
    Closer,
    Gate,
    Recorder,
    client_for,
    make_tree,
    service_for,
    start,
    wait_for,
)

ALL = frozenset({Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE})


@pytest.fixture
async def closing() -> AsyncIterator[Closer]:
    items: Closer = []
    yield items
    for item in items:
        await item.aclose()


class Clock:
    """A hand-moved monotonic clock for the service's backoff."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def mapping_gets(recorder: Recorder, code: str) -> int:
    path = f"/projects/{code}/bulk-ingest/mapping.csv"
    return sum(1 for r in recorder.requests if r.url.path == path)


async def jobs_of(service: DspIngestService) -> dict[str, Job]:
    return {job.id: job for job in (await service.poll()).jobs}


# -- health ---------------------------------------------------------------------------------------


async def test_a_service_that_is_down_fails_the_poll_with_its_components(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service, _ = service_for(running, closing, projects=state.seeded)
    await service.poll()
    state.healthy = False
    with pytest.raises(ServerError) as info:
        await service.poll()
    assert info.value.status == 503
    assert "DOWN" in info.value.line or "down" in info.value.line
    state.healthy = True
    assert len((await service.poll()).jobs) == len(state.seeded)


# -- states ---------------------------------------------------------------------------------------


async def test_seeded_projects_show_honest_states(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service, recorder = service_for(running, closing, projects=state.seeded)
    result = await service.poll()
    jobs = {job.id: job for job in result.jobs}
    assert list(jobs) == state.seeded

    mapped = jobs[state.roles["mapped"]]
    assert (mapped.state, mapped.raw_state) == (JobState.SUCCEEDED, "done")
    assert mapped.message == "done (6 files mapped)"
    assert mapped.extra == {"uploaded": "", "mapped": "6", "unmapped": ""}
    assert mapped.actions == ALL
    assert mapped.raw["mapping_status"] == 200 and mapped.raw["mapping_rows"] == 6

    for role in ("uploaded", "empty"):
        idle = jobs[state.roles[role]]
        assert (idle.state, idle.raw_state) == (JobState.UNKNOWN, "no mapping")
        assert idle.actions == {Action.UPLOAD, Action.INGEST, Action.FINALIZE}
        reason = service.disabled_reason(Action.MAPPING, idle)
        assert reason == "no mapping yet: nothing was ingested since the last finalize"

    locked = jobs[state.roles["ingesting"]]
    assert (locked.state, locked.raw_state) == (JobState.RUNNING, "locked")
    assert locked.actions == frozenset()
    reason = service.disabled_reason(Action.INGEST, locked)
    assert reason is not None and "is locked" in reason

    assert result.note.startswith("dsp-ingest 0.21.1 · token: admin, expires 2026-12-02")
    # one health check, the server's version once, one mapping read per project, no listing
    assert service.last_poll_requests == 6
    assert all(mapping_gets(recorder, code) == 1 for code in state.seeded)
    assert state.token not in repr(service)


async def test_with_a_lock_wait_a_locked_project_is_locked_at_once_not_waited_on(
    emulator: EmulatorFactory, closing: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server would hold the mapping read for an hour before its 409: only a client that
    # gives up on its own ends the poll (the test's own bound is far above the lock wait).
    monkeypatch.setattr(emulator_state, "LOCK_TIMEOUT", 3600.0)
    running, state = start(emulator)
    service, recorder = service_for(running, closing, projects=state.seeded, lock_wait=0.1)
    async with asyncio.timeout(60):
        jobs = await jobs_of(service)
    locked = jobs[state.roles["ingesting"]]
    assert (locked.state, locked.raw_state) == (JobState.RUNNING, "locked")
    # the free projects answered as before
    assert jobs[state.roles["mapped"]].raw_state == "done"
    assert jobs[state.roles["empty"]].raw_state == "no mapping"
    assert all(mapping_gets(recorder, code) == 1 for code in state.seeded)


async def test_poll_backs_off_while_locked_and_sees_another_clients_ingest_finish(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    clock = Clock()
    code = state.roles["ingesting"]
    service, recorder = service_for(
        running, closing, projects=[code], clock=clock, busy_backoff=5, busy_backoff_max=20
    )
    assert (await jobs_of(service))[code].raw_state == "locked"
    assert mapping_gets(recorder, code) == 1
    delays = []
    for _ in range(4):
        # polls before the backoff is over do not touch the lock
        before = mapping_gets(recorder, code)
        waited = 0
        while mapping_gets(recorder, code) == before:
            clock.now += 1
            waited += 1
            assert (await jobs_of(service))[code].raw_state == "locked"
        delays.append(waited)
    assert delays == [5, 10, 20, 20]
    state.clock.advance(60)
    clock.now += 20
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.SUCCEEDED, "done")
    assert job.extra["mapped"] == "24"
    before = mapping_gets(recorder, code)
    await service.poll()  # no more backoff once free
    assert mapping_gets(recorder, code) == before + 1


async def test_a_project_answering_as_before_is_asked_again_after_settled_recheck(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """A project whose mapping.csv answers as at its read before is asked again
    `settled_recheck` seconds later, not at every poll; a change another client makes there
    shows within that time (three polls at 2 s)."""
    running, state = start(emulator)
    clock = Clock()
    service, recorder = service_for(
        running, closing, projects=state.seeded, clock=clock, settled_recheck=6
    )
    first = await jobs_of(service)
    free = [code for code, job in first.items() if job.raw_state != "locked"]
    assert free
    clock.now += 2
    assert await jobs_of(service) == first  # read twice, the same answers
    before = {code: mapping_gets(recorder, code) for code in free}
    for _ in range(6):  # 12 s
        clock.now += 2
        assert await jobs_of(service) == first
    assert {code: mapping_gets(recorder, code) - before[code] for code in free} == dict.fromkeys(
        free, 2
    )

    code = free[0]
    assert state.try_lock(code, "another client")  # its next read answers 409
    shown = []
    for _ in range(3):  # the polls of the next 6 s
        clock.now += 2
        shown.append((await jobs_of(service))[code].raw_state)
    assert shown == [first[code].raw_state] * 2 + ["locked"]


async def test_upload_ingest_mapping_finalize_through_the_service(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator, files_per_second=2.0, finalize_seconds=1.0)
    clock = Clock()
    code = state.roles["empty"]
    service, recorder = service_for(running, closing, projects=[code], clock=clock)
    folder = make_tree(
        tmp_path / "batch",
        {
            "a/b c.jpg": b"jpeg",
            "Zürich.png": b"png",
            "doc.pdf": b"%PDF",
            "scans/corrupt page.tif": b"tif",
            "bad#.jpg": b"refused",
            ".hidden.txt": b"skipped",
        },
    )
    plan = service.plan_upload(folder)
    assert [f.rel for f in plan.files] == [
        "Zürich.png",
        "a/b c.jpg",
        "doc.pdf",
        "scans/corrupt page.tif",
    ]
    assert {r.rel for r in plan.rejected} == {"bad#.jpg", ".hidden.txt"}

    report = await service.upload(code.lower(), plan)
    assert report.complete and len(report.uploaded) == 4 and report.rejected == plan.rejected
    assert state.uploaded_files(code) == sorted(f.rel for f in plan.files)
    assert not any(b"bad%23" in path or b"hidden" in path for path in recorder.paths())

    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.QUEUED, "uploaded")
    assert job.message == "4 files uploaded, not ingested yet"
    assert job.extra["uploaded"] == "4"

    assert await service.run_action(Action.INGEST, job) == f"ingest of project {code} started"
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.RUNNING, "ingesting")
    assert job.actions == frozenset()
    assert job.started is not None and job.finished is None
    gets = mapping_gets(recorder, code)
    await service.poll()
    assert mapping_gets(recorder, code) == gets  # backing off while 409

    state.clock.advance(2.0)
    clock.now += 5
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.FAILED, "done, files unmapped")
    assert job.extra == {"uploaded": "4", "mapped": "3", "unmapped": "1"}
    assert job.raw["unmapped"] == ["scans/corrupt page.tif"]
    assert job.message == "1 of 4 files uploaded here got no mapping; 3 mapped"
    assert job.actions == ALL
    assert job.finished is not None

    assert (
        await service.run_action(Action.MAPPING, job) == f"3 rows in the mapping of project {code}"
    )
    rows = await service.mapping(code)
    assert {original for original, _ in rows} == {"Zürich.png", "a/b c.jpg", "doc.pdf"}
    saved = await service.download(job, tmp_path / "out" / service.output_name(job))
    assert saved.name == f"mapping-{code}.csv"
    assert saved.read_text(encoding="utf-8") == "original,derivative\n" + "\n".join(
        f"{o},{d}" for o, d in rows
    )

    text = service.confirm_text(Action.FINALIZE, job)
    assert f"import/{code}" in text and f"mapping-{code}.csv (3 rows)" in text
    assert "Save the mapping first" in text
    await service.run_action(Action.FINALIZE, job)
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.RUNNING, "finalizing")
    state.clock.advance(1.0)
    clock.now += 5
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state) == (JobState.SUCCEEDED, "finalized")
    assert job.actions == {Action.UPLOAD}
    assert (
        service.disabled_reason(Action.INGEST, job)
        == "the project was finalized: upload files first"
    )
    assert job.extra == {"uploaded": "", "mapped": "", "unmapped": ""}
    assert not state.import_folder(code).exists()


async def test_a_project_outside_the_tokens_scope_shows_its_error(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    code = state.roles["mapped"]
    token = state.make_token(scope=f"write:project:{code}")
    service, _ = service_for(running, closing, token=token, projects=[code, "0001"])
    jobs = await jobs_of(service)
    assert jobs[code].state is JobState.SUCCEEDED
    assert (jobs["0001"].state, jobs["0001"].raw_state) == (JobState.UNKNOWN, "error")
    assert jobs["0001"].message == "ingest: No project access. (HTTP 401)"


async def test_a_poll_that_fails_everywhere_raises_and_the_monitor_keeps_the_last_data(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service, _ = service_for(running, closing, projects=state.seeded)
    monitor = ServiceMonitor(service)
    first = await monitor.poll_once()
    assert first.health.ok and len(first.snapshot) == 4
    state.faults.fail_status = 500
    with pytest.raises(ServerError):
        await service.poll()
    second = await monitor.poll_once()
    assert not second.health.ok
    assert second.health.error == "ingest: Simulated failure (HTTP 500)"
    assert second.snapshot == first.snapshot
    third = await monitor.poll_once()  # failing projects are asked again: still unhealthy
    assert not third.health.ok and third.health.failures == 2
    state.faults.fail_status = None
    fourth = await monitor.poll_once()
    assert fourth.health.ok and not fourth.delta


async def test_projects_come_from_the_listing_or_the_tokens_scopes(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    admin, recorder = service_for(running, closing, list_every=3)
    jobs = await jobs_of(admin)
    assert (
        sorted(jobs)
        == state.project_ids()
        == sorted([state.roles["mapped"], state.roles["ingesting"]])
    )
    listings = [r for r in recorder.requests if r.url.path == "/projects"]
    assert len(listings) == 1
    await admin.poll()
    await admin.poll()
    await admin.poll()
    assert len([r for r in recorder.requests if r.url.path == "/projects"]) == 2

    codes = [state.roles["uploaded"], state.roles["empty"]]
    scoped, recorder2 = service_for(
        running,
        closing,
        token=state.make_token(scope=" ".join(f"write:project:{c}" for c in codes)),
    )
    assert list(await jobs_of(scoped)) == codes
    assert not any(r.url.path == "/projects" for r in recorder2.requests)
    assert scoped.add_project(" abcd ") == "ABCD"
    assert "ABCD" in await jobs_of(scoped)
    with pytest.raises(InputError):
        scoped.add_project("abcde")


async def test_from_config_and_build_service(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    cfg = DspIngestConfig(
        name="dasch",
        url=running.url,
        token=SecretStr(state.token),
        projects=[code.lower() for code in state.seeded[:2]],
    )
    service = build_service(cfg)
    assert isinstance(service, DspIngestService)
    closing.append(service)
    assert service.kind == "dsp-ingest" and service.name == "dasch"
    assert service.shortcodes == state.seeded[:2]
    jobs = await jobs_of(service)
    assert jobs[state.roles["mapped"]].service == "dasch"


def test_shortcode_validation() -> None:
    assert DspIngestService.validate_shortcode(" 0a1f ") == "0A1F"
    assert DspIngestService.validate_shortcode("ABCD") == "ABCD"
    for bad in ("", "0a1", "0a1f0", "0x1f", "\uff10\uff11\uff12\uff13", "g000"):
        with pytest.raises(InputError) as caught:
            DspIngestService.validate_shortcode(bad)
        assert caught.value.field == "shortcode"


# -- uploads --------------------------------------------------------------------------------------


def fifty_files(root: Path) -> Path:
    return make_tree(
        root,
        {f"set-{i // 10}/page {i:02d}.tif": bytes([i]) * (1000 + 997 * i) for i in range(50)},
    )


async def test_fifty_files_with_progress_and_the_uploading_state(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    service, recorder = service_for(running, closing, projects=[code])
    service.client.chunk_size = 16 * 1024
    await service.poll()
    plan = service.plan_upload(fifty_files(tmp_path / "fifty"))
    assert len(plan.files) == 50 and not plan.rejected
    events: list[UploadProgress] = []
    polls: list[asyncio.Task[object]] = []
    during: list[Job] = []

    def progress(event: UploadProgress) -> None:
        events.append(event)
        if event.files_done == 25 and not polls:
            track = service.track(code)
            assert track is not None
            during.append(service.to_job(track))
            polls.append(asyncio.ensure_future(service.poll()))

    gets = mapping_gets(recorder, code)
    report = await service.upload(code, plan, progress)
    await polls[0]
    assert mapping_gets(recorder, code) == gets  # no mapping read while uploading

    assert report.complete and report.uploaded == tuple(f.rel for f in plan.files)
    assert report.bytes_uploaded == plan.total_bytes
    assert state.uploaded_files(code) == sorted(f.rel for f in plan.files)
    for planned in plan.files:
        assert (state.import_folder(code) / planned.rel).stat().st_size == planned.size

    done = [e.bytes_done for e in events]
    assert done == sorted(done) and done[-1] == plan.total_bytes
    assert [e.files_done for e in events if e.file_sent == e.file_size and e.file][-1] == 50
    assert {e.file_index for e in events if e.file} == set(range(1, 51))
    big = plan.files[-1]
    assert len([e for e in events if e.file == big.rel]) > big.size // (16 * 1024)
    assert events[-1].file == "" and events[-1].fraction == 1.0

    assert (during[0].state, during[0].raw_state) == (JobState.RUNNING, "uploading")
    assert during[0].message.startswith("uploading 25 of 50") or during[0].message.startswith(
        "uploading 26 of 50"
    )
    assert during[0].progress is not None and 20 < during[0].progress < 80  # percent
    job = (await jobs_of(service))[code]
    assert (job.state, job.raw_state, job.extra["uploaded"]) == (JobState.QUEUED, "uploaded", "50")


async def test_cancel_between_files_reports_exactly_what_was_uploaded(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    service, _ = service_for(running, closing, projects=[code])
    plan = service.plan_upload(fifty_files(tmp_path / "fifty"))
    cancel = asyncio.Event()

    def progress(event: UploadProgress) -> None:
        if event.files_done == 12:
            cancel.set()

    report = await service.upload(code, plan, progress, cancel)
    rels = [f.rel for f in plan.files]
    assert report.cancelled and report.interrupted is None
    assert report.uploaded == tuple(rels[:12])
    assert report.not_uploaded == tuple(rels[12:])
    assert report.failed == ()
    assert state.uploaded_files(code) == sorted(rels[:12])
    assert report.summary() == (
        f"{code}: uploaded 12 of 50 files ({report.bytes_uploaded / 1024:.1f} KiB), "
        "cancelled (38 not uploaded)"
    )
    job = (await jobs_of(service))[code]
    assert (job.state, job.extra["uploaded"]) == (JobState.QUEUED, "12")
    assert Action.INGEST in job.actions


async def test_cancel_midway_through_a_file_marks_it_partial_until_uploaded_again(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    service, _ = service_for(running, closing, projects=[code])
    service.client.chunk_size = 64 * 1024
    folder = make_tree(
        tmp_path / "set",
        {"1.txt": b"one", "2 big.tif": b"\x07" * (2 * 1024 * 1024), "3.txt": b"three"},
    )
    plan = service.plan_upload(folder)
    cancel = asyncio.Event()

    def progress(event: UploadProgress) -> None:
        if event.file == "2 big.tif" and event.file_sent >= 256 * 1024:
            cancel.set()

    report = await service.upload(code, plan, progress, cancel)
    assert report.uploaded == ("1.txt",)
    assert report.interrupted == "2 big.tif"
    assert report.not_uploaded == ("2 big.tif", "3.txt")
    assert "2 big.tif was cut off" in report.summary()
    await wait_for(lambda: any("was cut off" in line for line in state.log))
    assert (state.import_folder(code) / "2 big.tif").stat().st_size < 2 * 1024 * 1024

    job = (await jobs_of(service))[code]
    assert Action.INGEST not in job.actions
    reason = service.disabled_reason(Action.INGEST, job)
    assert reason is not None and "cut off" in reason
    assert "cut-off upload" in job.message
    assert job.raw["partial"] == ["2 big.tif"]

    again = await service.upload(code, UploadPlan(plan.folder, plan.files[1:]))
    assert again.complete
    job = (await jobs_of(service))[code]
    assert Action.INGEST in job.actions and job.raw["partial"] == []
    assert (state.import_folder(code) / "2 big.tif").stat().st_size == 2 * 1024 * 1024


async def test_an_upload_retries_while_another_client_holds_the_lock(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    service, _ = service_for(running, closing, projects=[code], retry_delay=0.05)
    other, _ = client_for(running, closing)
    plan = service.plan_upload(make_tree(tmp_path / "two", {"a.txt": b"a", "b.txt": b"b"}))
    gate = Gate()
    holder = asyncio.create_task(other.upload_stream(code, "other.txt", gate.body()))
    await wait_for(lambda: state.holder(code) == "upload")
    retries: list[UploadProgress] = []

    def progress(event: UploadProgress) -> None:
        if event.retry_in is not None:
            retries.append(event)
            gate.open.set()

    report = await service.upload(code, plan, progress)
    await holder
    assert report.complete
    assert retries and retries[0].file == "a.txt" and retries[0].note == "the project is locked"
    assert "retrying in" in retries[0].line()
    assert state.uploaded_files(code) == ["a.txt", "b.txt", "other.txt"]


async def test_an_upload_stops_when_the_project_stays_locked(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["ingesting"]  # an ingest holds the lock, and time is frozen
    service, _ = service_for(running, closing, projects=[code], conflict_retries=1)
    plan = service.plan_upload(make_tree(tmp_path / "three", {f"{i}.txt": b"x" for i in range(3)}))
    report = await service.upload(code, plan)
    assert report.stopped == f"project {code} stayed locked"
    assert [f.rel for f in report.failed] == ["0.txt"]
    assert report.failed[0].reason.startswith("A bulk ingest is currently in progress")
    assert report.not_uploaded == ("1.txt", "2.txt")
    assert report.uploaded == ()
    assert state.counts["upload"] == 2


async def test_a_refused_token_stops_the_upload_and_a_second_upload_is_refused(
    emulator: EmulatorFactory, closing: Closer, tmp_path: Path
) -> None:
    running, state = start(emulator)
    code = state.roles["empty"]
    service, _ = service_for(running, closing, token=state.make_token(scope="write:project:0001"))
    plan = service.plan_upload(make_tree(tmp_path / "t", {"a.txt": b"a", "b.txt": b"b"}))
    report = await service.upload(code, plan)
    assert report.stopped == "No project access. (HTTP 401)"
    assert report.not_uploaded == ("b.txt",)

    gate_plan = UploadPlan(plan.folder, plan.files)
    started = asyncio.Event()

    def progress(event: UploadProgress) -> None:
        started.set()

    first = asyncio.create_task(service.upload(code, gate_plan, progress))
    await started.wait()
    with pytest.raises(ConflictError):
        await service.upload(code, gate_plan)
    await first


async def test_plan_upload_refuses_what_is_not_a_folder(tmp_path: Path) -> None:
    service = DspIngestService("ingest", "http://127.0.0.1:9", "t")
    try:
        with pytest.raises(InputError) as caught:
            service.plan_upload(tmp_path / "missing")
        assert caught.value.field == "folder"
        (tmp_path / "file.txt").write_text("x")
        with pytest.raises(InputError):
            service.plan_upload(tmp_path / "file.txt")
        with pytest.raises(UnsupportedActionError):
            await service.run_action(Action.UPLOAD, Job("ingest", "0001", JobState.UNKNOWN, ""))
    finally:
        await service.aclose()


async def test_at_most_max_checks_projects_per_poll_in_turn(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, projects=12)
    clock = Clock()
    service, recorder = service_for(
        running, closing, projects=state.seeded, clock=clock, max_checks=5, sweep_checks=5
    )
    counts: list[int] = []
    for _ in range(3):
        before = len(recorder.requests)
        await service.poll()
        counts.append(len(recorder.requests) - before)
        clock.now += 1
    # a health check each poll (and /info on the first) besides at most 5 mapping reads
    assert counts == [7, 6, 6]
    assert all(mapping_gets(recorder, code) >= 1 for code in state.seeded)
    assert max(mapping_gets(recorder, code) for code in state.seeded) == 2
