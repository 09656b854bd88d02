"""Helpers of the robustness tests: a service of each kind on its running emulator."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from jobtui.config import config_from_data
from jobtui.core.service import Service
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.faults import Faults
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from jobtui.services import build_service

KINDS = ("bsub", "ecotaxa", "leia", "dsp-ingest")
NAMES = {"bsub": "bsub.io", "ecotaxa": "EcoTaxa", "leia": "Leia", "dsp-ingest": "dsp-ingest"}


def entry(running: RunningEmulator, **extra: Any) -> dict[str, Any]:
    """The `[[services]]` table of one running emulator."""
    name = NAMES[running.kind]
    return {
        "name": name,
        "kind": running.kind,
        "url": running.url,
        **running.emulator.config,
        **extra,
    }


def service_on(running: RunningEmulator, *, timeout: float | None = None, **extra: Any) -> Service:
    """The service a config entry for `running` builds; `timeout` shortens every request's."""
    config = config_from_data({"services": [entry(running, **extra)]}, source="test")
    service = build_service(config.services[0])
    if timeout is not None:
        http: httpx.AsyncClient = service.client._http  # type: ignore[attr-defined]
        http.timeout = httpx.Timeout(timeout)
    return service


def faults_of(running: RunningEmulator) -> Faults:
    faults = getattr(running.state, "faults", None)
    assert isinstance(faults, Faults)
    return faults


class WireSecrets:
    """ASGI wrapper that keeps every credential a client sends (Authorization values, a login
    path's key, form passwords), so tests can search every output for them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name.lower() in (b"authorization", b"x-api-key", b"cookie"):
                    text = value.decode("latin-1")
                    self.seen.add(text)
                    self.seen.add(text.partition(" ")[2])
            path = str(scope.get("path", ""))
            if "/login/" in path:
                self.seen.add(path.rsplit("/login/", 1)[1])
        await self.app(scope, receive, send)

    def values(self) -> set[str]:
        return {value for value in self.seen if len(value) >= 6}


def serve_recorded(
    stack: ExitStack, kind: str, **settings: Any
) -> tuple[RunningEmulator, WireSecrets]:
    """An emulator whose incoming credentials are recorded."""
    emulator = build(kind, replace(EmulatorSettings(), **settings))
    wire = WireSecrets(emulator.app)
    emulator.app = wire
    thread = ServerThread(emulator)
    running = thread.start()
    stack.callback(thread.stop)
    return running, wire
