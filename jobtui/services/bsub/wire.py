"""What bsub.io sends: its job states, the pydantic models of its answers, and the parse of a body.

The models keep what the server sent whenever it can be read at all: unknown fields are kept,
`status` is any text (a state the server may add later is kept and shown as sent), numbers sent
as text (and text as numbers) are read, an odd time is None. Every string is cleaned where the
body is parsed (`services/_wire.parse_body`, which uses `core/text.py`). pydantic is imported
with this module; its schemas are built at the first answer that needs them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from jobtui.core.secret import Secret
from jobtui.services._wire import (
    Stated,
    Wire,
    WireShared,
    WireText,
    WireTime,
    parse_body,
    shared_fields_set,
    size,
    texts,
)
from jobtui.services._wire import text as _text

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
STARTED_STATUSES = frozenset({"claimed", "preparing", "processing", "finished"})


# -- field parsers ------------------------------------------------------------------------------


def _text_or_empty(value: Any) -> Any:
    return "" if value is None else _text(value)


WireSize = Annotated[int | None, BeforeValidator(size)]
WireTexts = Annotated[list[str], BeforeValidator(texts)]


# -- models -------------------------------------------------------------------------------------


class BsubJob(Stated, Wire):
    """A job as the server sends it. Only `id` is required; extra fields are kept, and `status`
    is any text (unknown states are not an error)."""

    model_config = ConfigDict(frozen=True)
    """Never assigned to: records sent the same fields share one set of their names
    (`shared_fields_set`)."""
    terminal_states: ClassVar[frozenset[str]] = TERMINAL_STATUSES

    id: Annotated[str, BeforeValidator(_text)]
    status: WireShared = None
    type: WireShared = None
    user_id: WireShared = None
    upload_token: Secret | None = None
    """Present only while the job is `created`; kept masked."""
    data_size: WireSize = None
    claimed_by: WireShared = None
    error_code: WireShared = None
    error_message: WireShared = None
    created_at: WireTime = None
    updated_at: WireTime = None
    claimed_at: WireTime = None
    finished_at: WireTime = None

    def wire(self) -> dict[str, Any]:
        """The record as received (the upload token masked)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def cancelled(self) -> bool:
        return self.status_text == "failed" and self.error_code == CANCELLED_CODE

    @property
    def started(self) -> bool:
        """A worker has had the job: it has a log."""
        return self.status_text in STARTED_STATUSES or self.claimed_at is not None


class TypeInput(Wire):
    mime_in: WireTexts = []


class TypeOutput(Wire):
    mime_out: WireTexts = []
    ext: WireText = None
    display: WireText = None


class TypeExample(Wire):
    cmd: WireText = None
    desc: WireText = None


class ProcessingType(Wire):
    """One entry of `GET /v1/types`: `type` is the id `create_job` takes."""

    type: Annotated[str, BeforeValidator(_text_or_empty)] = ""
    name: WireText = None
    description: WireText = None
    input: TypeInput | None = None
    output: TypeOutput | None = None
    example: TypeExample | None = None

    @property
    def extension(self) -> str | None:
        """The output file's extension, without its dot."""
        ext = (self.output.ext if self.output else None) or ""
        ext = ext.strip().lstrip(".")
        return ext or None


class BsubVersion(Wire):
    version: WireText = None
    server: WireText = None
    build: WireText = None


class _Types(Wire):
    types: list[ProcessingType] | None = None


class _JobAnswer(Wire):
    success: bool | None = None
    data: BsubJob


class JobList(Wire):
    """One `GET /v1/jobs` answer: newest first, `total` counted before the limit."""

    jobs: list[BsubJob] = []
    total: WireSize = None


class _JobListAnswer(Wire):
    success: bool | None = None
    data: JobList


class _Message(Wire):
    success: bool | None = None
    message: WireText = None


class UploadResult(Wire):
    success: bool | None = None
    message: WireText = None
    data_size: WireSize = None


class _ErrorBody(Wire):
    success: bool | None = None
    error: WireText = None


TYPES = TypeAdapter(_Types)
VERSION = TypeAdapter(BsubVersion)
JOB_ANSWER = TypeAdapter(_JobAnswer)
LIST_ANSWER = TypeAdapter(_JobListAnswer)
MESSAGE = TypeAdapter(_Message)
UPLOAD = TypeAdapter(UploadResult)
ERROR = TypeAdapter(_ErrorBody)


# -- parsing ------------------------------------------------------------------------------------


def parse_job_list(service: str, content: bytes) -> JobList:
    """The body of a `GET /v1/jobs` answer (unknown fields kept, odd values tolerated, every
    string cleaned); records sent the same fields share one set of their names."""
    answer = parse_body(service, LIST_ANSWER, content, "job list").data
    shared_fields_set(answer.jobs)
    return answer


def parse_types(service: str, content: bytes) -> list[ProcessingType]:
    """The body of a `GET /v1/types` answer."""
    return list(parse_body(service, TYPES, content, "type list").types or [])


def error_text(content: bytes) -> str | None:
    """The `error` of an Error body ("" when it has none), or None for a body that is not one."""
    try:
        body = ERROR.validate_json(content)
    except ValidationError:
        return None
    return body.error or ""
