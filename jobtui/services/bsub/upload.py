"""bsub.io's new-job flow: the multipart body an upload streams from disk, and create -> upload ->
submit as one step whose errors name the job left on the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from jobtui.core.errors import BadPayloadError, ServiceError
from jobtui.services.upload import UPLOAD_CHUNK, open_read

if TYPE_CHECKING:
    from jobtui.core.service import Progress
    from jobtui.services.bsub.client import BsubClient
    from jobtui.services.bsub.wire import BsubJob


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
        handle = open_read(self.path)
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


async def create_upload_submit(
    client: BsubClient,
    service: str,
    type_id: str,
    path: Path,
    progress: Progress | None = None,
) -> BsubJob:
    """Create a job of `type_id`, upload `path` to it (streamed, reporting progress), submit it,
    and read it back.

    When the upload or the submission fails, the error says so and names the job that was
    created, which stays on the server (`created` or `loaded`) for the user to deal with.
    """
    created = await client.create_job(type_id)
    if created.upload_token is None:
        raise BadPayloadError(service, f"job {created.id} was created without an upload token")
    try:
        await client.upload(created.id, created.upload_token, path, progress)
    except ServiceError as error:
        raise _retold(
            error,
            f"job {created.id} was created but uploading {path.name} failed: {error.message}",
        ) from None
    try:
        await client.submit(created.id)
    except ServiceError as error:
        raise _retold(
            error,
            f"job {created.id} has its input but could not be submitted: {error.message}",
        ) from None
    return await client.get_job(created.id)


def _retold(error: ServiceError, message: str) -> ServiceError:
    """The same error (same type and status) with a message that says more."""
    cls = type(error)
    again = cls.__new__(cls)
    again.__dict__.update(error.__dict__)
    again.message = " ".join(message.split())
    again.args = (again.line,)
    return again
