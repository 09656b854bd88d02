"""Memory per job, counted by tracemalloc (exact allocations, not timings): a Leia listing keeps
each record as its compact JSON plus the few fields the service reads, with the texts that repeat
shared, and `to_job` shares what is the same for many jobs (action sets, extra names, small
counts) instead of making it again for each one. The figures for 100,000 jobs on the dashboard are
in the benchmarks."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from jobtui.core.models import Action, Job
from jobtui.core.polling import utc_now
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.services._wire import LazyRecord, SameBody, SharedText
from jobtui.services.bsub.wire import parse_job_list
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.services.ecotaxa.wire import EcoTaxaJob
from jobtui.services.ecotaxa.wire import parse_jobs as parse_ecotaxa_jobs
from jobtui.services.leia.service import LeiaService
from jobtui.services.leia.wire import LeiaJob, parse_jobs
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import bearer

JOBS = 2000


def leia_page() -> bytes:
    """Records shaped as the Leia emulator sends them (declared and undeclared fields)."""
    return json.dumps(
        [
            {
                "id": f"job-{i:06d}",
                "application_id": "app",
                "status": "PROCESSED" if i % 3 else "PROCESSING",
                "job_type": "predict",
                "model_id": "m1",
                "document_ids": [f"d{i}"],
                "creation_time": "2026-11-02T08:00:00Z",
                "starting_time": "2026-11-02T08:01:00Z",
                "finished_time": "2026-11-02T08:02:00Z" if i % 3 else None,
                "submitter_id": "s1",
                "http_code": 200,
            }
            for i in range(JOBS)
        ]
    ).encode()


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Bytes allocated (and still held) since the block began."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]

    def held() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base

    try:
        yield held
    finally:
        if started:
            tracemalloc.stop()


def test_leia_records_and_jobs_stay_small() -> None:
    body = leia_page()
    parse_jobs("leia", body[:0] or b"[]")  # build the validator before counting
    service = LeiaService("leia", "http://127.0.0.1:9", "key")
    with traced() as held:
        records = parse_jobs("leia", body)
        per_record = held() / JOBS
        jobs: list[Job] = [service.to_job(record) for record in records]
        per_job = held() / JOBS - per_record
    # About 560 bytes per record (1,300 as a model sharing its set of sent fields, 2,050 with a
    # set each) and 440 per job (920 with a set of actions, a dict of extra values and a dump
    # closure each).
    assert per_record < 800, per_record
    assert per_job < 600, per_job
    # What is the same is shared, and nothing of the record is lost.
    assert len({id(record.status) for record in records}) == 2
    assert len({id(record.job_type) for record in records}) == 1
    assert len({id(job.actions) for job in jobs}) == 2
    assert jobs[0].actions == {Action.CONDITIONAL, Action.CANCEL}
    assert jobs[1].extra == {"job_type": "predict", "model": "m1", "documents": "1"}
    assert isinstance(jobs[1].raw, LazyRecord)
    assert jobs[1].raw["submitter_id"] == "s1" and jobs[1].raw["http_code"] == 200
    assert jobs[1].raw["document_ids"] == ["d1"]
    assert "result" not in jobs[1].raw  # only what was sent


def emulator_pages(emulator: EmulatorFactory, jobs: int) -> list[bytes]:
    """Every page of `GET /job` of a Leia emulator holding `jobs` jobs, as the server sent it."""
    running = emulator("leia", seed=1, speed=0, jobs=jobs)
    key = str(running.emulator.config["api_key"])
    with httpx.Client(base_url=running.url) as http:
        token = http.post("/login", json={"api_key": key}).json()["token"]
        pages = [
            http.get("/job", params={"offset": offset, "limit": 100}, headers={"token": token})
            for offset in range(0, jobs, 100)
        ]
    assert all(page.status_code == 200 for page in pages)
    return [page.content for page in pages]


def test_leia_emulator_records_cost_a_third_of_their_model(emulator: EmulatorFactory) -> None:
    """Records as the emulator sends them (about 740 bytes of JSON each, most PROCESSED with a
    `result` tree): a listing keeps about 750 bytes of each (3,230 as pydantic models), their
    times included (which their `Job` holds too)."""
    pages = emulator_pages(emulator, JOBS)
    parse_jobs("leia", pages[0])  # build the validator before counting
    service = LeiaService("leia", "http://127.0.0.1:9", "key")
    with traced() as held:
        records = [record for page in pages for record in parse_jobs("leia", page)]
        per_record = held() / JOBS
        jobs = [service.to_job(record) for record in records]
        per_job = held() / JOBS - per_record
    assert len(records) == JOBS
    assert per_record < 1000, per_record
    assert per_job < 600, per_job
    # The whole record is still there, exactly as the model reads it.
    sent = [item for page in pages for item in json.loads(page)]
    for job, item in zip(jobs[::97], sent[::97], strict=True):
        assert dict(job.raw) == LeiaJob.model_validate_json(json.dumps(item)).wire()


def test_shared_texts_are_bounded() -> None:
    """A server sending ever other values cannot make the shared texts grow past their bound."""
    share = SharedText(entries=100, longest=16)
    first = share("".join(["PROC", "ESSED"]))
    assert share("".join(["PROCE", "SSED"])) is first
    for i in range(1000):
        share(f"v{i}")
    assert len(share) == 100
    long = "x" * 17
    assert share(long) is long and len(share) == 100
    fresh = "".join(["v", "5000"])
    assert share(fresh) is fresh  # full: kept as it is, not remembered
    assert share(None) is None


def test_bsub_and_ecotaxa_records_share_their_repeating_texts(emulator: EmulatorFactory) -> None:
    """The states, types, owners and messages that repeat across a list are one object each (the
    short ones: a longer text is kept as it is), and a bsub.io record stays under 1,000 bytes (1,080 with a copy of each in every record)."""
    bsub = emulator("bsub", seed=1, speed=0, jobs=400)
    token = str(bsub.emulator.config["token"])
    with httpx.Client(base_url=bsub.url, headers={"Authorization": f"Bearer {token}"}) as http:
        bsub_body = http.get("/v1/jobs", params={"limit": 100}).content
    ecotaxa = emulator("ecotaxa", seed=1, speed=0, jobs=400)
    state = ecotaxa.state
    assert isinstance(state, EcoTaxaState)
    with httpx.Client(base_url=ecotaxa.url, headers=bearer(state)) as http:
        ecotaxa_body = http.get("/jobs/").content
    parse_job_list("bsub.io", bsub_body)  # build the validators before counting
    with traced() as held:
        listing = parse_job_list("bsub.io", bsub_body).jobs
        per_record = held() / len(listing)
    assert len(listing) == 100
    assert per_record < 1000, per_record
    for name in ("status", "type", "user_id"):
        values = [getattr(record, name) for record in listing]
        assert len({id(value) for value in values}) == len(set(values)), name
    jobs = parse_ecotaxa_jobs("ecotaxa", ecotaxa_body)
    assert len(jobs) > 100
    for name in ("type", "state", "progress_msg"):
        values = [v for record in jobs if len(v := getattr(record, name) or "") <= 64]
        assert len({id(value) for value in values}) == len(set(values)), name


def test_the_parses_of_answers_that_never_come_again_are_not_kept() -> None:
    # A service whose jobs move answers differently at every poll: bounded by the bodies' bytes
    # alone, the cache kept the parse of every answer of the last 8 MiB (some 230 bsub.io lists
    # and their records, for each service): the dashboard's memory grew for minutes.
    same: SameBody[list[int]] = SameBody()
    parses: list[bytes] = []

    def parse(body: bytes) -> list[int]:
        parses.append(body)
        return json.loads(body)  # type: ignore[no-any-return]

    for poll in range(100):
        same.parse(json.dumps([poll]).encode(), parse)  # the list: new at every poll
        same.parse(b"[1, 2, 3]", parse)  # an answer that stays the same
    assert len(same._parsed) <= 16
    assert parses.count(b"[1, 2, 3]") == 1, "an unchanged answer was parsed again"
    first = same.parse(b"[99]", parse)
    assert same.parse(b"[99]", parse) is first and parses.count(b"[99]") == 1


def test_an_answer_larger_than_the_bound_of_bodies_is_still_not_parsed_twice() -> None:
    """An unpaged list over the bytes the cache holds (50,000 EcoTaxa jobs: 17 MB) is kept as
    the newest answer: an unchanged poll of it parses nothing (it took a core, every 2 s)."""
    same: SameBody[list[int]] = SameBody(limit=100)
    parses: list[bytes] = []

    def parse(body: bytes) -> list[int]:
        parses.append(body)
        return json.loads(body)  # type: ignore[no-any-return]

    big = json.dumps(list(range(100))).encode()
    first = same.parse(big, parse)
    assert same.parse(big, parse) is first and len(parses) == 1
    same.parse(b"[1]", parse)  # another answer comes: the big one may go
    bodies = [body.content for body in same._parsed]
    assert sum(map(len, bodies)) <= 100 or bodies == [b"[1]"]


def test_ecotaxa_emulator_records_cost_a_third_of_their_model(emulator: EmulatorFactory) -> None:
    """Records as the emulator sends them (about 660 bytes of JSON each, a tenth with a
    traceback): a listing keeps about 760 bytes of each (2,450 as pydantic models), and the
    whole record is still there, cleaned, for the detail pane."""
    running = emulator("ecotaxa", seed=1, speed=0, jobs=JOBS)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    with httpx.Client(base_url=running.url, headers=bearer(state)) as http:
        body = http.get("/jobs/", params={"for_admin": "false"}).content
    parse_ecotaxa_jobs("ecotaxa", body[:2000], first_part=True)  # build the validator first
    service = EcoTaxaService("ecotaxa", "http://127.0.0.1:9/api", token="t")
    with traced() as held:
        records = parse_ecotaxa_jobs("ecotaxa", body)
        per_record = held() / len(records)
        jobs = [service.to_job(record) for record in records]
        per_job = held() / len(records) - per_record
    assert len(records) > JOBS // 2
    assert per_record < 1000, per_record
    assert per_job < 700, per_job
    sent = json.loads(body)
    for job, item in zip(jobs[::37], sent[::37], strict=True):
        whole = EcoTaxaJob.model_validate_json(json.dumps(item)).wire()
        assert dict(job.raw) == json.loads(json.dumps(whole)), job.id


def test_a_long_ecotaxa_list_is_parsed_one_job_at_a_time(emulator: EmulatorFactory) -> None:
    """While a list is parsed, no more than the records made so far and one decoded copy of the
    body are alive: not every job as a model at once (some 2,450 bytes each, four times the
    body), whose pieces the records then lay among, so that the memory was kept after."""
    running = emulator("ecotaxa", seed=1, speed=0, jobs=JOBS)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    with httpx.Client(base_url=running.url, headers=bearer(state, state.admin)) as http:
        body = http.get("/jobs/", params={"for_admin": "true"}).content
    parse_ecotaxa_jobs("ecotaxa", body[:2000], first_part=True)  # build the validator first
    with traced() as held:
        tracemalloc.reset_peak()
        records = parse_ecotaxa_jobs("ecotaxa", body)
        peak = tracemalloc.get_traced_memory()[1]
        kept = held()
    assert len(records) == JOBS
    assert peak - kept < 2 * len(body), (peak - kept, len(body))


def test_dsp_ingest_projects_stay_small() -> None:
    # Each project's mapping read once (six rows each), and its job made: the project keeps the
    # count of its mapping's rows, not the rows; its job's record is a few slots, made into a
    # mapping only when looked at.
    codes = [f"{i + 0x100:04X}" for i in range(JOBS)]
    service = DspIngestService("ingest", "http://127.0.0.1:9", "t", projects=codes[:1])
    with traced() as held:
        for code in codes:
            rows = [(f"letters/Brief {j}.pdf", f"{code}-{j}.jpx") for j in range(6)]
            service.add_project(code)
            track = service.track(code)
            assert track is not None
            track.record_settled(200, rows, clock=lambda: 0.0, now=utc_now)
        jobs = [service.to_job(track) for code in codes if (track := service.track(code))]
        per_project = held() / JOBS
    assert jobs[0].extra["mapped"] == "6" and jobs[0].raw["mapping_rows"] == 6
    assert per_project < 1600, per_project
