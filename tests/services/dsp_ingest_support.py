"""Helpers shared by the dsp-ingest tests: emulator start, recorded clients, waiting on conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from jobtui.emulators.dsp_ingest.state import DspIngestState
from jobtui.emulators.runner import RunningEmulator
from jobtui.services._http import make_client
from jobtui.services.dsp_ingest.client import DspIngestClient
from jobtui.services.dsp_ingest.service import DspIngestService
from tests.conftest import EmulatorFactory

Closer = list[DspIngestClient | DspIngestService]


def start(
    emulator: EmulatorFactory, jobs: int = 4, **options: Any
) -> tuple[RunningEmulator, DspIngestState]:
    running = emulator("dsp-ingest", seed=1, speed=0, jobs=jobs, **options)
    state = running.state
    assert isinstance(state, DspIngestState)
    return running, state


class Recorder:
    """An httpx request hook that keeps every request sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def paths(self) -> list[bytes]:
        return [request.url.raw_path for request in self.requests]


def client_for(
    running: RunningEmulator, closing: Closer, token: str | None = None, **kwargs: Any
) -> tuple[DspIngestClient, Recorder]:
    state = running.state
    assert isinstance(state, DspIngestState)
    recorder = Recorder()
    http = make_client(running.url)
    http.event_hooks["request"] = [recorder]
    client = DspIngestClient(running.url, token or state.token, http=http, **kwargs)
    closing.append(client)
    return client, recorder


def service_for(
    running: RunningEmulator, closing: Closer, token: str | None = None, **kwargs: Any
) -> tuple[DspIngestService, Recorder]:
    state = running.state
    assert isinstance(state, DspIngestState)
    token = token or state.token
    client, recorder = client_for(running, closing, token, service="ingest")
    kwargs.setdefault("retry_delay", 0.01)
    kwargs.setdefault("now", state.clock.now)
    service = DspIngestService("ingest", running.url, token, client=client, **kwargs)
    closing.append(service)
    return service, recorder


async def wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait until `condition()` holds, checking every few milliseconds; fail after `limit` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


class Gate:
    """An upload body that sends `head`, then waits for `open` before sending `tail`."""

    def __init__(self, head: bytes = b"head-", tail: bytes = b"tail") -> None:
        self.head = head
        self.tail = tail
        self.open = asyncio.Event()
        self.started = asyncio.Event()

    async def body(self) -> AsyncIterator[bytes]:
        yield self.head
        self.started.set()
        await self.open.wait()
        yield self.tail


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
