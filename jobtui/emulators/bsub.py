"""A local bsub.io server (REST API 1.0.0): processing types, jobs, uploads, a simulated worker.

It follows the wire reference (`shared/apis/bsub.md`) closely enough that the vendor's generated
client `bsubio` 0.0.6 runs the whole job lifecycle against it unchanged:

* every path is under `/v1`; every endpoint but `GET /v1/version` needs `Authorization: Bearer
  <key>` (missing or wrong: 401). Every 4xx answers `{"success": false, "error": "<message>"}`.
* `POST /v1/jobs` creates a job (201) holding an upload token, sent only while the job is `created`;
  `POST /v1/upload/{id}?token=` takes the input as the multipart field `file`, streamed to a file on
  disk as it arrives (never held whole in memory); a wrong token answers 401 "Invalid upload token",
  an input over `max_upload` bytes answers 413 (the rest of the body is read and dropped first, so
  the client sees the answer). `POST /v1/jobs/{id}/submit` moves `loaded` to `pending` (any other
  state: 400).
* `GET /v1/jobs` lists newest first, filtered by `status`, cut to `limit` (default 20; the
  published client allows 1 to 100, and a larger limit is served as `max_limit`, 100, or refused
  with 400 when `refuse_over_max` is set); `total` counts the matches before the cut.
* `POST /v1/jobs/{id}/cancel` ends any job that is not `finished` or `failed` (those answer 400) as
  `failed` with `error_code` "cancelled"; `DELETE /v1/jobs/{id}` answers 204 for `finished` and
  `failed` jobs and 409 for every other state; `GET /v1/jobs/{id}/logs` is the job's stderr as
  text (empty until a worker claims it); `GET /v1/jobs/{id}/output` is its stdout as bytes, 409
  until the job is `finished`.

Time is simulated (`SimClock`): each job's next transition is an event on a heap, applied lazily at
the start of each request, so speed 0 freezes everything and `state.clock.advance(s)` moves it.
A submitted job goes pending -> claimed -> preparing -> processing -> finished, or fails (with an
`error_code` and `error_message`) while preparing or at the end of processing. Seeded `created`
and `loaded` jobs wait for the user; jobs that arrive by themselves (`arrivals`) upload and submit
on their own a few seconds after they are created. Logs and outputs are made up from the seed and
the job id, except the `sha256` type whose output is the real checksum of the uploaded file.

Options (`settings.options`): `token` (the API key), `max_upload` (bytes, default 64 MiB),
`max_limit` (largest list `limit` honoured, default 100), `refuse_over_max` (answer a larger
`limit` with 400 instead of serving `max_limit` jobs), `fail_rate` (share of jobs that fail,
default 0.12), `output_size` (bytes of every binary output; default made up from the input size,
at most 8 MiB), `arrivals` (seconds between new jobs, or True for 25), `upload_dir` (where uploads
are stored; default a temporary directory removed when the process ends).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import os
import random
import tempfile
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from jobtui.emulators.base import (
    Emulator,
    EmulatorSettings,
    FaultProfile,
    Faults,
    FaultsMiddleware,
    SimClock,
)

BASE_PATH = ""
"""The API's paths carry their own `/v1` prefix, so the service URL is the server's root."""

STATUSES = (
    "created",
    "loaded",
    "pending",
    "claimed",
    "preparing",
    "processing",
    "finished",
    "failed",
)
TERMINAL = frozenset({"finished", "failed"})
CANCELLED_CODE = "cancelled"

MiB = 1024 * 1024
DEFAULT_MAX_UPLOAD = 64 * MiB
DEFAULT_MAX_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
DEFAULT_FAIL_RATE = 0.12
DEFAULT_ARRIVAL_GAP = 25.0
MAX_ARRIVALS_PER_TICK = 5000
RECENT_WINDOW = 300
"""Only the newest seeded jobs may still be running; older ones have all ended."""
STREAM_CHUNK = 64 * 1024

VERSION = {"version": "1.0.0", "server": "bsub.io emulator", "build": "jobtui"}

WORKERS = tuple(f"worker-{region}-{n:02d}" for region in ("eu1", "eu2", "us1") for n in (1, 2, 3))

_STEP, _ARRIVE = 0, 1


@dataclass(frozen=True, slots=True)
class ProcessingKind:
    """One processing type of the catalogue, and how the emulator fakes its jobs."""

    type: str
    name: str
    description: str
    mime_in: tuple[str, ...]
    mime_out: tuple[str, ...]
    ext: str
    display: str
    cmd: str
    desc: str
    input_size: tuple[int, int]
    """Range of made-up input sizes in bytes."""
    seconds: tuple[float, float]
    """Range of processing times in simulated seconds."""
    text: bool
    """Whether the output is text (made up line by line) or bytes."""
    output_ratio: float
    """Output size as a share of the input size (bytes outputs)."""
    magic: bytes = b""
    """The first bytes of a made-up output of this type."""

    def wire(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "input": {"mime_in": list(self.mime_in)},
            "output": {"mime_out": list(self.mime_out), "ext": self.ext, "display": self.display},
            "example": {"cmd": self.cmd, "desc": self.desc},
        }


CATALOGUE: tuple[ProcessingKind, ...] = (
    ProcessingKind(
        "pdf-text",
        "PDF to text",
        "Extract the text layer of a PDF document, page by page, keeping the layout.",
        ("application/pdf",),
        ("text/plain",),
        "txt",
        "text",
        "bsub submit -t pdf-text report.pdf",
        "Extract the text of report.pdf",
        (40_000, 40 * MiB),
        (4.0, 40.0),
        text=True,
        output_ratio=0.05,
    ),
    ProcessingKind(
        "pdf-compress",
        "Compress PDF",
        "Recompress the images and fonts of a PDF (Ghostscript /ebook settings).",
        ("application/pdf",),
        ("application/pdf",),
        "pdf",
        "download",
        "bsub submit -t pdf-compress scan.pdf",
        "Shrink a scanned PDF for e-mail",
        (200_000, 120 * MiB),
        (6.0, 60.0),
        text=False,
        output_ratio=0.35,
        magic=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ),
    ProcessingKind(
        "video-mp4",
        "Transcode video to MP4",
        "Transcode a video to H.264/AAC in an MP4 container, 1080p at most.",
        ("video/mp4", "video/quicktime", "video/x-matroska", "video/webm", "video/x-msvideo"),
        ("video/mp4",),
        "mp4",
        "video",
        "bsub submit -t video-mp4 talk.mov",
        "Make talk.mov playable in every browser",
        (20 * MiB, 2048 * MiB),
        (40.0, 240.0),
        text=False,
        output_ratio=0.4,
        magic=b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41",
    ),
    ProcessingKind(
        "audio-transcribe",
        "Transcribe audio",
        "Speech to text with timestamps (Whisper small), as WebVTT subtitles.",
        ("audio/mpeg", "audio/wav", "audio/flac", "audio/ogg", "audio/mp4"),
        ("text/vtt",),
        "vtt",
        "text",
        "bsub submit -t audio-transcribe interview.mp3",
        "Subtitles for an interview recording",
        (1 * MiB, 300 * MiB),
        (30.0, 180.0),
        text=True,
        output_ratio=0.01,
    ),
    ProcessingKind(
        "image-ocr",
        "OCR an image",
        "Recognize the text of a scanned page or photo (Tesseract, English and French).",
        ("image/png", "image/jpeg", "image/tiff"),
        ("text/plain",),
        "txt",
        "text",
        "bsub submit -t image-ocr page-001.png",
        "Read the text of a scanned page",
        (100_000, 25 * MiB),
        (3.0, 25.0),
        text=True,
        output_ratio=0.02,
    ),
    ProcessingKind(
        "image-webp",
        "Convert image to WebP",
        "Convert and resize an image to WebP, 2048 px on the long side at most.",
        ("image/png", "image/jpeg", "image/tiff", "image/gif"),
        ("image/webp",),
        "webp",
        "image",
        "bsub submit -t image-webp photo.jpg",
        "A web-sized copy of a photo",
        (100_000, 40 * MiB),
        (2.0, 12.0),
        text=False,
        output_ratio=0.15,
        magic=b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    ),
    ProcessingKind(
        "sha256",
        "SHA-256 checksum",
        "Compute the SHA-256 digest of any file.",
        ("application/octet-stream",),
        ("text/plain",),
        "sha256",
        "text",
        "bsub submit -t sha256 backup.tar",
        "Checksum of a backup archive",
        (1_000, 4096 * MiB),
        (2.0, 30.0),
        text=True,
        output_ratio=0.0,
    ),
)
KINDS_BY_TYPE = {kind.type: kind for kind in CATALOGUE}

_FAILURES = (
    ("invalid_input", "Input is not a valid {what} file", "preparing"),
    ("timeout", "Processing exceeded the time limit of 3600 s", "processing"),
    ("exit_status", "Command exited with status 1", "processing"),
    ("out_of_memory", "Worker ran out of memory (limit 4 GiB)", "processing"),
    ("worker_lost", "Worker stopped responding", "processing"),
)
_WHAT = {
    "pdf-text": "PDF",
    "pdf-compress": "PDF",
    "video-mp4": "video",
    "audio-transcribe": "audio",
    "image-ocr": "image",
    "image-webp": "image",
    "sha256": "input",
}

_TEXT = (
    "the batch of samples was processed on the cluster and every result was written to the "
    "archive before noon while the second run of measurements waited for its input files from "
    "the station report notes that calibration drifted slightly during the night shift so "
    "values after three were corrected against the reference table in annex b"
)
_WORDS = _TEXT.split()

_SEED_MIX = (
    ("finished", 45),
    ("failed", 8),
    ("cancelled", 4),
    ("processing", 12),
    ("pending", 10),
    ("claimed", 3),
    ("preparing", 5),
    ("created", 7),
    ("loaded", 6),
)
_GUARANTEED = (
    "processing",
    "pending",
    "finished",
    "failed",
    "claimed",
    "preparing",
    "loaded",
    "created",
    "cancelled",
)
"""States the newest seeded jobs take first, so even a small seed shows each of them."""


class ApiError(Exception):
    """An error answered with the Error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> Response:
    return JSONResponse({"success": False, "error": message}, status_code=status)


@dataclass(frozen=True, slots=True)
class Plan:
    """How long each stage of one job takes, and how it ends."""

    upload: float
    submit: float
    queue: float
    claim: float
    prepare: float
    process: float
    worker: str
    fails: bool
    fail_stage: str
    error_code: str
    error_message: str


@dataclass(slots=True, eq=False)
class SimJob:
    """One job. Times are simulated seconds since the epoch (negative = before it)."""

    id: str
    type: str
    created: float
    status: str = "created"
    upload_token: str = ""
    data_size: int = 0
    filename: str | None = None
    data_path: Path | None = None
    sha256: str | None = None
    """The digest of the uploaded data, when it was really uploaded."""
    claimed_by: str | None = None
    claimed_at: float | None = None
    preparing_at: float | None = None
    processing_at: float | None = None
    finished_at: float | None = None
    updated: float = 0.0
    due: float | None = None
    """When the next scheduled transition happens (None: nothing scheduled)."""
    error_code: str | None = None
    error_message: str | None = None
    auto: bool = False
    """Uploads and submits by itself (jobs that arrive while the emulator runs)."""
    stamp: int = 0
    cache: tuple[int, dict[str, Any]] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def cancelled(self) -> bool:
        return self.status == "failed" and self.error_code == CANCELLED_CODE


class BsubState:
    """Everything the bsub.io emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `token` (the API key),
    `user_id`, `max_upload`, `max_limit`, `refuse_over_max`, `fail_rate`, `upload_dir`, `types` (the catalogue),
    `jobs` (id -> SimJob), `order` (jobs oldest first), `tick()`, `advance(s)`, `ids_in(status)`,
    `plan(job)`, `to_json(job)`, `logs_of(job)`, `output_of(job)`.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        options = dict(settings.options)
        self.settings = settings
        self.seed = settings.seed
        self.clock = SimClock(settings.epoch, settings.speed)
        self.rng = random.Random(f"bsub:{settings.seed}")
        self._token_rng = random.Random(f"bsub:{settings.seed}:tokens")
        self.lock = threading.RLock()
        self.faults = Faults(seed=settings.seed)
        self.counts: Counter[str] = Counter()
        self.token = str(options.get("token") or f"bsk_{self.rng.getrandbits(160):040x}")
        self.user_id = f"usr_{self.rng.getrandbits(48):012x}"
        self.max_upload = int(options.get("max_upload", DEFAULT_MAX_UPLOAD))
        self.max_limit = int(options.get("max_limit", DEFAULT_MAX_LIMIT))
        self.refuse_over_max = bool(options.get("refuse_over_max", False))
        self.fail_rate = float(options.get("fail_rate", DEFAULT_FAIL_RATE))
        size = options.get("output_size")
        self.fixed_output_size: int | None = None if size is None else max(0, int(size))
        self.types = CATALOGUE
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if options.get("upload_dir"):
            self.upload_dir = Path(str(options["upload_dir"]))
            self.upload_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="jobtui-bsub-")
            self.upload_dir = Path(self._tmp.name)

        self.jobs: dict[str, SimJob] = {}
        self.order: list[SimJob] = []
        self._events: list[tuple[float, int, int, str, int]] = []
        self._seq = 0

        _seed_jobs(self, max(0, settings.jobs))

        arrivals = options.get("arrivals")
        self.arrival_gap: float | None = None
        if arrivals:
            self.arrival_gap = DEFAULT_ARRIVAL_GAP if arrivals is True else float(arrivals)
            self._push(self.arrival_gap, 0, "", _ARRIVE)

    # -- ids and times --------------------------------------------------------------------------

    def new_id(self) -> str:
        """A random (version 4) UUID from the seeded stream."""
        h = f"{self.rng.getrandbits(128):032x}"
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"

    def new_upload_token(self) -> str:
        return f"upl_{self._token_rng.getrandbits(192):048x}"

    def iso(self, t: float) -> str:
        moment = self.clock.epoch + timedelta(seconds=t)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def now(self) -> float:
        return self.clock.seconds()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and apply what became due."""
        self.clock.advance(seconds)
        self.tick()

    def close(self) -> None:
        """Remove the uploads (only when they live in the emulator's own temporary directory)."""
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- events ---------------------------------------------------------------------------------

    def _push(self, t: float, stamp: int, job_id: str, kind: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, stamp, job_id, kind))

    def schedule(self, job: SimJob, t: float) -> None:
        job.due = t
        self._push(t, job.stamp, job.id, _STEP)

    def tick(self) -> None:
        """Apply every transition due by the simulated time now."""
        with self.lock:
            now = self.now()
            events = self._events
            arrivals = 0
            while events and events[0][0] <= now:
                t, _, stamp, job_id, kind = heapq.heappop(events)
                if kind == _ARRIVE:
                    gap = (self.arrival_gap or DEFAULT_ARRIVAL_GAP) * self.rng.uniform(0.4, 1.6)
                    arrivals += 1
                    if arrivals <= MAX_ARRIVALS_PER_TICK:
                        _arrive(self, t)
                        self._push(t + gap, 0, "", kind)
                    else:  # the clock jumped far ahead: skip the backlog
                        self._push(now + gap, 0, "", kind)
                    continue
                job = self.jobs.get(job_id)
                if job is None or job.stamp != stamp:
                    continue
                self._step(job, t)

    def plan(self, job: SimJob) -> Plan:
        rng = random.Random(f"bsub:{self.seed}:{job.id}:plan")
        kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
        fails = rng.random() < self.fail_rate
        code, message, stage = rng.choice(_FAILURES)
        return Plan(
            upload=rng.uniform(1.0, 6.0),
            submit=rng.uniform(0.5, 3.0),
            queue=rng.uniform(2.0, 20.0),
            claim=rng.uniform(0.5, 3.0),
            prepare=rng.uniform(1.0, 8.0),
            process=rng.uniform(*kind.seconds),
            worker=rng.choice(WORKERS),
            fails=fails,
            fail_stage=stage,
            error_code=code,
            error_message=message.format(what=_WHAT.get(job.type, "input")),
        )

    def touch(self, job: SimJob, status: str, t: float) -> None:
        """Change a job's status at time `t` (cancels whatever was scheduled for it)."""
        job.status = status
        job.updated = t
        job.due = None
        job.stamp += 1

    def _step(self, job: SimJob, t: float) -> None:
        plan = self.plan(job)
        status = job.status
        if status == "created":
            rng = random.Random(f"bsub:{self.seed}:{job.id}:input")
            kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
            job.data_size = _input_size(rng, kind)
            job.filename = f"input.{_input_ext(kind)}"
            self.touch(job, "loaded", t)
            self.schedule(job, t + plan.submit)
        elif status == "loaded":
            self.touch(job, "pending", t)
            self.schedule(job, t + plan.queue)
        elif status == "pending":
            job.claimed_by = plan.worker
            job.claimed_at = t
            self.touch(job, "claimed", t)
            self.schedule(job, t + plan.claim)
        elif status == "claimed":
            job.preparing_at = t
            self.touch(job, "preparing", t)
            self.schedule(job, t + plan.prepare)
        elif status == "preparing":
            if plan.fails and plan.fail_stage == "preparing":
                self.fail(job, t, plan.error_code, plan.error_message)
            else:
                job.processing_at = t
                self.touch(job, "processing", t)
                self.schedule(job, t + plan.process)
        elif status == "processing":
            if plan.fails:
                self.fail(job, t, plan.error_code, plan.error_message)
            else:
                job.finished_at = t
                self.touch(job, "finished", t)

    def fail(self, job: SimJob, t: float, code: str, message: str) -> None:
        job.error_code = code
        job.error_message = message
        job.finished_at = t
        self.touch(job, "failed", t)

    # -- jobs -----------------------------------------------------------------------------------

    def add(self, job: SimJob) -> SimJob:
        self.jobs[job.id] = job
        self.order.append(job)
        return job

    def create(self, type_id: str, t: float, *, auto: bool = False) -> SimJob:
        job = SimJob(
            id=self.new_id(),
            type=type_id,
            created=t,
            updated=t,
            upload_token=self.new_upload_token(),
            auto=auto,
        )
        self.add(job)
        if auto:
            self.schedule(job, t + self.plan(job).upload)
        return job

    def job(self, job_id: str) -> SimJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "Job not found")
        return job

    def submit(self, job: SimJob) -> None:
        if job.status != "loaded":
            raise ApiError(400, f"Job cannot be submitted in state '{job.status}' (upload first)")
        t = self.now()
        self.touch(job, "pending", t)
        self.schedule(job, t + self.plan(job).queue)

    def cancel(self, job: SimJob) -> None:
        if job.terminal:
            raise ApiError(400, f"Job cannot be cancelled: it is already {job.status}")
        self.fail(job, self.now(), CANCELLED_CODE, "Job cancelled by user")

    def delete(self, job: SimJob) -> None:
        if not job.terminal:
            raise ApiError(409, f"Job cannot be deleted while it is {job.status}")
        del self.jobs[job.id]
        self.order.remove(job)
        job.stamp += 1
        if job.data_path is not None:
            job.data_path.unlink(missing_ok=True)

    def listing(self, status: str | None, limit: int) -> tuple[list[SimJob], int]:
        """Jobs newest first, filtered by status, cut to `limit`; and the count before the cut."""
        if status is None:
            total = len(self.order)
            return self.order[: -limit - 1 : -1] if limit else [], total
        matches = [job for job in reversed(self.order) if job.status == status]
        return matches[:limit], len(matches)

    def ids_in(self, status: str, *, cancelled: bool | None = None) -> list[str]:
        """Ids of the jobs in `status` now, newest first (`cancelled` narrows `failed` ones)."""
        with self.lock:
            self.tick()
            return [
                job.id
                for job in reversed(self.order)
                if job.status == status and (cancelled is None or job.cancelled == cancelled)
            ]

    def status_counts(self) -> Counter[str]:
        with self.lock:
            self.tick()
            return Counter(job.status for job in self.order)

    def to_json(self, job: SimJob) -> dict[str, Any]:
        cached = job.cache
        if cached is not None and cached[0] == job.stamp:
            return cached[1]
        iso = self.iso
        data: dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "type": job.type,
            "user_id": self.user_id,
        }
        if job.status == "created":
            data["upload_token"] = job.upload_token
        data.update(
            {
                "data_size": job.data_size,
                "claimed_by": job.claimed_by,
                "error_code": job.error_code,
                "error_message": job.error_message,
                "created_at": iso(job.created),
                "updated_at": iso(job.updated),
                "claimed_at": None if job.claimed_at is None else iso(job.claimed_at),
                "finished_at": None if job.finished_at is None else iso(job.finished_at),
            }
        )
        job.cache = (job.stamp, data)
        return data

    # -- logs and outputs -----------------------------------------------------------------------

    def logs_of(self, job: SimJob) -> str:
        """The job's stderr up to the simulated time now: empty until a worker claims it."""
        if job.claimed_at is None:
            return ""
        now = self.now()
        rng = random.Random(f"bsub:{self.seed}:{job.id}:logs")
        kind = KINDS_BY_TYPE.get(job.type)
        lines: list[str] = []

        def at(t: float, text: str) -> None:
            lines.append(f"{self.iso(t)} {text}")

        at(job.claimed_at, f"[{job.claimed_by}] claimed job {job.id} ({job.type})")
        if job.preparing_at is not None:
            at(job.preparing_at, f"prepare: fetching input ({_human(job.data_size)})")
            checked = job.preparing_at + 0.4
            if checked <= now and (job.finished_at is None or checked <= job.finished_at):
                digest = job.sha256 or f"{rng.getrandbits(256):064x}"
                at(checked, f"prepare: input sha256 {digest}")
        if job.processing_at is not None:
            at(job.processing_at, f"process: {job.type} {job.filename or 'input'}")
            end = job.finished_at if job.finished_at is not None else job.due
            if end is not None and end > job.processing_at:
                span = end - job.processing_at
                for step in range(1, 10):
                    t = job.processing_at + span * step / 10
                    if t > now or (job.finished_at is not None and t >= job.finished_at):
                        break
                    at(t, f"process: {step * 10}% done, {rng.uniform(0.6, 3.9):.1f} MiB/s")
        if job.status == "finished" and job.finished_at is not None:
            size = len(self.output_of(job)) if kind and kind.text else self.output_size(job)
            at(job.finished_at, f"done: exit status 0, {_human(size)} written")
        elif job.cancelled and job.finished_at is not None:
            at(job.finished_at, "signal: cancel requested, worker stopped")
        elif job.status == "failed" and job.finished_at is not None:
            at(job.finished_at, f"error: {job.error_code}: {job.error_message}")
        return "\n".join(lines) + "\n"

    def output_size(self, job: SimJob) -> int:
        """The size of a bytes output (text outputs are measured by making them)."""
        kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
        if self.fixed_output_size is not None:
            return max(len(kind.magic), self.fixed_output_size)
        rng = random.Random(f"bsub:{self.seed}:{job.id}:size")
        size = int(job.data_size * kind.output_ratio * rng.uniform(0.7, 1.3))
        return max(len(kind.magic) + 1024, min(size, 8 * MiB))

    def output_of(self, job: SimJob) -> bytes:
        """A text output, whole (they are small)."""
        kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
        rng = random.Random(f"bsub:{self.seed}:{job.id}:output")
        if kind.type == "sha256":
            digest = job.sha256 or f"{rng.getrandbits(256):064x}"
            return f"{digest}  {job.filename or 'input'}\n".encode()
        if kind.type == "audio-transcribe":
            return _vtt(rng, job.data_size).encode()
        limit = max(1024, min(int(job.data_size * kind.output_ratio), 256 * 1024))
        return _prose(rng, limit).encode()

    def output_chunks(self, job: SimJob) -> tuple[int, Iterator[bytes]]:
        """The job's stdout as (size, chunks): made up from the seed, streamed."""
        kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
        if kind.text:
            data = self.output_of(job)
            return len(data), iter(
                [data[i : i + STREAM_CHUNK] for i in range(0, len(data), STREAM_CHUNK)]
            )
        size = self.output_size(job)
        seed = f"bsub:{self.seed}:{job.id}:output"

        def chunks() -> Iterator[bytes]:
            rng = random.Random(seed)
            yield kind.magic
            left = size - len(kind.magic)
            while left > 0:
                n = min(STREAM_CHUNK, left)
                yield rng.randbytes(n)
                left -= n

        return size, chunks()


# -- made-up content ----------------------------------------------------------------------------


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _prose(rng: random.Random, limit: int) -> str:
    lines: list[str] = []
    size = 0
    page = 1
    while size < limit:
        if rng.random() < 0.08:
            line = f"\f-- page {page} --"
            page += 1
        else:
            line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize()
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def _vtt(rng: random.Random, data_size: int) -> str:
    cues = max(3, min(data_size // (256 * 1024), 400))
    out = ["WEBVTT", ""]
    t = 0.0
    for n in range(1, cues + 1):
        length = rng.uniform(1.5, 6.0)
        out.append(str(n))
        out.append(f"{_vtt_time(t)} --> {_vtt_time(t + length)}")
        out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 11))).capitalize())
        out.append("")
        t += length + rng.uniform(0.1, 1.2)
    return "\n".join(out)


def _vtt_time(t: float) -> str:
    ms = int(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _input_size(rng: random.Random, kind: ProcessingKind) -> int:
    low, high = kind.input_size
    return int(low * (high / low) ** rng.random())


def _input_ext(kind: ProcessingKind) -> str:
    return {
        "application/pdf": "pdf",
        "video/mp4": "mp4",
        "audio/mpeg": "mp3",
        "image/png": "png",
    }.get(kind.mime_in[0], "bin")


# -- seeding ------------------------------------------------------------------------------------


def _seed_jobs(state: BsubState, count: int) -> None:
    """`count` jobs, oldest first: old ones all ended, the newest in a mix of every state."""
    rng = random.Random(f"bsub:{state.seed}:seed")
    recent = min(count, RECENT_WINDOW)
    older = count - recent
    states = [_terminal_state(rng) for _ in range(older)]
    mix_states = [s for s, _ in _SEED_MIX]
    weights = [w for _, w in _SEED_MIX]
    tail = rng.choices(mix_states, weights, k=recent)
    guaranteed = list(_GUARANTEED[:recent])
    for slot, status in zip(rng.sample(range(recent), len(guaranteed)), guaranteed, strict=True):
        tail[slot] = status
    states.extend(tail)
    # Older jobs are spread over the past months (10 minutes apart on average), the recent ones
    # over the last hours (a minute apart); the newest was created a little before the epoch.
    gaps = [(600.0 if index < older else 60.0) * rng.uniform(0.3, 1.7) for index in range(count)]
    t = -sum(gaps[1:]) - rng.uniform(10.0, 40.0)
    types = [kind.type for kind in CATALOGUE]
    cum_weights = list(itertools.accumulate((16, 6, 5, 5, 8, 6, 4)))
    for index, status in enumerate(states):
        if index:
            t += gaps[index]
        job = SimJob(
            id=state.new_id(),
            type=rng.choices(types, cum_weights=cum_weights)[0],
            created=t,
            updated=t,
            upload_token=state.new_upload_token(),
        )
        state.add(job)
        if index < older:
            _place_ended(state, job, status, _quick_plan(rng, job), rng)
        else:
            _place(state, job, status, rng)


def _quick_plan(rng: random.Random, job: SimJob) -> Plan:
    """A plan drawn from the seeding stream: for old jobs, which will never run again."""
    kind = KINDS_BY_TYPE[job.type]
    code, message, stage = _FAILURES[rng.randrange(len(_FAILURES))]
    return Plan(
        upload=1.0 + 5.0 * rng.random(),
        submit=0.5 + 2.5 * rng.random(),
        queue=2.0 + 18.0 * rng.random(),
        claim=0.5 + 2.5 * rng.random(),
        prepare=1.0 + 7.0 * rng.random(),
        process=kind.seconds[0] + (kind.seconds[1] - kind.seconds[0]) * rng.random(),
        worker=WORKERS[rng.randrange(len(WORKERS))],
        fails=False,
        fail_stage=stage,
        error_code=code,
        error_message=message.format(what=_WHAT.get(job.type, "input")),
    )


def _terminal_state(rng: random.Random) -> str:
    roll = rng.random()
    return "finished" if roll < 0.85 else "failed" if roll < 0.96 else "cancelled"


def _place(state: BsubState, job: SimJob, status: str, rng: random.Random) -> None:
    """Give a seeded job the times and fields of `status`; schedule its next step if it runs."""
    if status == "created":
        return
    plan = state.plan(job)
    if status in ("finished", "failed", "cancelled"):
        _place_ended(state, job, status, plan, rng)
        return
    submitted = _uploaded(job, plan, rng)
    if status == "loaded":
        job.status = "loaded"
        job.updated = submitted
        return
    # Running: the stages already done fill the time since submission, the current one ends soon.
    stages = ("pending", "claimed", "preparing", "processing")
    done = stages.index(status)
    lengths = (plan.queue, plan.claim, plan.prepare, plan.process)
    span = -submitted
    elapsed = sum(lengths[:done]) + lengths[done] * rng.uniform(0.1, 0.8)
    scale = min(1.0, span / elapsed) if elapsed > 0 else 1.0
    t = submitted
    marks: list[float] = []
    for length in lengths[:done]:
        t += length * scale
        marks.append(t)
    if done >= 1:
        job.claimed_by, job.claimed_at = plan.worker, marks[0]
    if done >= 2:
        job.preparing_at = marks[1]
    if done >= 3:
        job.processing_at = marks[2]
    job.status = status
    job.updated = marks[-1] if marks else submitted
    remaining = max(lengths[done] * rng.uniform(0.2, 0.9), 1.0)
    state.schedule(job, remaining)


def _uploaded(job: SimJob, plan: Plan, rng: random.Random) -> float:
    """Give a seeded job its input; returns when it was uploaded (loaded jobs) or submitted."""
    kind = KINDS_BY_TYPE[job.type]
    job.data_size = _input_size(rng, kind)
    job.filename = f"input.{_input_ext(kind)}"
    age = -job.created
    uploaded = job.created + min(plan.upload, age * 0.1)
    return uploaded + min(plan.submit, age * 0.1)


def _place_ended(
    state: BsubState, job: SimJob, status: str, plan: Plan, rng: random.Random
) -> None:
    submitted = _uploaded(job, plan, rng)
    lengths = [plan.queue, plan.claim, plan.prepare, plan.process]
    failure = (plan.error_code, plan.error_message, plan.fail_stage)
    if status == "failed" and not plan.fails:  # seeded as failed though its plan succeeds
        code, message, stage = rng.choice(_FAILURES)
        failure = (code, message.format(what=_WHAT.get(job.type, "input")), stage)
    failed_early = status == "failed" and failure[2] == "preparing"
    if status == "cancelled":
        stop = rng.choice((1, 1, 3, 4))  # cancelled while pending, or while processing
        lengths = [*lengths[: stop - 1], lengths[stop - 1] * rng.uniform(0.1, 0.9)]
    elif failed_early:
        lengths = lengths[:3]
    total = sum(lengths)
    room = -1.0 - submitted
    scale = min(1.0, room / total) if total > 0 and room > 0 else 0.01
    marks: list[float] = []
    t = submitted
    for length in lengths:
        t += length * scale
        marks.append(t)
    end = marks[-1]
    stages = len(marks) - 1  # how many of claimed, preparing, processing were reached
    if stages >= 1:
        job.claimed_by, job.claimed_at = plan.worker, marks[0]
    if stages >= 2:
        job.preparing_at = marks[1]
    if stages >= 3:
        job.processing_at = marks[2]
    job.finished_at = end
    job.updated = end
    if status == "finished":
        job.status = "finished"
    elif status == "cancelled":
        job.status, job.error_code, job.error_message = (
            "failed",
            CANCELLED_CODE,
            "Job cancelled by user",
        )
    else:
        job.status, job.error_code, job.error_message = "failed", failure[0], failure[1]


def _arrive(state: BsubState, t: float) -> None:
    types = [kind.type for kind in CATALOGUE]
    state.create(state.rng.choice(types), t, auto=True)


# -- multipart ----------------------------------------------------------------------------------


class MalformedMultipartError(Exception):
    pass


PartEvent = tuple[str, Any]


class MultipartReader:
    """An incremental multipart/form-data parser: feed it chunks, get part events back.

    Events: ("part", {header: value}) when a part's headers are read, ("data", bytes) for each piece
    of its body, ("end", None) when it ends. Only a few bytes are ever buffered between chunks.
    """

    _PREAMBLE, _AFTER, _HEADERS, _DATA, _DONE = range(5)

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"--" + boundary
        self.separator = b"\r\n--" + boundary
        self.buffer = bytearray()
        self.state = self._PREAMBLE

    @property
    def done(self) -> bool:
        return self.state == self._DONE

    def feed(self, data: bytes) -> list[PartEvent]:
        self.buffer += data
        events: list[PartEvent] = []
        buf = self.buffer
        while True:
            if self.state == self._PREAMBLE:
                i = buf.find(self.delimiter)
                if i < 0:
                    keep = len(self.delimiter) - 1
                    if len(buf) > keep:
                        del buf[: len(buf) - keep]
                    return events
                del buf[: i + len(self.delimiter)]
                self.state = self._AFTER
            elif self.state == self._AFTER:
                if len(buf) < 2:
                    return events
                if buf[:2] == b"--":
                    self.state = self._DONE
                    continue
                i = buf.find(b"\r\n")
                if i < 0:
                    if len(buf) > 1024:
                        raise MalformedMultipartError("bad boundary line")
                    return events
                del buf[: i + 2]
                self.state = self._HEADERS
            elif self.state == self._HEADERS:
                if buf[:2] == b"\r\n":
                    end, skip = 0, 2
                else:
                    end, skip = buf.find(b"\r\n\r\n"), 4
                if end < 0:
                    if len(buf) > 16384:
                        raise MalformedMultipartError("part headers too long")
                    return events
                text = bytes(buf[:end]).decode("utf-8", errors="replace")
                del buf[: end + skip]
                headers: dict[str, str] = {}
                for line in text.split("\r\n"):
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                events.append(("part", headers))
                self.state = self._DATA
            elif self.state == self._DATA:
                i = buf.find(self.separator)
                if i < 0:
                    safe = len(buf) - (len(self.separator) - 1)
                    if safe > 0:
                        events.append(("data", bytes(buf[:safe])))
                        del buf[:safe]
                    return events
                if i:
                    events.append(("data", bytes(buf[:i])))
                del buf[: i + len(self.separator)]
                events.append(("end", None))
                self.state = self._AFTER
            else:
                buf.clear()
                return events


def disposition(value: str) -> dict[str, str]:
    """The parameters of a Content-Disposition value: `form-data; name="file"; filename="a"`."""
    params: dict[str, str] = {}
    for piece in _split_params(value)[1:]:
        key, sep, raw = piece.partition("=")
        if not sep:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.strip().lower()] = raw
    return params


def _split_params(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def boundary_of(content_type: str) -> bytes | None:
    kind, _, _ = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    params = disposition(content_type)
    boundary = params.get("boundary")
    return boundary.encode("latin-1") if boundary else None


class _Sink:
    """Where an upload goes while it arrives: a file in the upload directory."""

    def __init__(self, directory: Path) -> None:
        handle, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self.path = Path(name)
        self.file: BinaryIO | None = os.fdopen(handle, "wb")
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


# -- HTTP ---------------------------------------------------------------------------------------

Handler = Callable[[BsubState, Request, bytes], Response]


def _authorize(state: BsubState, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "Missing API key (Authorization: Bearer <key>)")
    if not hmac.compare_digest(key.strip().encode(), state.token.encode()):
        raise ApiError(401, "Invalid API key")


def endpoint(
    state: BsubState, op: str, handler: Handler, *, public: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: counts the request, checks the key, applies due events, and turns
    `ApiError` into the Error body."""

    async def run(request: Request) -> Response:
        body = await request.body()
        with state.lock:
            state.counts[op] += 1
            try:
                if not public:
                    _authorize(state, request)
                state.tick()
                return handler(state, request, body)
            except ApiError as error:
                return error_response(error.status, error.message)

    return run


def h_types(state: BsubState, request: Request, body: bytes) -> Response:
    return JSONResponse({"types": [kind.wire() for kind in state.types]})


def h_version(state: BsubState, request: Request, body: bytes) -> Response:
    return JSONResponse(dict(VERSION))


def h_create(state: BsubState, request: Request, body: bytes) -> Response:
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None
    if not isinstance(data, dict) or "type" not in data:
        raise ApiError(400, "Missing required field: type")
    type_id = data["type"]
    if not isinstance(type_id, str) or type_id not in KINDS_BY_TYPE:
        raise ApiError(400, f"Unknown processing type: {type_id}")
    job = state.create(type_id, state.now())
    return JSONResponse({"success": True, "data": state.to_json(job)}, status_code=201)


def h_get(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    return JSONResponse({"success": True, "data": state.to_json(job)})


def h_list(state: BsubState, request: Request, body: bytes) -> Response:
    query = request.query_params
    status = query.get("status") or None
    text = query.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if text is not None and text != "":
        try:
            limit = int(text)
        except ValueError:
            raise ApiError(400, f"Invalid limit: {text}") from None
        if limit < 1:
            raise ApiError(400, f"Invalid limit: {text}")
    if limit > state.max_limit and state.refuse_over_max:
        raise ApiError(400, f"Invalid limit: {text} (must be between 1 and {state.max_limit})")
    limit = min(limit, state.max_limit)
    jobs, total = state.listing(status, limit)
    return JSONResponse(
        {"success": True, "data": {"jobs": [state.to_json(job) for job in jobs], "total": total}}
    )


def h_submit(state: BsubState, request: Request, body: bytes) -> Response:
    state.submit(state.job(request.path_params["job_id"]))
    return JSONResponse({"success": True, "message": "Job submitted for processing"})


def h_cancel(state: BsubState, request: Request, body: bytes) -> Response:
    state.cancel(state.job(request.path_params["job_id"]))
    return JSONResponse({"success": True, "message": "Job cancelled"})


def h_delete(state: BsubState, request: Request, body: bytes) -> Response:
    state.delete(state.job(request.path_params["job_id"]))
    return Response(status_code=204)


def h_logs(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    return Response(state.logs_of(job), media_type="text/plain; charset=utf-8")


def h_output(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    if job.status != "finished":
        raise ApiError(409, f"Output is not available: job is {job.status}")
    size, chunks = state.output_chunks(job)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


def upload_endpoint(state: BsubState) -> Callable[[Request], Awaitable[Response]]:
    """`POST /v1/upload/{job_id}?token=`: the file field streamed to disk as it arrives."""

    async def run(request: Request) -> Response:
        try:
            return await _upload(state, request)
        except ApiError as error:
            return error_response(error.status, error.message)

    return run


async def _drain(request: Request) -> None:
    with contextlib.suppress(Exception):
        async for _ in request.stream():
            pass


async def _upload(state: BsubState, request: Request) -> Response:
    job_id = request.path_params["job_id"]
    refused: ApiError | None = None
    with state.lock:
        state.counts["upload_job_data"] += 1
        try:
            _authorize(state, request)
            state.tick()
            job = state.job(job_id)
            token = request.query_params.get("token", "")
            if not token or not hmac.compare_digest(token.encode(), job.upload_token.encode()):
                raise ApiError(401, "Invalid upload token")
            if job.status != "created":
                raise ApiError(400, f"Job does not accept data in state '{job.status}'")
        except ApiError as error:
            refused = error
    if refused is not None:
        await _drain(request)  # read the body so the client gets to read the answer
        raise refused
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        await _drain(request)
        raise ApiError(400, "Expected multipart/form-data with a 'file' field")
    reader = MultipartReader(boundary)
    sink: _Sink | None = None
    filename: str | None = None
    in_file = False
    too_large = False
    found = False
    try:
        async for chunk in request.stream():
            for event, value in reader.feed(chunk):
                if event == "part":
                    params = disposition(value.get("content-disposition", ""))
                    in_file = params.get("name") == "file" and not found
                    if in_file:
                        found = True
                        filename = params.get("filename")
                        sink = _Sink(state.upload_dir)
                elif event == "data" and in_file and sink is not None and not too_large:
                    if sink.size + len(value) > state.max_upload:
                        too_large = True
                        sink.discard()
                    else:
                        sink.write(value)
                elif event == "end":
                    in_file = False
    except MalformedMultipartError as error:
        if sink is not None:
            sink.discard()
        await _drain(request)
        raise ApiError(400, f"Malformed multipart body: {error}") from None
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    if too_large:
        raise ApiError(413, f"File too large (maximum {state.max_upload} bytes)")
    if sink is None or not reader.done:
        if sink is not None:
            sink.discard()
        raise ApiError(400, "Missing file field 'file'" if sink is None else "Incomplete upload")
    sink.close()
    with state.lock:
        state.tick()
        current = state.jobs.get(job_id)
        if current is None or current.status != "created":
            sink.discard()
            raise ApiError(400 if current else 404, "Job changed while the data was uploading")
        target = state.upload_dir / f"{job_id}.data"
        sink.path.replace(target)
        current.data_path = target
        current.data_size = sink.size
        current.sha256 = sink.digest.hexdigest()
        current.filename = Path(filename).name if filename else "input"
        state.touch(current, "loaded", state.now())
    return JSONResponse(
        {"success": True, "message": "File uploaded successfully", "data_size": sink.size}
    )


FAULT_PROFILE = FaultProfile(
    error=lambda status, message: error_response(status, message),
    malformed=b'{"success": true, "data": {"id": "',
    expired=lambda: error_response(401, "Invalid API key"),
)
"""How bsub.io answers when a fault is switched on."""


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message)


def make_app(state: BsubState) -> ASGIApp:
    def route(path: str, op: str, handler: Handler, method: str, public: bool = False) -> Route:
        return Route(path, endpoint(state, op, handler, public=public), methods=[method], name=op)

    routes = [
        route("/types", "get_types", h_types, "GET"),
        route("/version", "get_version", h_version, "GET", public=True),
        route("/jobs", "create_job", h_create, "POST"),
        route("/jobs", "list_jobs", h_list, "GET"),
        route("/jobs/{job_id}", "get_job", h_get, "GET"),
        route("/jobs/{job_id}", "delete_job", h_delete, "DELETE"),
        route("/jobs/{job_id}/submit", "submit_job", h_submit, "POST"),
        route("/jobs/{job_id}/cancel", "cancel_job", h_cancel, "POST"),
        route("/jobs/{job_id}/logs", "get_job_logs", h_logs, "GET"),
        route("/jobs/{job_id}/output", "get_job_output", h_output, "GET"),
        Route("/upload/{job_id}", upload_endpoint(state), methods=["POST"], name="upload_job_data"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()  # the server stops: drop the uploads

    app = Starlette(
        routes=[Mount("/v1", routes=routes)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)


def build(settings: EmulatorSettings) -> Emulator:
    state = BsubState(settings)
    return Emulator(
        kind="bsub",
        app=make_app(state),
        base_path=BASE_PATH,
        config={"kind": "bsub", "token": state.token},
        credentials={"token": state.token},
        state=state,
    )
