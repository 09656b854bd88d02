"""The result file of an EcoTaxa job (`GET /jobs/{id}/file`), saved to a local file.

A download is written to `<dest>.part` and renamed when complete (`services/download.py`: the
server's file name becomes one cleaned name inside the folder; a `.part` is created new, or
resumed only when it is a regular file of the user's, never through a link). It never replaces
an existing file unless asked (`JobFileExistsError`, a `FileExistsError` carrying the path, lets
a UI ask), and an interrupted download resumes from the `.part` file with `Range: bytes=N-` (a
206 appends; a 200 starts over), both within one call (`resume_attempts`) and on the next call.
A `.part` that is already complete is renamed: EcoTaxa answers its `bytes=<size>-` with an empty
206; a server that answers 416 instead is asked for the whole file, and the `.part` is kept when
that file's Content-Length is its size (the body is not read).
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httpx

from jobtui.core.errors import ServiceError, TransportError
from jobtui.core.service import Progress
from jobtui.services._http import MinimumRate, content_length, read_answer, transport_error
from jobtui.services.download import (
    LocalFileError,
    OneLine,
    PartFile,
    Received,
    exists,
    folder_problem,
    inside,
    local_error,
    part_of,
    receive,
)
from jobtui.services.ecotaxa.wire import safe_file_name

if TYPE_CHECKING:
    from jobtui.services.ecotaxa.client import EcoTaxaClient

DOWNLOAD_CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+(\d{1,18})-(\d{1,18})/(\d{1,18}(?!\d)|\*)")


class JobFileExistsError(OneLine, FileExistsError):
    """The download's destination exists and overwriting was not allowed. A UI asks the user,
    then downloads again with `overwrite=True`. `path` is the file that exists."""

    def __init__(self, service: str, path: Path) -> None:
        super().__init__(errno.EEXIST, "file exists", str(path))
        self.service = service
        self.path = path

    @property
    def line(self) -> str:
        return f"{self.service}: {self.path} exists (not overwritten)"


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)', re.IGNORECASE)


def filename_from(disposition: str | None) -> str | None:
    """The file name of a Content-Disposition header (`filename*=` first, then `filename=`)."""
    if not disposition:
        return None
    star = _FILENAME_STAR.search(disposition)
    if star:
        value = star.group(1).strip().strip('"')
        _, _, encoded = value.partition("''")
        name = safe_file_name(unquote(encoded or value))
        if name:
            return name
    plain = _FILENAME.search(disposition)
    if plain:
        value = plain.group(1).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return safe_file_name(value)
    return None


class _Broken(Exception):
    """A download cut in the middle: what was written so far is in the `.part` file."""

    def __init__(self, error: ServiceError, target: Path, wrote: int) -> None:
        super().__init__(error.line)
        self.error = error
        self.target = target
        self.wrote = wrote


class _StartOver(Exception):
    """Ask the download loop for another request: resuming (`fresh` False) or from byte 0."""

    def __init__(self, target: Path | None, *, fresh: bool, whole: bool = False) -> None:
        super().__init__("again")
        self.target = target
        self.fresh = fresh
        self.whole = whole
        """Ask for the whole file but keep the `.part` until the answer says its size."""


async def download_file(
    client: EcoTaxaClient,
    job_id: int,
    dest: Path | str,
    progress: Progress | None = None,
    *,
    overwrite: bool = False,
    resume_attempts: int = 2,
) -> Path:
    """Save the job's file. `dest` is a file path, or a folder (the file then takes the name
    the server gives in Content-Disposition). The bytes go to `<file>.part`, renamed when
    complete. An existing file is not replaced unless `overwrite` (`JobFileExistsError`).
    A connection that breaks is resumed from the `.part` file with a Range, up to
    `resume_attempts` times; after that the error is raised and the `.part` file kept, and
    the next call resumes it (only when it is a regular file of the user's: a link there is
    never followed). A local file that cannot be written is a `LocalFileError`. Returns the
    file's path."""
    job_id = int(job_id)
    folder, target = _destination(dest)
    if target is not None:
        check_target(client.service, target, overwrite)
    resumed = 0
    fresh = whole = False
    while True:
        try:
            return await _download_once(
                client,
                job_id,
                folder,
                target,
                progress,
                overwrite=overwrite,
                fresh=fresh,
                whole=whole,
            )
        except _Broken as broken:
            target = broken.target
            fresh = whole = False
            if resumed >= resume_attempts or broken.wrote <= 0:
                raise broken.error from None
            resumed += 1
        except _StartOver as again:
            target = again.target
            fresh, whole = again.fresh, again.whole


def check_target(service: str, target: Path, overwrite: bool) -> None:
    """Refuse a `target` that exists (unless `overwrite`) or whose folder cannot take it."""
    if not overwrite and exists(target):
        raise JobFileExistsError(service, target)
    if (problem := folder_problem(target.parent)) is not None:
        raise LocalFileError(target, problem)


async def _download_once(
    client: EcoTaxaClient,
    job_id: int,
    folder: Path | None,
    target: Path | None,
    progress: Progress | None,
    *,
    overwrite: bool,
    fresh: bool,
    whole: bool = False,
) -> Path:
    handle = _resumable(target, fresh) if target is not None else None
    try:
        offset = handle.size if handle is not None else 0
        response = await client.open_file(job_id, 0 if whole else offset)
        try:
            status = response.status_code
            if status == 416 and offset and not whole:
                # the partial file does not fit (longer than the file), or it is complete and
                # the server refuses an empty range (EcoTaxa sends an empty 206): ask for the
                # whole file, keeping the partial one until the answer says its size
                raise _StartOver(target, fresh=False, whole=True)
            complete = whole and status == 200 and offset and _total_of(response, 0) == offset
            if complete and target is not None and handle is not None:
                # the .part is the whole file: keep it, and leave the body unread
                if progress is not None:
                    progress(offset, offset)
                check_target(client.service, target, overwrite)
                handle.commit(target, overwrite=overwrite)
                return target
            if status not in (200, 206):
                await read_answer(client.service, response, 0, "file")
                raise client.error_of(response, op="get_job_file", job_id=job_id)
            if target is None:
                assert folder is not None
                name = filename_from(response.headers.get("content-disposition"))
                target = inside(folder, name or "", f"ecotaxa_job_{job_id}")
                check_target(client.service, target, overwrite)
                handle = _resumable(target, fresh=False)
                if handle is not None and handle.size > 0 and status == 200:
                    raise _StartOver(target, fresh=False)  # resume it with a Range
            if handle is None:
                handle = PartFile.create(part_of(target))
            total = _total_of(response, offset if status == 206 else 0)
            if status == 206:
                match = _CONTENT_RANGE.search(response.headers.get("content-range", ""))
                if match is None or int(match.group(1)) != offset:
                    raise _StartOver(target, fresh=True)
            else:
                offset = 0
                if handle.size:
                    handle.truncate()
            return await _write(
                client, response, job_id, target, handle, offset, total, progress, overwrite
            )
        finally:
            await response.aclose()
    finally:
        if handle is not None:
            handle.close()


async def _write(
    client: EcoTaxaClient,
    response: httpx.Response,
    job_id: int,
    target: Path,
    part: PartFile,
    offset: int,
    total: int | None,
    progress: Progress | None,
    overwrite: bool,
) -> Path:
    received = Received(offset, total)
    rate = MinimumRate(client.service, f"job {job_id}: download")
    try:
        await receive(response, part, received, rate, progress, chunk_size=DOWNLOAD_CHUNK)
    except httpx.HTTPError as error:
        cause = transport_error(client.service, error)
        of = f" of {total}" if total is not None else ""
        raise _Broken(
            TransportError(
                client.service,
                f"job {job_id}: download interrupted at {received.done}{of} bytes "
                f"({cause.message}); {part.path.name} is kept and the next download "
                "resumes it",
            ),
            target,
            received.done - offset,
        ) from None
    done = received.done
    if total is not None and done != total:
        raise _Broken(
            TransportError(
                client.service, f"job {job_id}: download ended at {done} of {total} bytes"
            ),
            target,
            done - offset,
        )
    check_target(client.service, target, overwrite)  # unless a file appeared there meanwhile
    part.commit(target, overwrite=overwrite)
    return target


def _destination(dest: Path | str) -> tuple[Path | None, Path | None]:
    """(folder, None) when `dest` is a folder, else (None, the file path)."""
    path = Path(dest).expanduser()
    return (path, None) if path.is_dir() else (None, path)


def _resumable(target: Path, fresh: bool) -> PartFile | None:
    """The `.part` file of `target` to resume: a regular file of the user's, opened without
    following a link; None when there is none (or with `fresh`: one there is removed)."""
    part = part_of(target)
    if fresh:
        try:
            part.unlink(missing_ok=True)  # a link there is removed, not followed
        except OSError as error:
            raise local_error(part, error) from None
        return None
    return PartFile.resume(part)


def _total_of(response: httpx.Response, offset: int) -> int | None:
    match = _CONTENT_RANGE.search(response.headers.get("content-range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = content_length(response)
    return offset + length if length is not None else None
