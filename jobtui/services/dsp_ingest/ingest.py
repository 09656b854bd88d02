"""The bulk ingest of one project as this client sees it: `ProjectTrack` (the server's last answer
and what this client did itself: its uploads, its ingest trigger, its finalize), and the upload of
a local folder (`plan_upload` sorts its files, `UploadRun` sends them one after the other with
retries, progress and cancellation, and reports exactly what was sent)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jobtui.core.errors import (
    AuthError,
    ConflictError,
    InputError,
    ServerError,
    ServiceError,
    TransportError,
)
from jobtui.core.format import human_size, shown_path
from jobtui.core.polling import Clock
from jobtui.services.dsp_ingest.client import DspIngestClient, UploadCancelledError
from jobtui.services.dsp_ingest.names import STILL_IMAGE_EXTENSIONS, RejectedFile, check_names

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


# -- one project ----------------------------------------------------------------------------------

UploadProgressCallback = Callable[[UploadProgress], None]


@dataclass(eq=False, slots=True)
class ProjectTrack:
    """What the service knows about one project: the server's last answer and this client's own
    work on it. Kept between polls; read it with `DspIngestService.track`."""

    shortcode: str
    configured: bool = False
    listed: bool = False
    status: int | None = None
    """The last status of mapping.csv: 200, 404, 409, or None (not asked yet, or an error)."""
    mapped: int | None = None
    """Rows in the project's mapping.csv at its last read (None: not read, or none there)."""
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

    def record_settled(
        self,
        status: int,
        rows: list[tuple[str, str]] | None,
        *,
        clock: Callable[[], float],
        now: Clock,
    ) -> None:
        """The lock was free (mapping.csv answered `status`): an ingest or finalize of ours is
        over. A finished ingest leaves unmapped the files of its batch that got no row."""
        self.status = status
        self.mapped = None if rows is None else len(rows)
        self.error = None
        self.busy = 0
        self.next_check = clock()
        self.checked_at = now()
        if self.ingesting:
            self.ingesting = False
            self.ingest_finished = now()
            if rows is not None:
                start = (
                    self.rows_before
                    if self.rows_before is not None and self.rows_before <= len(rows)
                    else 0
                )
                mapped = {original for original, _ in rows[start:]}
                self.unmapped = [rel for rel in self.batch if rel not in mapped]
        if self.finalizing:
            self.finalizing = False
            self.finalized = status == 404

    def record_ingest(self, started: datetime, next_check: float) -> None:
        """This client started the ingest: what it uploaded so far is the run's batch."""
        self.batch = list(self.pending)
        self.pending = []
        self.unmapped = []
        if self.status == 200 and self.mapped is not None:
            self.rows_before = self.mapped
        elif self.status == 404:
            self.rows_before = 0
        else:
            self.rows_before = None
        self.ingesting = True
        self.finalized = False
        self.finalizing = False
        self.ingest_started = started
        self.ingest_finished = None
        self.status = 409
        self.busy = 0
        self.next_check = next_check

    def record_finalize(self, next_check: float) -> None:
        """This client asked for the finalize: the server deletes the import folder and the
        mapping, so nothing of ours is left there."""
        self.finalizing = True
        self.finalized = False
        self.ingesting = False
        self.uploaded.clear()
        self.pending = []
        self.batch = []
        self.unmapped = []
        self.partial = []
        self.mapped = None
        self.status = 409
        self.busy = 0
        self.next_check = next_check

    def record_upload(self, rel: str, size: int) -> None:
        """This client uploaded the file `rel` whole."""
        self.uploaded[rel] = size
        if rel not in self.pending:
            self.pending.append(rel)
        for names in (self.unmapped, self.partial):
            if rel in names:
                names.remove(rel)
        self.finalized = False


# -- folder upload --------------------------------------------------------------------------------


class Uploader(Protocol):
    """What an upload run reads of the service: its client and its retry settings."""

    client: DspIngestClient
    conflict_retries: int
    retry_delay: float
    retry_delay_max: float


@dataclass(eq=False)
class UploadRun:
    """One folder upload: walks the plan, retries, reports progress, builds the report."""

    service: Uploader
    project: ProjectTrack
    plan: UploadPlan
    callback: UploadProgressCallback | None
    cancel: asyncio.Event | None
    uploaded: list[str] = field(default_factory=list, init=False)
    failed: list[FileFailure] = field(default_factory=list, init=False)
    done_bytes: int = field(default=0, init=False)
    interrupted: str | None = field(default=None, init=False)
    cancelled: bool = field(default=False, init=False)
    stopped: str | None = field(default=None, init=False)
    state: UploadProgress = field(init=False)

    def __post_init__(self) -> None:
        self.state = UploadProgress(
            self.project.shortcode, "", 0, 0, 0, 0, len(self.plan.files), 0, self.plan.total_bytes
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
            self.project.record_upload(planned.rel, planned.size)
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
