"""Property tests: every service client, fed arbitrary and near-valid bodies by its real
emulator (missing fields, wrong types, nulls, huge strings, unknown states), either reads them
or raises one `ServiceError`; nothing else escapes a poll, and a state it does not know is shown
as sent. One test sends a 100,000-element list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jobtui.core.errors import ServiceError
from jobtui.core.models import JobState
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from jobtui.services.ecotaxa.wire import STATE_WORDS
from tests.robustness.support import KINDS, faults_of, service_on

LIST_PATHS = {"bsub": "/v1/jobs", "ecotaxa": "/jobs/", "leia": "/job", "dsp-ingest": "/health"}
"""The path of a JSON body each poll reads (the job list; dsp-ingest's rows come from CSV)."""
OTHER_PATHS = {
    "bsub": "/v1/types",
    "ecotaxa": "/users/me",
    "leia": "/whoami",
    "dsp-ingest": "/info",
}
STATE_KEYS = {"bsub": "status", "ecotaxa": "state", "leia": "status"}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
ODD = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.just("x" * 200_000),
    st.just("NOT_A_STATE"),
    st.just([]),
    st.just({}),
    st.booleans(),
)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, RunningEmulator]]:
    with ExitStack() as stack:
        found: dict[str, RunningEmulator] = {}
        for kind in KINDS:
            thread = ServerThread(build(kind, EmulatorSettings(speed=0, jobs=4)))
            found[kind] = thread.start()
            stack.callback(thread.stop)
        yield found


def real_body(running: RunningEmulator, path: str) -> Any:
    """What the emulator really answers on `path` (fetched by the client's own login)."""
    captured: list[bytes] = []

    async def fetch() -> None:
        service = service_on(running)
        http: httpx.AsyncClient = service.client._http  # type: ignore[attr-defined]

        async def keep(response: httpx.Response) -> None:
            if response.request.method == "GET" and response.url.path.endswith(path):
                await response.aread()
                captured.append(response.content)

        http.event_hooks["response"].append(keep)
        try:
            await service.poll()
        finally:
            await service.aclose()

    asyncio.run(fetch())
    assert captured, f"no GET {path} in a poll"
    return json.loads(captured[-1])


def poll_with(running: RunningEmulator, bodies: dict[str, bytes]) -> list[Any]:
    """Poll once with those bodies served (twice when the first poll showed the first part of
    a long list); returns the jobs, or [] after a ServiceError."""
    faults = faults_of(running)

    async def poll() -> list[Any]:
        service = service_on(running, timeout=5)
        try:
            result = await service.poll()
            if result.partial:
                assert result.jobs, "a first part of no job"
                result = await service.poll()
            return list(result.jobs)
        except ServiceError as error:
            line = str(error)
            assert "\n" not in line and line.startswith(f"{service.name}: "), line
            assert len(line) < 1000, line[:200]
            return []
        finally:
            await service.aclose()

    faults.bodies = bodies
    try:
        return asyncio.run(poll())
    finally:
        faults.bodies = {}


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """A near-valid copy of `value`: here and there a field dropped, nulled or of a wrong type."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            choice = data.draw(st.integers(0, 9), label=f"{key}")
            if choice == 0:
                continue  # missing
            out[key] = data.draw(ODD) if choice == 1 else mutate(item, data, depth + 1)
        if data.draw(st.booleans()):
            out[data.draw(st.text(max_size=6))] = data.draw(JSON)  # unknown field
        return out
    if isinstance(value, list):
        items = [mutate(item, data, depth + 1) for item in value[:3]]
        return items if data.draw(st.integers(0, 5)) else data.draw(ODD)
    return value if data.draw(st.integers(0, 4)) else data.draw(ODD)


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON)
def test_arbitrary_json_never_escapes_as_anything_but_a_service_error(
    servers: dict[str, RunningEmulator], kind: str, body: Any
) -> None:
    text = json.dumps(body).encode()
    poll_with(servers[kind], {LIST_PATHS[kind]: text})
    poll_with(servers[kind], {OTHER_PATHS[kind]: text})


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_near_valid_bodies_are_read_or_refused_in_one_line(
    servers: dict[str, RunningEmulator], kind: str, data: st.DataObject
) -> None:
    running = servers[kind]
    real = real_body(running, LIST_PATHS[kind])
    poll_with(running, {LIST_PATHS[kind]: json.dumps(mutate(real, data)).encode()})


@pytest.mark.parametrize("kind", ["bsub", "ecotaxa", "leia"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(state=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s.isprintable()))
@example(state="asking")  # an EcoTaxa state word sent in place of its letter
def test_an_unknown_state_is_shown_as_sent(
    servers: dict[str, RunningEmulator], kind: str, state: str
) -> None:
    running = servers[kind]
    real = real_body(running, LIST_PATHS[kind])
    records = records_of(real)
    assert records
    records[0][STATE_KEYS[kind]] = state
    jobs = poll_with(running, {LIST_PATHS[kind]: json.dumps(real).encode()})
    assert jobs, "a body with one odd state was refused whole"
    shown = next(j for j in jobs if j.id == str(records[0]["id"]))
    # EcoTaxa's one-letter states are shown as the words they stand for ("P" is "pending"); an
    # unknown state that reads like one of those words is marked, so it cannot pass for it.
    expected = state
    if kind == "ecotaxa":
        expected = STATE_WORDS.get(state) or (
            f"{state}?" if state in STATE_WORDS.values() else state
        )
    assert shown.raw_state == expected
    if shown.state is JobState.UNKNOWN:
        assert shown.raw_state not in {  # it cannot be taken for a known state
            j.raw_state for j in jobs if j is not shown and j.state is not JobState.UNKNOWN
        }


def records_of(body: Any) -> list[dict[str, Any]]:
    """The job records in a list body (a list, or a dict holding one)."""
    if isinstance(body, list):
        return body if body and all(isinstance(r, dict) for r in body) else []
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return value
            if isinstance(value, dict):
                inner = records_of(value)
                if inner:
                    return inner
    return []


@pytest.mark.parametrize("kind", ["bsub", "ecotaxa", "leia"])
def test_a_list_of_100000_records(servers: dict[str, RunningEmulator], kind: str) -> None:
    running = servers[kind]
    real = real_body(running, LIST_PATHS[kind])
    records = records_of(real)
    many = [
        {**records[0], "id": f"{i}" if isinstance(records[0]["id"], str) else i + 1}
        for i in range(100_000)
    ]
    records.clear()
    records.extend(many)  # in place: the body holds the 100,000 records where it held the few
    jobs = poll_with(running, {LIST_PATHS[kind]: json.dumps(real).encode()})
    assert jobs == [] or len(jobs) >= 1000


def test_a_mapping_of_100000_rows(servers: dict[str, RunningEmulator]) -> None:
    rows = "original,derivative\n" + "".join(
        f"dir/file{i}.tif,{i:08x}.jp2\n" for i in range(100_000)
    )
    jobs = poll_with(servers["dsp-ingest"], {"mapping.csv": rows.encode()})
    assert jobs, "a mapping of 100,000 rows was refused"
