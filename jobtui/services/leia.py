"""Leia (LeiaWS 1.0.0): wire models, `LeiaClient`, and `LeiaService` with its polling strategy.

The client speaks raw HTTP (the vendor's generated client cannot parse a finished job, sends enum
filters as `Statuses.PROCESSED` and does not URL-encode query values). It logs in with
`POST /login` (falling back to the deprecated `GET /login/{api_key}` when the server answers 404 or
405), sends the `token` header on every call, logs in again once on a 401, and pings `/whoami` when
it has been idle for `keepalive_after` seconds so the token does not time out.

Polling strategy, and what one poll cycle costs in requests. T = jobs matching the filters,
L = page size (100), A = jobs not yet PROCESSED, FAILED or CANCELED, C = job ids per status request
(the URL is kept under 2,000 bytes: about 75 ids of 24 characters), S = jobs whose status changed:

* cycle 0 (the first load, and the first cycle after `set_filters`) and every K-th cycle after it
  (K = `full_every`, default 10): the whole list, ceil(T / L) `GET /job` requests (at least one;
  a 404 "No jobs found" is an empty list);
* every other cycle: ceil(A / C) `GET /job/{ids}/status` requests, then one `GET /job/{id}` per job
  whose status changed (S), plus one `GET /job?parent_job_id=` per conditional job that changed or
  is PROCESSING with none of its jobs known yet (to pick up the jobs its rules create). No request
  at all when A = 0;
* plus one `GET /whoami` when nothing was sent for `keepalive_after` seconds (default 240), one
  `POST /login` the first time, and one more after a 401.

For 1,000 jobs of which 20 are active and 3 change per cycle, listing everything costs 10 requests
every cycle; this strategy costs 10 on the first cycle, then 1 + 3 = 4, so 4.6 per cycle on average
over ten cycles. Both counts are measured by the tests (`LeiaClient.requests` counts each operation).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol
from urllib.parse import quote

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
)

from jobtui.core.errors import (
    BadPayloadError,
    InputError,
    NotFoundError,
    ServiceError,
)
from jobtui.core.format import shown_value
from jobtui.core.models import Action, Column, Job, JobState
from jobtui.core.secret import Secret
from jobtui.core.service import PollResult, Service, UnsupportedActionError
from jobtui.services._http import (
    DEFAULT_TIMEOUT,
    error_for_status,
    fetch,
    json_depth_ok,
    limits,
    make_client,
)
from jobtui.services._wire import DEFERRED, JobsOfRecords, LazyRecord, SameBody, parse_body
from jobtui.services._wire import lenient_time as _lenient_time
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
SORT_FIELDS = (
    "submitter_id",
    "application_id",
    "creation_time",
    "starting_time",
    "finished_time",
    "job_type",
    "model_id",
    "document_ids",
    "status",
    "parent_job_id",
)
TRANSFORM_TYPES = (
    "text",
    "text_tree",
    "image",
    "autorotate",
    "trim",
    "merge",
    "split",
    "transcode",
)
CONDITION_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
RULE_JOB_TYPES = ("apply_model", "transform")

STATE_OF: Mapping[str, JobState] = {
    "BLOCKED": JobState.QUEUED,
    "WAITING": JobState.QUEUED,
    "READY": JobState.QUEUED,
    "STARTING": JobState.RUNNING,
    "LOADING_MODEL": JobState.RUNNING,
    "PROCESSING": JobState.RUNNING,
    "PROCESSED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "CANCELED": JobState.CANCELLED,
}


def state_of(status: str) -> JobState:
    """The common state of a Leia status; anything unknown is UNKNOWN (and shown as sent)."""
    return STATE_OF.get(status, JobState.UNKNOWN)


# -- wire models --------------------------------------------------------------------------------


def _list_of_text(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


WireTime = Annotated[datetime | None, BeforeValidator(_lenient_time)]
WireText = Annotated[str | None, BeforeValidator(_text)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class LeiaApplication(_Wire):
    """The logged-in application (`/whoami`, and the `application` of a login)."""

    id: WireText = None
    api_key: Secret | None = None
    """The spec's Application may echo the key back: kept masked."""
    application_type: WireText = None
    email: WireText = None
    first_name: WireText = None
    last_name: WireText = None
    application_name: WireText = None


class LeiaLogin(_Wire):
    token: Secret
    application: LeiaApplication | None = None


class LeiaJob(_Wire):
    """A job as the server sends it. Every field but `id` may be missing; extra fields are kept
    (the server sends `submitter_id`, `http_code`, `page_range`... which the spec does not declare),
    and `result` may have any shape (its `result_type` says how to read it)."""

    id: Annotated[str, BeforeValidator(_text)]
    application_id: WireText = None
    creation_time: WireTime = None
    document_ids: Annotated[list[str], BeforeValidator(_list_of_text)] = []
    job_type: WireText = None
    status: WireText = None
    starting_time: WireTime = None
    finished_time: WireTime = None
    model_id: WireText = None
    execute_after_id: WireText = None
    parent_job_id: WireText = None
    callback_url: WireText = None
    reason: WireText = None
    result_type: WireText = None
    result: Any = None

    @property
    def status_text(self) -> str:
        return self.status or ""

    @property
    def terminal(self) -> bool:
        return self.status_text in TERMINAL_STATUSES

    @property
    def is_conditional(self) -> bool:
        return self.result_type == "conditional" or self.job_type == "conditional"

    def wire(self) -> dict[str, Any]:
        """The record as received (declared fields that were sent, plus every undeclared one)."""
        return self.model_dump(mode="json", exclude_unset=True)


_JOB = TypeAdapter(LeiaJob)
_JOBS = TypeAdapter(list[LeiaJob], config=DEFERRED)
_LOGIN = TypeAdapter(LeiaLogin)
_APPLICATION = TypeAdapter(LeiaApplication)
_STATUSES = TypeAdapter(dict[str, Annotated[str | None, BeforeValidator(_text)]], config=DEFERRED)


# -- filters ------------------------------------------------------------------------------------


def wire_datetime(moment: datetime) -> str:
    """A query date-time as the server wants it: naive UTC, whole seconds, `yyyy-MM-ddThh:mm:ss`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class LeiaFilters:
    """The server-side filters and sort of `GET /job`. Empty fields are not sent."""

    job_id: str | None = None
    application_id: str | None = None
    job_type: LeiaJobType | None = None
    model_id: str | None = None
    document_id: str | None = None
    execute_after_id: str | None = None
    parent_job_id: str | None = None
    status: LeiaStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort: tuple[str, ...] = ()
    """Sort fields in order, each optionally prefixed with `-` for descending."""

    def params(self) -> dict[str, str]:
        """Query parameters for httpx (which URL-encodes them)."""
        out: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or value == "" or value == ():
                continue
            if isinstance(value, datetime):
                out[spec.name] = wire_datetime(value)
            elif isinstance(value, StrEnum):
                out[spec.name] = value.value
            elif isinstance(value, tuple):
                out[spec.name] = ",".join(value)
            else:
                out[spec.name] = str(value)
        return out

    def describe(self) -> str:
        """One line for a status bar: `status=PROCESSING job_type=predict sort=-creation_time`."""
        return " ".join(f"{k}={v}" for k, v in self.params().items())

    def __bool__(self) -> bool:
        return bool(self.params())


FILTER_FIELDS = tuple(spec.name for spec in fields(LeiaFilters))


def _parse_time(name: str, text: str) -> datetime:
    value = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            name, f"not a date-time: {shown_value(text)} (use yyyy-mm-ddThh:mm:ss, UTC)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_sort(text: str) -> tuple[str, ...]:
    """`-creation_time, status` -> ('-creation_time', 'status'); unknown fields are refused."""
    keys: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name = part.removeprefix("-").removeprefix("+").strip()
        if name not in SORT_FIELDS:
            raise InputError("sort", f"cannot sort by {name!r}; use {', '.join(SORT_FIELDS)}")
        keys.append(f"-{name}" if part.startswith("-") else name)
    return tuple(keys)


def parse_filters(values: Mapping[str, str]) -> LeiaFilters:
    """Filters from form text (blank values are ignored); `InputError` names the bad field."""
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        text = (raw or "").strip()
        if name not in FILTER_FIELDS:
            raise InputError(name, "unknown filter")
        if not text:
            continue
        if name == "status":
            try:
                kwargs[name] = LeiaStatus(text.upper())
            except ValueError:
                allowed = ", ".join(s.value for s in LeiaStatus)
                raise InputError(name, f"{shown_value(text)} is not a status ({allowed})") from None
        elif name == "job_type":
            try:
                kwargs[name] = LeiaJobType(text.lower())
            except ValueError:
                allowed = ", ".join(t.value for t in LeiaJobType)
                raise InputError(
                    name, f"{shown_value(text)} is not a job type ({allowed})"
                ) from None
        elif name in ("created_after", "created_before"):
            kwargs[name] = _parse_time(name, text)
        elif name == "sort":
            kwargs[name] = parse_sort(text)
        else:
            kwargs[name] = text
    filters = LeiaFilters(**kwargs)
    if (
        filters.created_after is not None
        and filters.created_before is not None
        and filters.created_after >= filters.created_before
    ):
        raise InputError("created_before", "must be later than created_after")
    return filters


# -- conditional rules --------------------------------------------------------------------------

_BODY_KEYS = frozenset({"rules", "callback_url", "callback_headers", "block_processing"})
_RULE_KEYS = frozenset({"conditions", "jobs"})
_JOB_KEYS = frozenset(
    {
        "job_type",
        "document_ids",
        "tag",
        "page_range",
        "model_id",
        "model_params",
        "format_type",
        "output_type",
        "transform_params",
        "input_tag",
        "output_tag",
    }
)
_SCALAR = (str, int, float, bool, type(None))


def _check_condition(where: str, name: str, cond: Any) -> None:
    items = cond if isinstance(cond, list) else [cond]
    if isinstance(cond, list) and not cond:
        raise InputError("rules", f"{where}: condition on {name!r} is an empty list")
    for item in items:
        if isinstance(item, dict):
            if not item:
                raise InputError("rules", f"{where}: condition on {name!r} is an empty object")
            for op, arg in item.items():
                if op not in CONDITION_OPERATORS:
                    raise InputError(
                        "rules",
                        f"{where}: unknown operator {op!r} on {name!r} "
                        f"(use {' '.join(CONDITION_OPERATORS)})",
                    )
                if op in ("$in", "$nin") and not isinstance(arg, list):
                    raise InputError("rules", f"{where}: {op} on {name!r} needs a list")
                if op in ("$gt", "$gte", "$lt", "$lte") and (
                    isinstance(arg, bool) or not isinstance(arg, int | float | str)
                ):
                    raise InputError("rules", f"{where}: {op} on {name!r} needs a number or text")
        elif not isinstance(item, _SCALAR):
            raise InputError(
                "rules", f"{where}: condition on {name!r} must be a value or {{op: value}}"
            )


def _check_job(where: str, spec: Any, first: bool) -> None:
    if not isinstance(spec, dict):
        raise InputError("rules", f"{where} must be an object")
    unknown = sorted(set(spec) - _JOB_KEYS)
    if unknown:
        raise InputError("rules", f"{where}: unknown key {unknown[0]!r}")
    kind = spec.get("job_type")
    if kind not in RULE_JOB_TYPES:
        raise InputError("rules", f"{where}: job_type must be apply_model or transform")
    if kind == "apply_model":
        if not isinstance(spec.get("model_id"), str) or not spec["model_id"].strip():
            raise InputError("rules", f"{where}: model_id is required for apply_model")
        if spec.get("format_type") not in (None, "classification"):
            raise InputError("rules", f"{where}: format_type can only be 'classification'")
    elif spec.get("output_type") not in TRANSFORM_TYPES:
        raise InputError(
            "rules", f"{where}: output_type must be one of {', '.join(TRANSFORM_TYPES)}"
        )
    docs = spec.get("document_ids", [])
    if not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
        raise InputError("rules", f"{where}: document_ids must be a list of document ids")
    if first and not docs:
        raise InputError("rules", f"{where}: the first job of a rule needs document_ids")
    for key in ("model_params", "transform_params"):
        if key in spec and not isinstance(spec[key], dict):
            raise InputError("rules", f"{where}: {key} must be an object")
    for key in ("tag", "page_range", "input_tag", "output_tag"):
        if key in spec and not isinstance(spec[key], str):
            raise InputError("rules", f"{where}: {key} must be text")


def check_conditional_body(body: Any) -> dict[str, Any]:
    """Validate a ConditionalBody; `InputError("rules", ...)` names the rule and job at fault."""
    if not isinstance(body, dict):
        raise InputError("rules", "must be a JSON object")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise InputError(
            "rules", f"unknown key {unknown[0]!r} (expected {', '.join(sorted(_BODY_KEYS))})"
        )
    rules = body.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise InputError("rules", 'needs at least one rule: {"rule_id": {conditions, jobs}}')
    for rule_id, rule in rules.items():
        where = f"rule {rule_id!r}"
        if not rule_id.strip():
            raise InputError("rules", "a rule id is empty")
        if not isinstance(rule, dict):
            raise InputError("rules", f"{where} must be an object with conditions and jobs")
        extra = sorted(set(rule) - _RULE_KEYS)
        if extra:
            raise InputError(
                "rules", f"{where}: unknown key {extra[0]!r} (expected conditions, jobs)"
            )
        conditions = rule.get("conditions", {})
        if not isinstance(conditions, dict):
            raise InputError("rules", f"{where}: conditions must be an object")
        for name, cond in conditions.items():
            _check_condition(where, name, cond)
        jobs = rule.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise InputError("rules", f"{where}: jobs must be a non-empty list")
        for index, spec in enumerate(jobs):
            _check_job(f"{where} job {index + 1}", spec, index == 0)
    if "callback_url" in body and not isinstance(body["callback_url"], str):
        raise InputError("rules", "callback_url must be text")
    if "block_processing" in body and not isinstance(body["block_processing"], bool):
        raise InputError("rules", "block_processing must be true or false")
    headers = body.get("callback_headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InputError("rules", "callback_headers must be an object of text values")
    return body


def _finite(text: str) -> float:
    """A JSON number as a float; one JSON cannot carry (like 1e999) is a ValueError."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a JSON value")


def validate_rules(text: str) -> dict[str, Any]:
    """Parse and validate the JSON of a conditional job: a whole ConditionalBody, or only its
    `rules` map. Returns the ConditionalBody; `InputError("rules", ...)` says what is wrong."""
    if not text.strip():
        raise InputError("rules", "is empty")
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            "rules", f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise InputError("rules", "not valid JSON: nested too deeply") from None
    except ValueError as error:  # a number too long to read
        raise InputError("rules", f"not valid JSON: {error}") from None
    if isinstance(data, dict) and data and not set(data) <= _BODY_KEYS:
        data = {"rules": data}
    return check_conditional_body(data)


def _form_value(text: str) -> Any:
    """A typed value: JSON literals (numbers, true, null, "quoted") as such, anything else as text."""
    try:
        value = json.loads(text, parse_constant=str)
    except (ValueError, RecursionError):
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("value", f"the number {text[:20]} is out of range")
    return value if isinstance(value, _SCALAR) else text


@dataclass
class RuleForm:
    """One rule as a small form: when `field` `operator` `value` holds on the prerequisite's
    result, run one job (apply a model, or transform). `body()` gives a validated ConditionalBody."""

    rule_id: str = "rule_1"
    field: str = "category"
    operator: str = "$eq"
    value: str = ""
    job_type: str = "apply_model"
    model_id: str = ""
    format_type: str = ""
    output_type: str = "text"
    document_ids: str = ""
    """Comma-separated; prefilled with the selected job's documents."""
    page_range: str = ""
    tag: str = ""

    OPERATORS: ClassVar[tuple[str, ...]] = CONDITION_OPERATORS

    @classmethod
    def for_job(cls, job: Job) -> RuleForm:
        docs = job.raw.get("document_ids") or []
        return cls(document_ids=",".join(str(d) for d in docs))

    def condition(self) -> Any:
        if self.operator not in CONDITION_OPERATORS:
            raise InputError("operator", f"use one of {' '.join(CONDITION_OPERATORS)}")
        text = self.value.strip()
        if not text:
            raise InputError("value", "a value is required")
        if self.operator in ("$in", "$nin"):
            return {self.operator: [_form_value(part.strip()) for part in text.split(",")]}
        value = _form_value(text)
        if self.operator in ("$gt", "$gte", "$lt", "$lte") and not isinstance(
            value, int | float | str
        ):
            raise InputError("value", f"{self.operator} needs a number or text")
        return value if self.operator == "$eq" else {self.operator: value}

    def job(self) -> dict[str, Any]:
        docs = [d.strip() for d in self.document_ids.split(",") if d.strip()]
        if not docs:
            raise InputError("document_ids", "at least one document id is required")
        spec: dict[str, Any] = {"job_type": self.job_type, "document_ids": docs}
        if self.job_type == "apply_model":
            if not self.model_id.strip():
                raise InputError("model_id", "a model id or short name is required")
            spec["model_id"] = self.model_id.strip()
            if self.format_type.strip():
                if self.format_type.strip() != "classification":
                    raise InputError("format_type", "can only be classification (or empty)")
                spec["format_type"] = "classification"
        elif self.job_type == "transform":
            if self.output_type not in TRANSFORM_TYPES:
                raise InputError("output_type", f"use one of {', '.join(TRANSFORM_TYPES)}")
            spec["output_type"] = self.output_type
        else:
            raise InputError("job_type", "use apply_model or transform")
        if self.page_range.strip():
            spec["page_range"] = self.page_range.strip()
        if self.tag.strip():
            spec["tag"] = self.tag.strip()
        return spec

    def rule(self) -> dict[str, Any]:
        if not self.rule_id.strip():
            raise InputError("rule_id", "a rule id is required")
        if not self.field.strip():
            raise InputError("field", "the result field to test is required")
        return {"conditions": {self.field.strip(): self.condition()}, "jobs": [self.job()]}

    def body(
        self, *, callback_url: str | None = None, block_processing: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"rules": {self.rule_id.strip(): self.rule()}}
        if callback_url:
            body["callback_url"] = callback_url
        if block_processing:
            body["block_processing"] = True
        return check_conditional_body(body)


# -- client -------------------------------------------------------------------------------------

_RANGE = re.compile(r"(?<!\d)(\d{1,18})\s*-\s*(\d{1,18})\s*/\s*(\d{1,18}(?!\d)|\*)")
_NO_JOBS = re.compile(r"no\s+jobs?\b", re.IGNORECASE)
_LOGIN_PATH = re.compile(r"/login/[^\s/\"?]+")


class _RedactLoginKey(logging.Filter):
    """httpx logs request URLs; the deprecated login carries the API key in its path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("/login/" in str(a) for a in record.args):
            record.args = tuple(
                _LOGIN_PATH.sub("/login/***", str(a)) if "/login/" in str(a) else a
                for a in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactLoginKey) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactLoginKey())


def _reason(response: httpx.Response) -> str:
    """The server's message: problem+json `detail` (or `title`), else the start of the text."""
    if not json_depth_ok(response.content):
        return "an error body nested too deep to read"
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        for key in ("detail", "title", "message", "error"):
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key])
    return ""


def parse_content_range(value: str | None) -> int | None:
    """The total of `Content-Range: first-last/total` (any unit prefix); None when absent."""
    if not value:
        return None
    match = _RANGE.search(value)
    if match is None or match.group(3) == "*":
        return None
    return int(match.group(3))


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[LeiaJob]
    offset: int
    total: int | None


class LeiaClient:
    """An async client for one Leia application (one API key) over one httpx client.

    `requests` counts the requests sent per operation (`get_jobs`, `get_job_statuses`...).
    """

    def __init__(
        self,
        url: str,
        api_key: Secret | str,
        *,
        service: str = "leia",
        verify: bool = True,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        keepalive_after: float = 240.0,
        max_url: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.service = service
        self._api_key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        self._http = http or make_client(url, verify=verify, timeout=timeout)
        self._pages: SameBody[list[LeiaJob]] = SameBody()
        self._token: Secret | None = None
        self._login_lock = asyncio.Lock()
        self._login_get = False
        self.keepalive_after = keepalive_after
        self.max_url = max_url
        self.clock = clock
        self.last_request: float | None = None
        self.application: LeiaApplication | None = None
        self.requests: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"LeiaClient({self.service!r}, {str(self._http.base_url)!r}, logged_in={self.logged_in})"

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    async def _raw(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        token: Secret | None = None,
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["token"] = token.get_secret_value()
        self.requests[op] += 1
        self.last_request = self.clock()
        request = self._http.build_request(
            method, path, params=params, json=json_body, headers=headers
        )
        return await fetch(
            self._http, self.service, request, limit=limit or limits().record, what=what
        )

    def _error(self, response: httpx.Response) -> ServiceError:
        return error_for_status(self.service, response, _reason)

    async def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: Iterable[int] = (200,),
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        """An authenticated call: logs in first if needed, and once more on a 401."""
        accepted = tuple(ok)
        if self._token is None:
            await self._relogin(None)
        token = self._token
        response = await self._raw(
            op,
            method,
            path,
            params=params,
            json_body=json_body,
            token=token,
            limit=limit,
            what=what,
        )
        if response.status_code == 401:
            await self._relogin(token)
            token = self._token
            response = await self._raw(
                op,
                method,
                path,
                params=params,
                json_body=json_body,
                token=token,
                limit=limit,
                what=what,
            )
        if response.status_code not in accepted:
            raise self._error(response)
        return response

    async def _relogin(self, stale: Secret | None) -> None:
        async with self._login_lock:
            if self._token is not None and self._token is not stale:
                return  # another call logged in meanwhile
            await self._login()

    def _parse(self, adapter: TypeAdapter[Any], response: httpx.Response, what: str) -> Any:
        return parse_body(self.service, adapter, response.content, what)

    # -- session --------------------------------------------------------------------------------

    async def login(self) -> LeiaApplication | None:
        """Log in now (calls made without a token log in by themselves)."""
        async with self._login_lock:
            await self._login()
        return self.application

    async def _login(self) -> None:
        self._token = None
        key = self._api_key.get_secret_value()
        response: httpx.Response | None = None
        if not self._login_get:
            response = await self._raw(
                "login_application_post", "POST", "/login", json_body={"api_key": key}
            )
            if response.status_code in (404, 405):
                self._login_get = True
                response = None
        if response is None:
            response = await self._raw("login_application", "GET", f"/login/{quote(key, safe='')}")
        if response.status_code != 200:
            raise self._error(response)
        login: LeiaLogin = self._parse(_LOGIN, response, "login answer")
        sent = login.token.get_secret_value()
        if not (sent.isascii() and sent.isprintable()):
            # it goes back in a header, which holds visible ASCII only
            raise BadPayloadError(self.service, "login answer: a token that cannot be sent back")
        self._token = login.token
        self.application = login.application

    async def logout(self) -> None:
        if self._token is None:
            return
        token, self._token = self._token, None
        response = await self._raw("logout_application", "GET", "/logout", token=token)
        if response.status_code not in (200, 204, 401):
            raise self._error(response)

    async def whoami(self) -> LeiaApplication:
        """The logged-in application; also resets the token's inactivity timer."""
        response = await self._call("who_am_i", "GET", "/whoami")
        application: LeiaApplication = self._parse(_APPLICATION, response, "application")
        self.application = application
        return application

    def idle_for(self) -> float | None:
        return None if self.last_request is None else self.clock() - self.last_request

    async def keep_alive(self) -> bool:
        """Ping `/whoami` when logged in and idle for `keepalive_after` seconds; True if it did."""
        idle = self.idle_for()
        if self._token is None or idle is None or idle < self.keepalive_after:
            return False
        await self.whoami()
        return True

    # -- jobs -----------------------------------------------------------------------------------

    async def list_jobs(
        self, filters: LeiaFilters | None = None, *, offset: int = 0, limit: int | None = 100
    ) -> JobPage:
        """One page of `GET /job`. A 404 "No jobs found" is an empty page."""
        params = (filters or LeiaFilters()).params()
        if offset:
            params["offset"] = str(offset)
        if limit is not None:
            params["limit"] = str(limit)
        response = await self._call(
            "get_jobs",
            "GET",
            "/job",
            params=params,
            ok=(200, 404),
            limit=limits().list_page,
            what="job list",
        )
        if response.status_code == 404:
            if response.content.strip() and not _NO_JOBS.search(_reason(response)):
                raise self._error(response)  # not the empty-list answer: a wrong URL, say
            return JobPage([], offset, None if offset else 0)
        parsed = self._pages.parse(
            response.content, lambda content: self._parse(_JOBS, response, "job list")
        )
        jobs: list[LeiaJob] = list(parsed)
        return JobPage(jobs, offset, parse_content_range(response.headers.get("Content-Range")))

    async def list_all_jobs(
        self, filters: LeiaFilters | None = None, *, page_size: int = 100
    ) -> tuple[list[LeiaJob], int | None]:
        """Every job matching `filters`, page by page. Relies only on the total of Content-Range
        and on how many jobs each page holds (the server may send fewer than asked). Ends at a
        page that adds no new job, and at `Limits.max_jobs` jobs (a server paging for ever)."""
        jobs: dict[str, LeiaJob] = {}
        offset = 0
        total: int | None = None
        cap = limits().max_jobs
        while len(jobs) < cap:
            page = await self.list_jobs(filters, offset=offset, limit=page_size)
            if page.total is not None:
                total = page.total
            new = [job for job in page.jobs if job.id not in jobs]
            if not new:
                break  # the end, or a server that ignores the offset: nothing new to read
            for job in new[: cap - len(jobs)]:
                jobs[job.id] = job
            offset += len(page.jobs)
            if total is not None and offset >= total:
                break
        return list(jobs.values()), total

    async def get_job(self, job_id: str) -> LeiaJob:
        response = await self._call("get_job", "GET", f"/job/{quote(job_id, safe='')}")
        job: LeiaJob = self._parse(_JOB, response, "job")
        return job

    def status_chunks(self, job_ids: Sequence[str]) -> list[list[str]]:
        """Split ids so each `GET /job/{ids}/status` URL stays within `max_url` bytes."""
        fixed = len(self.base_url) + len("/job/") + len("/status")
        chunks: list[list[str]] = []
        current: list[str] = []
        size = fixed
        for job_id in job_ids:
            cost = len(quote(job_id, safe="")) + (1 if current else 0)
            if current and size + cost > self.max_url:
                chunks.append(current)
                current, size = [], fixed
                cost -= 1
            current.append(job_id)
            size += cost
        if current:
            chunks.append(current)
        return chunks

    async def get_statuses(self, job_ids: Sequence[str]) -> dict[str, str]:
        """{id: status} for the ids the server knows (unknown ids are left out)."""
        result: dict[str, str] = {}
        for chunk in self.status_chunks(list(dict.fromkeys(job_ids))):
            path = "/job/" + ",".join(quote(i, safe="") for i in chunk) + "/status"
            response = await self._call("get_job_statuses", "GET", path, ok=(200, 404))
            if response.status_code == 404:
                continue
            statuses: dict[str, str | None] = self._parse(_STATUSES, response, "status map")
            result.update({k: v or "" for k, v in statuses.items()})
        return result

    async def cancel_job(self, job_id: str) -> None:
        await self._call("cancel_job", "DELETE", f"/job/{quote(job_id, safe='')}", ok=(200, 204))

    async def start_job(self, job_id: str) -> LeiaJob:
        response = await self._call("start_job", "POST", f"/job/{quote(job_id, safe='')}/start")
        job: LeiaJob = self._parse(_JOB, response, "job")
        return job

    async def create_conditional(
        self,
        execute_after_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        callback_url: str | None = None,
        block_processing: bool | None = None,
    ) -> LeiaJob:
        """`POST /job/conditional/{execute_after_id}` with a ConditionalBody."""
        params: dict[str, str] = {}
        if callback_url:
            params["callback_url"] = callback_url
        if block_processing is not None:
            params["block_processing"] = "true" if block_processing else "false"
        response = await self._call(
            "create_conditional_job",
            "POST",
            f"/job/conditional/{quote(execute_after_id, safe='')}",
            params=params,
            json_body=dict(body or {}),
        )
        job: LeiaJob = self._parse(_JOB, response, "job")
        return job

    async def apply_model(
        self, model_id: str, document_ids: Sequence[str], **options: Any
    ) -> LeiaJob:
        """`POST /model/{model_id}/apply/{document_ids}`; options go in the ApplyBody."""
        docs = ",".join(quote(d, safe="") for d in document_ids)
        response = await self._call(
            "apply_model_async",
            "POST",
            f"/model/{quote(model_id, safe='')}/apply/{docs}",
            json_body={k: v for k, v in options.items() if v is not None},
        )
        job: LeiaJob = self._parse(_JOB, response, "job")
        return job

    async def transform(
        self, document_ids: Sequence[str], output_type: str, **options: Any
    ) -> LeiaJob:
        """`POST /document/{document_ids}/transform/{output_type}`; options go in the body."""
        docs = ",".join(quote(d, safe="") for d in document_ids)
        response = await self._call(
            "transform_document_async",
            "POST",
            f"/document/{docs}/transform/{quote(output_type, safe='')}",
            json_body={k: v for k, v in options.items() if v is not None},
        )
        job: LeiaJob = self._parse(_JOB, response, "job")
        return job


# -- adapter ------------------------------------------------------------------------------------


class LeiaConfigLike(Protocol):
    """What `from_config` reads of `jobtui.config.LeiaConfig`."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def verify(self) -> bool: ...
    @property
    def api_key(self) -> Secret: ...


@dataclass(frozen=True, slots=True)
class LeiaChain:
    """A job's links for the detail pane. The ids are as the job sent them; the `Job`s are None
    (or missing from the tuples) when the linked job is not in the snapshot."""

    job_id: str
    waits_on_id: str | None = None
    """`execute_after_id`: the job that must be PROCESSED first."""
    waits_on: Job | None = None
    parent_id: str | None = None
    """`parent_job_id`: the conditional job that created this one."""
    parent: Job | None = None
    children: tuple[Job, ...] = ()
    """Jobs whose `parent_job_id` is this job (the jobs a conditional job's rules created)."""
    dependents: tuple[Job, ...] = ()
    """Jobs whose `execute_after_id` is this job."""


def _link(job: Job, key: str) -> str | None:
    value = job.raw.get(key)
    return str(value) if value else None


def chain_of(job_id: str, snapshot: Mapping[str, Job]) -> LeiaChain:
    """The links of `job_id` within `snapshot` (one pass over it)."""
    job = snapshot.get(job_id)
    waits_on_id = _link(job, "execute_after_id") if job else None
    parent_id = _link(job, "parent_job_id") if job else None
    children = tuple(j for j in snapshot.values() if _link(j, "parent_job_id") == job_id)
    dependents = tuple(j for j in snapshot.values() if _link(j, "execute_after_id") == job_id)
    return LeiaChain(
        job_id,
        waits_on_id,
        snapshot.get(waits_on_id) if waits_on_id else None,
        parent_id,
        snapshot.get(parent_id) if parent_id else None,
        children,
        dependents,
    )


class LeiaService(Service):
    """One Leia application as a job list (see the module docstring for the polling strategy)."""

    kind = "leia"
    columns = (
        Column("model", "Model", 24),
        Column("documents", "Docs", 5),
    )
    actions = (Action.CANCEL, Action.START, Action.CONDITIONAL)

    def __init__(
        self,
        name: str,
        url: str,
        api_key: Secret | str,
        *,
        verify: bool = True,
        full_every: int = 10,
        page_size: int = 100,
        keepalive_after: float = 240.0,
        max_url: int = 2000,
        filters: LeiaFilters | None = None,
        client: LeiaClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or LeiaClient(
            url,
            api_key,
            service=name,
            verify=verify,
            keepalive_after=keepalive_after,
            max_url=max_url,
        )
        self.full_every = max(1, full_every)
        self.page_size = max(1, page_size)
        self._filters = filters or LeiaFilters()
        self._records: dict[str, LeiaJob] = {}
        self._made: JobsOfRecords[LeiaJob] = JobsOfRecords()
        self._jobs: dict[str, Job] = {}
        self._listed: list[Job] | None = None
        """`_jobs` as the list a poll returns; None once `_jobs` changed. While nothing changes,
        each poll returns the very same list (which `ServiceMonitor` takes as no change)."""
        self._active: list[str] | None = None
        """The ids of the unfinished jobs of `_records`; None once `_records` changed."""
        self._cycle = 0
        self._needs_full = True
        self._total: int | None = None
        self._index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self.last_poll_requests = 0
        """Requests the last poll made (its keep-alive ping included)."""
        self.last_poll_full = False

    def __repr__(self) -> str:
        return f"LeiaService({self.name!r}, {self.client.base_url!r})"

    @classmethod
    def from_config(cls, cfg: LeiaConfigLike) -> LeiaService:
        return cls(cfg.name, cfg.url, Secret(cfg.api_key.get_secret_value()), verify=cfg.verify)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- filters and snapshot -------------------------------------------------------------------

    @property
    def filters(self) -> LeiaFilters:
        return self._filters

    def set_filters(self, filters: LeiaFilters) -> None:
        """Apply server-side filters: the next poll lists everything again with them."""
        if filters != self._filters:
            self._filters = filters
            self._needs_full = True

    @property
    def jobs(self) -> Mapping[str, Job]:
        """The current snapshot, in listing order."""
        return self._jobs

    @property
    def cycle(self) -> int:
        """Polls done since the last full listing was due (0 = the next poll lists everything)."""
        return 0 if self._needs_full else self._cycle

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        before = self.client.request_count
        full = self._needs_full or self._cycle % self.full_every == 0
        if full:
            records, total = await self.client.list_all_jobs(
                self._filters, page_size=self.page_size
            )
            self._records = {job.id: job for job in records}
            self._jobs = {job.id: job for job in self._made.jobs(records, self.to_job)}
            self._listed = self._active = None
            self._total = total
            self._needs_full = False
            self._cycle = 0
            self._index = None
        else:
            await self._refresh_active()
        self._cycle += 1
        await self.client.keep_alive()
        self.last_poll_requests = self.client.request_count - before
        self.last_poll_full = full
        described = self._filters.describe()
        if self._listed is None:
            self._listed = list(self._jobs.values())
        notes = [f"filter {described}"] if described else []
        total = self._total if self._total is not None and self._total > len(self._listed) else None
        if len(self._listed) >= limits().max_jobs:
            notes.append(f"first {len(self._listed):,} jobs (jobtui lists at most that many)")
        return PollResult(self._listed, total, note="; ".join(notes))

    async def _refresh_active(self) -> None:
        if self._active is None:
            self._active = [job_id for job_id, job in self._records.items() if not job.terminal]
        active = self._active
        if not active:
            return
        statuses = await self.client.get_statuses(active)
        stale = [i for i in active if statuses.get(i) != self._records[i].status_text]
        fetched = await self._fetch(stale)
        _, children = self._indexes()
        look = [
            job_id
            for job_id in active
            if (record := fetched.get(job_id, self._records[job_id])) is not None
            and record.is_conditional
            and (
                job_id in fetched or (record.status_text == "PROCESSING" and job_id not in children)
            )
        ]
        added: dict[str, LeiaJob] = {}
        for job_id in look:
            found, _ = await self.client.list_all_jobs(
                LeiaFilters(parent_job_id=job_id), page_size=self.page_size
            )
            added.update((c.id, c) for c in found if c.id not in self._records)
        for job_id, job in fetched.items():
            if job is None:
                self._records.pop(job_id, None)
                self._jobs.pop(job_id, None)
                self._listed = self._active = None
                self._index = None
            else:
                self._put(job)
        for job in added.values():
            self._put(job)

    async def _fetch(self, job_ids: Sequence[str]) -> dict[str, LeiaJob | None]:
        """Fetch jobs in full, four at a time; None for a job the server no longer knows."""
        gate = asyncio.Semaphore(4)
        out: dict[str, LeiaJob | None] = {}

        async def one(job_id: str) -> None:
            async with gate:
                try:
                    out[job_id] = await self.client.get_job(job_id)
                except NotFoundError:
                    out[job_id] = None

        await asyncio.gather(*(one(job_id) for job_id in job_ids))
        return {job_id: out[job_id] for job_id in job_ids}

    def _put(self, record: LeiaJob) -> Job:
        if record.id not in self._records:
            self._index = None
        self._records[record.id] = record
        job = self.to_job(record)
        self._jobs[record.id] = job
        self._listed = self._active = None
        return job

    async def keep_alive(self) -> bool:
        """Ping the server if nothing was sent for `keepalive_after` seconds (for a UI timer)."""
        return await self.client.keep_alive()

    # -- mapping --------------------------------------------------------------------------------

    def to_job(self, record: LeiaJob) -> Job:
        status = record.status_text
        state = state_of(status)
        actions = {Action.CONDITIONAL}
        if not state.terminal:
            actions.add(Action.CANCEL)
        if status == "BLOCKED":
            actions.add(Action.START)
        if record.reason:
            message = record.reason
            code = (record.model_extra or {}).get("http_code")
            if state is JobState.FAILED and code not in (None, "", 200):
                message = f"{message} (code {code})"
        elif status == "WAITING" and record.execute_after_id:
            message = f"waits on {record.execute_after_id}"
        elif status == "BLOCKED":
            message = "blocked until started"
        else:
            message = ""
        times = (record.starting_time, record.finished_time, record.reason, record.result_type)
        return Job(
            service=self.name,
            id=record.id,
            state=state,
            raw_state=status,
            type=record.job_type or "",
            created=record.creation_time,
            updated=record.finished_time or record.starting_time or record.creation_time,
            started=record.starting_time,
            finished=record.finished_time,
            message=message,
            actions=frozenset(actions),
            extra={
                "job_type": record.job_type or "",
                "model": record.model_id or "",
                "documents": str(len(record.document_ids)),
            },
            raw=LazyRecord(record.wire),
            revision="|".join([status, *(str(t) for t in times)]),
        )

    # -- chains ---------------------------------------------------------------------------------

    def _indexes(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        if self._index is None:
            dependents: dict[str, list[str]] = {}
            children: dict[str, list[str]] = {}
            for record in self._records.values():
                if record.execute_after_id:
                    dependents.setdefault(record.execute_after_id, []).append(record.id)
                if record.parent_job_id:
                    children.setdefault(record.parent_job_id, []).append(record.id)
            self._index = (dependents, children)
        return self._index

    def chain(self, job_id: str) -> LeiaChain:
        """`chain_of` over the service's own snapshot, from indexes kept between polls."""
        dependents, children = self._indexes()
        record = self._records.get(job_id)
        waits_on_id = record.execute_after_id if record else None
        parent_id = record.parent_job_id if record else None
        return LeiaChain(
            job_id,
            waits_on_id,
            self._jobs.get(waits_on_id) if waits_on_id else None,
            parent_id,
            self._jobs.get(parent_id) if parent_id else None,
            tuple(self._jobs[i] for i in children.get(job_id, ()) if i in self._jobs),
            tuple(self._jobs[i] for i in dependents.get(job_id, ()) if i in self._jobs),
        )

    def dependents_that_fail(self, job_id: str) -> list[Job]:
        """Jobs not yet ended whose `execute_after_id` chain leads to `job_id`: cancelling it
        fails them."""
        dependents, _ = self._indexes()
        out: list[Job] = []
        seen = {job_id}
        todo = list(dependents.get(job_id, ()))
        while todo:
            current = todo.pop(0)
            if current in seen:
                continue
            seen.add(current)
            job = self._jobs.get(current)
            if job is not None and not job.state.terminal:
                out.append(job)
            todo.extend(dependents.get(current, ()))
        return out

    def _running_children(self, job_id: str) -> list[Job]:
        _, children = self._indexes()
        jobs = (self._jobs.get(i) for i in children.get(job_id, ()))
        return [job for job in jobs if job is not None and not job.state.terminal]

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        if job is not None and action in self.actions and action not in job.actions:
            if action is Action.CANCEL:
                if job.raw_state == "CANCELED":
                    return "the job is already canceled"
                return "finished jobs cannot be cancelled"
            if action is Action.START:
                return f"only BLOCKED jobs can be started (this one is {job.raw_state or '?'})"
        return super().disabled_reason(action, job)

    def confirm_text(self, action: Action, job: Job) -> str:
        if action is not Action.CANCEL:
            return super().confirm_text(action, job)
        text = f"Cancel Leia job {job.id} ({job.raw_state})?"
        failing = self.dependents_that_fail(job.id)
        if failing:
            noun = "job waits" if len(failing) == 1 else "jobs wait"
            text += f"\n\n{len(failing)} dependent {noun} on it and will fail:"
            text += "".join(f"\n  {d.id}  {d.raw_state}  {d.type}".rstrip() for d in failing[:8])
            if len(failing) > 8:
                text += f"\n  … and {len(failing) - 8} more"
        children = self._running_children(job.id)
        if children:
            text += f"\n\nIts {len(children)} unfinished sub-job(s) will be canceled."
        return text

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.CANCEL:
            failing = len(self.dependents_that_fail(job.id))
            await self.client.cancel_job(job.id)
            tail = f"; {failing} dependent job(s) will fail" if failing else ""
            return f"{self.name}: job {job.id} canceled{tail}"
        if action is Action.START:
            record = await self.client.start_job(job.id)
            self._put(record)
            return f"{self.name}: job {job.id} started ({record.status_text})"
        raise UnsupportedActionError(self.name, action)

    async def create_conditional(self, execute_after_id: str, body: Mapping[str, Any] | str) -> Job:
        """Create a conditional job that runs after `execute_after_id`. `body` is a ConditionalBody
        (or its JSON text, or a bare rules map as text); it is validated before anything is sent."""
        checked = (
            validate_rules(body) if isinstance(body, str) else check_conditional_body(dict(body))
        )
        record = await self.client.create_conditional(execute_after_id, checked)
        return self._put(record)

    def with_filters(self, **changes: Any) -> LeiaFilters:
        """The current filters with some fields changed (a convenience for the UI)."""
        return replace(self._filters, **changes)


def pages_needed(total: int, page_size: int) -> int:
    """How many `GET /job` requests a full listing of `total` jobs takes (at least one)."""
    return max(1, math.ceil(total / page_size))


__all__ = [
    "CONDITION_OPERATORS",
    "SORT_FIELDS",
    "STATE_OF",
    "TERMINAL_STATUSES",
    "TRANSFORM_TYPES",
    "JobPage",
    "LeiaApplication",
    "LeiaChain",
    "LeiaClient",
    "LeiaFilters",
    "LeiaJob",
    "LeiaJobType",
    "LeiaService",
    "LeiaStatus",
    "RuleForm",
    "chain_of",
    "check_conditional_body",
    "pages_needed",
    "parse_content_range",
    "parse_filters",
    "parse_sort",
    "state_of",
    "validate_rules",
    "wire_datetime",
]
