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
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import heapq
import hmac
import io
import itertools
import json
import random
import re
import threading
import zipfile
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from jobtui.emulators.base import Emulator, EmulatorSettings, SimClock
from jobtui.emulators.faults import FaultProfile, Faults, FaultsMiddleware

BASE_PATH = "/api"
"""The URL the service is configured with; the same routes also answer at the server's root."""

STATES = ("P", "R", "A", "E", "F")
EXPORT_TYPES = frozenset(
    {"GeneralExport", "SummaryExport", "BackupExport", "GenExport", "DarwinCoreExport"}
)
JOB_KEYS = (
    "params",
    "result",
    "errors",
    "question",
    "reply",
    "inside",
    "id",
    "owner_id",
    "type",
    "state",
    "step",
    "progress_pct",
    "progress_msg",
    "creation_date",
    "updated_on",
)
"""The JobModel keys, in the order the server sends them."""

MSG_WAITING = "Waiting for a slot"
MSG_PROCEEDING = "Proceeding"
MSG_RESTARTING = "Restarting"
MSG_KILLED = "Killed"
MSG_DONE = "Done"
MSG_ASKING = "Some users or taxonomic references could not be matched"

MAX_TOKEN_AGE = 2_678_400
"""31 days, in seconds."""
DEFAULT_ARRIVAL_GAP = 45.0
MAX_ARRIVALS_PER_TICK = 2000
STREAM_CHUNK = 64 * 1024
BACK_END = "\n----------- BACK-END -------------\n"
JOBS_DIR = "/app/temp_tasks"
APP = "/app"
"""Where the server's code sits in its image (the `py` folder of the repository)."""
SITE = "/venv/lib/python3.8/site-packages"
PYTHON_LIB = "/usr/lib/python3.8"
LOG_NAME = "TaskLogBack.txt"
JOB_SERVICE = "API_operations.helpers.JobService"
SCHEDULER = "BG_operations.JobScheduler"
ADMIN_RIGHT = 2

_START, _PROGRESS, _END, _ARRIVE = 0, 1, 2, 3

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact JSON, as the server's orjson writes it."""
    return _ENCODER.encode(value).encode("utf-8")


# -- the world: users, projects, names ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    password: str
    organisation: str
    country: str
    can_do: tuple[int, ...]
    active: bool = True

    @property
    def is_admin(self) -> bool:
        """Application administrator (right 2): sees and acts on every job."""
        return ADMIN_RIGHT in self.can_do


PROJECTS: tuple[tuple[int, str], ...] = (
    (412, "UVP5 Tara Oceans 2009-2012"),
    (1163, "Zooscan Point B weekly 2015"),
    (3058, "FlowCam Bay of Biscay PELGAS 2021"),
    (5421, "IFCB Villefranche time series"),
    (7310, "ISIIS Ligurian front 2013"),
    (9150, "LOKI Arctic AWI 2018"),
    (11842, "UVP6 BGC-Argo floats"),
    (12655, "PlanktoScope Roscoff training"),
)
COLLECTIONS = (18, 27, 41)
UNKNOWN_USERS = (
    "elizandro rodriguez",
    "marie dupont",
    "j. smith",
    "lab tech 3",
    "k. yamamoto",
    "station operator",
)
UNKNOWN_TAXA = (
    "other",
    "ozzeur",
    "copepoda<maxillopoda",
    "detritus fiber",
    "egg sp.",
    "t001",
    "nauplii<crustacea",
    "appendicularia tail",
)
KNOWN_USERS = {"jean martin": 2, "amanda elineau": 1, "fabien lombard": 3}
KNOWN_TAXA = {"copepoda": 25828, "detritus": 84963, "chaetognatha": 11811, "bubble": 85011}
COLUMNS = {
    "object_id": "orig_id",
    "object_lat": "latitude",
    "object_lon": "longitude",
    "object_date": "objdate",
    "object_annotation_category": "classif_id",
}
_KNOWN_USER_ITEMS = sorted(KNOWN_USERS.items())
_KNOWN_TAXA_ITEMS = sorted(KNOWN_TAXA.items())
_KNOWN_TAXA_IDS = list(KNOWN_TAXA.values())
_COLUMN_ITEMS = sorted(COLUMNS.items())
EXPORT_FAILURES = (
    (
        "OperationalError",
        "(psycopg2.errors.QueryCanceled) canceling statement due to statement timeout",
        "sqlalchemy.exc.OperationalError",
    ),
    ("OSError", "[Errno 28] No space left on device", "OSError"),
    ("AssertionError", "No object to export", "AssertionError"),
    ("AttributeError", "'NoneType' object has no attribute 'orig_id'", "AttributeError"),
)
IMPORT_ERRORS = (
    "Invalid float value 'n/a' for object_lat in ecotaxa_{n}.tsv line {line}",
    "Missing image file img_{line:05d}.jpg for ecotaxa_{n}.tsv line {line}",
    "Duplicate object_id 'obj_{line}' in ecotaxa_{n}.tsv line {line}",
    "Invalid date '2019-13-{day:02d}' for object_date in ecotaxa_{n}.tsv line {line}",
)
PROGRESS_MSGS: Mapping[str, tuple[str, ...]] = {
    "FileImport": ("Validating rows", "Loading objects", "Loading images", "Updating statistics"),
    "SimpleImport": ("Reading images", "Loading images", "Updating statistics"),
    "GeneralExport": ("Querying objects", "Writing TSV", "Adding images", "Zipping"),
    "GenExport": ("Querying objects", "Writing TSV", "Zipping"),
    "SummaryExport": ("Querying objects", "Summarizing"),
    "BackupExport": ("Querying objects", "Writing TSV", "Adding images", "Zipping"),
    "DarwinCoreExport": ("Collecting samples", "Computing abundances", "Writing archive"),
    "Subset": ("Selecting objects", "Copying objects", "Copying images"),
    "NightlyMaintenance": ("Archiving old jobs", "Cleaning temporary folders"),
}
LOGGERS: Mapping[str, str] = {
    "FileImport": "API_operations.imports.Import",
    "SimpleImport": "API_operations.imports.SimpleImport",
    "GeneralExport": "API_operations.exports.ForProject",
    "GenExport": "API_operations.exports.ForProject",
    "SummaryExport": "API_operations.exports.ForProject",
    "BackupExport": "API_operations.exports.ForProject",
    "DarwinCoreExport": "API_operations.exports.DarwinCore",
    "Subset": "API_operations.Subset",
    "Prediction": "API_operations.Prediction",
    "NightlyMaintenance": "API_operations.admin.NightlyJob",
}
_WEIGHTS = (
    ("FileImport", 28),
    ("GeneralExport", 16),
    ("SummaryExport", 8),
    ("BackupExport", 8),
    ("DarwinCoreExport", 4),
    ("GenExport", 3),
    ("Subset", 10),
    ("SimpleImport", 8),
    ("Prediction", 8),
)


def content_type_for(name: str) -> str:
    """The `content-type` of a job file: from its extension, else the literal `unknown`."""
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith(".tsv"):
        return "text/tab-separated-values"
    return "unknown"


# -- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """An HTTPException of the server: `{"detail": ...}` with a status and maybe headers."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class Invalid(Exception):
    """A RequestValidationError: answered 422 with its pydantic v1 error list."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("validation error")
        self.errors = errors


class BackEndCrash(Exception):
    """An unexpected exception of the back-end: answered 500 text/plain with a traceback."""

    def __init__(self, traceback: str) -> None:
        super().__init__(traceback.splitlines()[-1] if traceback else "crash")
        self.traceback = traceback


def _missing(loc: list[Any]) -> dict[str, Any]:
    return {"loc": loc, "msg": "field required", "type": "value_error.missing"}


def _not_dict(loc: list[Any]) -> dict[str, Any]:
    return {"loc": loc, "msg": "value is not a valid dict", "type": "type_error.dict"}


def traceback_text(frames: Iterable[tuple[str, int, str, str]], last: str) -> str:
    """A Python traceback as the server's 500 handler prints it."""
    lines = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        lines.append(f'  File "{path}", line {line}, in {func}')
        lines.append(f"    {code}")
    lines.append(last)
    return "\n".join(lines) + "\n"


Frame = tuple[str, int, str, str]
"""(file, line, function, source line) of one traceback frame."""

_JOB_STACK: tuple[Frame, ...] = (
    ("<string>", 1, "<module>", ""),
    (
        f"{PYTHON_LIB}/multiprocessing/spawn.py",
        116,
        "spawn_main",
        "exitcode = _main(fd, parent_sentinel)",
    ),
    (
        f"{PYTHON_LIB}/multiprocessing/spawn.py",
        129,
        "_main",
        "return self._bootstrap(parent_sentinel)",
    ),
    (f"{PYTHON_LIB}/multiprocessing/process.py", 315, "_bootstrap", "self.run()"),
    (f"{APP}/BG_operations/JobScheduler.py", 115, "run", 'self.common_run(f"PID {os.getpid()}")'),
    (f"{APP}/BG_operations/JobScheduler.py", 56, "common_run", "sce.run_in_background()"),
)
"""The stack of a job's process (spawned by multiprocessing) down to `run_in_background`."""

_RUN_IN_BACKGROUND: Frame = (
    f"{APP}/API_operations/helpers/JobService.py",
    81,
    "run_in_background",
    "self.do_background()",
)


def _frame_piece(frame: Frame) -> str:
    path, line, func, code = frame
    head = f'  File "{path}", line {line}, in {func}\n'
    return head + f"    {code}\n" if code else head


def exception_pieces(frames: Iterable[Frame], last: str) -> list[str]:
    """A crashed job's `errors`, as the server's `format_exception` makes them: the pieces of
    `traceback.format_stack()` (the job process's frames, from multiprocessing's spawn on) and of
    `traceback.format_tb()` (`frames`, from `run_in_background` down), then the exception line;
    each piece ends in a newline, and there is no "Traceback" header."""
    pieces = [_frame_piece(frame) for frame in (*_JOB_STACK, _RUN_IN_BACKGROUND, *frames)]
    pieces.append(last + "\n")
    return pieces


def exception_log(frames: Iterable[Frame], last: str) -> str:
    """What `logger.exception(e)` writes after the message: the traceback from
    `run_in_background` down, with its header."""
    return traceback_text((_RUN_IN_BACKGROUND, *frames), last).rstrip("\n")


_ROUTE_FRAMES = (
    (f"{SITE}/starlette/exceptions.py", 82, "__call__", "raise exc"),
    (
        f"{SITE}/fastapi/routing.py",
        226,
        "app",
        "raw_response = await run_endpoint_function(",
    ),
)


def _job_dir(job_id: int) -> str:
    return f"{JOBS_DIR}/task{job_id:06d}"


# -- tokens ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: bytes, user_id: int, timestamp: int) -> str:
    """An itsdangerous-style signed value: `payload.timestamp.signature`."""
    payload = _b64(dumps({"user_id": user_id}))
    stamp = _b64(timestamp.to_bytes(max(1, (timestamp.bit_length() + 7) // 8), "big"))
    signature = hmac.new(secret, f"{payload}.{stamp}".encode(), hashlib.sha1).digest()
    return f"{payload}.{stamp}.{_b64(signature)}"


def read_token(secret: bytes, token: str, now: int, max_age: int = MAX_TOKEN_AGE) -> int | None:
    """The user id a token was made for, or None when its signature, age or payload is bad."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload, stamp, signature = parts
    expected = hmac.new(secret, f"{payload}.{stamp}".encode(), hashlib.sha1).digest()
    try:
        if not hmac.compare_digest(_unb64(signature), expected):
            return None
        made = int.from_bytes(_unb64(stamp), "big")
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if now - made > max_age:
        return None
    user_id = data.get("user_id") if isinstance(data, dict) else None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 0:
        return None
    return user_id


# -- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fate:
    """How one run of a job goes: how long it waits and runs, and whether it fails."""

    queue: float
    duration: float
    steps: int
    fails: bool


@dataclass(slots=True, eq=False)
class SimJob:
    """One job. `key` is its positive id for ever; `id` is negated when it is archived. Times are
    simulated seconds since the epoch (negative: before it)."""

    key: int
    type: str
    owner_id: int
    created: float
    updated: float
    state: str = "P"
    progress_pct: int | None = None
    progress_msg: str | None = MSG_WAITING
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    question: dict[str, Any] = field(default_factory=dict)
    reply: dict[str, Any] = field(default_factory=dict)
    inside: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    emptied: bool = False
    """Its task folder was emptied by an archive (all but the log): it has no file any more."""
    fails: bool = False
    """The first run ends in error (exports, subsets...) or with validation errors (imports)."""
    missing_users: tuple[str, ...] = ()
    """Names the import's file holds that the server cannot match (until a reply maps them)."""
    missing_taxa: tuple[str, ...] = ()
    pending_reply: dict[str, Any] | None = None
    """The reply the next run of an import reads."""
    runs: int = 0
    step_no: int = 0
    """Progress reports made by the current run."""
    pid: int | None = None
    log: list[tuple[float, str, str, str]] | None = None
    """(time, logger, level, message); None until the job first runs."""
    size: int | None = None
    """The size of its file, for exports."""
    gen: int = 0
    """Bumped when an action changes the job's course: scheduled events of older gens are void."""
    stamp: int = 0
    """Bumped on every change: the JSON cache is valid while it holds."""
    cache: tuple[int, bytes] | None = None
    history: bool = False
    """An old seeded job whose log is made up when it is first read."""

    @property
    def id(self) -> int:
        return -self.key if self.archived else self.key


class EcoTaxaState:
    """Everything the EcoTaxa emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `users`, `user`
    (the config's user), `admin`, `jobs` (positive id -> SimJob), `order` (oldest first), `rows`
    (the order `GET /jobs/` lists them in: by last write), `peers` (the client address of each
    request, so that tests can count connections),
    `ranges` (Range headers received by `/file`), `tick()`, `advance(s)`, `job(id)`, `owned_by(user,
    state)`, `to_json(job)`, `log_text(job)`, `file_of(job)`, `token_for(user)`,
    `invalidate_tokens()`.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        options = dict(settings.options)
        self.settings = settings
        self.seed = settings.seed
        self.clock = SimClock(settings.epoch, settings.speed)
        self.epoch = settings.epoch.replace(tzinfo=None) - (
            settings.epoch.utcoffset() or timedelta(0)
        )
        self.rng = random.Random(f"ecotaxa:{settings.seed}")
        self.lock = threading.RLock()
        self.faults = Faults(seed=settings.seed)
        self.counts: Counter[str] = Counter()
        self.ranges: list[str] = []
        self.peers: deque[tuple[str, int]] = deque(maxlen=10_000)
        self.front_url = str(options.get("front_url") or "https://ecotaxa.invalid").rstrip("/")
        self.legacy = bool(options.get("legacy", False))
        self.strict_ranges = bool(options.get("strict_ranges", False))
        size = options.get("file_size")
        self.file_size: int | None = None if size is None else max(0, int(size))
        self._secret_rng = random.Random(f"ecotaxa:{settings.seed}:secret")
        self.secret = self._new_secret()

        def password(option: str) -> str:
            given = options.get(option)
            if given:
                return str(given)
            return f"{self.rng.choice(('plankton', 'copepod', 'diatom', 'krill'))}-{self.rng.getrandbits(40):010x}"

        user_password, admin_password = password("password"), password("admin_password")
        self.users: dict[int, User] = {
            1: User(
                1,
                "admin@ecotaxa.example",
                "Application Administrator",
                admin_password,
                "Institut de la Mer de Villefranche",
                "France",
                (1, 2, 3, 4),
            ),
            2: User(
                2,
                "alice.martin@ecotaxa.example",
                "Alice Martin",
                user_password,
                "Laboratoire d'Oceanographie de Villefranche",
                "France",
                (1,),
            ),
            3: User(
                3,
                "bob.tanaka@ecotaxa.example",
                "Bob Tanaka",
                f"squid-{self.rng.getrandbits(40):010x}",
                "Tokyo University of Marine Science",
                "Japan",
                (1, 3),
            ),
            4: User(
                4,
                "carol.inactive@ecotaxa.example",
                "Carol Inactive",
                f"salp-{self.rng.getrandbits(40):010x}",
                "Station Biologique de Roscoff",
                "France",
                (1,),
                active=False,
            ),
        }
        self.user = self.users[2]
        self.admin = self.users[1]

        self.jobs: dict[int, SimJob] = {}
        self.order: list[SimJob] = []
        self.rows: OrderedDict[int, SimJob] = OrderedDict()
        """The job table in the order a scan without ORDER BY meets its rows: PostgreSQL writes
        a new version of a row on each update, so a row moves to the end when it is written."""
        self._events: list[tuple[float, int, int, int, int]] = []
        self._seq = itertools.count()
        self._next_id = 47_000 + self.rng.randrange(0, 900)
        self._files: OrderedDict[tuple[int, str], bytes] = OrderedDict()

        _seed_jobs(self, max(0, settings.jobs))
        # the seeded history was written in creation order, job by job: put each row where its
        # last update leaves it
        self.rows = OrderedDict(
            sorted(self.rows.items(), key=lambda item: (item[1].updated, item[0]))
        )

        arrivals = options.get("arrivals")
        self.arrival_gap: float | None = None
        if arrivals:
            self.arrival_gap = DEFAULT_ARRIVAL_GAP if arrivals is True else float(arrivals)
            self._push(self.arrival_gap, 0, 0, _ARRIVE)

    # -- time -----------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.seconds()

    def moment(self, t: float) -> datetime:
        """The naive UTC wall-clock time of simulated second `t`."""
        return self.epoch + timedelta(microseconds=round(t * 1_000_000))

    def iso(self, t: float) -> str:
        """Naive ISO 8601, no timezone; the fraction is left out when it is 0."""
        return self.moment(t).isoformat()

    def unix(self, t: float) -> int:
        return int((self.moment(t) - datetime(1970, 1, 1)).total_seconds())

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and apply what became due."""
        self.clock.advance(seconds)
        self.tick()

    # -- tokens ---------------------------------------------------------------------------------

    def _new_secret(self) -> bytes:
        key = self._secret_rng.getrandbits(256).to_bytes(32, "big")
        return hashlib.sha1(b"cookie-session" + b"signer" + key).digest()

    def token_for(self, user: User) -> str:
        return make_token(self.secret, user.id, self.unix(self.now()))

    def invalidate_tokens(self) -> None:
        """Every token given so far becomes invalid (401), as after a change of the secret."""
        with self.lock:
            self.secret = self._new_secret()

    def login(self, username: str, password: str) -> str:
        user = next(
            (u for u in self.users.values() if u.email.lower() == username.strip().lower()),
            None,
        )
        if (
            user is None
            or not user.active
            or not hmac.compare_digest(user.password.encode(), password.encode())
        ):
            raise ApiError(403, "You can't do this.")
        return self.token_for(user)

    def authenticate(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, param = header.partition(" ")
        token = param.strip() if scheme.lower() == "bearer" else ""
        if not token:
            token = request.cookies.get("session", "")
        if not token:
            raise ApiError(403, "Not authenticated")
        user_id = read_token(self.secret, token, self.unix(self.now()))
        if user_id is None:
            raise ApiError(401, "Could not validate credentials", {"WWW-Authenticate": "Bearer"})
        user = self.users.get(user_id)
        if user is None or not user.active:
            raise ApiError(403, "You can't do this.")
        return user

    # -- events ---------------------------------------------------------------------------------

    def _push(self, t: float, key: int, gen: int, kind: int) -> None:
        heapq.heappush(self._events, (t, next(self._seq), key, gen, kind))

    def tick(self) -> None:
        """Apply every event due by the simulated time now."""
        with self.lock:
            now = self.now()
            events = self._events
            arrivals = 0
            while events and events[0][0] <= now:
                t, _, key, gen, kind = heapq.heappop(events)
                if kind == _ARRIVE:
                    gap = (self.arrival_gap or DEFAULT_ARRIVAL_GAP) * self.rng.uniform(0.4, 1.6)
                    arrivals += 1
                    if arrivals <= MAX_ARRIVALS_PER_TICK:
                        _arrive(self, t)
                        self._push(t + gap, 0, 0, _ARRIVE)
                    else:  # the clock jumped far ahead: skip the backlog
                        self._push(now + gap, 0, 0, _ARRIVE)
                    continue
                job = self.jobs.get(key)
                if job is None or job.gen != gen:
                    continue
                if kind == _START:
                    self._start(job, t)
                elif kind == _PROGRESS:
                    self._progress(job, t)
                else:
                    self._end(job, t)

    def fate(self, job: SimJob) -> Fate:
        """How the job's current run goes (deterministic for a seed, a job and a run number)."""
        rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:{job.runs}")
        queue = rng.uniform(1.0, 12.0)
        if job.type == "FileImport":
            duration = rng.uniform(8.0, 60.0)
        elif job.type in ("GeneralExport", "BackupExport", "GenExport"):
            duration = rng.uniform(15.0, 150.0)
        elif job.type == "NightlyMaintenance":
            duration = rng.uniform(20.0, 40.0)
        else:
            duration = rng.uniform(5.0, 60.0)
        steps = len(PROGRESS_MSGS.get(job.type, ("Working",)))
        return Fate(queue, duration, steps, job.fails and job.runs <= 1)

    def changed(self, job: SimJob, t: float) -> None:
        """Record a change of the job at time `t`."""
        job.updated = max(job.updated, t)
        job.stamp += 1
        if job.key in self.rows:
            self.rows.move_to_end(job.key)

    def _enqueue(self, job: SimJob, t: float, message: str) -> None:
        """Put the job in P; the scheduler picks it up after a while (never for Prediction)."""
        job.gen += 1
        job.state = "P"
        job.progress_msg = message
        job.pid = None
        self.changed(job, t)
        if job.type != "Prediction" and not job.archived:  # the scheduler skips ids <= 0
            self._push(t + self.fate(job).queue, job.key, job.gen, _START)

    def _start(
        self, job: SimJob, t: float, *, duration: float | None = None, schedule: bool = True
    ) -> None:
        """P -> R: the job gets a process. Its progress steps and its end are scheduled."""
        job.runs += 1
        job.step_no = 0
        job.state = "R"
        job.pid = random.Random(f"ecotaxa:{self.seed}:{job.key}:pid:{job.runs}").randrange(
            2000, 65000
        )
        self.log(job, t, SCHEDULER, "INFO", f"Running in PID {job.pid}")
        self.changed(job, t)
        if not schedule:
            return
        fate = self.fate(job)
        span = fate.duration if duration is None else duration
        for step in range(fate.steps):
            self._push(t + span * step / fate.steps + 0.5, job.key, job.gen, _PROGRESS)
        self._push(t + span, job.key, job.gen, _END)

    def _progress(self, job: SimJob, t: float) -> None:
        """One progress report of a running job: the next message and percentage."""
        messages = PROGRESS_MSGS.get(job.type, ("Working",))
        step = min(job.step_no, len(messages) - 1)
        job.step_no += 1
        job.progress_pct = min(99, round(100 * step / len(messages)))
        job.progress_msg = messages[step]
        self.log(
            job,
            t,
            LOGGERS.get(job.type, "root"),
            "INFO",
            f"{job.progress_msg} ({job.progress_pct}%)",
        )
        self.changed(job, t)

    def _end(self, job: SimJob, t: float) -> None:
        if job.type == "FileImport":
            self._end_import(job, t)
        elif self.fate(job).fails:
            self.crash(job, t, *_failure_of(self, job))
        else:
            self.finish(job, t)

    def _end_import(self, job: SimJob, t: float) -> None:
        reply, job.pending_reply = job.pending_reply, None
        if reply is not None:
            for key in ("users", "taxa"):
                if key not in reply:
                    self.crash(
                        job,
                        t,
                        f"'{key}'",
                        (
                            (
                                f"{APP}/API_operations/imports/Import.py",
                                83,
                                "do_background",
                                "self.do_complete_and_continue()",
                            ),
                            (
                                f"{APP}/API_operations/imports/Import.py",
                                95,
                                "do_complete_and_continue",
                                'found_users, found_taxa, self.last_reply["users"], '
                                'self.last_reply["taxa"]',
                            ),
                        ),
                        f"KeyError: '{key}'",
                    )
                    return
            found_users = job.inside.setdefault("found_users", {})
            found_taxa = job.inside.setdefault("taxo_found", {})
            for name, value in _mapping(reply["users"]).items():
                number = _positive(value)
                if number is not None:
                    found_users[name] = number
            for name, value in _mapping(reply["taxa"]).items():
                number = _positive(value)
                if number is not None:
                    found_taxa[name.lower()] = number
        users = [u for u in job.missing_users if u not in job.inside.get("found_users", {})]
        taxa = [x for x in job.missing_taxa if x not in job.inside.get("taxo_found", {})]
        logger = LOGGERS["FileImport"]
        if users or taxa:
            job.state = "A"
            job.question = {"missing_users": users, "missing_taxa": taxa}
            job.progress_msg = MSG_ASKING
            self.log(
                job,
                t,
                logger,
                "INFO",
                f"Asking: {len(users)} user(s) and {len(taxa)} taxon name(s) could not be matched",
            )
            self.changed(job, t)
            return
        if self.fate(job).fails:
            rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:infos")
            infos = [
                rng.choice(IMPORT_ERRORS).format(
                    n=job.key % 97, line=rng.randrange(2, 4000), day=rng.randrange(1, 29)
                )
                for _ in range(rng.randrange(1, 5))
            ]
            job.state = "E"
            job.errors = infos
            job.result = {"infos": infos}
            job.progress_msg = f"{len(infos)} error(s) during run"
            for info in infos:
                self.log(job, t, logger, "ERROR", info)
            self.changed(job, t)
            return
        self.finish(job, t)

    def finish(self, job: SimJob, t: float) -> None:
        job.state = "F"
        job.emptied = False
        job.progress_pct = 100
        job.progress_msg = MSG_DONE
        job.result = _result_of(self, job)
        self.log(
            job, t, LOGGERS.get(job.type, "root"), "INFO", f"Done: {dumps(job.result).decode()}"
        )
        self.changed(job, t)

    def crash(
        self,
        job: SimJob,
        t: float,
        message: str,
        frames: Iterable[Frame],
        last: str,
    ) -> None:
        """End the job on an uncaught exception, as `run_in_background` does: `message` is
        `str(exception)` (empty for a bare `assert`), `errors` the `format_exception` pieces
        (`frames` are those below `run_in_background`, `last` the exception line), and the log
        says "Unexpected termination" and then the traceback."""
        frames = tuple(frames)
        job.state = "E"
        job.progress_msg = message
        job.errors = exception_pieces(frames, last)
        logger = "API_operations.helpers.JobService"
        self.log(job, t, logger, "ERROR", f"Unexpected termination of #{job.key}")
        self.log(job, t, logger, "ERROR", f"{message}\n{exception_log(frames, last)}")
        self.changed(job, t)

    def log(self, job: SimJob, t: float, logger: str, level: str, message: str) -> None:
        """Append to the job's TaskLogBack.txt; an empty `logger` writes `message` as it is
        (as the kill does), not as a formatted log record."""
        if job.log is None:
            job.log = _history_log(self, job) if job.history else []
        job.log.append((t, logger, level, message))

    # -- jobs -----------------------------------------------------------------------------------

    def new_id(self) -> int:
        job_id = self._next_id
        self._next_id += self.rng.choice((1, 1, 1, 2, 3))
        return job_id

    def add(self, job: SimJob) -> SimJob:
        self.jobs[job.key] = job
        self.order.append(job)
        self.rows[job.key] = job
        return job

    def create(self, type_: str, owner: int, t: float) -> SimJob:
        """A new job in P with its parameters, as a type-specific POST endpoint makes it."""
        job = SimJob(key=self.new_id(), type=type_, owner_id=owner, created=t, updated=t)
        rng = random.Random(f"ecotaxa:{self.seed}:{job.key}:make")
        _describe(self, job, rng)
        self.add(job)
        self.log(job, t, JOB_SERVICE, "INFO", f"Creating job {job.key}")
        self._enqueue(job, t, MSG_WAITING)
        return job

    def job(self, job_id: int) -> SimJob:
        """The job with this wire id (negative: an archived one), or 404."""
        job = self.jobs.get(abs(job_id))
        if job is None or job.id != job_id or job_id == 0:
            raise ApiError(404, "Not found.")
        return job

    def accessible(self, user: User, job_id: int) -> SimJob:
        job = self.job(job_id)
        if job.owner_id != user.id and not user.is_admin:
            raise ApiError(403, "You can't do this.")
        return job

    def listing(
        self, user: User, everyone: bool, job_type: str | None, job_status: str | None
    ) -> list[SimJob]:
        """The jobs `GET /jobs/` lists, in table order (`rows`): no ORDER BY, as on the server."""
        return [
            job
            for job in self.rows.values()
            if not job.archived
            and (everyone or job.owner_id == user.id)
            and (job_type is None or job.type == job_type)
            and (job_status is None or job.state == job_status)
        ]

    def owned_by(
        self, user_id: int, state: str | None = None, type_: str | None = None
    ) -> list[SimJob]:
        """The listed jobs of a user, newest first, narrowed by state and type (for tests)."""
        with self.lock:
            self.tick()
            return [
                job
                for job in reversed(self.order)
                if not job.archived
                and job.owner_id == user_id
                and (state is None or job.state == state)
                and (type_ is None or job.type == type_)
            ]

    def answer(self, job: SimJob, user: User, reply: dict[str, Any]) -> None:
        t = self.now()
        if job.state != "A":
            self.changed(job, t)  # the reply is dropped; only updated_on moves
            return
        job.reply = reply
        job.pending_reply = reply
        self._enqueue(job, t, MSG_PROCEEDING)

    def restart(self, job: SimJob) -> None:
        t = self.now()
        if job.state != "E":
            self.changed(job, t)
            return
        self._enqueue(job, t, MSG_RESTARTING)

    def erase(self, job: SimJob, user: User) -> None:
        t = self.now()
        if job.state in ("P", "R", "A"):
            job.gen += 1
            job.state = "E"
            job.progress_msg = MSG_KILLED
            self.log(job, t, "", "", f"\nProcess killed by user {user.id}")
            job.pid = None
            self.changed(job, t)
            return
        # F or E: the task folder is emptied (but for the log) and the id negated. Erasing an
        # archived job (`DELETE /jobs/-N`) negates it back: the job is listed again, its files
        # gone, its log (under the positive id's folder) readable again.
        job.gen += 1
        job.archived = not job.archived
        job.emptied = True
        self.changed(job, t)

    def to_json(self, job: SimJob) -> bytes:
        cached = job.cache
        if cached is not None and cached[0] == job.stamp:
            return cached[1]
        data = dumps(
            {
                "params": job.params,
                "result": job.result,
                "errors": job.errors,
                "question": job.question,
                "reply": job.reply,
                "inside": job.inside,
                "id": job.id,
                "owner_id": job.owner_id,
                "type": job.type,
                "state": job.state,
                "step": None,
                "progress_pct": job.progress_pct,
                "progress_msg": job.progress_msg,
                "creation_date": self.iso(job.created),
                "updated_on": self.iso(job.updated),
            }
        )
        job.cache = (job.stamp, data)
        return data

    # -- logs and files -------------------------------------------------------------------------

    def log_path(self, job_id: int) -> str:
        return f"{_job_dir(job_id)}/{LOG_NAME}"

    def log_text(self, job: SimJob) -> str | None:
        """The job's TaskLogBack.txt up to now; None when the file does not exist."""
        if job.log is None and job.history:
            job.log = _history_log(state=self, job=job)
        if job.archived or job.log is None:
            return None
        lines = []
        for t, logger, level, message in job.log:
            if not logger:
                lines.append(message)
                continue
            stamp = self.moment(t)
            asctime = stamp.strftime("%Y-%m-%d %H:%M:%S") + f",{stamp.microsecond // 1000:03d}"
            lines.append(f"{asctime}:{logger}:{level} {message}")
        return "\n".join(lines) + "\n"

    def file_name(self, job: SimJob) -> str | None:
        if job.type == "DarwinCoreExport":
            return "dwca.zip" if job.state == "F" else None
        out = job.result.get("out_file")
        return out if isinstance(out, str) else None

    def file_of(self, job: SimJob) -> tuple[str, bytes]:
        """The job's produced file (made on demand, the same bytes every time), or a crash."""
        frames = (
            *_ROUTE_FRAMES,
            (
                f"{APP}/main.py",
                3820,
                "get_job_file",
                "tsk_file, file_name = sce.get_file_stream(current_user, job_id)",
            ),
        )
        if job.type not in EXPORT_TYPES:
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/CRUD/Jobs.py",
                            148,
                            "get_file_stream",
                            "file_name = job_svc.PRODUCED_FILE_NAME",
                        ),
                    ),
                    f"AttributeError: type object '{job.type}' has no attribute 'PRODUCED_FILE_NAME'",
                )
            )
        name = self.file_name(job)
        if name is None or job.state != "F":
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/exports/ForProject.py",
                            131,
                            "PRODUCED_FILE_NAME",
                            'return self.job.result["out_file"]',
                        ),
                    ),
                    "KeyError: 'out_file'",
                )
            )
        if job.archived or job.emptied:
            raise BackEndCrash(
                traceback_text(
                    (
                        *frames,
                        (
                            f"{APP}/API_operations/CRUD/Jobs.py",
                            152,
                            "get_file_stream",
                            'return open(file_path, "rb"), file_name',
                        ),
                    ),
                    f"FileNotFoundError: [Errno 2] No such file or directory: '{_job_dir(job.key)}/{name}'",
                )
            )
        key = (job.key, name)
        data = self._files.get(key)
        if data is None:
            data = _make_file(self, job, name)
            self._files[key] = data
            while len(self._files) > 6:
                self._files.popitem(last=False)
        self._files.move_to_end(key)
        return name, data

    def file_size_of(self, job: SimJob) -> int:
        if self.file_size is not None:
            return self.file_size
        if job.size is None:
            job.size = random.Random(f"ecotaxa:{self.seed}:{job.key}:size").randrange(
                20_000, 2_000_000
            )
        return job.size


# -- made-up content ------------------------------------------------------------------------


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _positive(value: Any) -> int | None:
    """A reply's id: a positive integer, or text holding one (the front end sends text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


def _stamp(state: EcoTaxaState, t: float) -> str:
    return state.moment(t).strftime("%Y%m%d_%H%M")


def _describe(state: EcoTaxaState, job: SimJob, rng: random.Random) -> None:
    """Fill a new job's params (and what an import will find in its file)."""
    project, _title = rng.choice(PROJECTS)
    t = job.created
    if job.type == "FileImport":
        source = rng.choice(
            (
                f"/remote/ftp/Ecotaxa_Data_to_import/uvp5_sn010_{2015 + rng.randrange(9)}/ecotaxa_ctd_{rng.randrange(1, 300):03d}.zip",
                f"/app/temp_tasks/upload/{rng.getrandbits(32):08x}/ecotaxa_flowcam_{rng.randrange(1000, 9999)}.tsv",
                f"/remote/ftp/Ecotaxa_Exported_data/zooscan_pointb_{rng.randrange(2000, 2024)}.zip",
            )
        )
        job.params = {
            "prj_id": project,
            "req": {
                "source_path": source,
                "taxo_mappings": {},
                "skip_loaded_files": rng.random() < 0.2,
                "skip_existing_objects": rng.random() < 0.2,
                "update_mode": rng.choice(("", "", "", "Yes", "Cla")),
            },
        }
        job.inside = {
            "found_users": dict(rng.sample(_KNOWN_USER_ITEMS, rng.randrange(0, 3))),
            "taxo_found": dict(rng.sample(_KNOWN_TAXA_ITEMS, rng.randrange(1, 4))),
            "col_mapping": dict(rng.sample(_COLUMN_ITEMS, 3)),
            "nb_rows": rng.randrange(50, 40_000),
            "source_path": source,
        }
        if rng.random() < 0.35:
            job.missing_users = tuple(rng.sample(UNKNOWN_USERS, rng.randrange(0, 3)))
            job.missing_taxa = tuple(rng.sample(UNKNOWN_TAXA, rng.randrange(1, 4)))
    elif job.type == "SimpleImport":
        job.params = {
            "prj_id": project,
            "req": {
                "source_path": f"/app/temp_tasks/upload/{rng.getrandbits(32):08x}/images_{rng.randrange(100):02d}.zip",
                "values": {
                    "imgdate": state.moment(t).strftime("%Y%m%d"),
                    "latitude": f"{rng.uniform(-60, 60):.4f}",
                    "longitude": f"{rng.uniform(-180, 180):.4f}",
                },
            },
            "dry_run": False,
        }
    elif job.type in ("GeneralExport", "SummaryExport", "BackupExport", "GenExport"):
        req: dict[str, Any] = {"collection_id": None, "project_id": project, "out_to_ftp": False}
        if job.type == "GeneralExport":
            req.update(
                split_by=rng.choice(("", "sample", "acquisition", "taxon")),
                with_images=rng.choice(("none", "first", "all")),
                with_internal_ids=False,
                only_annotations=rng.random() < 0.3,
            )
        elif job.type == "SummaryExport":
            req.update(
                quantity=rng.choice(("abundance", "concentration", "biovolume")),
                summarise_by=rng.choice(("sample", "acquisition", "none")),
                taxo_mapping={},
                formulae={},
            )
        elif job.type == "GenExport":
            req.update(
                exp_type=rng.choice(("TSV", "BAK", "ABO", "CNC", "BIV")), tsv_entities="OPASHC"
            )
        job.params = {"req": req, "filters": {"statusfilter": rng.choice(("", "V", "VD"))}}
    elif job.type == "DarwinCoreExport":
        job.params = {
            "collection_id": rng.choice(COLLECTIONS),
            "dry_run": False,
            "include_predicted": rng.random() < 0.3,
            "with_absent": rng.random() < 0.5,
            "with_computations": rng.sample(["ABO", "CNC", "BIV"], rng.randrange(0, 3)),
            "formulae": {
                "subsample_coef": "1/ssm.sub_part",
                "total_water_volume": "sam.tot_vol/1000",
            },
            "extra_xml": [],
            "current_user_id": job.owner_id,
        }
    elif job.type == "Subset":
        job.params = {
            "prj_id": project,
            "req": {
                "filters": {"taxo": str(rng.choice(_KNOWN_TAXA_IDS)), "taxochild": "Y"},
                "dest_prj_id": rng.choice(PROJECTS)[0],
                "group_type": rng.choice(("S", "A", "C")),
                "limit_type": rng.choice(("P", "V")),
                "limit_value": float(rng.choice((10, 25, 50, 100))),
                "do_images": rng.random() < 0.7,
            },
        }
    elif job.type == "Prediction":
        job.params = {
            "req": {
                "project_id": project,
                "source_project_ids": sorted({rng.choice(PROJECTS)[0] for _ in range(3)}),
                "features": ["fre.area", "fre.mean", "fre.major", "fre.minor"],
                "use_scn": rng.random() < 0.5,
                "pre_mapping": {},
            },
            "filters": {},
        }
    else:
        job.params = {}


def _result_of(
    state: EcoTaxaState, job: SimJob, rng: random.Random | None = None
) -> dict[str, Any]:
    rng = rng or random.Random(f"ecotaxa:{state.seed}:{job.key}:result")
    if job.type == "FileImport":
        return {"rowcount": int(job.inside.get("nb_rows", rng.randrange(50, 40_000)))}
    if job.type == "SimpleImport":
        return {"nb_images": rng.randrange(1, 500)}
    if job.type in ("GeneralExport", "SummaryExport", "BackupExport", "GenExport"):
        req = job.params.get("req", {})
        project = req.get("project_id", 0)
        kind = {
            "GeneralExport": "TSV",
            "SummaryExport": "SUM",
            "BackupExport": "BAK",
            "GenExport": str(req.get("exp_type", "TSV")),
        }[job.type]
        ext = ".tsv" if job.type == "SummaryExport" or kind in ("ABO", "CNC", "BIV") else ".zip"
        prefix = rng.choice(("", "", "tara_", "pelgas"))
        name = f"export_{prefix}_{kind}_{project}_{_stamp(state, job.updated)}{ext}"
        return {"rowcount": rng.randrange(10, 250_000), "out_file": name}
    if job.type == "DarwinCoreExport":
        warnings = [
            f"No occurrence added for sample 'st{rng.randrange(1, 300):03d}_{rng.randrange(1, 9)}' in {rng.choice(PROJECTS)[1]}"
            for _ in range(rng.randrange(0, 3))
        ]
        return {"wrns": warnings}
    if job.type == "Subset":
        return {"rowcount": rng.randrange(10, 50_000)}
    if job.type == "NightlyMaintenance":
        return {"status": "ok"}
    return {}


_FAILING_LINES: Mapping[str, str] = {
    "OperationalError": "res = self.ro_session.execute(text(sql), params)",
    "OSError": "csv_fd.write(a_line)",
    "AssertionError": 'assert nb_rows > 0, "No object to export"',
    "AttributeError": "orig_id = an_obj.orig_id",
}
_PROJECT_EXPORTS = frozenset({"GeneralExport", "SummaryExport", "BackupExport", "GenExport"})


def _failure_of(
    state: EcoTaxaState, job: SimJob, rng: random.Random | None = None
) -> tuple[str, tuple[Frame, ...], str]:
    """(progress_msg, frames below `run_in_background`, exception line) of a crashed run.

    A summary export that fails on its assertion fails on a bare `assert`, whose message is
    empty, as real ones do."""
    rng = rng or random.Random(f"ecotaxa:{state.seed}:{job.key}:failure")
    name, message, qualified = rng.choice(EXPORT_FAILURES)
    line = rng.randrange(90, 400)
    module = LOGGERS.get(job.type, "API_operations.JobService").replace(".", "/")
    path = f"{APP}/{module}.py"
    failing = _FAILING_LINES.get(name, "raise")
    if job.type in _PROJECT_EXPORTS:
        summary = job.type == "SummaryExport"
        step = "create_summary" if summary else "create_tsv"
        if summary and name == "AssertionError":
            message, failing = "", "assert nb_rows > 0"
        frames: tuple[Frame, ...] = (
            (path, 131, "do_background", "self.do_export()"),
            (path, 256, "do_export", "nb_rows = self.do_export_projects(project_ids, 100)"),
            (
                path,
                166 if summary else 158,
                "do_export_projects",
                f"nb_rows = self.{step}(project_ids)",
            ),
            (path, 500 + line, step, failing),
        )
    else:
        frames = (
            (path, line, "do_background", "self.do_run()"),
            (path, line + 40, "do_run", failing),
        )
    return message, frames, f"{qualified}: {message}" if message else qualified


_TSV_HEADER = (
    "object_id\tobject_lat\tobject_lon\tobject_date\tobject_time\tobject_depth_min\t"
    "object_depth_max\tobject_annotation_status\tobject_annotation_category\tobject_area\t"
    "object_major\tobject_minor\tsample_id\tacq_instrument\n"
)


def _tsv(rng: random.Random, size: int) -> bytes:
    """`size` bytes of a made-up export TSV (the last row is cut to fit)."""
    taxa = [*KNOWN_TAXA, "copepoda<maxillopoda", "appendicularia", "detritus"]
    out = io.BytesIO()
    out.write(_TSV_HEADER.encode())
    row = 0
    while out.tell() < size:
        row += 1
        line = (
            f"obj_{row:07d}\t{rng.uniform(-60, 60):.5f}\t{rng.uniform(-180, 180):.5f}\t"
            f"2019{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}\t"
            f"{rng.randrange(24):02d}{rng.randrange(60):02d}00\t{rng.randrange(0, 500)}\t"
            f"{rng.randrange(500, 1000)}\t{rng.choice(('validated', 'predicted', 'dubious'))}\t"
            f"{rng.choice(taxa)}\t{rng.randrange(50, 90_000)}\t{rng.uniform(5, 400):.2f}\t"
            f"{rng.uniform(2, 200):.2f}\tst{rng.randrange(1, 300):03d}\tuvp5\n"
        )
        out.write(line.encode())
    return out.getvalue()[:size]


_ZIP_TIME = (2026, 11, 2, 9, 0, 0)


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def _make_file(state: EcoTaxaState, job: SimJob, name: str) -> bytes:
    """The job's file: a TSV of the configured size, or a zip of that size holding one."""
    size = state.file_size_of(job)
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:file")
    if not name.endswith(".zip"):
        return _tsv(rng, size)
    inner = name.removesuffix(".zip") + ".tsv" if name != "dwca.zip" else "occurrence.txt"
    meta = (
        f"job\t{job.key}\ntype\t{job.type}\nproject\t"
        f"{job.params.get('req', {}).get('project_id', job.params.get('collection_id', ''))}\n"
    ).encode()
    empty = _zip([(inner, b""), ("export_info.txt", meta)])
    body = _tsv(rng, max(0, size - len(empty)))
    return _zip([(inner, body), ("export_info.txt", meta)])


# -- seeding --------------------------------------------------------------------------------

_GUARANTEED: tuple[tuple[str, str, int], ...] = (
    ("FileImport", "A", 2),
    ("GeneralExport", "R", 2),
    ("FileImport", "P", 2),
    ("BackupExport", "F", 2),
    ("SummaryExport", "F", 2),
    ("GeneralExport", "F", 3),
    ("Subset", "E", 2),
    ("FileImport", "E", 2),
    ("DarwinCoreExport", "F", 2),
    ("Prediction", "P", 2),
    ("FileImport", "F", 2),
    ("GeneralExport", "E", 2),
    ("FileImport", "A", 3),
    ("NightlyMaintenance", "F", 1),
)
"""(type, state, owner) of the newest seeded jobs, so that even a small seed shows each case."""


RECENT = 40
"""Only the newest seeded jobs may still be pending, running or asking; older ones have ended."""


def _seed_jobs(state: EcoTaxaState, count: int) -> None:
    rng = random.Random(f"ecotaxa:{state.seed}:seed")
    types = [t for t, _ in _WEIGHTS]
    weights = list(itertools.accumulate(w for _, w in _WEIGHTS))
    owners = (2, 3, 1)
    owner_weights = (70, 90, 100)
    recent_states = list(itertools.accumulate((8, 8, 3, 12, 69)))
    plans: list[tuple[str, str, int]] = []
    for index in range(count):
        if index < len(_GUARANTEED):
            plans.append(_GUARANTEED[index])
            continue
        type_ = rng.choices(types, cum_weights=weights)[0]
        owner = rng.choices(owners, cum_weights=owner_weights)[0]
        if index < RECENT:
            state_ = rng.choices(STATES, cum_weights=recent_states)[0]
        else:
            state_ = "E" if rng.random() < 0.12 else "F"
        if type_ == "Prediction" and state_ in ("R", "A"):
            state_ = "P"
        if type_ != "FileImport" and state_ == "A":
            state_ = "R"
        plans.append((type_, state_, owner))
    # newest first above; make them oldest first, spread back in time (within the 30 days the
    # nightly maintenance keeps)
    t = 0.0
    times: list[float] = []
    spread = min(3900.0, 25 * 86400 / max(1, count))
    for index in range(count):
        t -= rng.uniform(30, 600) if index < RECENT else rng.uniform(0.2, 1.8) * spread
        times.append(t)
    for index in range(count - 1, -1, -1):
        type_, state_, owner = plans[index]
        if index < RECENT:
            _seed_one(state, type_, state_, owner, times[index])
        else:
            _seed_old(state, rng, type_, state_, owner, times[index])


def _seed_old(
    state: EcoTaxaState, rng: random.Random, type_: str, target: str, owner: int, created: float
) -> None:
    """An old job, already F or E: made in one go from the seeding stream (its log is written
    when it is first read)."""
    job = SimJob(key=state.new_id(), type=type_, owner_id=owner, created=created, updated=created)
    _describe(state, job, rng)
    job.missing_users = job.missing_taxa = ()
    job.runs = 1
    job.history = True
    job.updated = created + rng.uniform(10.0, 200.0)
    if target == "F":
        job.state = "F"
        job.progress_pct = 100
        job.progress_msg = MSG_DONE
        job.result = _result_of(state, job, rng)
    elif type_ == "FileImport":
        infos = [
            rng.choice(IMPORT_ERRORS).format(
                n=job.key % 97, line=rng.randrange(2, 4000), day=rng.randrange(1, 29)
            )
            for _ in range(rng.randrange(1, 4))
        ]
        job.state = "E"
        job.progress_pct = 0
        job.errors = infos
        job.result = {"infos": infos}
        job.progress_msg = f"{len(infos)} error(s) during run"
    elif rng.random() < 0.15:
        job.state = "E"
        job.progress_pct = rng.choice((0, 25, 50, 75))
        job.progress_msg = MSG_KILLED
    else:
        message, frames, last = _failure_of(state, job, rng)
        job.state = "E"
        job.progress_pct = rng.choice((0, 25, 50, 75))
        job.progress_msg = message
        job.errors = exception_pieces(frames, last)
    state.add(job)
    state.to_json(job)  # serialized now, so that even the first listing of many jobs is fast


def _history_log(state: EcoTaxaState, job: SimJob) -> list[tuple[float, str, str, str]]:
    """The log of an old seeded job, made up from what it ended as."""
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:history")
    start = job.created + (job.updated - job.created) * 0.1
    logger = LOGGERS.get(job.type, "root")
    lines = [
        (job.created, JOB_SERVICE, "INFO", f"Creating job {job.key}"),
        (start, SCHEDULER, "INFO", f"Running in PID {rng.randrange(2000, 65000)}"),
    ]
    messages = PROGRESS_MSGS.get(job.type, ("Working",))
    reached = (
        len(messages) if job.state == "F" else 1 + (job.progress_pct or 0) * len(messages) // 100
    )
    for step in range(min(reached, len(messages))):
        t = start + (job.updated - start) * step / len(messages) + 0.5
        pct = round(100 * step / len(messages))
        lines.append((t, logger, "INFO", f"{messages[step]} ({pct}%)"))
    end = job.updated
    if job.state == "F":
        lines.append((end, logger, "INFO", f"Done: {dumps(job.result).decode()}"))
    elif job.progress_msg == MSG_KILLED:
        lines.append((end, "", "", f"\nProcess killed by user {job.owner_id}"))
    elif job.type == "FileImport":
        lines.extend((end, logger, "ERROR", info) for info in job.errors)
    else:
        below = "".join(job.errors[len(_JOB_STACK) :]).rstrip("\n")
        lines.append((end, JOB_SERVICE, "ERROR", f"Unexpected termination of #{job.key}"))
        lines.append(
            (
                end,
                JOB_SERVICE,
                "ERROR",
                f"{job.progress_msg}\nTraceback (most recent call last):\n{below}",
            )
        )
    return lines


def _seed_one(state: EcoTaxaState, type_: str, target: str, owner: int, created: float) -> None:
    """One seeded job that reached `target` by the epoch (P and R ones go on from there)."""
    job = SimJob(key=state.new_id(), type=type_, owner_id=owner, created=created, updated=created)
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:make")
    _describe(state, job, rng)
    state.add(job)
    state.log(job, created, JOB_SERVICE, "INFO", f"Creating job {job.key}")
    if target == "P":
        job.gen += 1
        job.stamp += 1
        if type_ != "Prediction":
            state._push(rng.uniform(1.0, 20.0), job.key, job.gen, _START)
        return
    crashed_reply = False
    if type_ == "FileImport":
        if target == "A" or (target == "E" and rng.random() < 0.5):
            # seeded questions name two taxa at least, so that a partial answer is possible
            if len(job.missing_taxa) < 2:
                job.missing_taxa = tuple(rng.sample(UNKNOWN_TAXA, rng.randrange(2, 4)))
            job.missing_users = job.missing_users or tuple(
                rng.sample(UNKNOWN_USERS, rng.randrange(0, 3))
            )
            crashed_reply = target == "E"
        else:
            job.missing_users = job.missing_taxa = ()
    job.fails = target == "E" and not crashed_reply
    fate = state.fate(job)
    start = created + fate.queue
    if target == "R":
        # started a while ago; the run ends a little after the epoch
        state._start(job, start, duration=-start + rng.uniform(5.0, fate.duration + 5.0))
        return
    state._start(job, start, schedule=False)
    end = start + min(fate.duration, -start * 0.5)
    if target == "E" and type_ != "FileImport" and rng.random() < 0.15:
        job.state = "E"
        job.progress_msg = MSG_KILLED
        state.log(job, end, "", "", f"\nProcess killed by user {owner}")
        state.changed(job, end)
        return
    for step in range(fate.steps):
        state._progress(job, start + (end - start) * step / fate.steps + 0.5)
    if crashed_reply:
        # it asked, and the reply it got had no "users": the next run failed on it
        asked = start + (end - start) / 2
        state._end(job, asked)
        reply = {"taxa": {name: rng.randrange(10_000, 90_000) for name in job.missing_taxa}}
        job.reply = reply
        job.pending_reply = reply
        job.progress_msg = MSG_PROCEEDING
        state._start(job, asked + 5.0, schedule=False)
    state._end(job, end)


def _arrive(state: EcoTaxaState, t: float) -> None:
    rng = random.Random(f"ecotaxa:{state.seed}:arrival:{t:.6f}")
    types = [t_ for t_, _ in _WEIGHTS if t_ != "Prediction"]
    weights = [w for t_, w in _WEIGHTS if t_ != "Prediction"]
    type_ = rng.choices(types, weights)[0]
    owner = rng.choices((2, 3, 1), (80, 15, 5))[0]
    job = state.create(type_, owner, t)
    job.fails = rng.random() < 0.12


# -- HTTP -----------------------------------------------------------------------------------


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(data), status_code=status, media_type="application/json", headers=dict(headers or {})
    )


def raw_json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def error_body(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"detail": detail}, status, headers)


def crash_response(traceback: str) -> Response:
    """The back-end's 500. It closes the connection: on the server, the exception behind it
    reaches uvicorn ("Exception in ASGI application"), which then drops the keep-alive
    connection."""
    return Response(
        BACK_END + traceback,
        status_code=500,
        media_type="text/plain; charset=utf-8",
        headers={"connection": "close"},
    )


@dataclass
class Call:
    """One request being handled: its state, request, body and path parameters."""

    state: EcoTaxaState
    request: Request
    body: bytes
    params: dict[str, str]
    user: User | None = None

    def auth(self) -> User:
        self.user = self.state.authenticate(self.request)
        return self.user

    def job_id(self) -> int:
        text = self.params["job_id"]
        try:
            return int(text)
        except ValueError:
            raise Invalid(
                [
                    {
                        "loc": ["path", "job_id"],
                        "msg": "value is not a valid integer",
                        "type": "type_error.integer",
                    }
                ]
            ) from None

    def read_json(self) -> tuple[bool, Any]:
        """FastAPI's body reading: (is JSON, value). A malformed JSON body is a 422 at once."""
        if not self.body:
            return True, None
        content_type = self.request.headers.get("content-type")
        is_json = content_type is None
        if content_type is not None:
            main = content_type.partition(";")[0]
            kind, _, subtype = main.strip().lower().partition("/")
            is_json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
        if not is_json:
            return False, self.body
        try:
            return True, json.loads(self.body)
        except json.JSONDecodeError as error:
            raise Invalid(
                [
                    {
                        "loc": ["body", error.pos],
                        "msg": str(error),
                        "type": "value_error.jsondecode",
                        "ctx": {
                            "msg": error.msg,
                            "doc": error.doc,
                            "pos": error.pos,
                            "lineno": error.lineno,
                            "colno": error.colno,
                        },
                    }
                ]
            ) from None
        except UnicodeDecodeError:
            raise Invalid(
                [
                    {
                        "loc": ["body", 0],
                        "msg": "Expecting value: line 1 column 1 (char 0)",
                        "type": "value_error.jsondecode",
                    }
                ]
            ) from None


Handler = Callable[[Call], Response]

_BOOL_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_BOOL_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def parse_bool(text: str) -> bool | None:
    """A pydantic v1 boolean from query text, or None when it is not one."""
    value = text.lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    return None


def h_login(call: Call) -> Response:
    is_json, data = call.read_json()
    if data is None:
        raise Invalid([_missing(["body"])])
    if not is_json or not isinstance(data, dict):
        raise Invalid([_not_dict(["body"])])
    errors: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    for name in ("password", "username"):
        value = data.get(name)
        if name not in data or value is None:
            errors.append(
                _missing(["body", name])
                if name not in data
                else {
                    "loc": ["body", name],
                    "msg": "none is not an allowed value",
                    "type": "type_error.none.not_allowed",
                }
            )
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            values[name] = str(value)
        else:
            errors.append(
                {"loc": ["body", name], "msg": "str type expected", "type": "type_error.str"}
            )
    if errors:
        raise Invalid(errors)
    return json_response(call.state.login(values["username"], values["password"]))


def h_me(call: Call) -> Response:
    user = call.auth()
    state = call.state
    projects = [{"projid": p, "title": title} for p, title in PROJECTS[user.id : user.id + 3]]
    return json_response(
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "country": user.country,
            "orcid": None,
            "usercreationdate": state.iso(-86400.0 * 400 * user.id),
            "password": None,
            "status": 1 if user.active else 0,
            "status_date": None,
            "status_admin_comment": None,
            "usercreationreason": "Plankton image annotation",
            "mail_status": True,
            "mail_status_date": None,
            "organisation": user.organisation,
            "can_do": list(user.can_do),
            "last_used_projects": projects,
        }
    )


def h_list(call: Call) -> Response:
    user = call.auth()
    state = call.state
    query = call.request.query_params
    errors: list[dict[str, Any]] = []
    everyone = False
    if "for_admin" in query:
        parsed = parse_bool(query["for_admin"])
        if parsed is None:
            errors.append(
                {
                    "loc": ["query", "for_admin"],
                    "msg": "value could not be parsed to a boolean",
                    "type": "type_error.bool",
                }
            )
        else:
            everyone = parsed
    elif state.legacy:
        errors.append(_missing(["query", "for_admin"]))
    job_type: str | None = None
    job_status: str | None = None
    if not state.legacy:
        job_type = query.get("job_type")
        if "job_status" in query:
            job_status = query["job_status"]
            if job_status not in STATES:
                errors.append(
                    {
                        "loc": ["query", "job_status"],
                        "msg": "value is not a valid enumeration member; permitted: 'P', 'R', 'A', 'E', 'F'",
                        "type": "type_error.enum",
                        "ctx": {"enum_values": list(STATES)},
                    }
                )
    if errors:
        raise Invalid(errors)
    if everyone and not user.is_admin:
        raise ApiError(403, "You can't do this.")
    jobs = state.listing(user, everyone, job_type, job_status)
    return raw_json_response(b"[" + b",".join(state.to_json(job) for job in jobs) + b"]")


def h_get(call: Call) -> Response:
    user = call.auth()
    job = call.state.accessible(user, call.job_id())
    return raw_json_response(call.state.to_json(job))


def h_answer(call: Call) -> Response:
    is_json, data = call.read_json()
    user = call.auth()
    job_id = call.job_id()
    if data is None:
        data = {}
    if not is_json or not isinstance(data, dict):
        raise Invalid([_not_dict(["body"])])
    state = call.state
    state.answer(state.accessible(user, job_id), user, data)
    return json_response(None)


def h_restart(call: Call) -> Response:
    user = call.auth()
    state = call.state
    state.restart(state.accessible(user, call.job_id()))
    return json_response(None)


def h_erase(call: Call) -> Response:
    user = call.auth()
    state = call.state
    state.erase(state.accessible(user, call.job_id()), user)
    return json_response(None)


def h_log(call: Call) -> Response:
    user = call.auth()
    state = call.state
    job = state.accessible(user, call.job_id())
    text = state.log_text(job)
    if text is None:
        raise BackEndCrash(
            traceback_text(
                (
                    *_ROUTE_FRAMES,
                    (
                        f"{SITE}/starlette/responses.py",
                        290,
                        "__call__",
                        'raise RuntimeError(f"File at path {self.path} does not exist.")',
                    ),
                ),
                f"RuntimeError: File at path {state.log_path(job.id)} does not exist.",
            )
        )
    data = text.encode("utf-8")
    last = job.log[-1][0] if job.log else job.created
    modified = email.utils.format_datetime(state.moment(last).replace(tzinfo=UTC), usegmt=True)
    mtime = f"{state.unix(last)}.0-{len(data)}"
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={"last-modified": modified, "etag": hashlib.md5(mtime.encode()).hexdigest()},
    )


def range_start(header: str, size: int) -> int | None:
    """Where a `Range` header asks the file to start, read as the server's `_get_range_header`
    reads it: `bytes=N-` or `bytes=N-<size>` only (its responses always run to the end), and
    `N` up to `size` included (`bytes=<size>-` is a 206 with an empty body). None: a 416."""
    first, _, second = header.replace("bytes=", "").partition("-")
    try:
        start = int(first) if first != "" else 0
        end = int(second) if second != "" else size
    except ValueError:
        return None
    if end != size or start > end or start < 0:
        return None
    return start


def h_file(call: Call) -> Response:
    user = call.auth()
    state = call.state
    job = state.accessible(user, call.job_id())
    name, data = state.file_of(job)
    size = len(data)
    header = call.request.headers.get("range")
    start = 0
    status = 200
    if header is not None:
        state.ranges.append(header)
        begin = range_start(header, size)
        if begin is None or (begin == size and state.strict_ranges):
            raise ApiError(416, f"Invalid/unsupported request range (Range:'{header}')")
        start = begin
        status = 206
    state.changed(job, state.now())
    # As Starlette's FileResponse does: a name that is not plain ASCII goes percent-encoded.
    quoted = quote(name)
    disposition = (
        f'attachment; filename="{name}"'
        if quoted == name
        else f"attachment; filename*=utf-8''{quoted}"
    )
    headers = {
        "content-disposition": disposition,
        "accept-ranges": "bytes",
        "content-length": str(size - start),
    }
    if status == 206:
        headers["content-range"] = f"bytes {start}-{size - 1}/{size}"
    return FileBody(data, start, status, headers, content_type_for(name))


class FileBody(Response):
    """A file answer, sent in chunks from `start`."""

    def __init__(
        self, data: bytes, start: int, status: int, headers: Mapping[str, str], media_type: str
    ) -> None:
        super().__init__(b"", status_code=status, headers=dict(headers), media_type=media_type)
        self.headers["content-length"] = headers["content-length"]
        self.data = data
        self.start = start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        view = memoryview(self.data)
        for offset in range(self.start, len(self.data), STREAM_CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": bytes(view[offset : offset + STREAM_CHUNK]),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    template: str
    op: str
    handler: Handler
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template).replace(re.escape("{job_id}"), r"(?P<job_id>[^/]+)")
    return re.compile(f"^{pattern}$")


ROUTES: tuple[RouteSpec, ...] = tuple(
    RouteSpec(method, template, op, handler, _compile(template))
    for method, template, op, handler in (
        ("POST", "/login", "login", h_login),
        ("GET", "/users/me", "show_current_user", h_me),
        ("GET", "/jobs/", "list_jobs", h_list),
        ("GET", "/jobs/{job_id}/", "get_job", h_get),
        ("POST", "/jobs/{job_id}/answer", "reply_job_question", h_answer),
        ("GET", "/jobs/{job_id}/restart", "restart_job", h_restart),
        ("GET", "/jobs/{job_id}/log", "get_job_log_file", h_log),
        ("GET", "/jobs/{job_id}/file", "get_job_file", h_file),
        ("DELETE", "/jobs/{job_id}", "erase_job", h_erase),
    )
)


def _matches(path: str) -> list[tuple[RouteSpec, dict[str, str]]]:
    found = []
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            found.append((route, match.groupdict()))
    return found


def _inner_path(path: str) -> tuple[str, str]:
    """(mount prefix, path inside the app): the app answers at `/` and, mounted, at `/api`."""
    prefix = ""
    while path == "/api" or path.startswith("/api/"):
        prefix += "/api"
        path = path[4:]
    return prefix, path


async def dispatch(state: EcoTaxaState, request: Request) -> Response:
    """Route one request the way the server's router does, and run its handler."""
    prefix, path = _inner_path(request.url.path)
    method = request.method  # HEAD too: no route has it (FastAPI's routes do not add it), 405
    found = _matches(path)
    chosen = next(((r, p) for r, p in found if r.method == method), None)
    if chosen is None:
        if found:
            return error_body(405, "Method Not Allowed")
        if path not in ("", "/"):
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            if _matches(other):
                query = request.url.query
                location = f"{state.front_url}{prefix}{other}" + (f"?{query}" if query else "")
                return Response(status_code=307, headers={"location": location})
        return error_body(404, "Not Found")
    route, params = chosen
    body = await request.body()
    with state.lock:
        state.counts[route.op] += 1
        call = Call(state, request, body, params)
        try:
            state.tick()
            return route.handler(call)
        except ApiError as error:
            return error_body(error.status, error.detail, error.headers)
        except Invalid as error:
            return error_body(422, error.errors)
        except BackEndCrash as error:
            return crash_response(error.traceback)


def _fault_response(status: int, message: str = "Simulated failure") -> Response:
    if status == 500:
        return crash_response(
            traceback_text(
                _ROUTE_FRAMES,
                "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
            )
        )
    if status == 422:
        return error_body(422, [{"loc": ["body"], "msg": message, "type": "value_error"}])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    detail = {
        401: "Could not validate credentials",
        403: "You can't do this.",
        404: "Not found.",
    }.get(status, message)
    return error_body(status, detail, headers)


FAULT_PROFILE = FaultProfile(
    error=_fault_response,
    malformed=b'[{"params":{},"result":{"rowcount":',
    expired=lambda: _fault_response(401),
)
"""How EcoTaxa answers when a fault is switched on."""


class NotePeers:
    """Notes the client address of each request in `state.peers` (a new port is a new
    connection), and passes the request on untouched."""

    def __init__(self, app: ASGIApp, state: EcoTaxaState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if client:
            self.state.peers.append((str(client[0]), int(client[1])))
        await self.app(scope, receive, send)


def make_app(state: EcoTaxaState) -> ASGIApp:
    async def endpoint(request: Request) -> Response:
        return await dispatch(state, request)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
    return NotePeers(FaultsMiddleware(app, state.faults, FAULT_PROFILE), state)


def build(settings: EmulatorSettings) -> Emulator:
    state = EcoTaxaState(settings)
    user, admin = state.user, state.admin
    return Emulator(
        kind="ecotaxa",
        app=make_app(state),
        base_path=BASE_PATH,
        config={"kind": "ecotaxa", "username": user.email, "password": user.password},
        credentials={
            "username": user.email,
            "password": user.password,
            "admin username": admin.email,
            "admin password": admin.password,
        },
        state=state,
    )


__all__ = [
    "BASE_PATH",
    "EXPORT_TYPES",
    "JOB_KEYS",
    "ROUTES",
    "STATES",
    "EcoTaxaState",
    "Faults",
    "SimJob",
    "User",
    "build",
    "content_type_for",
    "make_token",
    "parse_bool",
    "read_token",
]
