"""Helpers of the robustness tests: a service of each kind on its running emulator."""

from __future__ import annotations

from typing import Any

import httpx

from jobtui.config import config_from_data
from jobtui.core.service import Service
from jobtui.emulators.base import Faults
from jobtui.emulators.runner import RunningEmulator
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
