"""The lenient models of bsub.io's answers: every answer but a job list exactly as published.

They keep what the server sent whenever it can be read at all: unknown fields are kept, numbers
sent as text (and text as numbers) are read, an odd time is None. pydantic is imported with this
module, at the first answer that needs it; a poll of an ordinary server never does
(`bsub.parse_job_list` decodes it with msgspec).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from jobtui.core.secret import Secret
from jobtui.services._wire import lenient_time as _lenient_time
from jobtui.services._wire import text as _text
from jobtui.services.bsub import _JobFacts, _TypeFacts


def _text_or_empty(value: Any) -> Any:
    return "" if value is None else _text(value)


def _size(value: Any) -> Any:
    """A byte count: an integer, or a number sent as text or float; anything else is None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _texts(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return value


WireTime = Annotated[datetime | None, BeforeValidator(_lenient_time)]
WireText = Annotated[str | None, BeforeValidator(_text)]
WireSize = Annotated[int | None, BeforeValidator(_size)]
WireTexts = Annotated[list[str], BeforeValidator(_texts)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class BsubJob(_Wire, _JobFacts):
    """A job as the server sends it. Only `id` is required; extra fields are kept, and `status`
    is any text (unknown states are not an error)."""

    id: Annotated[str, BeforeValidator(_text)]
    status: WireText = None
    type: WireText = None
    user_id: WireText = None
    upload_token: Secret | None = None
    """Present only while the job is `created`; kept masked."""
    data_size: WireSize = None
    claimed_by: WireText = None
    error_code: WireText = None
    error_message: WireText = None
    created_at: WireTime = None
    updated_at: WireTime = None
    claimed_at: WireTime = None
    finished_at: WireTime = None

    def wire(self) -> dict[str, Any]:
        """The record as received (the upload token masked)."""
        return self.model_dump(mode="json", exclude_unset=True)


class TypeInput(_Wire):
    mime_in: WireTexts = []


class TypeOutput(_Wire):
    mime_out: WireTexts = []
    ext: WireText = None
    display: WireText = None


class TypeExample(_Wire):
    cmd: WireText = None
    desc: WireText = None


class ProcessingType(_Wire, _TypeFacts):
    """One entry of `GET /v1/types`: `type` is the id `create_job` takes."""

    type: Annotated[str, BeforeValidator(_text_or_empty)] = ""
    name: WireText = None
    description: WireText = None
    input: TypeInput | None = None
    output: TypeOutput | None = None
    example: TypeExample | None = None


class BsubVersion(_Wire):
    version: WireText = None
    server: WireText = None
    build: WireText = None


class _Types(_Wire):
    types: list[ProcessingType] | None = None


class _JobAnswer(_Wire):
    success: bool | None = None
    data: BsubJob


class JobList(_Wire):
    """One `GET /v1/jobs` answer: newest first, `total` counted before the limit."""

    jobs: list[BsubJob] = []
    total: WireSize = None


class _JobListAnswer(_Wire):
    success: bool | None = None
    data: JobList


class _Message(_Wire):
    success: bool | None = None
    message: WireText = None


class UploadResult(_Wire):
    success: bool | None = None
    message: WireText = None
    data_size: WireSize = None


class _ErrorBody(_Wire):
    success: bool | None = None
    error: WireText = None


TYPES = TypeAdapter(_Types)
VERSION = TypeAdapter(BsubVersion)
JOB_ANSWER = TypeAdapter(_JobAnswer)
LIST_ANSWER = TypeAdapter(_JobListAnswer)
MESSAGE = TypeAdapter(_Message)
UPLOAD = TypeAdapter(UploadResult)
ERROR = TypeAdapter(_ErrorBody)


def reason(response: httpx.Response) -> str:
    """The server's message: the Error body's `error`, else the start of the text."""
    try:
        body = ERROR.validate_json(response.content)
    except ValidationError:
        text = response.text.strip()
        return "" if text.startswith(("{", "[", "<")) else text[:200]
    return body.error or ""
