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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from jobtui.emulators.base import Emulator, EmulatorSettings, SimClock
from jobtui.emulators.faults import FaultProfile, FaultsMiddleware
from jobtui.emulators.faults import Faults as BaseFaults

BASE_PATH = ""
"""The service lives at the server's root."""

DEFAULT_SECRET = "UP 4888, nice 4-8-4 steam engine"
DEFAULT_ISSUER = "0.0.0.0:3333"
DEFAULT_AUDIENCE = "http://localhost:3340"
TOKEN_LIFETIME = 30 * 86400.0
LOCK_TIMEOUT = 0.4
"""Seconds (real time) a bulk route waits for the project lock before answering 409."""

ROLES = ("mapped", "uploaded", "empty", "ingesting")

STILL_IMAGE = frozenset({"jp2", "jpeg", "jpg", "jpx", "png", "tif", "tiff"})
MOVING_IMAGE = frozenset({"mp4"})
AUDIO = frozenset({"mp3", "mpeg", "wav"})
OTHER = frozenset(
    {
        *("7z", "gz", "gzip", "tar", "tgz", "z", "zip"),
        *("doc", "docx", "epub", "pdf", "ppt", "pptx"),
        *("csv", "xls", "xlsx"),
        *("htm", "html", "json", "odd", "rng", "txt", "xml", "xsd", "xsl"),
    }
)
SUPPORTED = STILL_IMAGE | MOVING_IMAGE | AUDIO | OTHER
"""Extensions of dsp-ingest v0.21.1; dsp-api's ingest adds `svg` (option `svg`)."""

_NAME_PUNCTUATION = frozenset("_- .,'`+=!<>|()[]{}")
_SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PATH_ARGUMENT = "Path variable: 'filename''"
"""The `argument` of a refused upload name, with the stray quote the server really sends."""


# -- names ----------------------------------------------------------------------------------------


def extension_of(name: str) -> str:
    """What follows the last `.` of a file name, lower-cased ("" when there is none)."""
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def name_chars_ok(name: str) -> bool:
    """The server's character rule: letters, digits and `_- .,'`+=!<>|()[]{}` only."""
    return bool(name) and all(
        c in _NAME_PUNCTUATION or unicodedata.category(c)[0] in "LN" for c in name
    )


def normalize_parts(parts: Iterable[str]) -> list[str]:
    """A split path normalized like java.nio's `Path.normalize` (empty and `.` parts dropped,
    `..` removing its parent where there is one)."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == ".." and out and out[-1] != "..":
            out.pop()
        else:
            out.append(part)
    return out


def upload_problem(
    file: str, extensions: frozenset[str] = SUPPORTED
) -> tuple[list[str], str | None]:
    """The normalized parts of an upload's `{file}` and the server's reason to refuse it, if any."""
    parts = normalize_parts(file.split("/"))
    if "/".join(parts).startswith(".."):
        return parts, "Cannot traverse out of the upload directory"
    if not parts:
        return parts, "Is empty"
    name = unicodedata.normalize("NFC", parts[-1])
    if "/" in name or name in (".", ".."):
        return parts, "Filename must not contain any path information"
    if extension_of(name) not in extensions:
        return parts, "Filename must have a valid file extension"
    if not name_chars_ok(name):
        return parts, "Filename contains invalid characters"
    return parts, None


def csv_escape(value: str) -> str:
    """Quote a CSV value only when it holds `,`, `"` or a line break."""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def derivative_name(asset_id: str, ext: str) -> str:
    if ext in STILL_IMAGE:
        return f"{asset_id}.jpx"
    if ext in MOVING_IMAGE:
        return f"{asset_id}.mp4"
    return f"{asset_id}.{ext}"


# -- JWT ------------------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: Mapping[str, Any], secret: str) -> str:
    """An HS256 JWT of `claims`."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64encode(signature)}"


class JwtError(Exception):
    """A token the JWT library refuses before its claims are looked at."""


def decode_jwt(token: str, secret: str, now: float) -> dict[str, Any]:
    """The claims of an HS256 token with a valid signature, not expired and already valid at `now`
    (unix seconds); `JwtError` with the library's message otherwise."""
    parts = token.split(".")
    if len(parts) not in (2, 3):
        raise JwtError("Expected token to be composed of 2 or 3 parts separated by dots.")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise JwtError("Invalid JWT: the header or the claims are not JSON.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("Invalid JWT: the header or the claims are not JSON objects.")
    signature_ok = False
    if len(parts) == 3 and header.get("alg") == "HS256":
        expected = hmac.new(
            secret.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256
        ).digest()
        with contextlib.suppress(ValueError):
            signature_ok = hmac.compare_digest(expected, _b64decode(parts[2]))
    if not signature_ok:
        raise JwtError("Invalid signature for this token or wrong algorithm.")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp <= now:
        since = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise JwtError(f"The token is expired since {since}")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now:
        after = datetime.fromtimestamp(nbf, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise JwtError(f"The token will only be valid after {after}")
    return claims


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    admin: bool
    write: frozenset[str]
    read: frozenset[str]

    def can_write(self, shortcode: str) -> bool:
        return self.admin or shortcode in self.write

    def can_read(self, shortcode: str) -> bool:
        return self.can_write(shortcode) or shortcode in self.read


# -- errors ---------------------------------------------------------------------------------------


class ApiProblem(Exception):
    """An answer other than success, already shaped as the service sends it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def text_response(status: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    return PlainTextResponse(text, status_code=status, headers=dict(headers or {}))


def bad_request(argument: str, reason: str) -> ApiProblem:
    return ApiProblem(json_response(400, {"errors": [{"argument": argument, "reason": reason}]}))


def unauthorized(reason: str) -> ApiProblem:
    return ApiProblem(json_response(401, {"reason": reason}))


def not_found(ident: str, kind: str) -> ApiProblem:
    return ApiProblem(json_response(404, {"id": ident, "type": kind}))


def conflict(shortcode: str) -> ApiProblem:
    reason = f"A bulk ingest is currently in progress for project {shortcode}."
    return ApiProblem(json_response(409, {"reason": reason}))


def internal(message: str) -> ApiProblem:
    return ApiProblem(json_response(500, {"errorMessage": message}))


DOWN_COMPONENTS = {"folders": {"status": "DOWN"}, "db": {"status": "UP"}}


def error_response(status: int, message: str) -> Response:
    """A response of `status` in the body shape the service uses for it."""
    if status == 400:
        return bad_request("Body", message).response
    if status in (401, 403):
        return json_response(status, {"reason": message})
    if status == 404:
        return json_response(status, {"id": "simulated", "type": f"{message}."})
    if status == 409:
        return json_response(status, {"reason": message})
    if status == 503:
        return json_response(status, {"status": "DOWN", "components": DOWN_COMPONENTS})
    return json_response(status, {"errorMessage": message})


# -- state ----------------------------------------------------------------------------------------


@dataclass
class Faults(BaseFaults):
    """The faults every emulator has (`FaultsMiddleware`), plus: `read_error` breaks mapping.csv
    reads, `write_error` upload writes."""

    read_error: bool = False
    write_error: bool = False

    def reset(self) -> None:
        super().reset()
        self.read_error = self.write_error = False


@dataclass(slots=True)
class IngestRun:
    """A running bulk ingest: the files it will look at, in order, and how far it got."""

    shortcode: str
    started: float
    files: list[str]
    total: int
    done: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass(slots=True)
class FinalizeRun:
    shortcode: str
    due: float


@dataclass(slots=True)
class SeedFile:
    rel: str
    size: int


class DspIngestState:
    """Everything the emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `healthy`, `counts` (requests per route), `log` (the lines
    the real service would log about bulk ingests), `roles` (role -> seeded shortcode), `token`
    (the configured token), `make_token()`, `root`/`import_dir`/`assets_dir` (the storage),
    `uploaded_files()`, `mapping_rows()`, `holder()` (who holds a project's lock), `tick()`.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        options = dict(settings.options)
        self.settings = settings
        self.seed = settings.seed
        self.clock = SimClock(settings.epoch, settings.speed)
        self.rng = random.Random(f"dsp-ingest:{settings.seed}")
        self._asset_rng = random.Random(f"dsp-ingest:{settings.seed}:assets")
        self.mutex = threading.RLock()
        self.faults = Faults(seed=settings.seed)
        self.healthy = True
        self.counts: Counter[str] = Counter()
        self.log: list[str] = []

        self.secret = str(options.get("jwt_secret", DEFAULT_SECRET))
        self.issuer = str(options.get("jwt_issuer", DEFAULT_ISSUER))
        self.audience = str(options.get("jwt_audience", DEFAULT_AUDIENCE))
        self.files_per_second = float(options.get("files_per_second", 2.0))
        if self.files_per_second <= 0:
            raise ValueError("files_per_second must be positive")
        self.finalize_seconds = max(0.0, float(options.get("finalize_seconds", 1.0)))
        self.extensions = SUPPORTED | {"svg"} if options.get("svg", True) else SUPPORTED
        self.legacy_content_range = bool(options.get("legacy_content_range", False))

        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if options.get("storage_dir"):
            self.root = Path(str(options["storage_dir"]))
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="jobtui-dsp-ingest-")
            self.root = Path(self._tmp.name)
        self.import_dir = self.root / "import"
        self.assets_dir = self.root / "assets"
        self.import_dir.mkdir(exist_ok=True)
        self.assets_dir.mkdir(exist_ok=True)

        self.locks: dict[str, str] = {}
        """Shortcode -> what holds its lock now ("upload", "ingest", "finalize", "mapping")."""
        self.ingests: dict[str, IngestRun] = {}
        self.finalizes: dict[str, FinalizeRun] = {}

        count = int(options.get("projects", min(settings.jobs, len(ROLES))))
        self.roles: dict[str, str] = {}
        self.seeded: list[str] = []
        _seed(self, count)

        scope = options.get("scope", "admin")
        self.token = self.make_token(scope=None if scope is None else str(scope))

    # -- time and tokens ------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since the epoch."""
        return self.clock.seconds()

    def unix_now(self) -> float:
        return self.clock.epoch.timestamp() + self.clock.seconds()

    def make_token(
        self,
        scope: str | None = "admin",
        *,
        exp: datetime | float | EllipsisType | None = ...,
        sub: str | None = "http://rdfh.ch/users/root",
        aud: str | Sequence[str] | EllipsisType | None = ...,
        iss: str | EllipsisType | None = ...,
        nbf: datetime | float | None = None,
        secret: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A token as DSP-API issues it, for this server's settings unless told otherwise.

        `exp` defaults to 30 days after the simulated now (`None` leaves it out; a datetime or
        unix seconds set it); `aud` defaults to ["Knora", "Sipi", <audience>], `iss` to the
        issuer; `None` leaves a claim out. `secret` signs with another key.
        """
        now = int(self.unix_now())
        claims: dict[str, Any] = {"iat": now}
        issuer = self.issuer if iss is ... else iss
        if issuer is not None:
            claims["iss"] = issuer
        if sub is not None:
            claims["sub"] = sub
        audience: Any = ["Knora", "Sipi", self.audience] if aud is ... else aud
        if isinstance(audience, str):
            claims["aud"] = audience
        elif audience is not None:
            claims["aud"] = list(audience)
        expiry = now + TOKEN_LIFETIME if exp is ... else exp
        if expiry is not None:
            claims["exp"] = int(expiry.timestamp() if isinstance(expiry, datetime) else expiry)
        if nbf is not None:
            claims["nbf"] = int(nbf.timestamp() if isinstance(nbf, datetime) else nbf)
        claims["jti"] = f"{self.rng.getrandbits(64):016x}"
        if scope is not None:
            claims["scope"] = scope
        claims.update(extra or {})
        return encode_jwt(claims, self.secret if secret is None else secret)

    def authenticate(self, token: str) -> Principal:
        """The token's principal, or 401 with every reason joined by ", "."""
        try:
            claims = decode_jwt(token, self.secret, self.unix_now())
        except JwtError as error:
            raise unauthorized(str(error)) from None
        problems: list[str] = []
        admin = False
        write: set[str] = set()
        read: set[str] = set()
        scope = claims.get("scope")
        if scope is not None and not isinstance(scope, str):
            problems.append("Invalid contents: .scope(expected a string)")
        elif isinstance(scope, str):
            for value in scope.split():
                if value == "admin":
                    admin = True
                    continue
                kind, sep, code = value.partition(":project:")
                if kind not in ("write", "read") or not sep:
                    continue
                if not _SHORTCODE.fullmatch(code):
                    problems.append(f"Invalid contents: Invalid project shortcode: {code}")
                    continue
                (write if kind == "write" else read).add(code.upper())
        if claims.get("iss") != self.issuer:
            problems.append(f"Invalid issuer: expected {self.issuer}")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.audience not in audiences:
            problems.append(f"Invalid audience: expected {self.audience}")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            problems.append("Subject is missing.")
        if problems:
            raise unauthorized(", ".join(problems))
        return Principal(str(subject), admin, frozenset(write), frozenset(read))

    # -- storage --------------------------------------------------------------------------------

    def import_folder(self, shortcode: str) -> Path:
        return self.import_dir / shortcode

    def mapping_file(self, shortcode: str) -> Path:
        return self.import_dir / f"mapping-{shortcode}.csv"

    def uploaded_files(self, shortcode: str) -> list[str]:
        """Relative paths of the files in a project's import folder, sorted."""
        folder = self.import_folder(shortcode)
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    def mapping_rows(self, shortcode: str) -> list[tuple[str, str]]:
        """The rows of a project's mapping file (without the header); [] when there is none."""
        path = self.mapping_file(shortcode)
        if not path.is_file():
            return []
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        return [(row[0], row[1]) for row in rows[1:] if len(row) >= 2]

    def asset_files(self, shortcode: str) -> list[str]:
        folder = self.assets_dir / shortcode
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def project_ids(self) -> list[str]:
        """Asset folders named like a shortcode holding at least one file within depth 3."""
        found = []
        for folder in sorted(self.assets_dir.iterdir()):
            if folder.is_dir() and _SHORTCODE.fullmatch(folder.name) and _has_file(folder, 3):
                found.append(folder.name)
        return found

    # -- lock -----------------------------------------------------------------------------------

    def holder(self, shortcode: str) -> str | None:
        """What holds the project's lock now (after applying due work), or None."""
        with self.mutex:
            self.tick()
            return self.locks.get(shortcode)

    def try_lock(self, shortcode: str, holder: str) -> bool:
        with self.mutex:
            self.tick()
            if shortcode in self.locks:
                return False
            self.locks[shortcode] = holder
            return True

    async def acquire(self, shortcode: str, holder: str) -> bool:
        """Take the project's lock, waiting at most `LOCK_TIMEOUT` seconds for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_TIMEOUT
        while not self.try_lock(shortcode, holder):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(remaining, 0.01))
        return True

    def release(self, shortcode: str) -> None:
        with self.mutex:
            self.locks.pop(shortcode, None)

    # -- background work ------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every ingest step and finalize due by the simulated time now."""
        with self.mutex:
            now = self.now()
            for run in list(self.ingests.values()):
                self._advance_ingest(run, now)
            for final in list(self.finalizes.values()):
                if final.due <= now:
                    self._finish_finalize(final)

    def start_ingest(self, shortcode: str, at: float | None = None) -> IngestRun:
        """Begin an ingest (the caller holds the lock): create the mapping file and the asset
        folder, and list the files it will look at."""
        mapping = self.mapping_file(shortcode)
        if not mapping.exists():
            mapping.write_text("original,derivative\n", encoding="utf-8")
        (self.assets_dir / shortcode).mkdir(exist_ok=True)
        rels = self.uploaded_files(shortcode)
        visible = [r for r in rels if not r.rsplit("/", 1)[-1].startswith(".")]
        files = [r for r in visible if extension_of(r.rsplit("/", 1)[-1]) in self.extensions]
        run = IngestRun(shortcode, self.now() if at is None else at, files, total=len(visible))
        self.ingests[shortcode] = run
        self.log.append(f"Starting bulk ingest for project {shortcode}.")
        self.log.append(f"Found {len(visible)} ingest candidates.")
        return run

    def _advance_ingest(self, run: IngestRun, now: float) -> None:
        due = len(run.files)
        if now < run.started + len(run.files) / self.files_per_second:
            due = min(due, max(0, int((now - run.started) * self.files_per_second)))
        while run.done < due:
            self._ingest_one(run, run.files[run.done])
            run.done += 1
        if run.done >= len(run.files):
            del self.ingests[run.shortcode]
            self.locks.pop(run.shortcode, None)
            assets = run.succeeded + run.failed
            self.log.append(
                f"Finished bulk ingest for project {run.shortcode}. "
                f"Found {assets} assets from {run.total} files. "
                f"Ingested {run.succeeded} assets successfully, failed {run.failed} and skipped "
                f"{run.total - assets} files (See logs above for more details)."
            )

    def _asset_id(self) -> str:
        number = self._asset_rng.getrandbits(128)
        digits = []
        while number:
            number, rest = divmod(number, 62)
            digits.append(_BASE62[rest])
        return "".join(reversed(digits)).rjust(22, "0")

    def _ingest_one(self, run: IngestRun, rel: str) -> None:
        source = self.import_folder(run.shortcode) / rel
        name = rel.rsplit("/", 1)[-1]
        ext = extension_of(name)
        try:
            size = source.stat().st_size
        except OSError:
            run.failed += 1
            self.log.append(f"Error ingesting file import/{run.shortcode}/{rel}: it disappeared")
            return
        if "corrupt" in name.lower():
            problem = "the file could not be read"
        elif ext in STILL_IMAGE and size == 0:
            problem = "the image is empty"
        else:
            problem = None
        if problem is not None:
            run.failed += 1
            self.log.append(f"Error ingesting file import/{run.shortcode}/{rel}: {problem}")
            return
        asset_id = self._asset_id()
        target = self.assets_dir / run.shortcode
        target.mkdir(exist_ok=True)
        source.replace(target / f"{asset_id}.{ext}.orig")
        derivative = derivative_name(asset_id, ext)
        (target / derivative).touch()
        info = {"internalFilename": derivative, "originalFilename": name}
        (target / f"{asset_id}.info").write_text(json.dumps(info), encoding="utf-8")
        with self.mapping_file(run.shortcode).open("a", encoding="utf-8", newline="") as rows:
            rows.write(f"{csv_escape(rel)},{csv_escape(derivative)}\n")
        run.succeeded += 1

    def start_finalize(self, shortcode: str) -> None:
        """Schedule the deletion (the caller holds the lock)."""
        self.finalizes[shortcode] = FinalizeRun(shortcode, self.now() + self.finalize_seconds)
        self.log.append(f"Finalizing bulk ingest for project {shortcode}")

    def _finish_finalize(self, final: FinalizeRun) -> None:
        del self.finalizes[final.shortcode]
        shutil.rmtree(self.import_folder(final.shortcode), ignore_errors=True)
        mapping = self.mapping_file(final.shortcode)
        if mapping.exists():
            mapping.unlink()
            self.log.append(f"Finished finalizing bulk ingest for project {final.shortcode}")
        else:
            self.log.append(f"Error finalizing project {final.shortcode}: {mapping} not found")
        self.locks.pop(final.shortcode, None)

    def close(self) -> None:
        """Remove the temporary storage (when the state made one)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _has_file(folder: Path, depth: int) -> bool:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if entry.is_file():
            return True
    if depth <= 1:
        return False
    return any(e.is_dir() and _has_file(Path(e.path), depth - 1) for e in entries)


# -- seed -----------------------------------------------------------------------------------------

_MAPPED_FILES = (
    "letters/Brief, 1848.pdf",
    "letters/Brief 1849.pdf",
    "photos/Zürich Hauptbahnhof.jpg",
    "photos/Bern (1900).tif",
    "audio/interview-01.mp3",
    "film/parade.mp4",
)
_MAPPED_LEFTOVER = "photos/corrupt scan.tif"
_UPLOADED_FILES = (
    "images/a b/Plan der Stadt.png",
    "images/Genève.jpg",
    "images/Łódź 1920.tif",
    "images/empty.png",
    "images/corrupt_scan.tif",
    "docs/inventar.xlsx",
    "docs/readme.txt",
    ".DS_Store",
)


def _blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _seed(state: DspIngestState, count: int) -> None:
    rng = random.Random(f"dsp-ingest:{state.seed}:seed")
    codes: list[str] = []
    while len(codes) < count:
        code = f"{rng.randrange(0x0100, 0x10000):04X}"
        if code not in codes:
            codes.append(code)
    state.seeded = codes
    for index, code in enumerate(codes):
        role = ROLES[index % len(ROLES)]
        state.roles.setdefault(role, code)
        folder = state.import_folder(code)
        if role == "mapped":
            for rel in (*_MAPPED_FILES, _MAPPED_LEFTOVER):
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_blob(rng, rng.randrange(200, 4000)))
            state.locks[code] = "ingest"
            run = state.start_ingest(code, at=-3600.0)
            state._advance_ingest(run, 0.0)
        elif role == "uploaded":
            for rel in _UPLOADED_FILES:
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                size = 0 if rel.endswith("empty.png") else rng.randrange(200, 4000)
                path.write_bytes(_blob(rng, size))
        elif role == "ingesting":
            for i in range(24):
                path = folder / f"batch/page-{i + 1:03d}.tif"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_blob(rng, rng.randrange(200, 4000)))
            state.locks[code] = "ingest"
            state.start_ingest(code, at=-2.0)


# -- HTTP -----------------------------------------------------------------------------------------


def _segments(scope: Scope) -> list[str]:
    """The path split on its raw `/`s, each segment then percent-decoded: `%2F` stays inside its
    segment, as the real server's router does."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes | bytearray):
        raw = quote(str(scope.get("path", "/"))).encode("ascii")
    raw = bytes(raw).split(b"?", 1)[0]
    parts = raw.split(b"/")[1:]
    return [unquote_to_bytes(part).decode("utf-8", "replace") for part in parts]


_MISSING_AUTH = "Invalid value for: header Authorization (missing)"


class Call:
    """One request: its state, path segments and auth helpers."""

    def __init__(self, state: DspIngestState, request: Request, segments: list[str]) -> None:
        self.state = state
        self.request = request
        self.segments = segments

    def shortcode(self, index: int = 1) -> str:
        code = self.segments[index]
        if not _SHORTCODE.fullmatch(code):
            raise ApiProblem(text_response(400, "Invalid value for: path parameter shortcode"))
        return code

    def principal(self) -> Principal:
        header = self.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(
                text_response(401, _MISSING_AUTH, headers={"WWW-Authenticate": "Bearer"})
            )
        return self.state.authenticate(token.strip())

    def writer(self, shortcode: str) -> Principal:
        principal = self.principal()
        if not principal.can_write(shortcode):
            raise unauthorized("No project access.")
        return principal

    def admin(self) -> Principal:
        principal = self.principal()
        if not principal.admin:
            raise unauthorized("Admin permissions required.")
        return principal


async def _drain(request: Request) -> None:
    """Read and drop what is left of a body, so the client gets to read the answer."""
    with contextlib.suppress(Exception):
        async for _ in request.stream():
            pass


def h_health(call: Call) -> Response:
    call.state.counts["health"] += 1
    if not call.state.healthy:
        return json_response(503, {"status": "DOWN", "components": DOWN_COMPONENTS})
    return json_response(200, {"status": "UP"})


def h_info(call: Call) -> Response:
    call.state.counts["info"] += 1
    return json_response(
        200,
        {
            "name": "dsp-ingest",
            "version": "0.21.1",
            "scalaVersion": "3.3.6",
            "sbtVersion": "1.11.5",
            "buildTime": "2025-09-09 08:49:20.000+0000",
            "gitCommit": "dfedd7cd",
        },
    )


def h_metrics(call: Call) -> Response:
    call.state.counts["metrics"] += 1
    lines = [
        f'{op}_requests_total{{emulator="dsp-ingest"}} {n}' for op, n in call.state.counts.items()
    ]
    return text_response(200, "\n".join(lines) + "\n")


def h_projects(call: Call) -> Response:
    call.state.counts["projects"] += 1
    call.admin()
    ids = call.state.project_ids()
    value = f"items 0-{len(ids)}/{len(ids)}"
    if call.state.legacy_content_range:
        value = f"Content-Range: {value}"
    return json_response(200, [{"id": i} for i in ids], headers={"Content-Range": value})


def h_project(call: Call) -> Response:
    call.state.counts["project"] += 1
    code = call.shortcode()
    principal = call.principal()
    if not principal.can_read(code):
        raise unauthorized("No project access.")
    if not (call.state.assets_dir / code).is_dir():
        raise not_found(code, "project")
    return json_response(200, {"id": code})


async def h_trigger(call: Call) -> Response:
    state = call.state
    state.counts["trigger"] += 1
    code = call.shortcode()
    call.writer(code)
    if not state.import_folder(code).is_dir():
        raise not_found(code, "Import folder not found.")
    if not await state.acquire(code, "ingest"):
        raise conflict(code)
    with state.mutex:
        state.start_ingest(code)
    return json_response(202, {"id": code})


async def h_finalize(call: Call) -> Response:
    state = call.state
    state.counts["finalize"] += 1
    code = call.shortcode()
    call.writer(code)
    if not state.import_folder(code).is_dir():
        raise not_found(code, "Import folder not found.")
    if not await state.acquire(code, "finalize"):
        raise conflict(code)
    with state.mutex:
        state.start_finalize(code)
    return json_response(200, {"id": code})


async def h_mapping(call: Call) -> Response:
    state = call.state
    state.counts["mapping"] += 1
    code = call.shortcode()
    call.writer(code)
    if not await state.acquire(code, "mapping"):
        raise conflict(code)
    try:
        path = state.mapping_file(code)
        if not path.is_file():
            raise not_found(code, "project")
        if state.faults.read_error:
            raise internal(f"Error reading mapping file {path.name}")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise internal(f"Error reading mapping file: {error.strerror}") from None
    finally:
        state.release(code)
    return Response(
        "\n".join(lines).encode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/csv",
            "Content-Disposition": "attachment; filename=mapping.csv",
        },
    )


async def h_upload(call: Call) -> Response:
    state = call.state
    request = call.request
    state.counts["upload"] += 1
    try:
        code = call.shortcode()
        call.writer(code)
    except ApiProblem:
        await _drain(request)
        raise
    file = call.segments[4]
    if not await state.acquire(code, "upload"):
        await _drain(request)
        raise conflict(code)
    try:
        parts, problem = upload_problem(file, state.extensions)
        if problem is not None:
            await _drain(request)
            raise bad_request(_PATH_ARGUMENT, f"'{file}' is invalid: {problem}")
        target = state.import_folder(code).joinpath(*parts)
        try:
            if state.faults.write_error:
                raise OSError("simulated write failure")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as sink:
                async for chunk in request.stream():
                    if chunk:
                        sink.write(chunk)
        except (OSError, ValueError):
            await _drain(request)
            raise ApiProblem(text_response(500, "Internal server error")) from None
        except ClientDisconnect:
            state.log.append(f"Upload of {file} to project {code} was cut off")
            return Response(status_code=499)
    finally:
        state.release(code)
    return json_response(200, {"status": "ok"})


_ROUTES: dict[tuple[str, ...], dict[str, Any]] = {
    ("health",): {"GET": h_health},
    ("info",): {"GET": h_info},
    ("metrics",): {"GET": h_metrics},
    ("projects",): {"GET": h_projects},
    ("projects", "*"): {"GET": h_project},
    ("projects", "*", "bulk-ingest"): {"POST": h_trigger},
    ("projects", "*", "bulk-ingest", "ingest", "*"): {"POST": h_upload},
    ("projects", "*", "bulk-ingest", "mapping.csv"): {"GET": h_mapping},
    ("projects", "*", "bulk-ingest", "finalize"): {"POST": h_finalize},
}


def _match(segments: list[str]) -> dict[str, Any] | None:
    for shape, methods in _ROUTES.items():
        if len(shape) == len(segments) and all(
            s == "*" or s == seg for s, seg in zip(shape, segments, strict=True)
        ):
            return methods
    return None


def make_dispatch(state: DspIngestState) -> Any:
    async def dispatch(request: Request) -> Response:
        segments = _segments(request.scope)
        methods = _match(segments)
        if methods is None:
            await _drain(request)
            return text_response(404, "Not Found")
        handler = methods.get(request.method)
        if handler is None:
            await _drain(request)
            return text_response(405, "Method Not Allowed")
        call = Call(state, request, segments)
        state.tick()
        try:
            result = handler(call)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, Response)
            return result
        except ApiProblem as problem:
            return problem.response

    return dispatch


FAULT_PROFILE = FaultProfile(
    error=error_response,
    malformed=b'{"id":"',
    expired=lambda: unauthorized("The token is expired since 2026-11-01T09:00:00Z").response,
)
"""How dsp-ingest answers when a fault is switched on."""


_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def make_app(state: DspIngestState) -> ASGIApp:
    app = Starlette(routes=[Route("/{path:path}", make_dispatch(state), methods=_METHODS)])
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)


def build(settings: EmulatorSettings) -> Emulator:
    state = DspIngestState(settings)
    return Emulator(
        kind="dsp-ingest",
        app=make_app(state),
        base_path=BASE_PATH,
        config={"kind": "dsp-ingest", "token": state.token, "projects": list(state.seeded)},
        credentials={"token": state.token},
        state=state,
    )


__all__ = [
    "AUDIO",
    "DEFAULT_AUDIENCE",
    "DEFAULT_ISSUER",
    "DEFAULT_SECRET",
    "LOCK_TIMEOUT",
    "MOVING_IMAGE",
    "OTHER",
    "ROLES",
    "STILL_IMAGE",
    "SUPPORTED",
    "DspIngestState",
    "Faults",
    "FinalizeRun",
    "IngestRun",
    "JwtError",
    "Principal",
    "build",
    "csv_escape",
    "decode_jwt",
    "encode_jwt",
    "make_app",
    "upload_problem",
]
