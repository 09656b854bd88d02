"""dsp-ingest (the DaSCH ingest service): name rules, `DspIngestClient`, and `DspIngestService`.

The service has no job list: each project has at most one bulk ingest, and the only signals are
the status of `GET /projects/{sc}/bulk-ingest/mapping.csv` (404 none, 409 locked, 200 done) and the
409 of the other bulk routes. So the adapter shows one row per project (id = shortcode) and
combines what the server says with what this client did itself (its uploads, its ingest trigger,
its finalize):

==========================  ============================  =========  =====================
mapping.csv                 what this client knows        JobState   raw_state
==========================  ============================  =========  =====================
(not asked: own upload)     it is uploading now           RUNNING    uploading
409                         it started an ingest          RUNNING    ingesting
409                         it finalized                  RUNNING    finalizing
409                         nothing                       RUNNING    locked
404                         it finalized                  SUCCEEDED  finalized
404 / 200                   files uploaded, not ingested  QUEUED     uploaded
404                         nothing                       UNKNOWN    no mapping
200                         its files left unmapped       FAILED     done, files unmapped
200                         otherwise                     SUCCEEDED  done
error                                                     UNKNOWN    error
==========================  ============================  =========  =====================

Why: 409 means only that the project lock is held (an ingest, an upload, a finalize or another
client's mapping read), so it is RUNNING but named by cause only when the cause is ours. A 404
with nothing of ours pending is UNKNOWN ("no mapping"), not QUEUED: the server cannot say whether
somebody else's files are waiting. A finished ingest that left files uploaded by this client
without a mapping row (the service only logs such failures) is FAILED, since those files need
attention; the rows that were mapped are still there. Finalized is SUCCEEDED: the bulk ingest is
over and cleaned up.

Polling is gentle with the project lock: one mapping.csv GET per project per poll at most (none
for a project this client is uploading to, as that could make the upload fail with 409), at most
`max_checks` projects per poll (the longest-unchecked first), and after a 409 the project is
asked again only after `busy_backoff` seconds, doubling up to `busy_backoff_max`. `GET /projects`
(admin only) is asked every `list_every` polls when no projects are configured and the token has
the `admin` scope. What this client uploaded is remembered for this process only.

Uploads send each file as `POST /projects/{sc}/bulk-ingest/ingest/{rel}` with `rel` quoted once
(`/` as `%2F`, never `%252F`), streamed from disk with a Content-Length, after checking its name
against the service's rules locally (`name_problem`): nothing the server would refuse is sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import json
import os
import re
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
    ServerError,
    ServiceError,
    TransportError,
)
from jobtui.core.format import human_size, shown_path, shown_value
from jobtui.core.models import Action, Column, Job, JobState
from jobtui.core.polling import Clock, utc_now
from jobtui.core.secret import Secret
from jobtui.core.service import PollResult, Progress, Service, UnsupportedActionError
from jobtui.core.text import clean_lines
from jobtui.services._http import (
    DEFAULT_TIMEOUT,
    MinimumRate,
    error_for_status,
    fetch,
    limits,
    make_client,
    rated,
)
from jobtui.services._wire import DEFERRED, parse_body
from jobtui.services._wire import text as _text
from jobtui.services.download import exists, local_error, safe_name, write_file

# -- name rules ---------------------------------------------------------------------------------

STILL_IMAGE_EXTENSIONS = frozenset({"jp2", "jpeg", "jpg", "jpx", "png", "tif", "tiff"})
SUPPORTED_EXTENSIONS = STILL_IMAGE_EXTENSIONS | frozenset(
    {
        *("mp4",),
        *("mp3", "mpeg", "wav"),
        *("7z", "gz", "gzip", "tar", "tgz", "z", "zip"),
        *("doc", "docx", "epub", "pdf", "ppt", "pptx"),
        *("csv", "xls", "xlsx"),
        *("htm", "html", "json", "odd", "rng", "txt", "xml", "xsd", "xsl"),
        *("svg",),
    }
)
"""File types the bulk ingest takes (case-insensitive). `svg` is new in dsp-api's ingest; an older
dsp-ingest refuses it per file (400), which the upload reports."""

_NAME_PUNCTUATION = frozenset("_- .,'`+=!<>|()[]{}")
_SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")


def validate_shortcode(text: str) -> str:
    """A project shortcode as the server wants it: exactly 4 hex digits, upper-cased."""
    value = text.strip()
    if not _SHORTCODE.fullmatch(value):
        raise InputError(
            "shortcode",
            f"{shown_value(value)} is not a project shortcode (4 hex digits, like 0803)",
        )
    return value.upper()


def _normalize(parts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == ".." and out and out[-1] != "..":
            out.pop()
        else:
            out.append(part)
    return out


def name_problem(rel: str) -> str | None:
    """Why the service would refuse to store a file at the relative path `rel`, or None.

    The rules of the bulk upload: the normalized path must not start with `..` nor be empty; its
    last element, in NFC form, must carry no path information, have a supported extension and use
    only letters, digits and ``_- .,'`+=!<>|()[]{}``. Folder names are not checked.
    """
    parts = _normalize(rel.split("/"))
    if "/".join(parts).startswith(".."):
        return "cannot traverse out of the upload directory (the path starts with ..)"
    if not parts:
        return "the path is empty"
    name = unicodedata.normalize("NFC", parts[-1])
    if name in (".", ".."):
        return "the file name must not contain path information"
    _, dot, ext = name.rpartition(".")
    if not dot or not ext:
        return "the file name has no extension (the service needs one to know the file type)"
    if ext.lower() not in SUPPORTED_EXTENSIONS:
        return f"'.{ext}' is not a file type the service ingests"
    bad = sorted(
        {c for c in name if c not in _NAME_PUNCTUATION and unicodedata.category(c)[0] not in "LN"}
    )
    if bad:
        shown = " ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:8])
        return f"the file name contains characters the service refuses: {shown}"
    return None


def is_hidden(rel: str) -> bool:
    """A file whose own name starts with `.`: the upload takes it, the ingest skips it."""
    return rel.rsplit("/", 1)[-1].startswith(".")


@dataclass(frozen=True, slots=True)
class RejectedFile:
    """A file that will not be sent, and why."""

    rel: str
    reason: str


def check_names(rels: Iterable[str], *, skip_hidden: bool = True) -> list[RejectedFile]:
    """The relative paths among `rels` that must not be uploaded, each with its reason (in the
    order given). Hidden files are rejected too unless `skip_hidden` is False: the service would
    store them but its ingest skips them, so they would never get a mapping."""
    rejected: list[RejectedFile] = []
    for rel in rels:
        problem = name_problem(rel)
        if problem is None and skip_hidden and is_hidden(rel):
            problem = "hidden file: the ingest skips it"
        if problem is not None:
            rejected.append(RejectedFile(rel, problem))
    return rejected


def upload_path(shortcode: str, rel: str) -> str:
    """The request path of a bulk upload, `rel` percent-encoded once (`/` as `%2F`)."""
    return f"/projects/{shortcode}/bulk-ingest/ingest/{quote(rel, safe='')}"


# -- token ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a JWT says about itself, read without checking its signature (for display only)."""

    admin: bool = False
    write: tuple[str, ...] = ()
    """Shortcodes of the `write:project:<SC>` scopes, upper-cased, in token order."""
    subject: str | None = None
    expires: datetime | None = None
    readable: bool = False

    def describe(self, now: datetime | None = None) -> str:
        if not self.readable:
            return "token: not a readable JWT"
        rights = (
            "admin"
            if self.admin
            else ("write " + ", ".join(self.write) if self.write else "no scope")
        )
        text = f"token: {rights}"
        if self.expires is not None:
            expired = self.expires <= (now or datetime.now(UTC))
            text += f", {'expired' if expired else 'expires'} {self.expires:%Y-%m-%d %H:%M} UTC"
        return text


def token_info(token: str) -> TokenInfo:
    """The scope, subject and expiry of a JWT's claims; an unreadable token gives `readable=False`."""
    parts = token.split(".")
    if len(parts) < 2:
        return TokenInfo()
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return TokenInfo()
    if not isinstance(claims, dict):
        return TokenInfo()
    admin = False
    write: list[str] = []
    scope = claims.get("scope")
    for value in scope.split() if isinstance(scope, str) else ():
        if value == "admin":
            admin = True
        elif value.startswith("write:project:") and _SHORTCODE.fullmatch(value[14:]):
            code = value[14:].upper()
            if code not in write:
                write.append(code)
    expires: datetime | None = None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        with contextlib.suppress(OverflowError, OSError, ValueError):
            expires = datetime.fromtimestamp(exp, UTC)
    subject = claims.get("sub")
    return TokenInfo(
        admin, tuple(write), subject if isinstance(subject, str) else None, expires, True
    )


# -- wire models ----------------------------------------------------------------------------------


WireText = Annotated[str, BeforeValidator(_text)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class ProjectResponse(_Wire):
    """`{"id": "<shortcode>"}`: the answer of trigger and finalize, and an item of /projects."""

    id: WireText


class InfoResponse(_Wire):
    name: WireText | None = None
    version: WireText | None = None
    scalaVersion: WireText | None = None
    sbtVersion: WireText | None = None
    buildTime: WireText | None = None
    gitCommit: WireText | None = None


class HealthResponse(_Wire):
    status: WireText | None = None
    components: dict[str, Any] | None = None


class ErrorArgument(_Wire):
    argument: WireText = ""
    reason: WireText = ""


class _BadRequestBody(_Wire):
    errors: list[ErrorArgument]


class _ReasonBody(_Wire):
    reason: WireText


class _NotFoundBody(_Wire):
    id: WireText = ""
    type: WireText


class _ServerErrorBody(_Wire):
    errorMessage: WireText


_PROJECT = TypeAdapter(ProjectResponse)
_PROJECTS = TypeAdapter(list[ProjectResponse], config=DEFERRED)
_INFO = TypeAdapter(InfoResponse)
_HEALTH = TypeAdapter(HealthResponse)
_BAD_REQUEST = TypeAdapter(_BadRequestBody)
_REASON = TypeAdapter(_ReasonBody)
_NOT_FOUND = TypeAdapter(_NotFoundBody)
_SERVER_ERROR = TypeAdapter(_ServerErrorBody)


# -- errors ---------------------------------------------------------------------------------------


class IngestRequestError(RefusedError):
    """A 400 `BadRequest`: `errors` holds each (argument, reason) the server listed."""

    def __init__(
        self, service: str, message: str, *, errors: Sequence[tuple[str, str]], status: int = 400
    ) -> None:
        self.errors = tuple(errors)
        super().__init__(service, message, status=status)


class IngestNotFoundError(NotFoundError):
    """A 404 `NotFound`: `ident` and `what` are the body's `id` and `type`."""

    def __init__(self, service: str, message: str, *, ident: str, what: str) -> None:
        self.ident = ident
        self.what = what
        super().__init__(service, message, status=404)


class IngestUnhealthyError(ServerError):
    """`/health` answered 503: `components` maps each component to its status."""

    def __init__(self, service: str, message: str, *, components: Mapping[str, str]) -> None:
        self.components = dict(components)
        super().__init__(service, message, status=503)


class UploadCancelledError(Exception):
    """An upload stopped by its cancel event after `sent` bytes of the file had gone out."""

    def __init__(self, sent: int) -> None:
        self.sent = sent
        super().__init__(f"upload cancelled after {sent} bytes")


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def _components(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for name, detail in value.items():
        status = detail.get("status") if isinstance(detail, dict) else detail
        out[str(name)] = str(status)
    return out


def ingest_error(
    service: str, response: httpx.Response, *, secrets: Iterable[str] = ()
) -> ServiceError:
    """The typed error of a failed response, carrying the server's reason in one line.

    400 `{"errors":[{argument,reason}]}` -> `IngestRequestError`; 401/403 `{"reason"}` ->
    `AuthError`; 404 `{"id","type"}` -> `IngestNotFoundError`; 409 `{"reason"}` -> `ConflictError`;
    500 `{"errorMessage"}` and other 5xx -> `ServerError`; 503 `{"status":"DOWN",...}` ->
    `IngestUnhealthyError`; a text/plain body (a bad path value, a missing Authorization header,
    a defect) gives its first line as the reason. `secrets` never appear in the message.
    """
    status = response.status_code
    content = response.content
    looks_json = content.lstrip()[:1] in (b"{", b"[")
    reason = ""
    if looks_json:
        adapters: tuple[TypeAdapter[Any], ...] = (
            _BAD_REQUEST,
            _REASON,
            _NOT_FOUND,
            _SERVER_ERROR,
            _HEALTH,
        )
        for adapter in adapters:
            try:
                body = parse_body(service, adapter, content, "error body")
            except BadPayloadError:
                continue
            if isinstance(body, _BadRequestBody):
                pairs = [(e.argument, _redact(e.reason, secrets)) for e in body.errors]
                reason = "; ".join(r or a for a, r in pairs) or "bad request"
                if status == 400:
                    return IngestRequestError(service, f"{reason} (HTTP 400)", errors=pairs)
            elif isinstance(body, _ReasonBody):
                reason = body.reason
            elif isinstance(body, _NotFoundBody):
                what = body.type.strip()
                if what.endswith("."):
                    reason = f"{what[:-1]}: {body.id}" if body.id else what
                else:
                    reason = f"{what} {body.id} not found".replace("  ", " ")
                if status == 404:
                    message = f"{_redact(reason, secrets)} (HTTP 404)"
                    return IngestNotFoundError(service, message, ident=body.id, what=body.type)
            elif isinstance(body, _ServerErrorBody):
                reason = body.errorMessage
            elif isinstance(body, HealthResponse) and body.status:
                components = _components(body.components)
                detail = ", ".join(f"{k}: {v}" for k, v in components.items())
                reason = f"service {body.status}" + (f" ({detail})" if detail else "")
                if status == 503:
                    message = f"{reason} (HTTP 503)"
                    return IngestUnhealthyError(service, message, components=components)
            break
    elif content:
        text = response.text.strip()
        if not text.startswith("<"):
            reason = text.splitlines()[0][:200] if text else ""
    if status == 401 and not reason:
        reason = "authorization required"
    clean = _redact(reason, secrets)
    return error_for_status(service, response, lambda _response: clean)


_RANGE = re.compile(r"(?<!\d)(\d{1,18})\s*-\s*(\d{1,18})\s*/\s*(\d{1,18})(?!\d)")


def parse_content_range(value: str | None) -> int | None:
    """The total of `items 0-N/N`, read leniently (any prefix, even a repeated header name)."""
    if not value:
        return None
    match = _RANGE.search(value)
    return int(match.group(3)) if match else None


MAPPING_HEADER = ("original", "derivative")


def parse_mapping(service: str, text: str) -> list[tuple[str, str]]:
    """The rows of a mapping.csv body, header excluded; `BadPayloadError` unless it starts with
    the header `original,derivative` and every row has two values."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.startswith("original,derivative"):
        raise BadPayloadError(service, "mapping.csv does not start with original,derivative")
    rows: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    for row in reader:
        if not row or row == [""]:
            continue
        if len(row) != 2:
            raise BadPayloadError(
                service, f"mapping.csv line {reader.line_num}: {len(row)} values instead of 2"
            )
        rows.append((row[0], row[1]))
    return rows


# -- client ---------------------------------------------------------------------------------------

UPLOAD_CHUNK = 256 * 1024
UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=540.0, write=60.0, pool=60.0)
"""An upload may wait long for its answer (a proxy in front of the real service reads for at most
10 minutes, so dsp-tools waits 9); each write may take a minute."""

ByteProgress = Callable[[int, int], None]
"""Called with (bytes of the file sent, size of the file)."""


class DspIngestClient:
    """An async client for one dsp-ingest server and one JWT over one httpx client.

    Every method raises only `ServiceError`s (and `InputError` for a bad shortcode or file name,
    `UploadCancelledError` when an upload is cancelled). `requests` counts requests per route.
    """

    def __init__(
        self,
        url: str,
        token: Secret | str,
        *,
        service: str = "dsp-ingest",
        verify: bool = True,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        upload_timeout: httpx.Timeout | float = UPLOAD_TIMEOUT,
        chunk_size: int = UPLOAD_CHUNK,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.service = service
        self._token = token if isinstance(token, Secret) else Secret(token)
        self._http = http or make_client(url, verify=verify, timeout=timeout)
        self.upload_timeout = upload_timeout
        self.chunk_size = max(1024, chunk_size)
        self.requests: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"DspIngestClient({self.service!r}, {self.base_url!r})"

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def token_info(self) -> TokenInfo:
        return token_info(self._token.get_secret_value())

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    def _headers(self, accept: str = "application/json", *, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": accept}
        if auth:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def error(self, response: httpx.Response) -> ServiceError:
        """The typed error of a failed response (see `ingest_error`)."""
        return ingest_error(self.service, response, secrets=(self._token.get_secret_value(),))

    async def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        ok: Iterable[int] = (200,),
        accept: str = "application/json",
        auth: bool = True,
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        self.requests[op] += 1
        request = self._http.build_request(method, path, headers=self._headers(accept, auth=auth))
        response = await fetch(
            self._http, self.service, request, limit=limit or limits().record, what=what
        )
        if response.status_code not in tuple(ok):
            raise self.error(response)
        return response

    def _parse(self, adapter: TypeAdapter[Any], response: httpx.Response, what: str) -> Any:
        return parse_body(self.service, adapter, response.content, what)

    def _echo(self, shortcode: str, response: httpx.Response, what: str) -> str:
        body: ProjectResponse = self._parse(_PROJECT, response, what)
        if body.id != shortcode:
            raise BadPayloadError(
                self.service, f"unexpected {what}: project {body.id!r} instead of {shortcode}"
            )
        return body.id

    # -- monitoring -----------------------------------------------------------------------------

    async def health(self) -> HealthResponse:
        """`GET /health`: UP, or `IngestUnhealthyError` (503) naming the components down."""
        response = await self._call("health", "GET", "/health", auth=False)
        health: HealthResponse = self._parse(_HEALTH, response, "health answer")
        return health

    async def info(self) -> InfoResponse:
        """`GET /info`: name, version and git commit of the server."""
        response = await self._call("info", "GET", "/info", auth=False)
        info: InfoResponse = self._parse(_INFO, response, "info answer")
        return info

    async def list_projects(self) -> tuple[list[str], int]:
        """`GET /projects` (admin scope): the shortcodes with assets, and the total the
        Content-Range header announces (the list's length when it is missing)."""
        response = await self._call(
            "projects", "GET", "/projects", limit=limits().list_page, what="project list"
        )
        projects: list[ProjectResponse] = self._parse(_PROJECTS, response, "project list")
        ids = [p.id for p in projects]
        total = parse_content_range(response.headers.get("Content-Range"))
        return ids, len(ids) if total is None else total

    # -- bulk ingest ----------------------------------------------------------------------------

    def _check_file(self, rel: str) -> None:
        problem = name_problem(rel)
        if problem is not None:
            raise InputError("file", f"{rel}: {problem}")

    async def upload_stream(
        self,
        shortcode: str,
        rel: str,
        content: bytes | AsyncIterable[bytes],
        *,
        size: int | None = None,
    ) -> None:
        """Upload one file's bytes to `import/<sc>/<rel>` on the server (overwriting it).

        `rel` is checked locally first (`InputError` when the service would refuse it: nothing
        is sent). `size`, when given for a stream, is sent as Content-Length.
        """
        code = validate_shortcode(shortcode)
        self._check_file(rel)
        headers = self._headers() | {"Content-Type": "application/octet-stream"}
        if isinstance(content, bytes):
            headers["Content-Length"] = str(len(content))
        elif size is not None:
            headers["Content-Length"] = str(size)
        self.requests["upload"] += 1
        body = (
            content
            if isinstance(content, bytes)
            else rated(content, MinimumRate(self.service, f"upload of {rel}"))
        )
        request = self._http.build_request(
            "POST",
            upload_path(code, rel),
            content=body,
            headers=headers,
            timeout=self.upload_timeout,
        )
        response = await fetch(
            self._http,
            self.service,
            request,
            limit=limits().record,
            what="upload answer",
            transfer=True,
        )
        if response.status_code != 200:
            raise self.error(response)

    async def upload_file(
        self,
        shortcode: str,
        rel: str,
        path: Path,
        *,
        progress: ByteProgress | None = None,
        cancel: asyncio.Event | None = None,
    ) -> int:
        """Upload a file from disk to `import/<sc>/<rel>`, streamed in `chunk_size` pieces.

        Returns the bytes sent. `progress(sent, size)` is called after each piece; when `cancel`
        is set the request is cut off (`UploadCancelledError`): the server may keep what it got
        of the file. A file that cannot be read is a `ServiceError` naming it.
        """
        self._check_file(rel)
        try:
            handle = await asyncio.to_thread(_open_read, path)
        except OSError as error:
            raise ServiceError(
                self.service, f"cannot read {path}: {error.strerror or error}"
            ) from None
        try:
            size = os.fstat(handle.fileno()).st_size
            body = _FileBody(handle, size, self.chunk_size, progress, cancel)
            try:
                await self.upload_stream(shortcode, rel, body, size=size)
            except OSError as error:
                raise ServiceError(
                    self.service, f"cannot read {path}: {error.strerror or error}"
                ) from None
            return body.sent
        finally:
            handle.close()

    async def start_ingest(self, shortcode: str) -> str:
        """`POST /projects/{sc}/bulk-ingest`: start the ingest of everything uploaded (202).
        `IngestNotFoundError` when nothing was uploaded; `ConflictError` when the project is
        locked."""
        code = validate_shortcode(shortcode)
        response = await self._call(
            "trigger", "POST", f"/projects/{code}/bulk-ingest", ok=(200, 202)
        )
        return self._echo(code, response, "ingest answer")

    async def mapping_csv(self, shortcode: str) -> str:
        """`GET /projects/{sc}/bulk-ingest/mapping.csv` as text. 404 (`IngestNotFoundError`): no
        mapping yet or finalized; 409 (`ConflictError`): the project is locked."""
        code = validate_shortcode(shortcode)
        response = await self._call(
            "mapping",
            "GET",
            f"/projects/{code}/bulk-ingest/mapping.csv",
            accept="text/csv, application/json",
            limit=limits().mapping,
            what="mapping.csv",
        )
        try:
            return clean_lines(response.content.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadPayloadError(self.service, "mapping.csv is not UTF-8 text") from None

    async def mapping(self, shortcode: str) -> list[tuple[str, str]]:
        """The mapping's rows (original, derivative), header excluded."""
        return parse_mapping(self.service, await self.mapping_csv(shortcode))

    async def finalize(self, shortcode: str) -> str:
        """`POST /projects/{sc}/bulk-ingest/finalize`: the server deletes the import folder and
        the mapping in the background (it answers before it is done)."""
        code = validate_shortcode(shortcode)
        response = await self._call("finalize", "POST", f"/projects/{code}/bulk-ingest/finalize")
        return self._echo(code, response, "finalize answer")


def _open_read(path: Path) -> BinaryIO:
    return path.open("rb")


class _FileBody:
    """A file's bytes as an async stream of pieces, read in a worker thread, with progress and
    cancellation between pieces."""

    def __init__(
        self,
        handle: BinaryIO,
        size: int,
        chunk_size: int,
        progress: ByteProgress | None,
        cancel: asyncio.Event | None,
    ) -> None:
        self.handle = handle
        self.size = size
        self.chunk_size = chunk_size
        self.progress = progress
        self.cancel = cancel
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.sent = 0
        self.handle.seek(0)
        if self.progress is not None:
            self.progress(0, self.size)
        while self.sent < self.size:
            if self.cancel is not None and self.cancel.is_set():
                raise UploadCancelledError(self.sent)
            chunk = await asyncio.to_thread(
                self.handle.read, min(self.chunk_size, self.size - self.sent)
            )
            if not chunk:
                raise OSError(f"the file became shorter while it was uploading ({self.sent} bytes)")
            yield chunk
            self.sent += len(chunk)
            if self.progress is not None:
                self.progress(self.sent, self.size)


# -- upload plans and reports ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedFile:
    rel: str
    """The path relative to the uploaded folder, with `/` separators: where the server stores it
    (under `import/<sc>/`) and what the mapping's `original` column will say."""
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """What uploading a folder would send (`files`, in path order) and what it leaves out."""

    folder: Path
    files: tuple[PlannedFile, ...]
    rejected: tuple[RejectedFile, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def empty_images(self) -> tuple[str, ...]:
        """Zero-byte images: sent, but the ingest will fail on them."""
        return tuple(
            f.rel
            for f in self.files
            if f.size == 0 and f.rel.rsplit(".", 1)[-1].lower() in STILL_IMAGE_EXTENSIONS
        )

    def summary(self) -> str:
        text = f"{len(self.files)} files ({human_size(self.total_bytes)}) to upload"
        if self.rejected:
            text += f", {len(self.rejected)} left out"
        return text


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """Where a folder upload is: the current file, and the totals in files and bytes."""

    shortcode: str
    file: str
    """The file being sent ("" before the first and after the last)."""
    file_index: int
    """1-based position of `file` in the plan (0 before the first)."""
    file_sent: int
    file_size: int
    files_done: int
    """Files uploaded so far."""
    files_total: int
    bytes_done: int
    """Bytes of the files uploaded so far plus those of `file` sent."""
    bytes_total: int
    retry_in: float | None = None
    """Seconds until the current file is tried again (after a 409 or a failure), else None."""
    note: str = ""

    @property
    def fraction(self) -> float:
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        return self.files_done / self.files_total if self.files_total else 1.0

    def line(self) -> str:
        text = f"uploading {max(self.file_index, self.files_done)} of {self.files_total}"
        text += f" ({human_size(self.bytes_done)} of {human_size(self.bytes_total)})"
        if self.retry_in is not None:
            text += f", retrying in {self.retry_in:.0f} s" + (f": {self.note}" if self.note else "")
        return text


@dataclass(frozen=True, slots=True)
class FileFailure:
    rel: str
    reason: str


@dataclass(frozen=True, slots=True)
class UploadReport:
    """The outcome of a folder upload: every file of the plan is in exactly one of `uploaded`,
    `failed` and `not_uploaded` (`rejected` lists what the plan left out)."""

    shortcode: str
    uploaded: tuple[str, ...]
    failed: tuple[FileFailure, ...]
    not_uploaded: tuple[str, ...]
    """Files not sent (cancelled, or the upload stopped), in plan order, `interrupted` included."""
    rejected: tuple[RejectedFile, ...] = ()
    interrupted: str | None = None
    """The file cut off midway by a cancel: the server may keep a partial copy of it, which an
    ingest would take for the file; upload it again (or finalize) before ingesting."""
    cancelled: bool = False
    stopped: str | None = None
    """Why the upload stopped before the end (refused token, project locked...), if it did."""
    bytes_uploaded: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed and not self.not_uploaded

    def summary(self) -> str:
        total = len(self.uploaded) + len(self.failed) + len(self.not_uploaded)
        text = f"{self.shortcode}: uploaded {len(self.uploaded)} of {total} files ({human_size(self.bytes_uploaded)})"
        if self.failed:
            text += f", {len(self.failed)} failed"
        if self.cancelled:
            text += f", cancelled ({len(self.not_uploaded)} not uploaded)"
        elif self.stopped:
            text += f", stopped: {self.stopped}"
        if self.interrupted:
            text += f"; {self.interrupted} was cut off (the server may keep a partial copy)"
        return text


def plan_upload(folder: Path | str) -> UploadPlan:
    """Walk `folder` and sort its files into those to upload, with their sizes, and those left out,
    with the reason (`check_names`, unreadable, not a regular file, a link to a folder, which is
    not followed). `InputError` when `folder` is not a readable folder."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InputError("folder", f"{shown_path(root)} is not a folder")
    files: list[PlannedFile] = []
    rejected: list[RejectedFile] = []
    walk_errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_errors.append):
        base = Path(dirpath)
        for name in [d for d in dirnames if (base / d).is_symlink()]:
            rel = (base / name).relative_to(root).as_posix()
            rejected.append(RejectedFile(rel + "/", "a link to a folder: not followed"))
            dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            problems = check_names([rel])
            if problems:
                rejected.extend(problems)
                continue
            try:
                info = path.stat()
            except OSError as error:
                rejected.append(RejectedFile(rel, f"cannot read it: {error.strerror or error}"))
                continue
            if not path.is_file():
                rejected.append(RejectedFile(rel, "not a regular file"))
                continue
            if not os.access(path, os.R_OK):
                rejected.append(RejectedFile(rel, "cannot read it: permission denied"))
                continue
            files.append(PlannedFile(rel, path, info.st_size))
    for problem in walk_errors:
        where = Path(problem.filename or root)
        why = problem.strerror or str(problem)
        if where == root:
            raise InputError("folder", f"cannot read {shown_path(root)}: {why}")
        rel = where.relative_to(root).as_posix() if where.is_relative_to(root) else str(where)
        rejected.append(RejectedFile(rel + "/", f"cannot list it: {why}"))
    files.sort(key=lambda f: f.rel)
    return UploadPlan(root, tuple(files), tuple(rejected))


# -- adapter --------------------------------------------------------------------------------------


class DspIngestConfigLike(Protocol):
    """What `from_config` reads of `jobtui.config.DspIngestConfig`."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def verify(self) -> bool: ...
    @property
    def token(self) -> Secret: ...
    @property
    def projects(self) -> list[str]: ...


UploadProgressCallback = Callable[[UploadProgress], None]

_LIST_CAP = 200
"""How many file names a job's raw record lists per kind (the counts are always complete)."""


@dataclass(eq=False)
class ProjectTrack:
    """What the service knows about one project: the server's last answer and this client's own
    work on it. Kept between polls; read it with `DspIngestService.track`."""

    shortcode: str
    configured: bool = False
    listed: bool = False
    status: int | None = None
    """The last status of mapping.csv: 200, 404, 409, or None (not asked yet, or an error)."""
    rows: list[tuple[str, str]] | None = None
    error: str | None = None
    checked_at: datetime | None = None
    next_check: float = 0.0
    busy: int = 0
    """409s in a row."""
    uploaded: dict[str, int] = field(default_factory=dict)
    """Files this client uploaded since the last finalize (relative path -> bytes)."""
    pending: list[str] = field(default_factory=list)
    """Files this client uploaded that no ingest has looked at yet."""
    batch: list[str] = field(default_factory=list)
    """Files this client uploaded before its last ingest trigger."""
    rows_before: int | None = None
    """Mapping rows known when this client started its last ingest (later rows are that run's)."""
    unmapped: list[str] = field(default_factory=list)
    """Files of `batch` that the finished ingest left without a mapping row."""
    partial: list[str] = field(default_factory=list)
    """Files whose upload was cut off: the server may hold a partial copy."""
    ingesting: bool = False
    ingest_started: datetime | None = None
    ingest_finished: datetime | None = None
    finalizing: bool = False
    finalized: bool = False
    upload: UploadProgress | None = None
    last_report: UploadReport | None = None
    changed_at: datetime | None = None
    last_view: tuple[str, str, str] | None = None


class DspIngestService(Service):
    """One dsp-ingest server and token, shown as one row per project (see the module docstring
    for the states and the polling)."""

    kind = "dsp-ingest"
    columns = (
        Column("uploaded", "Uploaded", 9),
        Column("mapped", "Mapped", 7),
        Column("unmapped", "Unmapped", 9),
    )
    actions = (Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE)

    def __init__(
        self,
        name: str,
        url: str,
        token: Secret | str,
        *,
        projects: Sequence[str] = (),
        verify: bool = True,
        list_projects: bool | None = None,
        list_every: int = 10,
        max_checks: int = 20,
        busy_backoff: float = 5.0,
        busy_backoff_max: float = 30.0,
        conflict_retries: int = 5,
        retry_delay: float = 1.0,
        retry_delay_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Clock = utc_now,
        client: DspIngestClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or DspIngestClient(url, token, service=name, verify=verify)
        self.token = self.client.token_info
        self.list_every = max(1, list_every)
        self.max_checks = max(1, max_checks)
        self.busy_backoff = busy_backoff
        self.busy_backoff_max = busy_backoff_max
        self.conflict_retries = max(0, conflict_retries)
        self.retry_delay = retry_delay
        self.retry_delay_max = retry_delay_max
        self.clock = clock
        self.now = now
        """The wall clock: when changes are stamped and whether the token has expired."""
        self._projects: dict[str, ProjectTrack] = {}
        for code in projects:
            self._ensure(validate_shortcode(code)).configured = True
        if not self._projects:
            for code in self.token.write:
                self._ensure(code)
        self.list_projects = (
            (not projects and self.token.admin) if list_projects is None else list_projects
        )
        self._polls = 0
        self._server_version: str | None = None
        self.last_poll_requests = 0
        """Requests the last poll sent."""

    def __repr__(self) -> str:
        return f"DspIngestService({self.name!r}, {self.client.base_url!r})"

    @classmethod
    def from_config(cls, cfg: DspIngestConfigLike) -> DspIngestService:
        return cls(
            cfg.name,
            cfg.url,
            Secret(cfg.token.get_secret_value()),
            projects=cfg.projects,
            verify=cfg.verify,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- projects -------------------------------------------------------------------------------

    @staticmethod
    def validate_shortcode(text: str) -> str:
        """Exactly 4 hex digits, returned upper-cased; `InputError` otherwise."""
        return validate_shortcode(text)

    def _ensure(self, code: str) -> ProjectTrack:
        project = self._projects.get(code)
        if project is None:
            project = self._projects[code] = ProjectTrack(code)
        return project

    def add_project(self, shortcode: str) -> str:
        """Show a project (typed by the user) from the next poll on; returns its shortcode."""
        return self._ensure(validate_shortcode(shortcode)).shortcode

    def track(self, shortcode: str) -> ProjectTrack | None:
        """What the service knows about a project (None when it shows no such row)."""
        return self._projects.get(shortcode.upper())

    @property
    def shortcodes(self) -> list[str]:
        return list(self._projects)

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        before = sum(self.client.requests.values())
        # The tab's health badge: a DOWN service (503 naming its components) fails the poll.
        await self.client.health()
        if self._server_version is None:
            with contextlib.suppress(ServiceError):
                self._server_version = (await self.client.info()).version or "?"
        if self.list_projects and self._polls % self.list_every == 0:
            await self._list()
        self._polls += 1
        now = self.clock()
        due = [p for p in self._projects.values() if p.upload is None and p.next_check <= now]
        due.sort(key=lambda p: p.next_check)
        due = due[: self.max_checks]
        errors = await asyncio.gather(*(self._check(p) for p in due))
        self.last_poll_requests = sum(self.client.requests.values()) - before
        failed = [e for e in errors if e is not None]
        if due and len(failed) == len(due):
            raise failed[0]
        jobs = [self.to_job(p) for p in self._projects.values()]
        note = self.token.describe(self.now())
        if self._server_version:
            note = f"dsp-ingest {self._server_version} · {note}"
        return PollResult(jobs, note=note)

    async def _list(self) -> None:
        try:
            ids, _total = await self.client.list_projects()
        except AuthError:
            self.list_projects = False
            return
        for code in ids:
            if _SHORTCODE.fullmatch(code):
                self._ensure(code.upper()).listed = True

    async def _check(self, p: ProjectTrack) -> ServiceError | None:
        """Ask mapping.csv once and update `p`; returns the error instead of raising it."""
        try:
            rows = await self.client.mapping(p.shortcode)
        except ConflictError:
            p.status = 409
            p.error = None
            p.busy += 1
            delay = min(self.busy_backoff * 2 ** (p.busy - 1), self.busy_backoff_max)
            p.next_check = self.clock() + delay
            p.checked_at = self.now()
            return None
        except NotFoundError:
            self._settled(p, 404, None)
            return None
        except ServiceError as error:
            # asked again next poll: the poll loop's own backoff spaces out failing polls
            p.status = None
            p.error = error.line
            p.next_check = self.clock()
            return error
        self._settled(p, 200, rows)
        return None

    def _settled(self, p: ProjectTrack, status: int, rows: list[tuple[str, str]] | None) -> None:
        """The lock was free: an ingest or finalize of ours is over."""
        p.status = status
        p.rows = rows
        p.error = None
        p.busy = 0
        p.next_check = self.clock()
        p.checked_at = self.now()
        if p.ingesting:
            p.ingesting = False
            p.ingest_finished = self.now()
            if rows is not None:
                start = (
                    p.rows_before if p.rows_before is not None and p.rows_before <= len(rows) else 0
                )
                mapped = {original for original, _ in rows[start:]}
                p.unmapped = [rel for rel in p.batch if rel not in mapped]
        if p.finalizing:
            p.finalizing = False
            p.finalized = status == 404

    # -- jobs -----------------------------------------------------------------------------------

    def describe(self, p: ProjectTrack) -> tuple[JobState, str, str]:
        """(state, raw state, message) of a project; see the module docstring."""
        if p.upload is not None:
            return JobState.RUNNING, "uploading", p.upload.line()
        partial = (
            f"; {len(p.partial)} cut-off upload(s) on the server: upload again or finalize"
            if p.partial
            else ""
        )
        if p.status == 409:
            if p.ingesting:
                return (
                    JobState.RUNNING,
                    "ingesting",
                    f"ingesting ({len(p.batch)} files uploaded here)",
                )
            if p.finalizing:
                return JobState.RUNNING, "finalizing", "deleting the import folder and the mapping"
            return (
                JobState.RUNNING,
                "locked",
                "the project is locked by another ingest, upload or finalize",
            )
        if p.status is None:
            if p.error:
                return JobState.UNKNOWN, "error", p.error
            return JobState.UNKNOWN, "unchecked", "not checked yet"
        mapped = len(p.rows or [])
        if p.status == 404 and p.finalized:
            return JobState.SUCCEEDED, "finalized", "import folder and mapping deleted"
        if p.pending:
            extra = f"; {mapped} mapped so far" if mapped else ""
            return (
                JobState.QUEUED,
                "uploaded",
                f"{len(p.pending)} files uploaded, not ingested yet{extra}{partial}",
            )
        if p.status == 404:
            return (
                JobState.UNKNOWN,
                "no mapping",
                "nothing ingested since the last finalize (files may be waiting)" + partial,
            )
        if p.unmapped:
            return (
                JobState.FAILED,
                "done, files unmapped",
                f"{len(p.unmapped)} of {len(p.batch)} files uploaded here got no mapping; "
                f"{mapped} mapped{partial}",
            )
        return JobState.SUCCEEDED, "done", f"done ({mapped} files mapped){partial}"

    def allowed(self, p: ProjectTrack, state: JobState) -> frozenset[Action]:
        """The actions possible on a project now."""
        if p.upload is not None or state is JobState.RUNNING:
            return frozenset()
        allowed = {Action.UPLOAD}
        if not p.partial and not p.finalized:
            allowed.add(Action.INGEST)
        if p.status == 200:
            allowed.add(Action.MAPPING)
        if not p.finalized:
            allowed.add(Action.FINALIZE)
        return frozenset(allowed)

    def to_job(self, p: ProjectTrack) -> Job:
        state, raw_state, message = self.describe(p)
        view = (state.value, raw_state, message)
        if view != p.last_view:
            p.last_view = view
            p.changed_at = self.now()
        rows = p.rows or []
        upload = p.upload
        raw: dict[str, Any] = {
            "shortcode": p.shortcode,
            "mapping_status": p.status,
            "mapping_rows": len(rows) if p.rows is not None else None,
            "files_uploaded": len(p.uploaded),
            "uploaded": sorted(p.uploaded)[:_LIST_CAP],
            "not_ingested": p.pending[:_LIST_CAP],
            "unmapped": p.unmapped[:_LIST_CAP],
            "partial": p.partial[:_LIST_CAP],
            "ingest_started": p.ingest_started.isoformat() if p.ingest_started else None,
            "ingest_finished": p.ingest_finished.isoformat() if p.ingest_finished else None,
            "checked": p.checked_at.isoformat() if p.checked_at else None,
            "configured": p.configured,
        }
        if p.error:
            raw["error"] = p.error
        if upload is not None:
            raw["upload"] = {
                "file": upload.file,
                "files_done": upload.files_done,
                "files_total": upload.files_total,
                "bytes_done": upload.bytes_done,
                "bytes_total": upload.bytes_total,
            }
        if p.last_report is not None:
            report = p.last_report
            raw["last_upload"] = {
                "summary": report.summary(),
                "uploaded": len(report.uploaded),
                "failed": [f"{f.rel}: {f.reason}" for f in report.failed][:_LIST_CAP],
                "not_uploaded": list(report.not_uploaded[:_LIST_CAP]),
                "rejected": [f"{r.rel}: {r.reason}" for r in report.rejected][:_LIST_CAP],
            }
        revision = (
            f"{p.status}:{raw_state}:{len(rows)}:{len(p.uploaded)}:{len(p.pending)}:"
            f"{len(p.unmapped)}:{upload.bytes_done if upload else ''}"
        )
        return Job(
            service=self.name,
            id=p.shortcode,
            state=state,
            raw_state=raw_state,
            type="bulk ingest",
            updated=p.changed_at,
            started=p.ingest_started,
            finished=p.ingest_finished if not p.ingesting else None,
            progress=upload.fraction * 100 if upload is not None else None,
            message=message,
            actions=self.allowed(p, state),
            extra={
                "uploaded": str(len(p.uploaded)) if p.uploaded else "",
                "mapped": str(len(rows)) if p.rows is not None else "",
                "unmapped": str(len(p.unmapped)) if p.unmapped else "",
            },
            raw=raw,
            revision=revision,
        )

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        reason = super().disabled_reason(action, job)
        if reason is None or job is None or action not in self.actions:
            return reason
        p = self._projects.get(job.id)
        if p is None:
            return reason
        if p.upload is not None:
            return f"an upload to project {p.shortcode} is running"
        if p.status == 409:
            return f"project {p.shortcode} is locked ({job.raw_state}): wait until it is free"
        if action is Action.INGEST and p.partial:
            return (
                f"{len(p.partial)} file(s) were cut off while uploading and the server may hold "
                "partial copies: upload them again or finalize first"
            )
        if action is Action.INGEST and p.finalized:
            return "the project was finalized: upload files first"
        if action is Action.MAPPING:
            if p.status == 404:
                return "no mapping yet: nothing was ingested since the last finalize"
            return "the project's mapping has not been read yet"
        if action is Action.FINALIZE and p.finalized:
            return "the project is already finalized"
        return reason

    def confirm_text(self, action: Action, job: Job) -> str:
        if action is not Action.FINALIZE:
            return super().confirm_text(action, job)
        p = self._projects.get(job.id)
        rows = len(p.rows) if p is not None and p.rows is not None else None
        mapping = f"its mapping-{job.id}.csv" + (f" ({rows} rows)" if rows is not None else "")
        waiting = f", {len(p.pending)} of them uploaded here" if p is not None and p.pending else ""
        return (
            f"Finalize project {job.id}? The server deletes its import folder import/{job.id} "
            f"(every file not ingested yet included{waiting}) and {mapping}. "
            "Save the mapping first if you still need it."
        )

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.INGEST:
            return await self.start_ingest(job.id)
        if action is Action.FINALIZE:
            return await self.finalize(job.id)
        if action is Action.MAPPING:
            rows = await self.mapping(job.id)
            return f"{len(rows)} rows in the mapping of project {job.id}"
        raise UnsupportedActionError(self.name, action)

    def output_name(self, job: Job) -> str:
        return safe_name(f"mapping-{job.id}.csv", "mapping.csv")

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save the project's mapping.csv to `dest`."""
        if not overwrite and exists(dest):
            raise FileExistsError(f"{dest} exists")
        return await self.save_mapping(job.id, dest, overwrite=overwrite)

    async def start_ingest(self, shortcode: str) -> str:
        """Start the bulk ingest of everything uploaded to the project; returns a short line."""
        code = validate_shortcode(shortcode)
        p = self._ensure(code)
        if p.upload is not None:
            raise ConflictError(self.name, f"an upload to project {code} is running")
        await self.client.start_ingest(code)
        p.batch = list(p.pending)
        p.pending = []
        p.unmapped = []
        if p.status == 200 and p.rows is not None:
            p.rows_before = len(p.rows)
        elif p.status == 404:
            p.rows_before = 0
        else:
            p.rows_before = None
        p.ingesting = True
        p.finalized = False
        p.finalizing = False
        p.ingest_started = self.now()
        p.ingest_finished = None
        p.status = 409
        p.busy = 0
        p.next_check = self.clock()
        return f"ingest of project {code} started"

    async def mapping(self, shortcode: str) -> list[tuple[str, str]]:
        """The project's mapping rows (original, derivative). `ConflictError` while locked,
        `NotFoundError` when there is none."""
        code = validate_shortcode(shortcode)
        rows = await self.client.mapping(code)
        p = self._projects.get(code)
        if p is not None:
            self._settled(p, 200, rows)
        return rows

    async def save_mapping(self, shortcode: str, dest: Path, *, overwrite: bool = True) -> Path:
        """Write the project's mapping.csv, as the server sent it, to `dest` (through a temporary
        file renamed into place; a file already there is replaced only with `overwrite`). A local
        file that cannot be written is a `LocalFileError`."""
        code = validate_shortcode(shortcode)
        text = await self.client.mapping_csv(code)
        rows = parse_mapping(self.name, text)
        p = self._projects.get(code)
        if p is not None:
            self._settled(p, 200, rows)
        return await asyncio.to_thread(_write_mapping, dest, text.encode("utf-8"), overwrite)

    async def finalize(self, shortcode: str) -> str:
        """Ask the server to delete the project's import folder and mapping (it does so in the
        background); returns a short line."""
        code = validate_shortcode(shortcode)
        p = self._ensure(code)
        if p.upload is not None:
            raise ConflictError(self.name, f"an upload to project {code} is running")
        await self.client.finalize(code)
        p.finalizing = True
        p.finalized = False
        p.ingesting = False
        p.uploaded.clear()
        p.pending = []
        p.batch = []
        p.unmapped = []
        p.partial = []
        p.rows = None
        p.status = 409
        p.busy = 0
        p.next_check = self.clock()
        return (
            f"finalize of project {code} started: the server deletes its import folder and mapping"
        )

    # -- upload ---------------------------------------------------------------------------------

    def plan_upload(self, folder: Path | str) -> UploadPlan:
        """The files of `folder` to upload and those left out, with reasons (`plan_upload`)."""
        return plan_upload(folder)

    async def upload(
        self,
        shortcode: str,
        plan: UploadPlan,
        progress: UploadProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> UploadReport:
        """Upload the plan's files one after the other to the project's import folder.

        `progress` gets an `UploadProgress` at each file's start and end, after each piece sent
        and while waiting to retry. A 409 (the project is locked) is retried `conflict_retries`
        times with a doubling delay, a 5xx or a broken connection twice; a refused file is
        recorded and the upload goes on; a refused token, or a project that stays locked, stops
        it. Setting `cancel` stops it between pieces: the report lists exactly what was uploaded
        and what not, and the file cut off midway (`interrupted`).
        """
        code = validate_shortcode(shortcode)
        p = self._ensure(code)
        if p.upload is not None:
            raise ConflictError(self.name, f"an upload to project {code} is already running")
        run = _UploadRun(self, p, plan, progress, cancel)
        p.upload = run.state
        try:
            report = await run.run()
        finally:
            p.upload = None
            p.next_check = self.clock()
            p.last_report = run.report()
        return report

    def _uploaded(self, p: ProjectTrack, rel: str, size: int) -> None:
        p.uploaded[rel] = size
        if rel not in p.pending:
            p.pending.append(rel)
        for names in (p.unmapped, p.partial):
            if rel in names:
                names.remove(rel)
        p.finalized = False


class _UploadRun:
    """One folder upload: walks the plan, retries, reports progress, builds the report."""

    def __init__(
        self,
        service: DspIngestService,
        project: ProjectTrack,
        plan: UploadPlan,
        progress: UploadProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> None:
        self.service = service
        self.project = project
        self.plan = plan
        self.callback = progress
        self.cancel = cancel
        self.uploaded: list[str] = []
        self.failed: list[FileFailure] = []
        self.done_bytes = 0
        self.next_index = 0
        self.interrupted: str | None = None
        self.cancelled = False
        self.stopped: str | None = None
        self.state = UploadProgress(
            project.shortcode, "", 0, 0, 0, 0, len(plan.files), 0, plan.total_bytes
        )

    def emit(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self.project.upload = self.state
        if self.callback is not None:
            self.callback(self.state)

    def report(self) -> UploadReport:
        attempted = {*self.uploaded, *(f.rel for f in self.failed)}
        rest = tuple(f.rel for f in self.plan.files if f.rel not in attempted)
        return UploadReport(
            self.project.shortcode,
            tuple(self.uploaded),
            tuple(self.failed),
            rest,
            self.plan.rejected,
            self.interrupted,
            self.cancelled,
            self.stopped,
            self.done_bytes,
        )

    async def _wait(self, delay: float) -> bool:
        """Sleep `delay` seconds unless cancelled first (then True)."""
        if self.cancel is None:
            await asyncio.sleep(delay)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.cancel.wait(), delay)
        return self.cancel.is_set()

    async def run(self) -> UploadReport:
        for index, planned in enumerate(self.plan.files, start=1):
            if self.cancel is not None and self.cancel.is_set():
                self.cancelled = True
                break
            self.emit(file=planned.rel, file_index=index, file_sent=0, file_size=planned.size)
            if not await self._one(planned):
                break
        self.emit(file="", file_sent=0, file_size=0, retry_in=None, note="")
        return self.report()

    async def _one(self, planned: PlannedFile) -> bool:
        """Upload one file with its retries; False when the whole upload must stop."""
        service = self.service
        conflicts = failures = 0

        def on_bytes(sent: int, size: int) -> None:
            self.emit(file_sent=sent, bytes_done=self.done_bytes + sent, retry_in=None, note="")

        while True:
            try:
                sent = await service.client.upload_file(
                    self.project.shortcode,
                    planned.rel,
                    planned.path,
                    progress=on_bytes,
                    cancel=self.cancel,
                )
            except UploadCancelledError:
                self.cancelled = True
                self.interrupted = planned.rel
                if planned.rel not in self.project.partial:
                    self.project.partial.append(planned.rel)
                return False
            except InputError as error:
                self.failed.append(FileFailure(planned.rel, error.message))
                return True
            except ConflictError as error:
                conflicts += 1
                if conflicts > service.conflict_retries:
                    self.failed.append(FileFailure(planned.rel, error.message))
                    self.stopped = f"project {self.project.shortcode} stayed locked"
                    return False
                delay = min(service.retry_delay * 2 ** (conflicts - 1), service.retry_delay_max)
                if await self._retry_wait(delay, "the project is locked"):
                    return False
                continue
            except AuthError as error:
                self.failed.append(FileFailure(planned.rel, error.message))
                self.stopped = error.message
                return False
            except (ServerError, TransportError) as error:
                failures += 1
                if failures > 2:
                    self.failed.append(FileFailure(planned.rel, error.message))
                    if isinstance(error, TransportError):
                        self.stopped = error.message
                        return False
                    return True
                delay = min(service.retry_delay * 2 ** (failures - 1), service.retry_delay_max)
                if await self._retry_wait(delay, error.message):
                    return False
                continue
            except ServiceError as error:
                self.failed.append(FileFailure(planned.rel, error.message))
                return True
            self.done_bytes += sent
            self.uploaded.append(planned.rel)
            service._uploaded(self.project, planned.rel, planned.size)
            self.emit(
                files_done=len(self.uploaded),
                file_sent=sent,
                bytes_done=self.done_bytes,
                retry_in=None,
                note="",
            )
            return True

    async def _retry_wait(self, delay: float, note: str) -> bool:
        """Wait before a retry, showing it; True when cancelled meanwhile."""
        self.emit(retry_in=delay, note=note, file_sent=0, bytes_done=self.done_bytes)
        if await self._wait(delay):
            self.cancelled = True
            return True
        return False


def _write_mapping(dest: Path, data: bytes, overwrite: bool) -> Path:
    """Write a mapping file, making its folder first when it does not exist yet."""
    dest = Path(dest).expanduser()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise local_error(dest, error) from None
    return write_file(dest, data, overwrite=overwrite)


__all__ = [
    "MAPPING_HEADER",
    "STILL_IMAGE_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "DspIngestClient",
    "DspIngestService",
    "FileFailure",
    "HealthResponse",
    "InfoResponse",
    "IngestNotFoundError",
    "IngestRequestError",
    "IngestUnhealthyError",
    "PlannedFile",
    "ProjectResponse",
    "ProjectTrack",
    "RejectedFile",
    "TokenInfo",
    "UploadCancelledError",
    "UploadPlan",
    "UploadProgress",
    "UploadReport",
    "check_names",
    "ingest_error",
    "is_hidden",
    "name_problem",
    "parse_content_range",
    "parse_mapping",
    "plan_upload",
    "token_info",
    "upload_path",
    "validate_shortcode",
]
