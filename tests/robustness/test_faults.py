"""Every fault of every emulator, met by the real client over loopback: each one ends as one
readable `ServiceError` line naming the service, and the next poll after the fault is switched
off succeeds."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
)
from jobtui.emulators.faults import CONTROL_PATH, Faults, FaultSpecError
from tests.conftest import EmulatorFactory
from tests.robustness.support import KINDS, NAMES, faults_of, service_on

# spec -> (error type, words the line holds)
EXPECTED: dict[str, tuple[type[ServiceError], str]] = {
    "500": (ServerError, "HTTP 500"),
    "502": (ServerError, "HTTP 502"),
    "503": (ServerError, "HTTP 503"),
    "429=7": (RateLimitedError, "HTTP 429), retry after 7s"),
    "malformed": (BadPayloadError, ""),
    "truncated": (TransportError, "answer cut short"),
    "content-type": (BadPayloadError, "not JSON"),
    "reset": (TransportError, "connection reset"),
    "expired": (AuthError, "HTTP 401"),
    "hang": (TransportError, "timed out"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", list(EXPECTED))
async def test_each_fault_is_one_line_naming_the_service(
    emulator: EmulatorFactory, kind: str, spec: str
) -> None:
    running = emulator(kind, speed=0, jobs=3)
    faults = faults_of(running)
    service = service_on(running, timeout=0.6)
    try:
        await service.poll()  # logged in and healthy first
        faults.switch(spec)
        with pytest.raises(ServiceError) as caught:
            await service.poll()
        error = caught.value
        kind_expected, words = EXPECTED[spec]
        assert isinstance(error, kind_expected), f"{spec}: {type(error).__name__}: {error}"
        line = str(error)
        assert "\n" not in line and line.startswith(f"{NAMES[kind]}: "), line
        assert words in line, line
        assert "Traceback" not in line and len(line) < 400, line
        if isinstance(error, RateLimitedError):
            assert error.retry_after == 7
        faults.reset()
        result = await service.poll()
        assert result.jobs
    finally:
        faults.reset()
        await service.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_latency_delays_but_does_not_fail(emulator: EmulatorFactory, kind: str) -> None:
    running = emulator(kind, speed=0, jobs=3)
    service = service_on(running)
    try:
        await service.poll()
        faults_of(running).switch("latency=0.3")
        started = time.monotonic()
        result = await service.poll()
        assert time.monotonic() - started >= 0.3
        assert result.jobs
    finally:
        await service.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_random_faults_only_ever_raise_service_errors(
    emulator: EmulatorFactory, kind: str
) -> None:
    running = emulator(kind, speed=0, jobs=3)
    faults = faults_of(running)
    service = service_on(running, timeout=1.0)
    failed = succeeded = 0
    try:
        faults.switch("random=0.5")
        for _ in range(30):
            try:
                await service.poll()
                succeeded += 1
            except ServiceError as error:
                assert "\n" not in str(error) and str(error).startswith(NAMES[kind])
                failed += 1
        assert failed and succeeded
        assert faults.faulted >= failed
    finally:
        faults.reset()
        await service.aclose()


def test_paths_restrict_the_faults(emulator: EmulatorFactory) -> None:
    running = emulator("bsub", speed=0, jobs=1)
    faults = faults_of(running)
    faults.paths = ("/v1/types",)
    faults.switch("503")
    token = running.emulator.credentials["token"]
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/v1/types").status_code == 503
        assert http.get("/v1/jobs").status_code == 200


def test_the_control_endpoint_switches_faults(emulator: EmulatorFactory) -> None:
    running = emulator("leia", speed=0, jobs=1)
    root = f"http://{running.host}:{running.port}"
    with httpx.Client(base_url=root) as http:
        assert http.get(CONTROL_PATH).json()["active"] == []
        answer = http.post(CONTROL_PATH, content="503, latency=0.1")
        assert answer.json()["active"] == ["latency=0.1", "503"]
        assert http.get(running.url + "/whoami").status_code == 503
        assert http.post(CONTROL_PATH, content="bogus").status_code == 400
        assert http.post(CONTROL_PATH, content="off").json()["active"] == []
    assert faults_of(running).fail_status is None


def test_fault_specs() -> None:
    faults = Faults()
    for spec in ("latency=2", "hang", "429=3", "malformed", "truncated", "content-type"):
        faults.switch(spec)
    faults.switch("reset")
    faults.switch("expired")
    faults.switch("random=0.2")
    assert faults.active() == [
        "latency=2",
        "hang",
        "429=3",
        "malformed",
        "truncated",
        "content-type",
        "reset",
        "expired",
        "random=0.2",
    ]
    faults.switch("off")
    assert faults.active() == []
    for bad in ("latency=x", "latency", "600", "nope", "latency=-1"):
        with pytest.raises(FaultSpecError):
            faults.switch(bad)


async def test_a_cut_download_says_how_far_it_got_and_can_be_retried(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    running = emulator("bsub", speed=0, jobs=10)
    service = service_on(running)
    try:
        jobs = (await service.poll()).jobs
        done = next(j for j in jobs if j.raw_state == "finished")
        faults_of(running).drop_after = 3000
        dest = tmp_path / "out.bin"
        with pytest.raises(TransportError) as caught:
            await service.download(done, dest)
        assert re.fullmatch(
            rf"bsub\.io: download of job {done.id} cut after [\d,]+ of [\d,]+ bytes "
            r"\(answer cut short \(connection closed\) to [\d.:]+\); nothing saved, download again",
            str(caught.value),
        ), str(caught.value)
        assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir())), (
            "a partial file was left"
        )
        faults_of(running).drop_after = None
        assert await service.download(done, dest) == dest and dest.stat().st_size > 3000
    finally:
        await service.aclose()


async def test_a_hang_that_ends_answers_the_waiting_client(emulator: EmulatorFactory) -> None:
    running = emulator("leia", speed=0, jobs=2)
    faults = faults_of(running)
    service = service_on(running, timeout=10)
    try:
        await service.poll()
        faults.switch("hang")
        waiting = asyncio.ensure_future(service.poll())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        faults.reset()
        assert (await asyncio.wait_for(waiting, 5)).jobs
    finally:
        faults.reset()
        await service.aclose()
