"""Leia (LeiaWS 1.0.0), in the rooms every service package has: `wire` (what the server sends:
models, wire states, parsing), `client` (`LeiaClient`: one method per endpoint, login and token,
errors, paging), `service` (`LeiaService`: wire records -> `Job`s, actions, polling), plus what only
Leia has: `filters` (the server-side filters and sort of the job list), `conditions` (conditional
jobs' rules, checked before they are sent) and `chain` (jobs that wait on other jobs, and the jobs
a conditional job created)."""

from jobtui.services.leia.client import LeiaClient
from jobtui.services.leia.service import LeiaService

__all__ = ["LeiaClient", "LeiaService"]
