"""The bsub.io emulator's state: the processing catalogue, jobs and their state machine, logs and
outputs."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response

from jobtui.emulators.base import EmulatorSettings, SimState, found

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
RECENT_WINDOW = 300
"""Only the newest seeded jobs may still be running; older ones have all ended."""
STREAM_CHUNK = 64 * 1024

VERSION = {"version": "1.0.0", "server": "bsub.io emulator", "build": "jobtui"}

WORKERS = tuple(f"worker-{region}-{n:02d}" for region in ("eu1", "eu2", "us1") for n in (1, 2, 3))


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

FAILURES = (
    ("invalid_input", "Input is not a valid {what} file", "preparing"),
    ("timeout", "Processing exceeded the time limit of 3600 s", "processing"),
    ("exit_status", "Command exited with status 1", "processing"),
    ("out_of_memory", "Worker ran out of memory (limit 4 GiB)", "processing"),
    ("worker_lost", "Worker stopped responding", "processing"),
)
WHAT = {
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


def _stamp(job: SimJob) -> int:
    return job.stamp


class BsubState(SimState):
    """Everything the bsub.io emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `token` (the API key),
    `user_id`, `max_upload`, `max_limit`, `refuse_over_max`, `fail_rate`, `upload_dir`, `types` (the catalogue),
    `jobs` (id -> SimJob), `order` (jobs oldest first), `tick()`, `advance(s)`, `ids_in(status)`,
    `plan(job)`, `to_json(job)`, `logs_of(job)`, `output_of(job)`.
    """

    ARRIVAL_GAP = 25.0

    def __init__(self, settings: EmulatorSettings) -> None:
        from jobtui.emulators.bsub.seed import arrive, seed_jobs  # seed builds on this module

        super().__init__(settings, "bsub")
        options = dict(settings.options)
        self._token_rng = random.Random(f"bsub:{settings.seed}:tokens")
        self.token = str(options.get("token") or f"bsk_{self.rng.getrandbits(160):040x}")
        self.user_id = f"usr_{self.rng.getrandbits(48):012x}"
        self.max_upload = int(options.get("max_upload", DEFAULT_MAX_UPLOAD))
        self.max_limit = int(options.get("max_limit", DEFAULT_MAX_LIMIT))
        self.refuse_over_max = bool(options.get("refuse_over_max", False))
        self.fail_rate = float(options.get("fail_rate", DEFAULT_FAIL_RATE))
        size = options.get("output_size")
        self.fixed_output_size: int | None = None if size is None else max(0, int(size))
        self.types = CATALOGUE
        self.upload_dir = self.storage(options.get("upload_dir"), "jobtui-bsub-")

        self.jobs: dict[str, SimJob] = {}
        self.order: list[SimJob] = []

        seed_jobs(self, max(0, settings.jobs))
        self.start_arrivals(options.get("arrivals"), lambda t: arrive(self, t))

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

    # -- events ---------------------------------------------------------------------------------

    def schedule(self, job: SimJob, t: float) -> None:
        job.due = t
        self.at(t, job, self._step, _stamp)

    def plan(self, job: SimJob) -> Plan:
        rng = random.Random(f"bsub:{self.seed}:{job.id}:plan")
        kind = KINDS_BY_TYPE.get(job.type, CATALOGUE[0])
        fails = rng.random() < self.fail_rate
        code, message, stage = rng.choice(FAILURES)
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
            error_message=message.format(what=WHAT.get(job.type, "input")),
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
            job.data_size = input_size(rng, kind)
            job.filename = f"input.{input_ext(kind)}"
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
        return found(self.jobs.get(job_id), ApiError(404, "Job not found"))

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


def input_size(rng: random.Random, kind: ProcessingKind) -> int:
    low, high = kind.input_size
    return int(low * (high / low) ** rng.random())


def input_ext(kind: ProcessingKind) -> str:
    return {
        "application/pdf": "pdf",
        "video/mp4": "mp4",
        "audio/mpeg": "mp3",
        "image/png": "png",
    }.get(kind.mime_in[0], "bin")
