"""A local dsp-ingest server: the bulk-ingest routes with their project lock, JWT auth, a simulated ingest.

It follows the wire reference (`shared/apis/dsp-ingest.md`, read from dsp-ingest v0.21.1 and its
successor inside dsp-api):

* `POST /projects/{sc}/bulk-ingest/ingest/{file}` streams the raw body to
  `<storage>/import/<sc>/<relative path>` while it holds the project lock (`/` inside `{file}`
  must be sent as `%2F`; routes are matched on the raw, still percent-encoded path, so an unencoded
  `/` does not match and a double-encoded `%252F` arrives as a literal `%2F` and is refused). The
  path is split on `/` and normalized; it is refused (400 JSON `BadRequest`) when it starts with
  `..` or is empty, and its last element when it has path information, no supported extension or
  characters outside `[\\p{L}\\p{N}_\\- .,'`+=!<>|()\\[\\]{}]` (checked on its NFC form; the file is
  stored under the name as sent). An empty body is accepted; an existing file is overwritten. A
  body cut off midway leaves the partial file in place, as the real server does.
* `POST /projects/{sc}/bulk-ingest` answers 202 `{"id"}` (404 `{"id","type":"Import folder not
  found."}` without a folder) and ingests in the background holding the lock: `files_per_second`
  files per simulated second, in path order. Hidden files and unsupported extensions are skipped;
  files whose name contains "corrupt" and zero-byte still images fail; both stay in the folder
  without a mapping row. Every other file is moved into `<storage>/assets/<sc>/` (so it is deleted
  from the import folder) and gets the row `<relative path>,<derivative>` appended to
  `import/mapping-<sc>.csv` (created with the header `original,derivative` only when missing;
  values CSV-escaped only when they hold `,`, `"` or a newline).
* `GET /projects/{sc}/bulk-ingest/mapping.csv` holds the lock while it reads: 200 `text/csv`, the
  file's lines joined with `\\n` and no trailing newline; 404 `{"id":sc,"type":"project"}`; 409.
* `POST /projects/{sc}/bulk-ingest/finalize` answers 200 `{"id"}` at once (404 without a folder)
  and deletes the folder and the mapping `finalize_seconds` simulated seconds later, holding the
  lock meanwhile.
* Every bulk route tries the per-project lock for 400 ms (real time) and answers 409
  `{"reason":"A bulk ingest is currently in progress for project <sc>."}` when it stays busy.
* `GET /projects` (admin) lists `assets/<sc>` folders that hold a file, with `Content-Range: items
  0-N/N`; `GET /projects/{sc}` (read); `GET /info`; `GET /health` (`state.healthy = False` makes it
  503 DOWN); `GET /metrics`.
* Auth: `Authorization: Bearer <jwt>`, HS256 with `jwt_secret`; `iss` must equal `jwt_issuer`,
  `aud` must contain `jwt_audience`, `sub` must be present, `exp`/`nbf` are checked against the
  simulated clock. The top-level `scope` claim holds `admin`, `write:project:<SC>` and
  `read:project:<SC>`; every failure, missing scope included, is 401 `{"reason"}`. A missing header
  is 401 text/plain with `WWW-Authenticate: Bearer`; a shortcode that is not 4 hex digits is 400
  text/plain "Invalid value for: path parameter shortcode" (decoded before the header, as tapir
  decodes path inputs first). An unmatched route is 404 text/plain.
* `state.faults`: `latency`, `fail_status` (every request answered with that status in the
  service's body shape), `malformed` (a broken JSON body), `read_error` (mapping.csv answers 500
  `{"errorMessage"}`), `write_error` (an upload fails with 500 text/plain "Internal server error").

Time is simulated (`SimClock`); running ingests and finalizes advance lazily whenever a request (or
a test calling `state.tick()`) looks at them, so speed 0 freezes them and
`state.clock.advance(s)` moves them.

Seeded projects (`projects`, default `min(jobs, 4)`) cycle through the roles `mapped` (a finished
ingest with a mapping, one corrupt file left over), `uploaded` (files waiting, nothing ingested),
`empty` (never used) and `ingesting` (an ingest running since just before the epoch);
`state.roles` maps each role to its shortcode.

Options (`settings.options`): `projects`, `files_per_second` (default 2), `finalize_seconds`
(default 1), `jwt_secret`, `jwt_issuer`, `jwt_audience` (the server's JWT settings, defaults as
the real service's), `scope` (scope of the configured token, default "admin"), `svg` (accept
`.svg` like dsp-api's ingest; default True), `legacy_content_range` (prefix the header value with
`Content-Range: ` as old sttp-model did), `storage_dir` (default a temporary directory removed when
the state is collected or the process ends).

Rooms: `state` (names, errors, storage, locks, ingests and finalizes), `auth` (JWTs),
`seed` (the seeded projects), `routes` (the HTTP side).
"""

from __future__ import annotations

from jobtui.emulators.base import Emulator, EmulatorSettings
from jobtui.emulators.dsp_ingest.routes import make_app
from jobtui.emulators.dsp_ingest.state import BASE_PATH, DspIngestState

__all__ = ["build"]


def build(settings: EmulatorSettings) -> Emulator:
    state = DspIngestState(settings)
    credentials = {"token": state.token}
    config = credentials | {"projects": list(state.seeded)}
    return Emulator.of("dsp-ingest", state, make_app(state), BASE_PATH, credentials, config)
