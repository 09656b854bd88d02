"""A local EcoTaxa server (API 0.0.45): login, the job routes, and a simulated job runner.

It follows the wire reference (`shared/apis/ecotaxa.md`), quirks included:

* the API answers under both `/` and `/api` (the real app mounts itself at `/api`). Trailing
  slashes matter: `GET /jobs/` and `GET /jobs/{id}/` have one, `DELETE /jobs/{id}` has none. A path
  that matches a route for another method answers 405 `{"detail":"Method Not Allowed"}` (so
  `GET /jobs/5`, `DELETE /jobs/5/` and `POST /jobs/5/restart` are 405s); a path that only matches
  with the slash added or removed answers 307 with a `Location` on the front-end URL (never follow
  it); anything else is 404 `{"detail":"Not Found"}`. HEAD is a 405 on every route (FastAPI's
  routes do not add it, unlike Starlette's).
* `POST /login` takes `{"username", "password"}` and answers the token as a JSON string. The token
  is opaque: an itsdangerous-style `payload.timestamp.signature` (HMAC) of `{"user_id": N}`, valid
  31 simulated days. Wrong credentials or an inactive account: 403 "You can't do this.".
* Authentication is `Authorization: Bearer <token>` (scheme in any case), else a `session` cookie
  holding a token. None: 403 "Not authenticated". A bad or expired token: 401 "Could not validate
  credentials" with `WWW-Authenticate: Bearer`. Auth is checked before parameters are validated;
  a malformed JSON body is refused (422) before both, as FastAPI reads the body first.
* 422 bodies have the pydantic v1 shape `{"detail": [{"loc", "msg", "type"(, "ctx")}]}`.
* Jobs: all 15 JobModel keys, in the documented order, compact JSON, naive ISO timestamps (UTC
  wall-clock, the fraction left out when it is 0), `step` always null, `progress_pct` null until
  the job reports progress. `GET /jobs/` lists the caller's jobs (`for_admin=true`: everyone's,
  for application administrators only), filtered by `job_type` and `job_status`; archived jobs
  (negative ids) are left out. The query has no ORDER BY: rows come in the order of their last
  write (PostgreSQL writes a new version of a row on each update, and a scan meets it there), so
  the order changes as jobs run or are touched; never rely on it. `GET /jobs/{id}/` needs the
  owner or an application administrator (else 403 "You can't do this."); an unknown id is 404
  `{"detail":"Not found."}`.
* Actions answer 200 `null`. `POST /answer` (a JSON object, else 422) moves A to P "Proceeding";
  `GET /restart` moves E to P "Restarting" (errors, result, question and progress kept). In any
  other state they do nothing but bump `updated_on`. `DELETE` kills a P/R/A job (E "Killed", and
  "Process killed by user N" appended to its log as a bare line) and archives an F/E job (its task
  folder is emptied but for the log, and its id negated: it leaves the list, `GET /jobs/{id}/` is
  404 and `GET /jobs/-{id}/` still works). `DELETE /jobs/-{id}` negates the id back: the job is
  listed again, without its files (`/file` is a 500), with its log.
* A crashed job (an uncaught exception in its process) is E with `progress_msg` `str(exception)`,
  empty for a bare `assert` (summary exports fail so), and `errors` as the server's
  `format_exception` makes them: `traceback.format_stack()` and `format_tb()` pieces of several
  lines, each ending in a newline, from multiprocessing's spawn frames down, then the exception
  line; no "Traceback" header. Its log says "Unexpected termination of #N" and the traceback.
* `GET /jobs/{id}/log` is `text/plain; charset=utf-8`. A job's log exists from its creation
  ("Creating job N" from `API_operations.helpers.JobService`), then "Running in PID n" when it
  runs. An archived job's log sits under the positive id's folder, so `GET /jobs/-{id}/log` is the
  back-end's 500: `text/plain`, "\\n----------- BACK-END -------------\\n" and a traceback.
* Every 500 closes the connection (`Connection: close`): on the server, the exception behind it
  reaches uvicorn, which drops the keep-alive connection. `state.peers` notes each request's
  client address, so tests can count connections.
* `GET /jobs/{id}/file` streams the file of a finished export (`GeneralExport`, `SummaryExport`,
  `BackupExport`, legacy `GenExport`: `result.out_file`; `DarwinCoreExport`: `dwca.zip`) with
  `content-disposition: attachment; filename="..."`, `content-length`, `accept-ranges: bytes` and
  the content type of its name (`application/zip`, `text/tab-separated-values`, else `unknown`).
  `Range: bytes=N-` (or `bytes=N-<size>`) answers 206 with `content-range`, for N up to the size:
  `bytes=<size>-` is a 206 with an empty body and `content-range: bytes <size>-<size-1>/<size>`
  (option `strict_ranges`: a 416, as servers that follow RFC 9110 answer); any other range is 416
  `{"detail":"Invalid/unsupported request range (Range:'...')"}`. A job without a file, not
  finished, or archived answers the 500 traceback. A download bumps `updated_on`. Zip files are
  real archives (made with `zipfile`, byte-identical for a seed), TSV files real tab-separated text.
* `GET /users/me` answers the caller with its rights (`can_do`: 2 = application administrator).

Users (`state.users`): 1 an application administrator, 2 a normal user (the one the `config`
logs in as), 3 a normal user who is also a users administrator (which does not let him see other
people's jobs), 4 an inactive account. Their passwords come from the seed, or from the options
`password` (user 2) and `admin_password` (user 1).

The job runner is simulated (`SimClock`): each job's next step is an event on a heap, applied
lazily at the start of each request, so speed 0 freezes everything and `state.advance(s)` (or
`state.clock.advance(s)` followed by any request) moves it. A job waits in P for a slot, runs (R,
reporting progress), and ends F, or E, or, for a `FileImport` whose file names users or taxa the
server does not know, A with the question `{"missing_users", "missing_taxa"}`. The reply
`{"users": {name: id}, "taxa": {name: id}}` resolves names (ids must be positive integers; taxon
names are compared in lower case); names left unresolved send the job back to A with a smaller
question, a reply without `users` or `taxa` ends it in E with the message `'users'` (or `'taxa'`).
A restarted job runs again from the start and, except for an import still missing names, ends F.
`Prediction` jobs are left to a runner the API does not have: they stay P.

Seeded jobs (`settings.jobs`) are a realistic mix, newest first: an import asking a question (for
any seed, so there is always one in A), a running export, a pending import, finished exports (zip
and tsv), another user's job, errors... then a random history, mostly finished.

Options (`settings.options`): `password`, `admin_password`; `file_size` (bytes of every export
file; default a size per job between 20 KB and 2 MB); `arrivals` (seconds between new jobs, or
True for 45); `front_url` (where 307s point, default "https://ecotaxa.invalid"); `legacy` (behave as
a server up to v3.0.6: `for_admin` required, `job_type`/`job_status` silently ignored);
`strict_ranges` (above).

Faults (`state.faults`): `latency` (seconds before every answer), `fail_status` (answer every
request with that status and EcoTaxa's body for it), `malformed` (a broken JSON body), and
`drop_after` (cut the connection once that many body bytes of one answer were sent; `drops_left`
limits how many answers are cut, None for all). `state.invalidate_tokens()` makes every token
given so far invalid (401), as a server restart with a new secret would.

What it does not reproduce of the real server: other routes than login, `/users/me` and the job
routes (no projects, objects, imports or exports to create jobs with: jobs arrive by themselves,
`arrivals`); one scheduler that runs every due job at once (the server runs one job at a time per
worker, polling every 5 s); a real kill (the "Running in PID" is made up, nothing is signalled);
the nightly maintenance that archives old jobs; pending accounts (401 with a list `detail`); the
307's rewriting by `FixLocationMiddleware` beyond pointing at `front_url`; `ETag`s and
`Last-Modified` of files other than the log; a task folder lost on disk (a missing log of a
job that is not archived); the exact text of tracebacks (the frames are plausible, not the
server's line for line); the order of rows beyond "last written last" (PostgreSQL may also put a
new row version in free space earlier in the table); `Connection: close` on other answers than the
back-end's 500 (e.g. Starlette's own 500 for an error in the emulator).

Rooms: `world` (constants, users, projects, tokens), `errors` (HTTP errors and back-end
crashes), `state` (jobs and the job runner), `content` (made-up params, results, logs and files),
`seed` (seeded and arriving jobs), `routes` (the HTTP side).
"""

from __future__ import annotations

from jobtui.emulators.base import Emulator, EmulatorSettings
from jobtui.emulators.ecotaxa.routes import make_app
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.ecotaxa.world import BASE_PATH

__all__ = ["build"]


def build(settings: EmulatorSettings) -> Emulator:
    state = EcoTaxaState(settings)
    user, admin = state.user, state.admin
    login = {"username": user.email, "password": user.password}
    credentials = login | {"admin username": admin.email, "admin password": admin.password}
    return Emulator.of("ecotaxa", state, make_app(state), BASE_PATH, credentials, login)
