"""A local bsub.io server (REST API 1.0.0): processing types, jobs, uploads, a simulated worker.

It follows the wire reference (`shared/apis/bsub.md`) closely enough that the vendor's generated
client `bsubio` 0.0.6 runs the whole job lifecycle against it unchanged:

* every path is under `/v1`; every endpoint but `GET /v1/version` needs `Authorization: Bearer
  <key>` (missing or wrong: 401). Every 4xx answers `{"success": false, "error": "<message>"}`.
* `POST /v1/jobs` creates a job (201) holding an upload token, sent only while the job is `created`;
  `POST /v1/upload/{id}?token=` takes the input as the multipart field `file`, streamed to a file on
  disk as it arrives (never held whole in memory); a wrong token answers 401 "Invalid upload token",
  an input over `max_upload` bytes answers 413 (the rest of the body is read and dropped first, so
  the client sees the answer). `POST /v1/jobs/{id}/submit` moves `loaded` to `pending` (any other
  state: 400).
* `GET /v1/jobs` lists newest first, filtered by `status`, cut to `limit` (default 20; the
  published client allows 1 to 100, and a larger limit is served as `max_limit`, 100, or refused
  with 400 when `refuse_over_max` is set); `total` counts the matches before the cut.
* `POST /v1/jobs/{id}/cancel` ends any job that is not `finished` or `failed` (those answer 400) as
  `failed` with `error_code` "cancelled"; `DELETE /v1/jobs/{id}` answers 204 for `finished` and
  `failed` jobs and 409 for every other state; `GET /v1/jobs/{id}/logs` is the job's stderr as
  text (empty until a worker claims it); `GET /v1/jobs/{id}/output` is its stdout as bytes, 409
  until the job is `finished`.

Time is simulated (`SimClock`): each job's next transition is an event on a heap, applied lazily at
the start of each request, so speed 0 freezes everything and `state.clock.advance(s)` moves it.
A submitted job goes pending -> claimed -> preparing -> processing -> finished, or fails (with an
`error_code` and `error_message`) while preparing or at the end of processing. Seeded `created`
and `loaded` jobs wait for the user; jobs that arrive by themselves (`arrivals`) upload and submit
on their own a few seconds after they are created. Logs and outputs are made up from the seed and
the job id, except the `sha256` type whose output is the real checksum of the uploaded file.

Options (`settings.options`): `token` (the API key), `max_upload` (bytes, default 64 MiB),
`max_limit` (largest list `limit` honoured, default 100), `refuse_over_max` (answer a larger
`limit` with 400 instead of serving `max_limit` jobs), `fail_rate` (share of jobs that fail,
default 0.12), `output_size` (bytes of every binary output; default made up from the input size,
at most 8 MiB), `arrivals` (seconds between new jobs, or True for 25), `upload_dir` (where uploads
are stored; default a temporary directory removed when the process ends).

Rooms: `state` (catalogue, jobs, state machine), `seed` (seeded and arriving jobs), `upload`
(the streamed multipart upload), `routes` (the HTTP side).
"""

from __future__ import annotations

from jobtui.emulators.base import Emulator, EmulatorSettings
from jobtui.emulators.bsub.routes import make_app
from jobtui.emulators.bsub.state import BASE_PATH, BsubState

__all__ = ["build"]


def build(settings: EmulatorSettings) -> Emulator:
    state = BsubState(settings)
    return Emulator.of("bsub", state, make_app(state), BASE_PATH, {"token": state.token})
