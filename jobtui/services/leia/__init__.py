"""Leia (LeiaWS 1.0.0), in the rooms every service package has: `wire` (what the server sends:
models, wire states, parsing), `client` (`LeiaClient`: one method per endpoint, login and token,
errors, paging), `service` (`LeiaService`: wire records -> `Job`s, actions, polling), plus what only
Leia has: `filters` (the server-side filters and sort of the job list), `conditions` (conditional
jobs' rules, checked before they are sent) and `chain` (jobs that wait on other jobs, and the jobs
a conditional job created). `LeiaClient` and `LeiaService` are re-exported here, imported on first
use, so that importing `wire` alone loads no HTTP client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobtui.services.leia.client import LeiaClient
    from jobtui.services.leia.service import LeiaService

__all__ = ["LeiaClient", "LeiaService"]


def __getattr__(name: str) -> Any:
    if name == "LeiaClient":
        from jobtui.services.leia.client import LeiaClient

        return LeiaClient
    if name == "LeiaService":
        from jobtui.services.leia.service import LeiaService

        return LeiaService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
