"""`BsubClient`: bsub.io's eleven endpoints over one httpx client, and its errors.

Every call sends `Authorization: Bearer <key>` (the upload also sends the job's upload token as the
`token` query parameter, which is masked in httpx's log). Uploads are streamed from disk
(`upload.MultipartFile`); outputs are streamed, as the server stores them (`Accept-Encoding:
identity`, nothing decoded), to a temporary file next to the destination and renamed when complete
(`services/download.py`). Every method raises only `ServiceError`s, each one line naming the
service.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import httpx

from jobtui.core.errors import RefusedError, ServiceError, TransportError
from jobtui.core.format import human_size
from jobtui.core.secret import Secret
from jobtui.core.text import clean_lines
from jobtui.services._client import (
    ClientOptions,
    HttpClient,
    redact_httpx_log,
    segment,
)
from jobtui.services._http import (
    MinimumRate,
    content_length,
    limits,
    log_text,
    open_stream,
    rated,
    read_answer,
    stream_body,
    tail,
    transport_error,
)
from jobtui.services._wire import SameBody
from jobtui.services.bsub.upload import MultipartFile
from jobtui.services.bsub.wire import (
    JOB_ANSWER,
    MESSAGE,
    UPLOAD,
    VERSION,
    BsubJob,
    BsubVersion,
    JobList,
    ProcessingType,
    UploadResult,
    error_text,
    parse_job_list,
    parse_types,
)
from jobtui.services.download import PartFile, Received, receive
from jobtui.services.upload import UPLOAD_CHUNK

if TYPE_CHECKING:
    from jobtui.core.service import Progress

redact_httpx_log(
    "/v1/upload/", re.compile(r"(/v1/upload/[^\s?\"]*\?(?:[^\s\"#]*&)?token=)[^&\s\"#]+"), r"\1***"
)
"""httpx logs each request's URL; an upload's URL carries the job's upload token."""


DOWNLOAD_CHUNK = 256 * 1024


class BsubClient(HttpClient):
    """An async client for one bsub.io account (one API key) over one httpx client.

    Every method raises only `ServiceError`s, each one line naming the service. `requests`
    counts the requests sent per endpoint.
    """

    kind = "bsub"

    def __init__(self, url: str, token: Secret | str, **options: Unpack[ClientOptions]) -> None:
        super().__init__(_root_url(url), token, **options)
        self._lists: SameBody[JobList] = SameBody()

    @staticmethod
    def reason(response: httpx.Response) -> str:
        """The server's message: the Error body's `error`, else the start of the text."""
        error = error_text(response.content)
        if error is None:
            text = response.text.strip()
            return "" if text.startswith(("{", "[", "<")) else text[:200]
        return error

    # -- endpoints ------------------------------------------------------------------------------

    async def get_types(self) -> list[ProcessingType]:
        """`GET /v1/types`: the processing types a job can be created with."""
        response = await self._call("get_types", "GET", "/v1/types")
        return parse_types(self.service, response.content)

    async def get_version(self) -> BsubVersion:
        """`GET /v1/version` (sent without the key: it is public)."""
        response = await self._call("get_version", "GET", "/v1/version", auth=False)
        return self._parse(VERSION, response, "version")

    async def create_job(self, type_id: str) -> BsubJob:
        """`POST /v1/jobs`: a `created` job holding its upload token."""
        response = await self._call(
            "create_job", "POST", "/v1/jobs", json_body={"type": type_id}, ok=(200, 201)
        )
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
        try:
            response = await self._send(
                "upload",
                "POST",
                f"/v1/upload/{segment(job_id)}",
                token=self._token,
                params={"token": token},
                content=rated(body, MinimumRate(self.service, "upload")),
                headers=body.headers(),
                timeout=self.transfer_timeout,
                what="upload answer",
                transfer=True,
            )
        except OSError as error:
            raise ServiceError(
                self.service, f"cannot read {path}: {error.strerror or error}"
            ) from None
        if response.status_code == 413:
            reason = self.reason(response)
            raise RefusedError(
                self.service,
                f"{path.name} is too large to upload ({human_size(body.size)}, {body.size} bytes)"
                + (f": {reason}" if reason else "")
                + " (HTTP 413)",
                status=413,
            )
        if response.status_code != 200:
            raise self._error(response)
        return self._parse(UPLOAD, response, "upload answer")

    async def submit(self, job_id: str) -> str:
        """`POST /v1/jobs/{id}/submit`: `loaded` -> `pending`. Returns the server's message."""
        response = await self._call("submit_job", "POST", f"/v1/jobs/{segment(job_id)}/submit")
        return self._parse(MESSAGE, response, "submit answer").message or "submitted"

    async def get_job(self, job_id: str) -> BsubJob:
        response = await self._call("get_job", "GET", f"/v1/jobs/{segment(job_id)}")
        return self._parse(JOB_ANSWER, response, "job").data

    async def list_jobs(self, status: str | None = None, limit: int | None = None) -> JobList:
        """`GET /v1/jobs`: newest first, at most `limit` (the server's default is 20)."""
        params: dict[str, str] = {}
        if status:
            params["status"] = status
        if limit is not None:
            params["limit"] = str(limit)
        response = await self._call(
            "list_jobs", "GET", "/v1/jobs", params=params, limit=limits().list_page, what="job list"
        )
        return await self._lists.parse_off_loop(
            response.content, partial(parse_job_list, self.service), key=(status, limit)
        )

    async def cancel(self, job_id: str) -> str:
        """`POST /v1/jobs/{id}/cancel`. Finished and failed jobs answer 400 (`RefusedError`)."""
        response = await self._call("cancel_job", "POST", f"/v1/jobs/{segment(job_id)}/cancel")
        return self._parse(MESSAGE, response, "cancel answer").message or "cancelled"

    async def delete(self, job_id: str) -> None:
        """`DELETE /v1/jobs/{id}`. A job still in progress answers 409 (`ConflictError`)."""
        await self._call("delete_job", "DELETE", f"/v1/jobs/{segment(job_id)}", ok=(200, 204))

    async def logs(self, job_id: str) -> str:
        """`GET /v1/jobs/{id}/logs`: the job's stderr, its last `Limits.log` bytes at most (a
        line then says the start was cut)."""
        kept, total = await tail(self.log_chunks(job_id), limits().log)
        return clean_lines(log_text(kept, total))

    def log_chunks(self, job_id: str) -> AsyncIterator[bytes]:
        """`GET /v1/jobs/{id}/logs` as it arrives, held by nothing here."""
        request = self._http.build_request(
            "GET",
            f"/v1/jobs/{segment(job_id)}/logs",
            headers=self._headers("text/plain", self._token),
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
        path = f"/v1/jobs/{segment(job_id)}/output"
        headers = self._headers("application/octet-stream", self._token)
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
                received = Received(total=content_length(response))
                rate = MinimumRate(self.service, f"download of job {job_id}")
                part = PartFile.temporary(dest)
                try:
                    # Chunks are written as they arrive (re-cutting them costs a copy of each
                    # byte); progress is told about every DOWNLOAD_CHUNK bytes, and at the end.
                    # The raw bytes: an output the server stores compressed stays compressed.
                    await receive(response, part, received, rate, progress, every=DOWNLOAD_CHUNK)
                    part.commit(dest, overwrite=overwrite)
                except httpx.HTTPError as error:
                    part.discard()
                    cut = transport_error(self.service, error)
                    total = received.total
                    of = f" of {total:,}" if total is not None else ""
                    raise TransportError(
                        self.service,
                        f"download of job {job_id} cut after {received.done:,}{of} bytes "
                        f"({cut.message}); nothing saved, download again",
                    ) from None
                except BaseException:
                    part.discard()
                    raise
        except httpx.HTTPError as error:
            raise transport_error(self.service, error) from None
        return dest


def _root_url(url: str) -> str:
    """The server's root: the API's paths carry `/v1` themselves, so a URL ending in it is cut."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root
