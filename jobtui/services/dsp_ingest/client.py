"""`DspIngestClient`: one async method per route of a dsp-ingest server, over one httpx client
with one JWT, and the service's errors (each status and error body -> a typed `ServiceError`).

Uploads send each file as `POST /projects/{sc}/bulk-ingest/ingest/{rel}` with `rel` quoted once
(`/` as `%2F`, never `%252F`), streamed from disk with a Content-Length, after checking its name
against the service's rules locally (`name_problem`): nothing the server would refuse is sent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Unpack

import httpx

from jobtui.core.errors import (
    BadPayloadError,
    InputError,
    NotFoundError,
    RefusedError,
    ServerError,
    ServiceError,
)
from jobtui.core.secret import Secret
from jobtui.services._client import ClientOptions, HttpClient, secret_of, segment
from jobtui.services._http import (
    MinimumRate,
    error_for_status,
    limits,
    rated,
)
from jobtui.services.dsp_ingest.mapping import mapping_text, parse_mapping
from jobtui.services.dsp_ingest.names import name_problem, validate_shortcode
from jobtui.services.dsp_ingest.token import TokenInfo, token_info
from jobtui.services.dsp_ingest.wire import (
    BadRequestBody,
    HealthResponse,
    InfoResponse,
    NotFoundBody,
    ReasonBody,
    ServerErrorBody,
    parse_error_body,
    parse_health,
    parse_info,
    parse_project,
    parse_projects,
)
from jobtui.services.paging import parse_content_range
from jobtui.services.upload import UPLOAD_CHUNK, open_read

UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=540.0, write=60.0, pool=60.0)
"""An upload may wait long for its answer (a proxy in front of the real service reads for at most
10 minutes, so dsp-tools waits 9); each write may take a minute."""

ByteProgress = Callable[[int, int], None]
"""Called with (bytes of the file sent, size of the file)."""


def upload_path(shortcode: str, rel: str) -> str:
    """The request path of a bulk upload, `rel` percent-encoded once (`/` as `%2F`)."""
    return f"/projects/{shortcode}/bulk-ingest/ingest/{segment(rel)}"


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
        body = parse_error_body(service, content)
        if isinstance(body, BadRequestBody):
            pairs = [(e.argument, _redact(e.reason, secrets)) for e in body.errors]
            reason = "; ".join(r or a for a, r in pairs) or "bad request"
            if status == 400:
                return IngestRequestError(service, f"{reason} (HTTP 400)", errors=pairs)
        elif isinstance(body, ReasonBody):
            reason = body.reason
        elif isinstance(body, NotFoundBody):
            what = body.type.strip()
            if what.endswith("."):
                reason = f"{what[:-1]}: {body.id}" if body.id else what
            else:
                reason = f"{what} {body.id} not found".replace("  ", " ")
            if status == 404:
                message = f"{_redact(reason, secrets)} (HTTP 404)"
                return IngestNotFoundError(service, message, ident=body.id, what=body.type)
        elif isinstance(body, ServerErrorBody):
            reason = body.errorMessage
        elif isinstance(body, HealthResponse) and body.status:
            components = _components(body.components)
            detail = ", ".join(f"{k}: {v}" for k, v in components.items())
            reason = f"service {body.status}" + (f" ({detail})" if detail else "")
            if status == 503:
                message = f"{reason} (HTTP 503)"
                return IngestUnhealthyError(service, message, components=components)
    elif content:
        text = response.text.strip()
        if not text.startswith("<"):
            reason = text.splitlines()[0][:200] if text else ""
    if status == 401 and not reason:
        reason = "authorization required"
    clean = _redact(reason, secrets)
    return error_for_status(service, response, lambda _response: clean)


# -- client ---------------------------------------------------------------------------------------


class DspIngestClient(HttpClient):
    """An async client for one dsp-ingest server and one JWT over one httpx client.

    Every method raises only `ServiceError`s (and `InputError` for a bad shortcode or file name,
    `UploadCancelledError` when an upload is cancelled). `requests` counts requests per route.
    """

    kind = "dsp-ingest"
    TRANSFER_TIMEOUT = UPLOAD_TIMEOUT

    def __init__(
        self,
        url: str,
        token: Secret | str,
        *,
        chunk_size: int = UPLOAD_CHUNK,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(url, token, **options)
        self._jwt = secret_of(token)
        self.chunk_size = max(1024, chunk_size)

    @property
    def token_info(self) -> TokenInfo:
        return token_info(self._jwt.get_secret_value())

    def error(self, response: httpx.Response) -> ServiceError:
        """The typed error of a failed response (see `ingest_error`)."""
        return ingest_error(self.service, response, secrets=(self._jwt.get_secret_value(),))

    def _error(self, response: httpx.Response) -> ServiceError:
        return self.error(response)

    def _echo(self, shortcode: str, response: httpx.Response, what: str) -> str:
        body = parse_project(self.service, response.content, what)
        if body.id != shortcode:
            raise BadPayloadError(
                self.service, f"unexpected {what}: project {body.id!r} instead of {shortcode}"
            )
        return body.id

    # -- monitoring -----------------------------------------------------------------------------

    async def health(self) -> HealthResponse:
        """`GET /health`: UP, or `IngestUnhealthyError` (503) naming the components down."""
        response = await self._call("health", "GET", "/health", auth=False)
        return parse_health(self.service, response.content)

    async def info(self) -> InfoResponse:
        """`GET /info`: name, version and git commit of the server."""
        response = await self._call("info", "GET", "/info", auth=False)
        return parse_info(self.service, response.content)

    async def list_projects(self) -> tuple[list[str], int]:
        """`GET /projects` (admin scope): the shortcodes with assets, and the total the
        Content-Range header announces (the list's length when it is missing)."""
        response = await self._call(
            "projects", "GET", "/projects", limit=limits().list_page, what="project list"
        )
        projects = parse_projects(self.service, response.content)
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
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(content, bytes):
            headers["Content-Length"] = str(len(content))
        elif size is not None:
            headers["Content-Length"] = str(size)
        body = (
            content
            if isinstance(content, bytes)
            else rated(content, MinimumRate(self.service, f"upload of {rel}"))
        )
        response = await self._send(
            "upload",
            "POST",
            upload_path(code, rel),
            token=self._token,
            content=body,
            headers=headers,
            timeout=self.transfer_timeout,
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
            handle = await asyncio.to_thread(open_read, path)
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

    async def mapping_csv(self, shortcode: str, *, head: float | None = None) -> str:
        """`GET /projects/{sc}/bulk-ingest/mapping.csv` as text. 404 (`IngestNotFoundError`): no
        mapping yet or finalized; 409 (`ConflictError`): the project is locked. The server waits
        400 ms for a held lock before its 409: with `head`, an answer not begun within `head`
        seconds is given up (`NotAnsweredError`)."""
        code = validate_shortcode(shortcode)
        response = await self._call(
            "mapping",
            "GET",
            f"/projects/{code}/bulk-ingest/mapping.csv",
            accept="text/csv, application/json",
            limit=limits().mapping,
            what="mapping.csv",
            head=head,
        )
        return mapping_text(self.service, response.content)

    async def mapping(self, shortcode: str, *, head: float | None = None) -> list[tuple[str, str]]:
        """The mapping's rows (original, derivative), header excluded."""
        return parse_mapping(self.service, await self.mapping_csv(shortcode, head=head))

    async def finalize(self, shortcode: str) -> str:
        """`POST /projects/{sc}/bulk-ingest/finalize`: the server deletes the import folder and
        the mapping in the background (it answers before it is done)."""
        code = validate_shortcode(shortcode)
        response = await self._call("finalize", "POST", f"/projects/{code}/bulk-ingest/finalize")
        return self._echo(code, response, "finalize answer")


@dataclass(eq=False)
class _FileBody:
    """A file's bytes as an async stream of pieces, read in a worker thread, with progress and
    cancellation between pieces."""

    handle: BinaryIO
    size: int
    chunk_size: int
    progress: ByteProgress | None
    cancel: asyncio.Event | None
    sent: int = field(default=0, init=False)

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
