"""bsub.io (REST API 1.0.0): wire models, `BsubClient`, and `BsubService`.

The client speaks raw HTTP over one httpx client: every call sends `Authorization: Bearer <key>`
(the upload also sends the job's upload token as the `token` query parameter). Uploads are streamed
from disk: the multipart body is built chunk by chunk around the file, with its exact length sent up
front, so a file of any size never sits in memory; outputs are streamed, as the server stores
them (`Accept-Encoding: identity`, nothing decoded), to a temporary file next to the destination
and renamed when complete (`services/download.py`).

A job's life: create (`created`, holding an upload token) -> upload (`loaded`) -> submit
(`pending`) -> a worker claims it (`claimed`, `preparing`, `processing`) -> `finished` or `failed`.
A cancelled job ends `failed` with `error_code` "cancelled". Any state the server may add later is
kept as text and shown as sent.

One poll is one `GET /v1/jobs?limit=N` (newest first; N = `list_limit`, default 1000), plus
`GET /v1/types` until it has answered once (the types name each job's output file extension; when
they cannot be read, the poll still succeeds and its note says why). The list has no
offset, so when the server has more jobs than it sent, the poll also asks for each unfinished state
(`created` to `processing`: six more requests, sent together) so that no job still waiting or
running is hidden behind newer ones, and it says how many jobs it shows of how many ("N of TOTAL").
The published client allows a `limit` of 1 to 100: a server that refuses a larger one (400) is
asked again with 100, and from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from jobtui.core.errors import (
    BadPayloadError,
    RefusedError,
    ServiceError,
    TransportError,
)
from jobtui.core.format import human_size
from jobtui.core.models import Action, Column, Job, JobState
from jobtui.core.secret import Secret
from jobtui.core.service import PollResult, Progress, Service, UnsupportedActionError
from jobtui.core.text import clean_lines, suspect
from jobtui.services._http import (
    DEFAULT_TIMEOUT,
    MinimumRate,
    capped,
    content_length,
    error_for_status,
    fetch,
    limits,
    log_text,
    make_client,
    open_stream,
    rated,
    read_answer,
    stream_body,
    tail,
    text_pieces,
    transport_error,
)
from jobtui.services._wire import JobsOfRecords, LazyRecord, SameBody, parse_body
from jobtui.services.download import PartFile, exists, safe_name

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from jobtui.config import BsubConfig
    from jobtui.services._bsub_lenient import BsubJob, BsubVersion, ProcessingType, UploadResult

T = TypeVar("T")

# -- states -------------------------------------------------------------------------------------


class BsubStatus(StrEnum):
    """Job states as the API lists them. The wire models keep any other value as text."""

    CREATED = "created"
    LOADED = "loaded"
    PENDING = "pending"
    CLAIMED = "claimed"
    PREPARING = "preparing"
    PROCESSING = "processing"
    FINISHED = "finished"
    FAILED = "failed"


CANCELLED_CODE = "cancelled"
"""The `error_code` of a job that was cancelled (it ends `failed`)."""
TERMINAL_STATUSES = frozenset({"finished", "failed"})
UNFINISHED_STATUSES = ("created", "loaded", "pending", "claimed", "preparing", "processing")
SPEC_MAX_LIMIT = 100
"""The largest `limit` of `GET /v1/jobs` the published client sends."""
STARTED_STATUSES = frozenset({"claimed", "preparing", "processing", "finished"})

STATE_OF: Mapping[str, JobState] = {
    "created": JobState.NEEDS_INPUT,
    "loaded": JobState.NEEDS_INPUT,
    "pending": JobState.QUEUED,
    "claimed": JobState.RUNNING,
    "preparing": JobState.RUNNING,
    "processing": JobState.RUNNING,
    "finished": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}


def state_of(status: str, error_code: str | None = None) -> JobState:
    """The common state of a bsub.io status: `created` and `loaded` wait for the user (upload,
    then submit); a `failed` job whose error code is "cancelled" was cancelled; anything unknown
    is UNKNOWN (and shown as sent)."""
    if status == "failed" and error_code == CANCELLED_CODE:
        return JobState.CANCELLED
    return STATE_OF.get(status, JobState.UNKNOWN)


class _JobFacts:
    """What a job record tells beyond its fields, for either parser's record."""

    __slots__ = ()

    if TYPE_CHECKING:
        status: str | None
        error_code: str | None
        claimed_at: datetime | None

    @property
    def status_text(self) -> str:
        return self.status or ""

    @property
    def terminal(self) -> bool:
        return self.status_text in TERMINAL_STATUSES

    @property
    def cancelled(self) -> bool:
        return self.status_text == "failed" and self.error_code == CANCELLED_CODE

    @property
    def started(self) -> bool:
        """A worker has had the job: it has a log."""
        return self.status_text in STARTED_STATUSES or self.claimed_at is not None


UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]


class FastBsubJob(msgspec.Struct, _JobFacts, forbid_unknown_fields=True):
    """A job record exactly as the published API describes it (every field present, nothing else,
    times with their zone), decoded without running Python per field. Any other record makes
    the whole list go through the tolerant `BsubJob` instead."""

    id: str
    status: str | None
    type: str | None
    user_id: str | None
    data_size: int | None
    claimed_by: str | None
    error_code: str | None
    error_message: str | None
    created_at: UtcTime | None
    updated_at: UtcTime | None
    claimed_at: UtcTime | None
    finished_at: UtcTime | None
    upload_token: Secret | msgspec.UnsetType | None = msgspec.UNSET
    """Present only while the job is `created`; kept masked."""

    def __repr__(self) -> str:
        return f"FastBsubJob(id={self.id!r}, status={self.status!r})"

    def wire(self) -> dict[str, Any]:
        """The record as received (the upload token masked), as `BsubJob.wire` gives it."""
        record: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is msgspec.UNSET:
                continue
            if isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, Secret):
                value = str(value)
            record[name] = value
        return record


class _FastList(msgspec.Struct, forbid_unknown_fields=True):
    jobs: list[FastBsubJob]
    total: int | None


class _FastListAnswer(msgspec.Struct, forbid_unknown_fields=True):
    success: bool
    data: _FastList


class _TypeFacts:
    """What a processing type tells beyond its fields, for either parser's record."""

    __slots__ = ()

    if TYPE_CHECKING:
        output: Any

    @property
    def extension(self) -> str | None:
        """The output file's extension, without its dot."""
        ext = (self.output.ext if self.output else None) or ""
        ext = ext.strip().lstrip(".")
        return ext or None


class _FastTypeInput(msgspec.Struct):
    mime_in: list[str] = []


class _FastTypeOutput(msgspec.Struct):
    mime_out: list[str] = []
    ext: str | None = None
    display: str | None = None


class _FastTypeExample(msgspec.Struct):
    cmd: str | None = None
    desc: str | None = None


class FastProcessingType(msgspec.Struct, _TypeFacts):
    """One entry of `GET /v1/types` as published; any other answer goes through the tolerant
    `ProcessingType` instead. `type` is the id `create_job` takes."""

    type: str
    name: str | None = None
    description: str | None = None
    input: _FastTypeInput | None = None
    output: _FastTypeOutput | None = None
    example: _FastTypeExample | None = None


class _FastTypes(msgspec.Struct):
    types: list[FastProcessingType] | None = None


_FAST_TYPES = msgspec.json.Decoder(_FastTypes)


JobRecord: TypeAlias = "BsubJob | FastBsubJob"
"""A job record from either parser."""
TypeRecord: TypeAlias = "ProcessingType | FastProcessingType"
"""A processing type from either parser."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One `GET /v1/jobs` answer: newest first, `total` counted before the limit."""

    jobs: list[JobRecord]
    total: int | None


def _secret(kind: type, value: Any) -> Any:
    if kind is Secret and isinstance(value, str):
        return Secret(value)
    raise NotImplementedError  # msgspec's dec_hook protocol: "this type is not mine"


_FAST_LIST = msgspec.json.Decoder(_FastListAnswer, dec_hook=_secret)


_UPLOAD_TOKEN = re.compile(r"(/v1/upload/[^\s?\"]*\?(?:[^\s\"#]*&)?token=)[^&\s\"#]+")


class _RedactUploadToken(logging.Filter):
    """httpx logs each request's URL; an upload's URL carries the job's upload token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("/v1/upload/" in str(a) for a in record.args):
            record.args = tuple(
                _UPLOAD_TOKEN.sub(r"\1***", str(a)) if "/v1/upload/" in str(a) else a
                for a in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactUploadToken) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactUploadToken())


def _reason(response: httpx.Response) -> str:
    """The server's message: the Error body's `error`, else the start of the text."""
    from jobtui.services._bsub_lenient import reason

    return reason(response)


# -- client -------------------------------------------------------------------------------------

UPLOAD_CHUNK = 256 * 1024
DOWNLOAD_CHUNK = 256 * 1024
UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
"""Uploads and downloads: a minute for each read or write (the server may be slow to answer once
the last byte of a large upload is in)."""


def _quote_filename(name: str) -> str:
    clean = "".join(" " if char in "\r\n" else char for char in name)
    return clean.replace("\\", "\\\\").replace('"', '\\"')


class MultipartFile:
    """A multipart/form-data body with one file field, read from disk chunk by chunk.

    `length` is known up front (the file's size plus the part headers), so the request carries a
    Content-Length and no chunked encoding. `progress(done, total)` is called with the file's bytes
    sent so far after each chunk.
    """

    def __init__(
        self,
        path: Path,
        *,
        field: str = "file",
        filename: str | None = None,
        content_type: str | None = None,
        chunk_size: int = UPLOAD_CHUNK,
        progress: Progress | None = None,
    ) -> None:
        import mimetypes  # here, not at start-up: only an upload needs them
        import secrets

        self.path = path
        self.size = path.stat().st_size
        self.boundary = f"jobtui-{secrets.token_hex(16)}"
        name = filename or path.name
        mime = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{_quote_filename(name)}"\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.chunk_size = chunk_size
        self.progress = progress
        self.sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(self.length)}

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.sent, self.size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.sent = 0
        self._report()
        yield self.head
        handle = _open_read(self.path)
        try:
            left = self.size
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(self.chunk_size, left))
                if not chunk:
                    raise OSError(f"{self.path.name} became shorter while it was uploading")
                left -= len(chunk)
                self.sent += len(chunk)
                self._report()
                yield chunk
        finally:
            handle.close()
        yield self.tail


def _open_read(path: Path) -> BinaryIO:
    return path.open("rb")


class BsubClient:
    """An async client for one bsub.io account (one API key) over one httpx client.

    Every method raises only `ServiceError`s, each one line naming the service.
    """

    def __init__(
        self,
        url: str,
        token: Secret | str,
        *,
        service: str = "bsub",
        verify: bool = True,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transfer_timeout: httpx.Timeout | float = UPLOAD_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.service = service
        self._token = token if isinstance(token, Secret) else Secret(token)
        self._http = http or make_client(_root_url(url), verify=verify, timeout=timeout)
        self.transfer_timeout = transfer_timeout
        self._lists: SameBody[Listing] = SameBody()

    def __repr__(self) -> str:
        return f"BsubClient({self.service!r}, {self.base_url!r})"

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    def _headers(self, accept: str = "application/json", *, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": accept}
        if auth:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return headers

    def _error(self, response: httpx.Response) -> ServiceError:
        return error_for_status(self.service, response, _reason)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: tuple[int, ...] = (200,),
        accept: str = "application/json",
        auth: bool = True,
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        request = self._http.build_request(
            method, path, params=params, json=json_body, headers=self._headers(accept, auth=auth)
        )
        response = await fetch(
            self._http, self.service, request, limit=limit or limits().record, what=what
        )
        if response.status_code not in ok:
            raise self._error(response)
        return response

    def _parse(self, adapter: TypeAdapter[T], response: httpx.Response, what: str) -> T:
        return parse_body(self.service, adapter, response.content, what)

    # -- endpoints ------------------------------------------------------------------------------

    async def get_types(self) -> list[TypeRecord]:
        """`GET /v1/types`: the processing types a job can be created with."""
        response = await self._call("GET", "/v1/types")
        return parse_types(self.service, response.content)

    async def get_version(self) -> BsubVersion:
        """`GET /v1/version` (sent without the key: it is public)."""
        from jobtui.services._bsub_lenient import VERSION

        response = await self._call("GET", "/v1/version", auth=False)
        return self._parse(VERSION, response, "version")

    async def create_job(self, type_id: str) -> BsubJob:
        """`POST /v1/jobs`: a `created` job holding its upload token."""
        from jobtui.services._bsub_lenient import JOB_ANSWER

        response = await self._call("POST", "/v1/jobs", json_body={"type": type_id}, ok=(200, 201))
        return self._parse(JOB_ANSWER, response, "job").data

    async def upload(
        self,
        job_id: str,
        upload_token: Secret | str,
        path: Path,
        progress: Progress | None = None,
        *,
        chunk_size: int = UPLOAD_CHUNK,
    ) -> UploadResult:
        """`POST /v1/upload/{job_id}?token=`: the file as the multipart field `file`, streamed
        from disk. A file the server finds too large (413) is a `RefusedError` naming it and its
        size; a file that cannot be read is a `ServiceError` naming it."""
        token = (
            upload_token.get_secret_value() if isinstance(upload_token, Secret) else upload_token
        )
        try:
            body = MultipartFile(path, chunk_size=chunk_size, progress=progress)
        except OSError as error:
            raise ServiceError(
                self.service, f"cannot read {path}: {error.strerror or error}"
            ) from None
        headers = self._headers() | body.headers()
        request = self._http.build_request(
            "POST",
            f"/v1/upload/{_segment(job_id)}",
            params={"token": token},
            content=rated(body, MinimumRate(self.service, "upload")),
            headers=headers,
            timeout=self.transfer_timeout,
        )
        try:
            response = await fetch(
                self._http,
                self.service,
                request,
                limit=limits().record,
                what="upload answer",
                transfer=True,
            )
        except OSError as error:
            raise ServiceError(
                self.service, f"cannot read {path}: {error.strerror or error}"
            ) from None
        if response.status_code == 413:
            reason = _reason(response)
            raise RefusedError(
                self.service,
                f"{path.name} is too large to upload ({human_size(body.size)}, {body.size} bytes)"
                + (f": {reason}" if reason else "")
                + " (HTTP 413)",
                status=413,
            )
        if response.status_code != 200:
            raise self._error(response)
        from jobtui.services._bsub_lenient import UPLOAD

        return self._parse(UPLOAD, response, "upload answer")

    async def submit(self, job_id: str) -> str:
        """`POST /v1/jobs/{id}/submit`: `loaded` -> `pending`. Returns the server's message."""
        from jobtui.services._bsub_lenient import MESSAGE

        response = await self._call("POST", f"/v1/jobs/{_segment(job_id)}/submit")
        return self._parse(MESSAGE, response, "submit answer").message or "submitted"

    async def get_job(self, job_id: str) -> BsubJob:
        from jobtui.services._bsub_lenient import JOB_ANSWER

        response = await self._call("GET", f"/v1/jobs/{_segment(job_id)}")
        return self._parse(JOB_ANSWER, response, "job").data

    async def list_jobs(self, status: str | None = None, limit: int | None = None) -> Listing:
        """`GET /v1/jobs`: newest first, at most `limit` (the server's default is 20)."""
        params: dict[str, str] = {}
        if status:
            params["status"] = status
        if limit is not None:
            params["limit"] = str(limit)
        response = await self._call(
            "GET", "/v1/jobs", params=params, limit=limits().list_page, what="job list"
        )
        return self._lists.parse(response.content, partial(parse_job_list, self.service))

    async def cancel(self, job_id: str) -> str:
        """`POST /v1/jobs/{id}/cancel`. Finished and failed jobs answer 400 (`RefusedError`)."""
        from jobtui.services._bsub_lenient import MESSAGE

        response = await self._call("POST", f"/v1/jobs/{_segment(job_id)}/cancel")
        return self._parse(MESSAGE, response, "cancel answer").message or "cancelled"

    async def delete(self, job_id: str) -> None:
        """`DELETE /v1/jobs/{id}`. A job still in progress answers 409 (`ConflictError`)."""
        await self._call("DELETE", f"/v1/jobs/{_segment(job_id)}", ok=(200, 204))

    async def logs(self, job_id: str) -> str:
        """`GET /v1/jobs/{id}/logs`: the job's stderr, its last `Limits.log` bytes at most (a
        line then says the start was cut)."""
        kept, total = await tail(self.log_chunks(job_id), limits().log)
        return clean_lines(log_text(kept, total))

    def log_chunks(self, job_id: str) -> AsyncIterator[bytes]:
        """`GET /v1/jobs/{id}/logs` as it arrives, held by nothing here."""
        request = self._http.build_request(
            "GET", f"/v1/jobs/{_segment(job_id)}/logs", headers=self._headers("text/plain")
        )
        return stream_body(self._http, self.service, request, what="log", error=self._error)

    async def output(
        self,
        job_id: str,
        dest: Path,
        progress: Progress | None = None,
        *,
        overwrite: bool = True,
    ) -> Path:
        """`GET /v1/jobs/{id}/output` streamed into `dest` as the server stores it (no content
        decoding), through a temporary file in the same folder renamed when complete. A file
        already at `dest` is replaced only with `overwrite` (`FileExistsError`). A job that is
        not finished answers 409. A local file that cannot be written is a `LocalFileError`."""
        path = f"/v1/jobs/{_segment(job_id)}/output"
        headers = self._headers("application/octet-stream")
        headers["Accept-Encoding"] = "identity"
        request = self._http.build_request(
            "GET", path, headers=headers, timeout=self.transfer_timeout
        )
        try:
            response = await open_stream(self._http, self.service, request, what="output")
            async with contextlib.aclosing(response):
                if response.status_code != 200:
                    await read_answer(self.service, response, 0, "output")
                    raise self._error(response)
                total = content_length(response)
                rate = MinimumRate(self.service, f"download of job {job_id}")
                part = PartFile.temporary(dest)
                done = reported = 0
                try:
                    if progress is not None:
                        progress(0, total)
                    # Chunks are written as they arrive (re-cutting them costs a copy of each
                    # byte); progress is told about every DOWNLOAD_CHUNK bytes, and at the end.
                    # The raw bytes: an output the server stores compressed stays compressed.
                    async for chunk in response.aiter_raw():
                        rate.moved(len(chunk))
                        part.write(chunk)
                        done += len(chunk)
                        if progress is not None and done - reported >= DOWNLOAD_CHUNK:
                            reported = done
                            progress(done, total)
                    if progress is not None and done != reported:
                        progress(done, total)
                    part.commit(dest, overwrite=overwrite)
                except httpx.HTTPError as error:
                    part.discard()
                    cut = transport_error(self.service, error)
                    of = f" of {total:,}" if total is not None else ""
                    raise TransportError(
                        self.service,
                        f"download of job {job_id} cut after {done:,}{of} bytes "
                        f"({cut.message}); nothing saved, download again",
                    ) from None
                except BaseException:
                    part.discard()
                    raise
        except httpx.HTTPError as error:
            raise transport_error(self.service, error) from None
        return dest


def parse_job_list(service: str, content: bytes) -> Listing:
    """The body of a `GET /v1/jobs` answer: decoded straight into `FastBsubJob`s when it is
    exactly as published, else read leniently (unknown fields kept, odd values tolerated). A body
    that may hold a control character is read leniently too, which cleans every string."""
    try:
        if suspect(content):
            raise msgspec.DecodeError("text to clean")
        fast = _FAST_LIST.decode(content)
    except (msgspec.MsgspecError, RecursionError):  # too deep for msgspec: pydantic says so
        from jobtui.services._bsub_lenient import LIST_ANSWER

        answer = parse_body(service, LIST_ANSWER, content, "job list")
        return Listing(list(answer.data.jobs), answer.data.total)
    return Listing(list(fast.data.jobs), fast.data.total)


def parse_types(service: str, content: bytes) -> list[TypeRecord]:
    """The body of a `GET /v1/types` answer: decoded straight into `FastProcessingType`s when it
    is as published and holds no control character, else read leniently."""
    try:
        if suspect(content):
            raise msgspec.DecodeError("text to clean")
        return list(_FAST_TYPES.decode(content).types or [])
    except (msgspec.MsgspecError, RecursionError):  # too deep for msgspec: pydantic says so
        from jobtui.services._bsub_lenient import TYPES

        return list(parse_body(service, TYPES, content, "type list").types or [])


def _segment(value: str) -> str:
    return quote(value, safe="")


def _root_url(url: str) -> str:
    """The server's root: the API's paths carry `/v1` themselves, so a URL ending in it is cut."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


# -- adapter ------------------------------------------------------------------------------------


_PHRASES = {
    "created": "waiting for its input upload",
    "loaded": "input uploaded, not submitted",
    "pending": "queued for a worker",
    "finished": "finished",
}


def message_of(record: JobRecord) -> str:
    """A short line for the table: the error when the job failed, else what it is doing."""
    status = record.status_text
    if record.cancelled:
        return "cancelled" + (f": {record.error_message}" if record.error_message else "")
    if status == "failed":
        if record.error_message and record.error_code:
            return f"{record.error_message} ({record.error_code})"
        return record.error_message or record.error_code or "failed"
    worker = record.claimed_by or "a worker"
    if status == "claimed":
        return f"claimed by {worker}"
    if status == "preparing":
        return f"preparing on {worker}"
    if status == "processing":
        return f"processing on {worker}"
    if status in _PHRASES:
        return _PHRASES[status]
    return f"state {status!r}" if status else "no state"


def actions_of(record: JobRecord) -> frozenset[Action]:
    """What may be done with a job now (the server's rules): submit a loaded job; cancel anything
    that has not ended; delete what has ended; read the log once a worker had it; save the output of
    a finished job."""
    status = record.status_text
    allowed: set[Action] = set()
    if status == "loaded":
        allowed.add(Action.SUBMIT)
    if status not in TERMINAL_STATUSES:
        allowed.add(Action.CANCEL)
    if status in TERMINAL_STATUSES:
        allowed.add(Action.DELETE)
    if record.started:
        allowed.add(Action.LOGS)
    if status == "finished":
        allowed.add(Action.DOWNLOAD)
    return frozenset(allowed)


def _created_key(record: JobRecord) -> datetime:
    return record.created_at or datetime.min.replace(tzinfo=UTC)


def _what(job: Job) -> str:
    if job.state is JobState.CANCELLED:
        return "cancelled"
    return job.raw_state or job.state.label


class BsubService(Service):
    """One bsub.io account as a job list, with the new-job flow (create, upload, submit)."""

    kind = "bsub"
    columns = (
        Column("size", "Data", 10),
        Column("worker", "Worker", 14),
    )
    actions = (
        Action.NEW,
        Action.SUBMIT,
        Action.CANCEL,
        Action.DELETE,
        Action.LOGS,
        Action.DOWNLOAD,
    )

    def __init__(
        self,
        name: str,
        url: str,
        token: Secret | str,
        *,
        verify: bool = True,
        list_limit: int = 1000,
        client: BsubClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or BsubClient(url, token, service=name, verify=verify)
        self.list_limit = max(1, list_limit)
        self._types: list[TypeRecord] | None = None
        self._max_limit: int | None = None
        self._made: JobsOfRecords[JobRecord] = JobsOfRecords()
        self._answers: list[Listing] = []
        """The list answers of the last poll (the same objects while their bodies are)."""
        self._listed: list[JobRecord] = []

    def __repr__(self) -> str:
        return f"BsubService({self.name!r}, {self.client.base_url!r})"

    @classmethod
    def from_config(cls, cfg: BsubConfig) -> BsubService:
        return cls(cfg.name, cfg.url, Secret(cfg.token.get_secret_value()), verify=cfg.verify)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        listing = await self._list(None)
        total = listing.total
        answers = [listing]
        if total is not None and total > len(listing.jobs):
            # Cut: fetch every unfinished job too, however old.
            answers += await asyncio.gather(*(self._list(s) for s in UNFINISHED_STATUSES))
        if len(answers) != len(self._answers) or any(map(operator.is_not, answers, self._answers)):
            self._answers = answers  # not the very same answers as the last poll's
            records = {record.id: record for record in listing.jobs}
            extra = [r for part in answers[1:] for r in part.jobs if r.id not in records]
            if extra:
                records.update((record.id, record) for record in extra)
                ordered = sorted(records.values(), key=_created_key, reverse=True)
                records = {record.id: record for record in ordered}
            self._listed = list(records.values())
        jobs, total = capped(self._made.jobs(self._listed, self.to_job), total)
        shown = total if total is not None and total > len(jobs) else None
        note = ""
        if self._types is None:
            try:
                await self.types()
            except ServiceError as error:  # only output file names need them: say so, go on
                note = f"processing types not available: {error.message}"
        return PollResult(jobs, shown, note)

    async def _list(self, status: str | None) -> Listing:
        limit = (
            self.list_limit if self._max_limit is None else min(self.list_limit, self._max_limit)
        )
        try:
            return await self.client.list_jobs(status=status, limit=limit)
        except RefusedError as error:
            if error.status != 400 or limit <= SPEC_MAX_LIMIT:
                raise
        self._max_limit = SPEC_MAX_LIMIT
        return await self.client.list_jobs(status=status, limit=SPEC_MAX_LIMIT)

    def to_job(self, record: JobRecord) -> Job:
        status = record.status_text
        return Job(
            service=self.name,
            id=record.id,
            state=state_of(status, record.error_code),
            raw_state=status,
            type=record.type or "",
            created=record.created_at,
            updated=record.updated_at,
            started=record.claimed_at,
            finished=record.finished_at,
            message=message_of(record),
            actions=actions_of(record),
            extra={
                "size": human_size(record.data_size) if record.data_size else "",
                "worker": record.claimed_by or "",
            },
            raw=LazyRecord(record.wire),
            revision="|".join(
                (
                    record.updated_at.isoformat() if record.updated_at else "",
                    status,
                    str(record.data_size or 0),
                    record.claimed_by or "",
                    record.error_code or "",
                )
            ),
        )

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        if job is None or action not in self.actions or action in job.actions:
            return super().disabled_reason(action, job)
        what = _what(job)
        status = job.raw_state
        if action is Action.SUBMIT:
            if status == "created":
                return "upload the input first: only loaded jobs can be submitted"
            return f"only loaded jobs can be submitted; this one is {what}"
        if action is Action.CANCEL:
            if job.state is JobState.CANCELLED:
                return "the job is already cancelled"
            return f"{what} jobs cannot be cancelled"
        if action is Action.DELETE:
            return f"only finished or failed jobs can be deleted; this one is {what}"
        if action is Action.LOGS:
            return f"no log yet: no worker has claimed the job ({what})"
        if action is Action.DOWNLOAD:
            return f"only finished jobs have an output; this one is {what}"
        return super().disabled_reason(action, job)

    def confirm_text(self, action: Action, job: Job) -> str:
        label = f"job {job.id}" + (f" ({job.type})" if job.type else "")
        if action is Action.CANCEL:
            return f"Cancel {label}, now {job.raw_state}? It will end as failed (cancelled)."
        if action is Action.DELETE:
            return f"Delete {label} with its input and output? This cannot be undone."
        return super().confirm_text(action, job)

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.SUBMIT:
            await self.client.submit(job.id)
            return f"job {job.id} submitted"
        if action is Action.CANCEL:
            await self.client.cancel(job.id)
            return f"job {job.id} cancelled"
        if action is Action.DELETE:
            await self.client.delete(job.id)
            return f"job {job.id} deleted"
        raise UnsupportedActionError(self.name, action)

    async def read_log(self, job: Job) -> str:
        return await self.client.logs(job.id)

    async def stream_log(self, job: Job) -> AsyncIterator[str]:
        async for text in text_pieces(self.client.log_chunks(job.id)):
            yield text

    def output_name(self, job: Job) -> str:
        """`<job id>.<the type's extension>`, both from the server: one cleaned file name."""
        ext = self.extension_of(job.type)
        return safe_name(f"{job.id}.{ext}" if ext else f"{job.id}.out", "output.out")

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        if not overwrite and exists(dest):
            raise FileExistsError(f"{dest} exists")
        return await self.client.output(job.id, dest, progress, overwrite=overwrite)

    # -- the new-job flow -----------------------------------------------------------------------

    async def types(self) -> list[TypeRecord]:
        """The processing types that can be used (fetched each time, and remembered)."""
        found = [t for t in await self.client.get_types() if t.type]
        self._types = found
        return found

    def extension_of(self, type_id: str) -> str | None:
        for kind in self._types or ():
            if kind.type == type_id:
                return kind.extension
        return None

    async def new_job(self, type_id: str, path: Path, progress: Progress | None = None) -> Job:
        """Create a job of `type_id`, upload `path` to it (streamed, reporting progress), submit it.

        When the upload or the submission fails, the error says so and names the job that was
        created, which stays on the server (`created` or `loaded`) for the user to deal with.
        """
        created = await self.client.create_job(type_id)
        if created.upload_token is None:
            raise BadPayloadError(
                self.name, f"job {created.id} was created without an upload token"
            )
        try:
            await self.client.upload(created.id, created.upload_token, path, progress)
        except ServiceError as error:
            raise _retold(
                error,
                f"job {created.id} was created but uploading {path.name} failed: {error.message}",
            ) from None
        try:
            await self.client.submit(created.id)
        except ServiceError as error:
            raise _retold(
                error,
                f"job {created.id} has its input but could not be submitted: {error.message}",
            ) from None
        return self.to_job(await self.client.get_job(created.id))


def _retold(error: ServiceError, message: str) -> ServiceError:
    """The same error (same type and status) with a message that says more."""
    cls = type(error)
    again = cls.__new__(cls)
    again.__dict__.update(error.__dict__)
    again.message = " ".join(message.split())
    again.args = (again.line,)
    return again
