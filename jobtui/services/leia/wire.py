"""What a Leia server sends: the wire states and job types, the pydantic models of its records
(every string cleaned by `jobtui.core.text` as it is parsed), and the functions that turn an answer's
bytes into them (a body that does not fit is one `BadPayloadError` line naming what was expected)."""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, TypeAdapter

from jobtui.core.secret import Secret
from jobtui.services._wire import (
    DEFERRED,
    Stated,
    Wire,
    WireShared,
    WireText,
    WireTime,
    list_of_text,
    parse_body,
)
from jobtui.services._wire import text as _text

# -- enums --------------------------------------------------------------------------------------


class LeiaStatus(StrEnum):
    """Statuses as the spec lists them. The wire models keep any other value as text."""

    BLOCKED = "BLOCKED"
    WAITING = "WAITING"
    READY = "READY"
    STARTING = "STARTING"
    LOADING_MODEL = "LOADING_MODEL"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class LeiaJobType(StrEnum):
    """The JobTypes enum of the `job_type` filter (a job's own `job_type` is free text)."""

    PREDICT = "predict"
    PDF_IMAGES = "pdf-images"
    IMAGE_TEXT = "image-text"
    TRANSFORM = "transform"


TERMINAL_STATUSES = frozenset({"PROCESSED", "FAILED", "CANCELED"})


# -- models -------------------------------------------------------------------------------------


class LeiaApplication(Wire):
    """The logged-in application (`/whoami`, and the `application` of a login)."""

    id: WireText = None
    api_key: Secret | None = None
    """The spec's Application may echo the key back: kept masked."""
    application_type: WireText = None
    email: WireText = None
    first_name: WireText = None
    last_name: WireText = None
    application_name: WireText = None


class LeiaLogin(Wire):
    token: Secret
    application: LeiaApplication | None = None


class LeiaJob(Stated, Wire):
    """A job as the server sends it. Every field but `id` may be missing; extra fields are kept
    (the server sends `submitter_id`, `http_code`, `page_range`... which the spec does not declare),
    and `result` may have any shape (its `result_type` says how to read it)."""

    model_config = ConfigDict(frozen=True)
    """Never assigned to: records sent the same fields share one set of their names
    (`shared_fields_set`)."""
    terminal_states: ClassVar[frozenset[str]] = TERMINAL_STATUSES

    id: Annotated[str, BeforeValidator(_text)]
    application_id: WireText = None
    creation_time: WireTime = None
    document_ids: Annotated[tuple[str, ...], BeforeValidator(list_of_text)] = ()
    job_type: WireShared = None
    status: WireShared = None
    starting_time: WireTime = None
    finished_time: WireTime = None
    model_id: WireShared = None
    execute_after_id: WireText = None
    parent_job_id: WireText = None
    callback_url: WireText = None
    reason: WireShared = None
    result_type: WireShared = None
    result: Any = None

    @property
    def is_conditional(self) -> bool:
        return self.result_type == "conditional" or self.job_type == "conditional"

    def wire(self) -> dict[str, Any]:
        """The record as received (declared fields that were sent, plus every undeclared one)."""
        return self.model_dump(mode="json", exclude_unset=True)


_JOB = TypeAdapter(LeiaJob)
_JOBS = TypeAdapter(list[LeiaJob], config=DEFERRED)


class LeiaRecord(Stated):
    """A job as a listing keeps it: the validated `LeiaJob` as pydantic's compact JSON (made in
    Rust from the clean model, so it holds only clean text), compressed by zlib, plus the fields
    the service reads to make its `Job` and to follow chains. Decoded again only when the whole
    record is looked at (`wire`: the detail pane, `jobtui show`, the journal; `model`).

    A model of an emulator record (740 bytes of JSON) costs about 3,200 bytes: its field dict,
    an extras dict, datetimes, a tuple, a `result` tree and fresh copies of texts that repeat.
    This costs about 750: 370 of compressed JSON (zlib at its fastest level: some 15 µs a
    record, about what validating it costs), 150 of slots, 90 of the id and 140 of the times,
    which are the very objects the `Job` holds. Its texts that repeat are shared (`WireShared`).
    """

    __slots__ = (
        "_json",
        "creation_time",
        "documents",
        "execute_after_id",
        "finished_time",
        "http_code",
        "id",
        "job_type",
        "model_id",
        "parent_job_id",
        "reason",
        "result_type",
        "starting_time",
        "status",
    )
    terminal_states: ClassVar[frozenset[str]] = TERMINAL_STATUSES

    def __init__(self, job: LeiaJob) -> None:
        self.id: str = job.id
        self.status: str | None = job.status
        self.job_type: str | None = job.job_type
        self.model_id: str | None = job.model_id
        self.result_type: str | None = job.result_type
        self.documents: int = len(job.document_ids)
        """How many documents the job was given (`document_ids` is in the JSON)."""
        self.creation_time: datetime | None = job.creation_time
        self.starting_time: datetime | None = job.starting_time
        self.finished_time: datetime | None = job.finished_time
        self.execute_after_id: str | None = job.execute_after_id
        self.parent_job_id: str | None = job.parent_job_id
        self.reason: str | None = job.reason
        self.http_code: Any = (job.model_extra or {}).get("http_code")
        """The undeclared `http_code` (any JSON value), None when not sent."""
        self._json: bytes = zlib.compress(_JOB.dump_json(job, exclude_unset=True), 1)
        """The whole record, as `LeiaJob.wire` gives it, in compressed JSON."""

    @classmethod
    def of(cls, job: LeiaJob | LeiaRecord) -> LeiaRecord:
        return job if isinstance(job, LeiaRecord) else cls(job)

    @property
    def is_conditional(self) -> bool:
        return self.result_type == "conditional" or self.job_type == "conditional"

    def wire(self) -> dict[str, Any]:
        """The record as received: what `LeiaJob.wire` gave (the fields that were sent, in the
        same order, with the same values)."""
        data: dict[str, Any] = json.loads(zlib.decompress(self._json))
        return data

    def model(self) -> LeiaJob:
        """The record validated again as the model it was made from."""
        return _JOB.validate_json(zlib.decompress(self._json))

    def __repr__(self) -> str:
        return f"LeiaRecord({zlib.decompress(self._json).decode()})"


_LOGIN = TypeAdapter(LeiaLogin)
_APPLICATION = TypeAdapter(LeiaApplication)
_STATUSES = TypeAdapter(dict[str, Annotated[str | None, BeforeValidator(_text)]], config=DEFERRED)


# -- parsing ------------------------------------------------------------------------------------


def parse_job(service: str, content: bytes) -> LeiaJob:
    """One job (`GET /job/{id}`, and the answer of every call that makes or starts a job)."""
    return parse_body(service, _JOB, content, "job")


def parse_jobs(service: str, content: bytes) -> list[LeiaRecord]:
    """A page of `GET /job`, each job validated then kept as a `LeiaRecord`."""
    return [LeiaRecord(job) for job in parse_body(service, _JOBS, content, "job list")]


def parse_login(service: str, content: bytes) -> LeiaLogin:
    """The answer of `POST /login` (or of the deprecated `GET /login/{api_key}`)."""
    return parse_body(service, _LOGIN, content, "login answer")


def parse_application(service: str, content: bytes) -> LeiaApplication:
    """The logged-in application of `GET /whoami`."""
    return parse_body(service, _APPLICATION, content, "application")


def parse_statuses(service: str, content: bytes) -> dict[str, str | None]:
    """The {id: status} map of `GET /job/{ids}/status`."""
    return parse_body(service, _STATUSES, content, "status map")


__all__ = [
    "TERMINAL_STATUSES",
    "LeiaApplication",
    "LeiaJob",
    "LeiaJobType",
    "LeiaLogin",
    "LeiaRecord",
    "LeiaStatus",
    "parse_application",
    "parse_job",
    "parse_jobs",
    "parse_login",
    "parse_statuses",
]
