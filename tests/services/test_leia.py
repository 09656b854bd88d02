"""LeiaClient and LeiaService against the Leia emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest

from jobtui.core.errors import AuthError, BadPayloadError, NotFoundError, RefusedError, ServerError
from jobtui.core.models import Action, JobState
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.leia.state import LeiaState, SimJob
from jobtui.emulators.runner import RunningEmulator
from jobtui.services._http import make_client
from jobtui.services.leia.client import LeiaClient
from jobtui.services.leia.filters import LeiaFilters
from jobtui.services.leia.service import LeiaService
from jobtui.services.leia.wire import LeiaJobType, LeiaStatus
from jobtui.services.paging import pages_needed
from tests.conftest import EmulatorFactory
from tests.pacing import turns_of

Closer = list[LeiaClient | LeiaService]


@pytest.fixture
async def closing() -> AsyncIterator[Closer]:
    items: Closer = []
    yield items
    for item in items:
        await item.aclose()


def start(
    emulator: EmulatorFactory, jobs: int = 40, **options: Any
) -> tuple[RunningEmulator, LeiaState]:
    running = emulator("leia", seed=1, speed=0, jobs=jobs, **options)
    state = running.state
    assert isinstance(state, LeiaState)
    return running, state


def key_of(running: RunningEmulator) -> str:
    return str(running.emulator.config["api_key"])


class Recorder:
    """An httpx request hook that keeps every request sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)


def client_for(
    running: RunningEmulator, closing: Closer, **kwargs: Any
) -> tuple[LeiaClient, Recorder]:
    recorder = Recorder()
    http = make_client(running.url)
    http.event_hooks["request"] = [recorder]
    client = LeiaClient(running.url, key_of(running), http=http, **kwargs)
    closing.append(client)
    return client, recorder


def service_for(running: RunningEmulator, closing: Closer, **kwargs: Any) -> LeiaService:
    """A service whose first poll lists everything: the strategy's tests count the requests of
    whole listings (the first page shown first has tests of its own)."""
    kwargs.setdefault("first_page_first", False)
    service = LeiaService("leia", running.url, key_of(running), **kwargs)
    closing.append(service)
    return service


def advance_until(
    state: LeiaState, done: Callable[[], bool], *, step: float = 1.0, limit: float = 3600.0
) -> float:
    """Move simulated time forward until `done()` holds; returns the seconds it took."""
    moved = 0.0
    while True:
        state.tick()
        if done():
            return moved
        if moved >= limit:
            raise AssertionError(f"condition not reached after {limit} simulated seconds")
        state.clock.advance(step)
        moved += step


def waiting_chain(state: LeiaState) -> tuple[SimJob, list[SimJob]]:
    """A running job and the unfinished jobs whose execute_after_id chain leads to it."""
    for job in state.own:
        if job.terminal or job.status in ("WAITING", "BLOCKED"):
            continue
        found: list[SimJob] = []
        todo = list(state.dependants.get(job.id, ()))
        while todo:
            dependant = todo.pop(0)
            if not dependant.terminal:
                found.append(dependant)
            todo.extend(state.dependants.get(dependant.id, ()))
        if len(found) >= 3:
            return job, found
    raise AssertionError("the seeded jobs have no chain of three")


# -- login and tokens ---------------------------------------------------------------------------


async def test_login_posts_the_key_and_sends_the_token_header(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, recorder = client_for(running, closing)
    application = await client.login()
    assert application is not None
    assert application.id == state.app_id
    assert application.application_type == "developer"
    await client.list_jobs(limit=5)
    await client.whoami()

    login, *calls = recorder.requests
    assert (login.method, login.url.path) == ("POST", "/leia/1.0.0/login")
    assert b'"api_key"' in login.content and "token" not in login.headers
    tokens = {request.headers["token"] for request in calls}
    assert len(tokens) == 1 and tokens <= set(state.tokens)
    assert all("authorization" not in request.headers for request in calls)
    assert state.counts["login_application_post"] == 1
    assert client.requests == {"login_application_post": 1, "get_jobs": 1, "who_am_i": 1}


async def test_login_falls_back_to_the_deprecated_get(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, login_post=False)
    client, recorder = client_for(running, closing)
    jobs = await client.list_jobs(limit=3)
    assert len(jobs.jobs) == 3
    assert [(r.method, r.url.path.rsplit("/", 1)[0]) for r in recorder.requests[:2]] == [
        ("POST", "/leia/1.0.0"),
        ("GET", "/leia/1.0.0/login"),
    ]
    state.expire_tokens()
    await client.list_jobs(limit=3)
    # The fallback is remembered: the second login goes straight to GET.
    assert client.requests["login_application_post"] == 1
    assert client.requests["login_application"] == 2


async def test_bad_api_key_is_one_line_without_the_key(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator)
    client = LeiaClient(running.url, "wrong-key-123", service="acme leia")
    closing.append(client)
    with pytest.raises(AuthError) as caught:
        await client.list_jobs()
    assert caught.value.line == "acme leia: Bad API key (HTTP 403)"
    assert "wrong-key-123" not in caught.value.line
    assert "wrong-key-123" not in repr(client)


async def test_expired_tokens_log_in_again_without_the_caller_noticing(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, token_ttl=100)
    client, _ = client_for(running, closing)
    job_id = state.own[0].id
    assert (await client.get_job(job_id)).id == job_id
    state.expire_tokens()
    assert (await client.get_job(job_id)).id == job_id
    assert client.requests["login_application_post"] == 2
    assert client.requests["get_job"] == 3  # one answered 401, retried once

    state.clock.advance(101)  # idle for longer than the TTL
    assert (await client.get_job(job_id)).id == job_id
    assert client.requests["login_application_post"] == 3


async def test_keep_alive_pings_whoami_only_when_idle(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, token_ttl=1000)
    now = [0.0]
    client, _ = client_for(running, closing, keepalive_after=240, clock=lambda: now[0])
    idle, _ = client_for(running, closing)
    await client.login()
    await idle.login()
    assert await client.keep_alive() is False  # just logged in

    state.clock.advance(900)
    now[0] = 100.0
    assert await client.keep_alive() is False
    now[0] = 300.0
    assert await client.keep_alive() is True
    assert state.counts["who_am_i"] == 1

    state.clock.advance(900)  # 1800 s after login, 900 s after the ping
    await client.list_jobs(limit=1)
    await idle.list_jobs(limit=1)
    assert client.requests["login_application_post"] == 1  # the ping kept the token alive
    assert idle.requests["login_application_post"] == 2  # the other token timed out


async def test_service_pings_when_its_polls_send_nothing(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator)
    now = [0.0]
    client, _ = client_for(running, closing, keepalive_after=240, clock=lambda: now[0])
    service = LeiaService(
        "leia",
        running.url,
        "unused",
        client=client,
        filters=LeiaFilters(status=LeiaStatus.PROCESSED),
    )
    await service.poll()
    assert service.last_poll_full and service.last_poll_requests == 2  # login + one page
    now[0] = 100.0
    await service.poll()  # every job listed is finished: nothing to ask
    assert service.last_poll_requests == 0
    now[0] = 400.0
    await service.poll()
    assert service.last_poll_requests == 1
    assert client.requests["who_am_i"] == 1


async def test_missing_and_unknown_tokens(emulator: EmulatorFactory) -> None:
    running, _ = start(emulator)
    async with httpx.AsyncClient(base_url=running.url) as http:
        missing = await http.get("/job")
        unknown = await http.get("/job", headers={"token": "nope"})
        bad_enum = await http.get("/job", params={"status": "DONE"}, headers={"token": "x"})
    assert missing.status_code == 400
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "Missing header parameter 'token'",
    }
    assert unknown.status_code == 401 and unknown.json()["detail"] == "Not logged in"
    assert bad_enum.status_code == 400 and "'DONE' is not one of" in bad_enum.json()["detail"]


# -- listing ------------------------------------------------------------------------------------


async def test_paging_through_1000_jobs(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator, jobs=1000)
    client, _ = client_for(running, closing)
    jobs, total = await client.list_all_jobs(page_size=100)
    assert total == 1000
    assert [job.id for job in jobs] == [job.id for job in state.own]
    assert client.requests["get_jobs"] == 10

    # Asking for more than the server's maximum still works: pages are counted by what came back.
    jobs, total = await client.list_all_jobs(page_size=250)
    assert len({job.id for job in jobs}) == 1000 and total == 1000
    assert client.requests["get_jobs"] == 20


async def test_content_range_and_accept_range(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=250)
    async with httpx.AsyncClient(base_url=running.url) as http:
        token = (await http.post("/login", json={"api_key": key_of(running)})).json()["token"]
        first = await http.get(
            "/job", params={"offset": 200, "limit": 500}, headers={"token": token}
        )
        empty = await http.get("/job", params={"offset": 250}, headers={"token": token})
    assert first.headers["Content-Range"] == "200-249/250"
    assert first.headers["Accept-Range"] == f"job {state.max_limit}"
    assert len(first.json()) == 50
    assert empty.status_code == 404 and empty.json()["detail"] == "No jobs found"


def _expected(state: LeiaState, keep: Callable[[SimJob], bool]) -> list[str]:
    return [job.id for job in state.own if keep(job)]


async def test_every_filter(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator, jobs=1000)
    client, recorder = client_for(running, closing)
    partner = next(job for job in state.own if job.application_id == state.partner_id)
    model_job = next(job for job in state.own if job.model_id)
    document = state.own[500].document_ids[0]
    prereq = next(iter(state.dependants))
    parent = next(iter(state.children))
    cut = DEMO_EPOCH - timedelta(hours=3, microseconds=654321)
    floor = state.seconds_of(cut.replace(microsecond=0))
    cases: list[tuple[LeiaFilters, Callable[[SimJob], bool]]] = [
        (LeiaFilters(job_id=state.own[7].id), lambda j: j.id == state.own[7].id),
        (
            LeiaFilters(application_id=state.partner_id),
            lambda j: j.application_id == partner.application_id,
        ),
        (LeiaFilters(job_type=LeiaJobType.PDF_IMAGES), lambda j: j.job_type == "pdf-images"),
        (LeiaFilters(model_id=model_job.model_id), lambda j: j.model_id == model_job.model_id),
        (LeiaFilters(document_id=document), lambda j: document in j.document_ids),
        (LeiaFilters(execute_after_id=prereq), lambda j: j.execute_after_id == prereq),
        (LeiaFilters(parent_job_id=parent), lambda j: j.parent_job_id == parent),
        (LeiaFilters(status=LeiaStatus.FAILED), lambda j: j.status == "FAILED"),
        (LeiaFilters(created_after=cut), lambda j: j.created >= floor),
        (LeiaFilters(created_before=cut), lambda j: j.created < floor),
        (
            LeiaFilters(
                job_type=LeiaJobType.PREDICT, status=LeiaStatus.PROCESSED, created_after=cut
            ),
            lambda j: j.job_type == "predict" and j.status == "PROCESSED" and j.created >= floor,
        ),
    ]
    for filters, keep in cases:
        expected = _expected(state, keep)
        assert expected, filters
        jobs, total = await client.list_all_jobs(filters)
        assert [job.id for job in jobs] == expected, filters
        assert total == len(expected)

    sent = [r.url for r in recorder.requests if r.url.path.endswith("/job")]
    queries = [url.params for url in sent]
    assert any(q.get("status") == "FAILED" for q in queries)
    assert any(q.get("job_type") == "pdf-images" for q in queries)
    wire_cut = (cut.astimezone(UTC) - timedelta(microseconds=cut.microsecond)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    assert any(q.get("created_after") == wire_cut for q in queries)
    assert any(b"created_before=2026-11-02T05%3A59%3A59" in url.query for url in sent)


async def test_sort(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator, jobs=300)
    client, _ = client_for(running, closing)
    jobs, _ = await client.list_all_jobs(LeiaFilters(sort=("-creation_time",)))
    assert [j.id for j in jobs] == [j.id for j in sorted(state.own, key=lambda j: -j.created)]

    jobs, _ = await client.list_all_jobs(LeiaFilters(sort=("status", "-finished_time")))
    expected = sorted(
        state.own,
        key=lambda j: (j.status, j.finished is None, -(j.finished or 0.0)),
    )
    assert [j.id for j in jobs] == [j.id for j in expected]

    jobs, _ = await client.list_all_jobs(LeiaFilters(sort=("job_type", "-document_ids")))
    expected = sorted(state.own, key=lambda j: tuple(j.document_ids), reverse=True)
    expected = sorted(expected, key=lambda j: j.job_type)
    assert [j.id for j in jobs] == [j.id for j in expected]


async def test_no_jobs_found_is_an_empty_list(emulator: EmulatorFactory, closing: Closer) -> None:
    running, _ = start(emulator)
    client, _ = client_for(running, closing)
    jobs, total = await client.list_all_jobs(LeiaFilters(job_id="no-such-job"))
    assert (jobs, total) == ([], 0)
    assert client.requests["get_jobs"] == 1

    wrong = LeiaClient(running.url.replace("/1.0.0", "/9.9.9"), key_of(running))
    closing.append(wrong)
    with pytest.raises(NotFoundError):
        await wrong.list_jobs()


async def test_unknown_status_and_undeclared_fields_are_kept(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    odd = state.own[3]
    odd.status = "ARCHIVED"
    service = service_for(running, closing)
    result = await service.poll()
    job = next(j for j in result.jobs if j.id == odd.id)
    assert job.state is JobState.UNKNOWN and job.raw_state == "ARCHIVED"
    assert Action.CANCEL in job.actions  # not known to be finished
    assert job.raw["submitter_id"] == state.app_id
    processed = next(j for j in result.jobs if j.raw_state == "PROCESSED")
    failed = next(j for j in result.jobs if j.raw_state == "FAILED" and j.raw.get("http_code"))
    assert processed.raw["http_code"] == 200
    assert failed.raw["http_code"] in (400, 5000)
    assert f"(code {failed.raw['http_code']})" in failed.message
    page_ranged = next(j for j in state.own if j.page_range)
    assert service.jobs[page_ranged.id].raw["page_range"] == page_ranged.page_range


# -- statuses -----------------------------------------------------------------------------------


async def test_statuses_are_chunked_under_2000_bytes(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=1000)
    client, recorder = client_for(running, closing)
    ids = [job.id for job in state.own]
    chunks = client.status_chunks(ids)
    assert len(chunks) > 10 and sum(len(c) for c in chunks) == 1000
    statuses = await client.get_statuses([*ids, "unknown-id"])
    assert statuses == {job.id: job.status for job in state.own}
    urls = [str(r.url) for r in recorder.requests if r.url.path.endswith("/status")]
    assert len(urls) == len(client.status_chunks([*ids, "unknown-id"]))
    assert all(len(url) <= 2000 for url in urls)
    assert max(len(url) for url in urls) > 1900  # the chunks are full, not timid
    assert await client.get_statuses(["unknown-1", "unknown-2"]) == {}


async def test_status_path_accepts_commas_and_encoded_commas(emulator: EmulatorFactory) -> None:
    running, state = start(emulator)
    a, b = state.own[0].id, state.own[1].id
    async with httpx.AsyncClient(base_url=running.url) as http:
        token = (await http.post("/login", json={"api_key": key_of(running)})).json()["token"]
        plain = await http.get(f"/job/{a},{b}/status", headers={"token": token})
        encoded = await http.get(f"/job/{a}%2C{b}/status", headers={"token": token})
        foreign = await http.get(
            f"/job/{a},{state.foreign_ids[0]}/status", headers={"token": token}
        )
    assert plain.json() == encoded.json() == {a: state.own[0].status, b: state.own[1].status}
    assert foreign.status_code == 403


# -- actions ------------------------------------------------------------------------------------


async def test_cancel_start_and_get(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    running_job = next(j for j in state.own if j.status == "PROCESSING")
    await client.cancel_job(running_job.id)
    assert state.jobs[running_job.id].status == "CANCELED"
    with pytest.raises(NotFoundError, match="already canceled"):
        await client.cancel_job(running_job.id)
    with pytest.raises(NotFoundError, match="Job not found"):
        await client.get_job("no-such-job")
    with pytest.raises(AuthError, match="Not the owner"):
        await client.get_job(state.foreign_ids[0])

    blocked = next(j for j in state.own if j.status == "BLOCKED" and not j.execute_after_id)
    started = await client.start_job(blocked.id)
    assert started.status == "READY"
    state.clock.advance(120)
    assert (await client.get_job(blocked.id)).status in ("PROCESSED", "FAILED")


async def test_cancel_of_a_parent_fails_its_dependents(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    head, chain = waiting_chain(state)
    service = service_for(running, closing)
    await service.poll()
    job = service.jobs[head.id]
    text = service.confirm_text(Action.CANCEL, job)
    assert f"{len(chain)} dependent jobs wait on it and will fail" in text
    assert all(dependant.id in text for dependant in chain)

    line = await service.run_action(Action.CANCEL, job)
    assert line == f"leia: job {head.id} canceled; {len(chain)} dependent job(s) will fail"
    await service.poll()
    assert service.jobs[head.id].raw_state == "CANCELED"
    assert all(service.jobs[d.id].raw_state == "WAITING" for d in chain)  # one second per link

    state.clock.advance(len(chain) * 1.0 + 0.5)
    await service.poll()
    for dependant in chain:
        failed = service.jobs[dependant.id]
        assert failed.state is JobState.FAILED
        assert "Prerequisite job" in failed.message
    assert service.disabled_reason(Action.CANCEL, service.jobs[head.id]) == (
        "the job is already canceled"
    )


async def test_start_only_for_blocked_jobs(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    blocked = next(j for j in service.jobs.values() if j.raw_state == "BLOCKED")
    processed = next(j for j in service.jobs.values() if j.raw_state == "PROCESSED")
    assert service.disabled_reason(Action.START, blocked) is None
    assert service.disabled_reason(Action.START, processed) == (
        "only BLOCKED jobs can be started (this one is PROCESSED)"
    )
    assert service.disabled_reason(Action.CANCEL, processed) == "finished jobs cannot be cancelled"
    assert service.disabled_reason(Action.CONDITIONAL, processed) is None
    line = await service.run_action(Action.START, blocked)
    assert line.startswith(f"leia: job {blocked.id} started (")
    assert service.jobs[blocked.id].raw_state in ("READY", "WAITING")
    assert state.jobs[blocked.id].status == service.jobs[blocked.id].raw_state


async def test_conditional_job_runs_the_matching_rules(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    client = service.client
    document = state.own[0].document_ids[0]
    classify = await client.apply_model("classif", [document], format_type="classification")
    assert classify.status == "READY" and classify.result_type == "classification"
    advance_until(state, lambda: state.jobs[classify.id].terminal)
    done = await client.get_job(classify.id)
    assert done.status == "PROCESSED"
    category, score = done.result["category"], done.result["score"]

    kv = state.models[1].short_name
    body = {
        "rules": {
            "match": {
                "conditions": {"category": category, "score": [{"$gt": 0.5}, {"$lte": 1}]},
                "jobs": [
                    {"job_type": "apply_model", "model_id": kv, "document_ids": [document]},
                    {"job_type": "transform", "output_type": "text"},
                ],
            },
            "listed": {
                "conditions": {"category": {"$in": [category, "other"]}},
                "jobs": [
                    {"job_type": "transform", "output_type": "trim", "document_ids": [document]}
                ],
            },
            "never": {
                "conditions": {"category": {"$ne": category}, "score": {"$lt": score}},
                "jobs": [{"job_type": "apply_model", "model_id": kv, "document_ids": [document]}],
            },
            "excluded": {
                "conditions": {"category": {"$nin": [category]}},
                "jobs": [
                    {"job_type": "transform", "output_type": "text", "document_ids": [document]}
                ],
            },
        }
    }
    await service.poll()
    job = await service.create_conditional(classify.id, body)
    assert job.raw_state == "READY" and job.raw["execute_after_id"] == classify.id
    assert service.jobs[job.id] is job

    advance_until(state, lambda: state.jobs[job.id].status == "PROCESSING", step=0.25)
    assert state.jobs[job.id].rule_jobs is None  # its rules are evaluated a moment later
    await service.poll()
    assert service.jobs[job.id].raw_state == "PROCESSING" and not service.chain(job.id).children
    advance_until(state, lambda: state.jobs[job.id].rule_jobs is not None, step=0.25)
    await service.poll()  # no status change, yet the rules' jobs show up while it runs
    assert service.jobs[job.id].raw_state == "PROCESSING"
    assert len(service.chain(job.id).children) == 3

    advance_until(state, lambda: state.jobs[job.id].terminal)
    await service.poll()
    finished = service.jobs[job.id]
    assert finished.raw_state == "PROCESSED", finished.message
    assert finished.raw["result_type"] == "conditional"
    result = finished.raw["result"]
    assert set(result) == {"match", "listed"}
    assert [entry["result_type"] for entry in result["match"]] == ["object", "document"]
    chain = service.chain(job.id)
    assert chain.waits_on is not None and chain.waits_on.id == classify.id
    assert len(chain.children) == 3
    assert all(child.raw["parent_job_id"] == job.id for child in chain.children)
    second = next(c for c in chain.children if c.raw.get("execute_after_id") != classify.id)
    assert service.chain(second.id).parent is finished


async def test_conditional_job_with_a_bad_body_is_refused(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator)
    client, _ = client_for(running, closing)
    with pytest.raises(RefusedError, match="job_type must be apply_model or transform"):
        await client.create_conditional(
            state.own[0].id, {"rules": {"r": {"conditions": {}, "jobs": [{"job_type": "x"}]}}}
        )
    with pytest.raises(NotFoundError):
        await client.create_conditional("no-such-job", {})


# -- the polling strategy -----------------------------------------------------------------------


async def test_polling_strategy_makes_fewer_requests_than_full_listing(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=1000)
    smart = service_for(running, closing, full_every=10)
    full = service_for(running, closing)
    smart_counts: list[int] = []
    full_counts: list[int] = []
    for cycle in range(10):
        before = dict(smart.jobs)
        active = [job.id for job in before.values() if not job.state.terminal]
        calls = smart.client.requests.copy()
        await smart.poll()
        full.relist()
        await full.poll()
        smart_counts.append(smart.last_poll_requests)
        full_counts.append(full.last_poll_requests)
        spent = smart.client.requests - calls
        if cycle == 0:
            assert smart.last_poll_full
            assert spent["get_jobs"] == pages_needed(1000, 100)
        else:
            assert not smart.last_poll_full
            changed = [i for i in active if smart.jobs[i].raw_state != before[i].raw_state]
            assert spent["get_job_statuses"] == len(smart.client.status_chunks(active))
            assert spent["get_job"] == len(changed)
            parents = {j.raw.get("parent_job_id") for j in before.values()}
            conditional = [
                i
                for i in active
                if smart.jobs[i].type == "conditional"
                and (i in changed or (smart.jobs[i].raw_state == "PROCESSING" and i not in parents))
            ]
            assert spent["get_jobs"] == len(conditional)
        # Same view of the world as listing everything, for a fraction of the requests.
        assert {i: j.revision for i, j in smart.jobs.items()} == {
            i: j.revision for i, j in full.jobs.items()
        }
        state.clock.advance(10)

    assert full_counts == [11] + [10] * 9  # login + 10 pages, then 10 pages
    assert sum(smart_counts) * 2 < sum(full_counts), (smart_counts, full_counts)
    assert max(smart_counts[1:]) < 10
    # The emulator saw exactly what the clients counted.
    total = smart.client.requests + full.client.requests
    assert {op: state.counts[op] for op in total} == dict(total)


async def test_every_k_cycles_one_request_picks_up_new_jobs(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=1000)
    service = service_for(running, closing, full_every=3)
    other, _ = client_for(running, closing)
    await service.poll()
    created = await other.transform([state.own[0].document_ids[0]], "autorotate")
    await service.poll()
    await service.poll()
    assert created.id not in service.jobs and service.cycle == 3
    calls = service.client.requests.copy()
    result = await service.poll()
    # One page of the newest jobs and its total, not the 10 pages of the whole list.
    assert (service.client.requests - calls)["get_jobs"] == 1
    assert not service.last_poll_full and created.id in service.jobs
    assert created.id in {job.id for job in result.jobs}
    assert len(service.jobs) == len(state.own)
    # Nothing new: the check costs one request every third cycle, nothing more.
    counts = []
    for _ in range(6):
        calls = service.client.requests.copy()
        await service.poll()
        counts.append((service.client.requests - calls)["get_jobs"])
        assert not service.last_poll_full
    assert counts == [0, 0, 1, 0, 0, 1]


async def test_a_job_gone_from_the_server_is_seen_by_its_total(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=300)
    service = service_for(running, closing, full_every=2)
    await service.poll()
    with state.lock:
        gone = next(job for job in state.own if job.status in ("PROCESSED", "FAILED"))
        state.own.remove(gone)
        del state.jobs[gone.id]
    await service.poll()
    assert gone.id in service.jobs  # an ended job is not asked about
    await service.poll()  # the check: the total is one short, so everything is listed again
    assert service.last_poll_full
    assert gone.id not in service.jobs
    assert set(service.jobs) == {job.id for job in state.own}


async def test_with_a_status_filter_every_k_cycles_lists_everything(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, _ = start(emulator, jobs=300)
    service = service_for(running, closing, full_every=2)
    service.set_filters(LeiaFilters(status=LeiaStatus.PROCESSED))
    fulls = []
    for _ in range(5):
        await service.poll()
        fulls.append(service.last_poll_full)
    assert fulls == [True, False, True, False, True]  # jobs move in and out of a status filter


async def test_filters_are_applied_to_the_listing(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=200)
    service = service_for(running, closing)
    await service.poll()
    assert len(service.jobs) == 200
    service.set_filters(LeiaFilters(status=LeiaStatus.PROCESSED, sort=("-creation_time",)))
    assert service.cycle == 0
    result = await service.poll()
    expected = sorted((j for j in state.own if j.status == "PROCESSED"), key=lambda j: -j.created)
    assert [job.id for job in result.jobs] == [job.id for job in expected]
    assert service.filters.describe() == "status=PROCESSED sort=-creation_time"


# -- failures and secrets -----------------------------------------------------------------------


async def test_server_faults_become_one_line(emulator: EmulatorFactory, closing: Closer) -> None:
    running, state = start(emulator)
    service = service_for(running, closing)
    await service.poll()
    state.faults.fail_status = 503
    with pytest.raises(ServerError) as caught:
        await service.poll()
    assert caught.value.line == "leia: Simulated failure (HTTP 503)"
    state.faults.fail_status = None
    state.faults.malformed = True
    service.set_filters(LeiaFilters(status=LeiaStatus.FAILED))
    with pytest.raises(BadPayloadError) as bad:
        await service.poll()
    assert bad.value.line.startswith("leia: unexpected job list:")
    state.faults.malformed = False
    await service.poll()
    assert {j.raw_state for j in service.jobs.values()} == {"FAILED"}


async def test_secrets_stay_out_of_reprs_errors_and_logs(
    emulator: EmulatorFactory, closing: Closer, caplog: pytest.LogCaptureFixture
) -> None:
    running, state = start(emulator, login_post=False)
    key = key_of(running)
    service = service_for(running, closing)
    with caplog.at_level(logging.DEBUG):
        await service.poll()
    token = next(iter(state.tokens))
    for text in (repr(service), repr(service.client), caplog.text):
        assert key not in text and token not in text
    assert "/login/***" in caplog.text
    state.faults.fail_status = 500
    with pytest.raises(ServerError) as caught:
        await service.poll()
    assert key not in caught.value.line and token not in caught.value.line


async def test_a_large_emulator_answers_fast(emulator: EmulatorFactory) -> None:
    import time

    running, state = start(emulator, jobs=100_000)
    async with httpx.AsyncClient(base_url=running.url) as http:
        token = (await http.post("/login", json={"api_key": key_of(running)})).json()["token"]
        for params in (
            {},
            {"sort": "-creation_time"},
            {"status": "PROCESSING"},
            {"job_type": "predict", "sort": "status,-finished_time", "offset": "5000"},
        ):
            # CPU time (the server runs in a thread of this process), not wall time: what the
            # answer costs, however busy the machine is
            began = time.process_time()
            response = await http.get("/job", params=params, headers={"token": token})
            elapsed = time.process_time() - began
            assert response.status_code == 200, params
            assert elapsed < 1.0, (params, elapsed)
    assert len(state.own) == 100_000


def test_seeded_jobs_cover_every_status_and_result_type(emulator: EmulatorFactory) -> None:
    _, state = start(emulator, jobs=40)
    assert {job.status for job in state.own} == {s.value for s in LeiaStatus}
    assert {job.result_type for job in state.own if job.status == "PROCESSED"} >= {
        "document",
        "list[document]",
        "classification",
        "object",
        "dict[object]",
        "dict[classification]",
        "conditional",
    }
    assert any(job.job_type == "conditional" and job.status == "WAITING" for job in state.own)
    assert all(job.created < 0 and (job.finished or -1.0) < 0 for job in state.own)
    assert len(state.foreign_ids) == 2


async def test_a_long_listing_lets_the_event_loop_run_while_it_makes_jobs(
    emulator: EmulatorFactory, closing: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making jobs of a long list lets the event loop run after each turn of work (keys and the
    screen go on), and the snapshot others read meanwhile stays the previous, whole one."""
    from jobtui.services.leia import service as leia_service

    monkeypatch.setattr(leia_service, "Pacer", turns_of(100))  # a turn is 100 jobs' work
    running, _ = start(emulator, jobs=1000)
    service = service_for(running, closing)
    made = [0]
    turns: list[tuple[int, int]] = []
    real_to_job = service.to_job

    def to_job(record: Any) -> Any:
        made[0] += 1
        return real_to_job(record)

    monkeypatch.setattr(service, "to_job", to_job)
    listing = asyncio.ensure_future(service.poll())
    while not listing.done():
        turns.append((made[0], len(service.jobs)))
        await asyncio.sleep(0)
    result = listing.result()
    assert made[0] == len(result.jobs) >= 1000
    # The loop ran between slices of 100 jobs made, and saw no half-made snapshot meanwhile.
    slices = {n for n, _ in turns if 0 < n < made[0]}
    assert len(slices) >= made[0] // 100 - 1
    assert all(shown == 0 for _, shown in turns)


async def test_the_first_poll_of_a_long_list_is_its_first_page_then_the_whole_list(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=1000)
    service = service_for(running, closing, first_page_first=True)
    first = await service.poll()
    assert first.partial and first.total == 1000
    assert [job.id for job in first.jobs] == [job.id for job in state.own[:100]]
    assert service.client.requests["get_jobs"] == 1
    whole = await service.poll()
    assert not whole.partial and whole.total is None
    assert [job.id for job in whole.jobs] == [job.id for job in state.own]
    assert service.client.requests["get_jobs"] == 1 + 10
    # The first page's jobs are the very same objects (its page was not parsed again).
    assert all(a is b for a, b in zip(first.jobs, whole.jobs, strict=False))
    assert not (await service.poll()).partial  # then the usual cycles


async def test_a_list_of_one_page_is_whole_at_the_first_poll(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=40)
    service = service_for(running, closing, first_page_first=True)
    result = await service.poll()
    assert not result.partial and len(result.jobs) == len(state.own)
    assert service.client.requests["get_jobs"] == 1


async def test_a_list_at_the_cap_is_not_listed_again_for_the_jobs_beyond_it(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """With more jobs than jobtui keeps, the check for unseen jobs finds the ones beyond the cap
    on every K-th cycle: they are not news, and listing everything again would cut them again."""
    from dataclasses import replace as replaced

    from jobtui.services._http import limits, set_limits

    before = limits()
    set_limits(replaced(before, max_jobs=250))
    try:
        running, state = start(emulator, jobs=300)
        service = service_for(running, closing, full_every=2)
        first = await service.poll()
        assert len(first.jobs) == 250 and first.total == len(state.own)
        for _ in range(6):
            calls = service.client.requests.copy()
            result = await service.poll()
            spent = service.client.requests - calls
            assert spent["get_jobs"] <= 1, "listed everything again"
            assert result.total == len(state.own) and len(result.jobs) == 250
    finally:
        set_limits(before)


async def test_a_command_that_wants_the_whole_list_does_not_read_the_first_page_twice(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    running, state = start(emulator, jobs=1000)
    service = service_for(running, closing, first_page_first=True)
    result = await service.poll_whole()
    assert not result.partial and len(result.jobs) == len(state.own)
    assert service.client.requests["get_jobs"] == 10


async def test_more_changed_jobs_than_a_page_are_listed_not_fetched_one_by_one(
    emulator: EmulatorFactory, closing: Closer
) -> None:
    """When more unfinished jobs changed than a page holds, the next poll lists everything (a
    few pages) instead of one request per job (a server changing 100,000 jobs at once)."""
    running, state = start(emulator, jobs=1000)
    service = service_for(running, closing, page_size=10)
    await service.poll()
    active = [job for job in service.jobs.values() if not job.state.terminal]
    assert len(active) > 10, "the seed has too few unfinished jobs"
    for job in state.own:
        if not job.terminal:
            job.status = "CANCELED" if job.status != "CANCELED" else job.status
    calls = service.client.requests.copy()
    await service.poll()
    spent = service.client.requests - calls
    assert spent["get_job"] == 0 and service.cycle == 0  # the next poll lists everything
    calls = service.client.requests.copy()
    result = await service.poll()
    spent = service.client.requests - calls
    assert spent["get_jobs"] == pages_needed(len(state.own), 10) and spent["get_job"] == 0
    assert all(j.raw_state == "CANCELED" for j in result.jobs if j.id in {a.id for a in active})
