"""The dsp-ingest emulator's state: file names, errors, storage, the project locks and the
simulated ingests and finalizes."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import re
import shutil
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import EllipsisType
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from jobtui.core.paths import normalize_parts
from jobtui.emulators.base import EmulatorSettings, SimState
from jobtui.emulators.dsp_ingest.auth import JwtError, Principal, decode_jwt, encode_jwt

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
SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PATH_ARGUMENT = "Path variable: 'filename''"
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


class DspIngestState(SimState):
    """Everything the emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `healthy`, `counts` (requests per route), `log` (the lines
    the real service would log about bulk ingests), `roles` (role -> seeded shortcode), `token`
    (the configured token), `make_token()`, `root`/`import_dir`/`assets_dir` (the storage),
    `uploaded_files()`, `mapping_rows()`, `holder()` (who holds a project's lock), `tick()`.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        from jobtui.emulators.dsp_ingest.seed import seed_projects  # seed builds on this module

        super().__init__(settings, "dsp-ingest")
        options = dict(settings.options)
        self._asset_rng = random.Random(f"dsp-ingest:{settings.seed}:assets")
        self.healthy = True
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

        self.root = self.storage(options.get("storage_dir"), "jobtui-dsp-ingest-")
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
        seed_projects(self, count)

        scope = options.get("scope", "admin")
        self.token = self.make_token(scope=None if scope is None else str(scope))

    # -- time and tokens ------------------------------------------------------------------------

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
                if not SHORTCODE.fullmatch(code):
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
            if folder.is_dir() and SHORTCODE.fullmatch(folder.name) and _has_file(folder, 3):
                found.append(folder.name)
        return found

    # -- lock -----------------------------------------------------------------------------------

    def holder(self, shortcode: str) -> str | None:
        """What holds the project's lock now (after applying due work), or None."""
        with self.lock:
            self.tick()
            return self.locks.get(shortcode)

    def try_lock(self, shortcode: str, holder: str) -> bool:
        with self.lock:
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
        with self.lock:
            self.locks.pop(shortcode, None)

    # -- background work ------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every ingest step and finalize due by the simulated time now.

        An ingest goes at a steady rate (`files_per_second`) rather than by events: each tick
        ingests the files due by now, project by project, as asset ids come from one stream in
        that order. Finalizes are events of the scheduler, run after the ingests."""
        with self.lock:
            now = self.now()
            for run in list(self.ingests.values()):
                self._advance_ingest(run, now)
            self.scheduler.tick()

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
        final = FinalizeRun(shortcode, self.now() + self.finalize_seconds)
        self.finalizes[shortcode] = final
        self.scheduler.push(final.due, lambda t: self._finish_finalize(final))
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
