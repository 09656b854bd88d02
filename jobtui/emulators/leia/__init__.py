"""A local Leia (LeiaWS 1.0.0) server: login tokens, jobs, chains and conditional jobs.

It follows the wire reference (`shared/apis/leia.md`) closely enough that the vendor's generated
Python client works against it (with `_preload_content=False` where that client cannot parse):

* mounted under `/leia/1.0.0`; `POST /login` (and the deprecated `GET /login/{api_key}`) trade the
  API key for a token; every other call needs the `token` header (missing: 400 problem+json; unknown
  or idle for longer than the TTL: 401 "Not logged in"). Every authenticated call, `/whoami` included,
  resets the token's inactivity timer.
* `GET /job` filters, sorts (comma list, `-` for descending), pages with `offset`/`limit` (at most
  `max_limit`), answers `Content-Range: first-last/total` (last inclusive) and `Accept-Range: job MAX`,
  and answers an empty result with 404 "No jobs found". `GET /job/{id}`, `GET /job/{ids}/status`,
  `DELETE /job/{id}`, `POST /job/{id}/start`, `POST /job/conditional/{execute_after_id}`,
  `POST /model/{model_id}/apply/{document_ids}` and `POST /document/{document_ids}/transform/{type}`.
* Errors are Connexion's `application/problem+json`: `{type: "about:blank", title, status, detail}`.

Time is simulated (`SimClock`): each job's transitions are events on a heap, applied lazily at the
start of each request, so speed 0 freezes everything and `state.clock.advance(s)` moves it.
READY -> STARTING -> LOADING_MODEL (jobs with a model) -> PROCESSING -> PROCESSED | FAILED;
WAITING becomes READY one second after its prerequisite is PROCESSED, or FAILED one second after it
fails or is canceled (the failure travels down a chain one second per link). A conditional job, once
PROCESSING, evaluates its rules on the prerequisite's result, creates the matching rules' jobs (each
chained on the previous one, `parent_job_id` = the conditional job) and ends when they have all ended.

Choices where the public sources are silent (marked "inferred" in the reference): cancelling an
already PROCESSED or FAILED job answers 204 and changes nothing; starting a job that is not BLOCKED
answers 200 with the job unchanged; `GET /job/{ids}/status` leaves unknown ids out of the map and
answers 404 only when it knows none of them; `created_after` is inclusive, `created_before` exclusive.

Options (`settings.options`): `api_key`, `token_ttl` (seconds of simulated inactivity, default 1800),
`max_limit` (default 100), `arrivals` (seconds between new jobs, or True for 20), `login_post`
(False answers `POST /login` with 405, like a server that only knows the deprecated GET).

Rooms: `state` (application, tokens, jobs and their state machine, results), `rules` (the
conditions of conditional jobs), `seed` (seeded and arriving jobs), `routes` (the HTTP side).
"""

from __future__ import annotations

from jobtui.emulators.base import Emulator, EmulatorSettings
from jobtui.emulators.leia.routes import make_app
from jobtui.emulators.leia.state import BASE_PATH, LeiaState

__all__ = ["build"]


def build(settings: EmulatorSettings) -> Emulator:
    state = LeiaState(settings)
    return Emulator.of("leia", state, make_app(state), BASE_PATH, {"api_key": state.api_key})
