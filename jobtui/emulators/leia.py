"""A local Leia (LeiaWS 1.0.0) server: login tokens, jobs, chains and conditional jobs.

It follows the wire reference (`shared/apis/leia.md`) closely enough that the vendor's generated
Python client works against it (with `_preload_content=False` where that client cannot parse):

* mounted under `/leia/1.0.0`; `POST /login` (and the deprecated `GET /login/{api_key}`) trade the
  API key for a token; every other call needs the `token` header (missing: 400 problem+json; unknown
  or idle for longer than the TTL: 401 "Not logged in"). Every authenticated call, `/whoami` included,
  resets the token's inactivity timer.
* `GET /job` filters, sorts (comma list, `-` for descending), pages with `offset`/`limit` (at most
  `max_limit`), answers `Content-Range: first-last/total` (last inclusive) and `Accept-Range: job MAX`,
  and answers an empty result with 404 "No jobs found". `GET /job/{id}`, `GET /job/{ids}/status`,
  `DELETE /job/{id}`, `POST /job/{id}/start`, `POST /job/conditional/{execute_after_id}`,
  `POST /model/{model_id}/apply/{document_ids}` and `POST /document/{document_ids}/transform/{type}`.
* Errors are Connexion's `application/problem+json`: `{type: "about:blank", title, status, detail}`.

Time is simulated (`SimClock`): each job's transitions are events on a heap, applied lazily at the
start of each request, so speed 0 freezes everything and `state.clock.advance(s)` moves it.
READY -> STARTING -> LOADING_MODEL (jobs with a model) -> PROCESSING -> PROCESSED | FAILED;
WAITING becomes READY one second after its prerequisite is PROCESSED, or FAILED one second after it
fails or is canceled (the failure travels down a chain one second per link). A conditional job, once
PROCESSING, evaluates its rules on the prerequisite's result, creates the matching rules' jobs (each
chained on the previous one, `parent_job_id` = the conditional job) and ends when they have all ended.

Choices where the public sources are silent (marked "inferred" in the reference): cancelling an
already PROCESSED or FAILED job answers 204 and changes nothing; starting a job that is not BLOCKED
answers 200 with the job unchanged; `GET /job/{ids}/status` leaves unknown ids out of the map and
answers 404 only when it knows none of them; `created_after` is inclusive, `created_before` exclusive.

Options (`settings.options`): `api_key`, `token_ttl` (seconds of simulated inactivity, default 1800),
`max_limit` (default 100), `arrivals` (seconds between new jobs, or True for 20), `login_post`
(False answers `POST /login` with 405, like a server that only knows the deprecated GET).
"""

from __future__ import annotations

import heapq
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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

BASE_PATH = "/leia/1.0.0"

STATUSES = (
    "BLOCKED",
    "WAITING",
    "READY",
    "STARTING",
    "LOADING_MODEL",
    "PROCESSING",
    "PROCESSED",
    "FAILED",
    "CANCELED",
)
TERMINAL = frozenset({"PROCESSED", "FAILED", "CANCELED"})
JOB_TYPES = ("predict", "pdf-images", "image-text", "transform")
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
FORMAT_TYPES = ("classification",)
SORT_KEYS = (
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
CONDITION_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
CONDITIONAL_TYPE = "conditional"
"""`job_type` of conditional jobs: a free string, since JobTypes has no value for them."""

PROPAGATE = 1.0
"""Seconds between a prerequisite ending and its WAITING dependants reacting."""
DEFAULT_TTL = 1800.0
DEFAULT_MAX_LIMIT = 100
DEFAULT_ARRIVAL_GAP = 20.0
MAX_ARRIVALS_PER_TICK = 5000

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_STEP, _RESOLVE, _ARRIVE = 0, 1, 2

_CATEGORIES = ("invoice", "receipt", "id_card", "contract", "payslip")
_FAILURES = (
    ("Document could not be read", 400),
    ("Page range out of bounds", 400),
    ("Worker lost while processing", 5000),
    ("Model returned no prediction", 5000),
)


class Problem(Exception):
    """An error answered as Connexion's problem+json."""

    def __init__(self, status: int, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")


def problem_response(status: int, detail: str, title: str | None = None) -> Response:
    body = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass(frozen=True, slots=True)
class Plan:
    """How long each stage of one job takes once it is READY, and how it ends."""

    queue: float
    start: float
    load: float
    process: float
    fails: bool
    reason: str
    http_code: int


@dataclass(slots=True, eq=False)
class SimJob:
    """One job in the emulator. Times are simulated seconds since the epoch (negative = before)."""

    id: str
    submitter_id: str
    application_id: str
    created: float
    document_ids: list[str]
    job_type: str
    status: str = "READY"
    model_id: str | None = None
    execute_after_id: str | None = None
    parent_job_id: str | None = None
    callback_url: str | None = None
    page_range: str | None = None
    started: float | None = None
    finished: float | None = None
    reason: str | None = None
    http_code: int | None = None
    result_type: str | None = None
    result: Any = None
    has_result: bool = False
    format_type: str | None = None
    output_type: str | None = None
    rules: dict[str, Any] | None = None
    rule_jobs: dict[str, list[str]] | None = None
    stamp: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    short_name: str
    name: str
    model_type: str


class LeiaState:
    """Everything the Leia emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `api_key`,
    `application`, `models`, `jobs` (id -> SimJob), `own` (this application's jobs in creation
    order), `foreign_ids` (jobs of another application: 403), `expire_tokens()`, `tick()`.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        options = dict(settings.options)
        self.settings = settings
        self.seed = settings.seed
        self.clock = SimClock(settings.epoch, settings.speed)
        self.epoch_ts = settings.epoch.timestamp()
        self.rng = random.Random(f"leia:{settings.seed}")
        self._token_rng = random.Random(f"leia:{settings.seed}:tokens")
        self.lock = threading.RLock()
        self.faults = Faults(seed=settings.seed)
        self.counts: Counter[str] = Counter()
        self.token_ttl = float(options.get("token_ttl", DEFAULT_TTL))
        self.max_limit = int(options.get("max_limit", DEFAULT_MAX_LIMIT))
        self.login_post = bool(options.get("login_post", True))
        self.api_key = str(options.get("api_key") or f"leia-{self.rng.getrandbits(96):024x}")
        self.tokens: dict[str, float] = {}

        self._machine = self.rng.getrandbits(24)
        self._counter = 0
        self.app_id = self._hex_id(-400 * 86400.0)
        self.partner_id = self._hex_id(-300 * 86400.0)
        self.other_app_id = self._hex_id(-200 * 86400.0)
        self.application: dict[str, Any] = {
            "id": self.app_id,
            "application_name": "jobtui demo",
            "application_type": "developer",
            "email": "demo@leia.example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "creation_time": self.iso(-400 * 86400.0),
            "dedicated_workers": False,
            "dedicated_workers_max_models": 4,
            "dedicated_workers_ttl": 200,
        }
        self.models = [
            Model(self._hex_id(-90 * 86400.0), "classif", "document-classifier", "classification"),
            Model(
                self._hex_id(-80 * 86400.0), "invoice-kv", "invoice-fields", "key_value_extraction"
            ),
            Model(self._hex_id(-70 * 86400.0), "id-card", "id-card-fields", "key_value_extraction"),
        ]
        self._models_by_key = {m.id: m for m in self.models} | {
            m.short_name: m for m in self.models
        }

        self.jobs: dict[str, SimJob] = {}
        self.own: list[SimJob] = []
        self.foreign_ids: list[str] = []
        self.dependants: dict[str, list[SimJob]] = {}
        self.children: dict[str, list[SimJob]] = {}
        self._events: list[tuple[float, int, int, str, int]] = []
        self._seq = 0

        _seed_jobs(self, settings.jobs)

        arrivals = options.get("arrivals")
        self.arrival_gap: float | None = None
        if arrivals:
            self.arrival_gap = DEFAULT_ARRIVAL_GAP if arrivals is True else float(arrivals)
            self._push(self.arrival_gap, 0, "", _ARRIVE)

    # -- ids and times --------------------------------------------------------------------------

    def _hex_id(self, t: float) -> str:
        """A 24-hex id shaped like a Mongo ObjectId: creation second, machine, counter."""
        self._counter += 1
        second = int(self.epoch_ts + t) & 0xFFFFFFFF
        return f"{second:08x}{self._machine:06x}{self._counter:010x}"

    def iso(self, t: float) -> str:
        moment = self.clock.epoch + timedelta(seconds=t)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def seconds_of(self, moment: datetime) -> float:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (moment - self.clock.epoch).total_seconds()

    def now(self) -> float:
        return self.clock.seconds()

    # -- tokens ---------------------------------------------------------------------------------

    def login(self, api_key: str) -> dict[str, Any]:
        if api_key != self.api_key:
            raise Problem(403, "Bad API key")
        token = f"{self._token_rng.getrandbits(128):032x}"
        self.tokens[token] = self.now()
        return {"token": token, "application": dict(self.application)}

    def authenticate(self, token: str) -> None:
        """Accept a live token and reset its inactivity timer, or answer 401."""
        now = self.now()
        last = self.tokens.get(token)
        if last is None or now - last > self.token_ttl:
            self.tokens.pop(token, None)
            raise Problem(401, "Not logged in")
        self.tokens[token] = now

    def expire_tokens(self) -> None:
        """Forget every token, as if each had been idle for longer than the TTL."""
        with self.lock:
            self.tokens.clear()

    # -- events ---------------------------------------------------------------------------------

    def _push(self, t: float, stamp: int, job_id: str, kind: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, stamp, job_id, kind))

    def tick(self) -> None:
        """Apply every transition due by the simulated time now."""
        with self.lock:
            now = self.now()
            events = self._events
            arrivals = 0
            while events and events[0][0] <= now:
                t, _, stamp, job_id, kind = heapq.heappop(events)
                if kind == _ARRIVE:
                    gap = (self.arrival_gap or DEFAULT_ARRIVAL_GAP) * self.rng.uniform(0.5, 1.5)
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
                if kind == _STEP:
                    self._step(job, t)
                else:
                    self._resolve(job, t)

    def plan(self, job: SimJob) -> Plan:
        rng = random.Random(f"{self.seed}:{job.id}:plan")
        fails = job.job_type != CONDITIONAL_TYPE and rng.random() < 0.08
        reason, code = rng.choice(_FAILURES)
        return Plan(
            queue=rng.uniform(1.0, 8.0),
            start=rng.uniform(1.0, 4.0),
            load=rng.uniform(2.0, 10.0),
            process=rng.uniform(2.0, 5.0)
            if job.job_type == CONDITIONAL_TYPE
            else rng.uniform(5.0, 60.0),
            fails=fails,
            reason=reason,
            http_code=code,
        )

    def _set(self, job: SimJob, status: str) -> None:
        job.status = status
        job.stamp += 1

    def set_ready(self, job: SimJob, t: float, step_at: float | None = None) -> None:
        self._set(job, "READY")
        self._push(
            t + self.plan(job).queue if step_at is None else step_at, job.stamp, job.id, _STEP
        )

    def _step(self, job: SimJob, t: float) -> None:
        plan = self.plan(job)
        if job.status == "READY":
            self._set(job, "STARTING")
            job.started = t
            self._push(t + plan.start, job.stamp, job.id, _STEP)
        elif job.status == "STARTING":
            if job.model_id:
                self._set(job, "LOADING_MODEL")
                self._push(t + plan.load, job.stamp, job.id, _STEP)
            else:
                self._set(job, "PROCESSING")
                self._push(t + plan.process, job.stamp, job.id, _STEP)
        elif job.status == "LOADING_MODEL":
            self._set(job, "PROCESSING")
            self._push(t + plan.process, job.stamp, job.id, _STEP)
        elif job.status == "PROCESSING":
            if job.job_type == CONDITIONAL_TYPE:
                if job.rule_jobs is None:
                    _spawn_rule_jobs(self, job, t)
                    self._conditional_check(job, t)
            elif plan.fails:
                self.finish(job, "FAILED", t, plan.reason, plan.http_code)
            else:
                self.finish(job, "PROCESSED", t)

    def _resolve(self, job: SimJob, t: float) -> None:
        if job.status not in ("WAITING", "BLOCKED") or not job.execute_after_id:
            return
        prereq = self.jobs.get(job.execute_after_id)
        if prereq is None or prereq.status in ("FAILED", "CANCELED"):
            what = prereq.status if prereq is not None else "missing"
            self.finish(job, "FAILED", t, f"Prerequisite job {job.execute_after_id} is {what}", 400)
        elif prereq.status == "PROCESSED" and job.status == "WAITING":
            self.set_ready(job, t)

    def finish(
        self,
        job: SimJob,
        status: str,
        t: float,
        reason: str | None = None,
        http_code: int | None = None,
    ) -> None:
        """End `job` with a terminal status and let its dependants and parent react."""
        self._set(job, status)
        job.finished = t
        job.reason = reason
        job.http_code = 200 if status == "PROCESSED" else http_code
        for dependant in self.dependants.get(job.id, ()):
            if dependant.status in ("WAITING", "BLOCKED"):
                self._push(t + PROPAGATE, dependant.stamp, dependant.id, _RESOLVE)
        if status == "CANCELED":
            for child in self.children.get(job.id, ()):
                if not child.terminal:
                    self.finish(child, "CANCELED", t, f"Parent job {job.id} was canceled")
        if job.parent_job_id:
            parent = self.jobs.get(job.parent_job_id)
            if parent is not None and parent.status == "PROCESSING":
                self._conditional_check(parent, t)

    def _conditional_check(self, job: SimJob, t: float) -> None:
        """End a PROCESSING conditional job once every job its rules created has ended."""
        if job.rule_jobs is None or job.job_type != CONDITIONAL_TYPE:
            return
        subs = [self.jobs[i] for ids in job.rule_jobs.values() for i in ids]
        if any(not sub.terminal for sub in subs):
            return
        bad = next((sub for sub in subs if sub.status != "PROCESSED"), None)
        if bad is not None:
            self.finish(job, "FAILED", t, f"Sub-job {bad.id} is {bad.status}", 400)
            return
        job.result = {
            rule: [
                {"result_type": self.jobs[i].result_type, "result": result_of(self, self.jobs[i])}
                for i in ids
            ]
            for rule, ids in job.rule_jobs.items()
        }
        job.has_result = True
        self.finish(job, "PROCESSED", t)

    # -- jobs -----------------------------------------------------------------------------------

    def add(self, job: SimJob) -> SimJob:
        self.jobs[job.id] = job
        if job.submitter_id == self.app_id:
            self.own.append(job)
        else:
            self.foreign_ids.append(job.id)
        if job.execute_after_id:
            self.dependants.setdefault(job.execute_after_id, []).append(job)
        if job.parent_job_id:
            self.children.setdefault(job.parent_job_id, []).append(job)
        return job

    def new_job(
        self,
        t: float,
        job_type: str,
        document_ids: list[str],
        *,
        model: Model | None = None,
        execute_after_id: str | None = None,
        parent_job_id: str | None = None,
        block: bool = False,
        format_type: str | None = None,
        output_type: str | None = None,
        page_range: str | None = None,
        callback_url: str | None = None,
        rules: dict[str, Any] | None = None,
        application_id: str | None = None,
    ) -> SimJob:
        """Create a job as the API does at time `t` and start its life."""
        job = SimJob(
            id=self._hex_id(t),
            submitter_id=self.app_id,
            application_id=application_id or self.app_id,
            created=t,
            document_ids=document_ids,
            job_type=job_type,
            model_id=model.id if model else None,
            execute_after_id=execute_after_id,
            parent_job_id=parent_job_id,
            callback_url=callback_url,
            page_range=page_range,
            format_type=format_type,
            output_type=output_type,
            rules=rules,
        )
        job.result_type = result_type_for(job, model)
        self.add(job)
        if block:
            self._set(job, "BLOCKED")
        else:
            self._release(job, t)
        return job

    def _release(self, job: SimJob, t: float) -> None:
        """A job that may run: READY, or WAITING on an unfinished prerequisite."""
        prereq = self.jobs.get(job.execute_after_id) if job.execute_after_id else None
        if prereq is None or prereq.status == "PROCESSED":
            self.set_ready(job, t)
            return
        self._set(job, "WAITING")
        if prereq.terminal:
            self._push(t + PROPAGATE, job.stamp, job.id, _RESOLVE)

    def cancel(self, job: SimJob) -> None:
        t = self.now()
        if job.status == "CANCELED":
            raise Problem(404, "Job not found (or already canceled)")
        if job.terminal:
            return
        self.finish(job, "CANCELED", t, "Canceled by user")

    def start(self, job: SimJob) -> None:
        if job.status == "BLOCKED":
            self._release(job, self.now())

    def owned(self, job_id: str) -> SimJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise Problem(404, "Job not found")
        if job.submitter_id != self.app_id:
            raise Problem(403, "Not the owner of the job")
        return job

    def model(self, key: str) -> Model:
        model = self._models_by_key.get(key)
        if model is None:
            raise Problem(404, "Model not found")
        return model

    def to_json(self, job: SimJob) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": job.id,
            "application_id": job.application_id,
            "submitter_id": job.submitter_id,
            "creation_time": self.iso(job.created),
            "document_ids": list(job.document_ids),
            "job_type": job.job_type,
            "status": job.status,
        }
        if job.model_id is not None:
            data["model_id"] = job.model_id
        if job.execute_after_id is not None:
            data["execute_after_id"] = job.execute_after_id
        if job.parent_job_id is not None:
            data["parent_job_id"] = job.parent_job_id
        if job.callback_url is not None:
            data["callback_url"] = job.callback_url
        if job.page_range is not None:
            data["page_range"] = job.page_range
        if job.started is not None:
            data["starting_time"] = self.iso(job.started)
        if job.finished is not None:
            data["finished_time"] = self.iso(job.finished)
        if job.reason is not None:
            data["reason"] = job.reason
        if job.http_code is not None:
            data["http_code"] = job.http_code
        if job.result_type is not None:
            data["result_type"] = job.result_type
        if job.status == "PROCESSED":
            data["result"] = result_of(self, job)
        return data

    def status_counts(self) -> Counter[str]:
        with self.lock:
            self.tick()
            return Counter(job.status for job in self.own)

    def non_terminal_ids(self) -> list[str]:
        with self.lock:
            self.tick()
            return [job.id for job in self.own if not job.terminal]


# -- results ----------------------------------------------------------------------------------


def result_type_for(job: SimJob, model: Model | None) -> str:
    if job.job_type == CONDITIONAL_TYPE:
        return "conditional"
    if job.job_type == "pdf-images":
        return "list[document]"
    if job.job_type == "image-text":
        return "document"
    if job.job_type == "transform":
        return "list[document]" if job.output_type in ("image", "split") else "document"
    several = len(job.document_ids) > 1
    if job.format_type == "classification" or (model and model.model_type == "classification"):
        return "dict[classification]" if several else "classification"
    return "dict[object]" if several else "object"


def _document(
    state: LeiaState, rng: random.Random, job: SimJob, page: int | None
) -> dict[str, Any]:
    if job.output_type == "text_tree":
        extension, mime = "json", "application/json"
    elif job.job_type == "image-text" or job.output_type in ("text", "merge", "split"):
        extension, mime = "txt", "text/plain"
    else:
        extension, mime = "jpg", "image/jpeg"
    doc: dict[str, Any] = {
        "id": f"{rng.getrandbits(96):024x}",
        "application_id": job.application_id,
        "creation_time": state.iso(job.finished if job.finished is not None else job.created),
        "filename": f"{job.document_ids[0] if job.document_ids else 'doc'}"
        + (f"-p{page}" if page is not None else "")
        + f".{extension}",
        "extension": extension,
        "mime_type": mime,
        "original_id": job.document_ids[0] if job.document_ids else None,
        "rotation_angle": 0,
        "size": rng.randint(2_000, 900_000),
        "tags": [],
    }
    if doc["original_id"] is None:
        del doc["original_id"]
    if page is not None:
        doc["page"] = page
    return doc


def _classification(rng: random.Random) -> dict[str, Any]:
    return {
        "category": rng.choice(_CATEGORIES),
        "score": round(rng.uniform(0.55, 0.995), 3),
        "accuracy": round(rng.uniform(0.8, 0.98), 3),
    }


def _fields(rng: random.Random, state: LeiaState, job: SimJob) -> dict[str, Any]:
    model = state._models_by_key.get(job.model_id or "")
    if model is not None and model.short_name == "id-card":
        return {
            "last_name": rng.choice(["MARTIN", "BERNARD", "DUBOIS", "THOMAS"]),
            "first_name": rng.choice(["Camille", "Louis", "Chloé", "Hugo"]),
            "birth_date": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "document_number": f"{rng.getrandbits(40):010X}",
        }
    return {
        "invoice_number": f"INV-2026-{rng.randint(1, 9999):04d}",
        "total_amount": round(rng.uniform(10, 5000), 2),
        "currency": rng.choice(["EUR", "USD", "CHF"]),
        "supplier": rng.choice(["ACME SARL", "Globex", "Initech", "Umbrella"]),
    }


def result_of(state: LeiaState, job: SimJob) -> Any:
    """The result of a PROCESSED job, made up on first use from the job's own random stream."""
    if job.has_result:
        return job.result
    rng = random.Random(f"{state.seed}:{job.id}:result")
    kind = job.result_type
    result: Any
    if kind == "document":
        result = _document(state, rng, job, None)
    elif kind == "list[document]":
        result = [_document(state, rng, job, page) for page in range(rng.randint(1, 5))]
    elif kind == "classification":
        result = _classification(rng)
    elif kind == "dict[classification]":
        result = {doc: _classification(rng) for doc in job.document_ids}
    elif kind == "dict[object]":
        result = {doc: _fields(rng, state, job) for doc in job.document_ids}
    elif kind == "conditional":
        result = {}
    else:
        result = _fields(rng, state, job)
    job.result = result
    job.has_result = True
    return result


# -- conditional rules ------------------------------------------------------------------------


def check_rules(rules: Any) -> dict[str, Any]:
    """The rules of a ConditionalBody, or a 400 naming what is wrong with them."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise Problem(400, "'rules' must be an object")
    for rule_id, rule in rules.items():
        if not isinstance(rule, dict):
            raise Problem(400, f"rule '{rule_id}' must be an object")
        conditions = rule.get("conditions", {})
        if not isinstance(conditions, dict):
            raise Problem(400, f"rule '{rule_id}': 'conditions' must be an object")
        for name, cond in conditions.items():
            for item in cond if isinstance(cond, list) else [cond]:
                if isinstance(item, dict):
                    bad = [op for op in item if op not in CONDITION_OPS]
                    if bad:
                        raise Problem(400, f"rule '{rule_id}': unknown operator {bad[0]} on {name}")
        jobs = rule.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise Problem(400, f"rule '{rule_id}': 'jobs' must be a non-empty list")
        for index, spec in enumerate(jobs):
            where = f"rule '{rule_id}' job {index}"
            if not isinstance(spec, dict):
                raise Problem(400, f"{where} must be an object")
            kind = spec.get("job_type")
            if kind == "apply_model":
                if not isinstance(spec.get("model_id"), str):
                    raise Problem(400, f"{where}: model_id is required")
            elif kind == "transform":
                if spec.get("output_type") not in TRANSFORM_TYPES:
                    raise Problem(400, f"{where}: output_type must be one of {TRANSFORM_TYPES}")
            else:
                raise Problem(400, f"{where}: job_type must be apply_model or transform")
            docs = spec.get("document_ids", [])
            if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
                raise Problem(400, f"{where}: document_ids must be a list of ids")
    return rules


def _lookup(result: Any, name: str) -> tuple[bool, Any]:
    value = result
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _compare(op: str, present: bool, value: Any, operand: Any) -> bool:
    if op == "$eq":
        return present and value == operand
    if op == "$ne":
        return not present or value != operand
    if op == "$in":
        return present and isinstance(operand, list) and value in operand
    if op == "$nin":
        return not present or not isinstance(operand, list) or value not in operand
    if not present:
        return False
    try:
        if op == "$gt":
            return bool(value > operand)
        if op == "$gte":
            return bool(value >= operand)
        if op == "$lt":
            return bool(value < operand)
        if op == "$lte":
            return bool(value <= operand)
    except TypeError:
        return False
    return False


def condition_holds(result: Any, name: str, cond: Any) -> bool:
    present, value = _lookup(result, name)
    items = cond if isinstance(cond, list) else [cond]
    for item in items:
        if isinstance(item, dict) and item and all(op in CONDITION_OPS for op in item):
            if not all(_compare(op, present, value, arg) for op, arg in item.items()):
                return False
        elif not _compare("$eq", present, value, item):
            return False
    return True


def rule_matches(result: Any, rule: Mapping[str, Any]) -> bool:
    conditions = rule.get("conditions") or {}
    return all(condition_holds(result, name, cond) for name, cond in conditions.items())


def _spawn_rule_jobs(state: LeiaState, job: SimJob, t: float) -> None:
    prereq = state.jobs.get(job.execute_after_id or "")
    result = result_of(state, prereq) if prereq is not None else None
    job.rule_jobs = {}
    for rule_id, rule in (job.rules or {}).items():
        if not rule_matches(result, rule):
            continue
        previous: SimJob | None = None
        created: list[str] = []
        for spec in rule["jobs"]:
            docs = list(spec.get("document_ids") or [])
            if not docs:
                docs = list(previous.document_ids if previous else job.document_ids)
            after = previous.id if previous else job.execute_after_id
            if spec["job_type"] == "apply_model":
                model = state._models_by_key.get(spec["model_id"])
                sub = state.new_job(
                    t,
                    "predict",
                    docs,
                    model=model,
                    execute_after_id=after,
                    parent_job_id=job.id,
                    format_type=spec.get("format_type"),
                    page_range=spec.get("page_range"),
                )
                if model is None:
                    state.finish(sub, "FAILED", t, f"Model {spec['model_id']} not found", 400)
            else:
                output = spec["output_type"]
                sub = state.new_job(
                    t,
                    transform_job_type(output),
                    docs,
                    execute_after_id=after,
                    parent_job_id=job.id,
                    output_type=output,
                    page_range=spec.get("page_range"),
                )
            created.append(sub.id)
            previous = sub
        job.rule_jobs[rule_id] = created


def transform_job_type(output_type: str) -> str:
    """The JobTypes value of a transformation: OCR and PDF rasterizing have their own (inferred)."""
    if output_type in ("text", "text_tree"):
        return "image-text"
    if output_type == "image":
        return "pdf-images"
    return "transform"


def standard_rules(state: LeiaState, documents: list[str]) -> dict[str, Any]:
    """The rules of the seeded conditional jobs: extract invoices, OCR everything else."""
    return {
        "invoice": {
            "conditions": {"category": "invoice", "score": {"$gte": 0.8}},
            "jobs": [
                {
                    "job_type": "apply_model",
                    "model_id": state.models[1].id,
                    "document_ids": list(documents),
                }
            ],
        },
        "other": {
            "conditions": {"category": [{"$nin": ["invoice"]}, {"$ne": None}]},
            "jobs": [
                {"job_type": "transform", "output_type": "text", "document_ids": list(documents)}
            ],
        },
    }


# -- seeding ----------------------------------------------------------------------------------


def _docs(state: LeiaState, rng: random.Random, count: int, t: float) -> list[str]:
    base = int(state.epoch_ts + t) & 0xFFFFFFFF
    return [f"{base:08x}{rng.getrandbits(64):016x}" for _ in range(count)]


def _seed_terminal(
    state: LeiaState, job: SimJob, status: str, rng: random.Random, after: float | None = None
) -> None:
    """Place a job that ended before the epoch, with times between its creation and now."""
    begin = max(job.created, after if after is not None else job.created)
    span = max(-begin, 0.5)
    if status == "CANCELED":
        started = begin + span * rng.uniform(0.05, 0.3) if rng.random() < 0.5 else None
        finished = (started if started is not None else begin) + span * rng.uniform(0.05, 0.3)
        job.started, job.finished = started, finished
        job.status, job.reason = "CANCELED", "Canceled by user"
        return
    started = begin + min(span * rng.uniform(0.05, 0.3), 60.0)
    finished = started + min(-started * rng.uniform(0.1, 0.6), 240.0)
    job.started, job.finished = started, finished
    job.status = status
    if status == "PROCESSED":
        job.http_code = 200
    else:
        job.reason, job.http_code = rng.choice(_FAILURES)


def _seed_running(state: LeiaState, job: SimJob, status: str, rng: random.Random) -> None:
    """Place a job in a non-terminal status with its next transition a little in the future."""
    plan = state.plan(job)
    if status == "WAITING" or status == "BLOCKED":
        state._set(job, status)
        return
    if status == "READY":
        state.set_ready(job, 0.0, step_at=plan.queue * rng.uniform(0.2, 1.0))
        return
    if status == "LOADING_MODEL" and not job.model_id:
        status = "PROCESSING"
    job.started = job.created + (-job.created) * rng.uniform(0.1, 0.5)
    state._set(job, status)
    length = {"STARTING": plan.start, "LOADING_MODEL": plan.load}.get(status, plan.process)
    state._push(length * rng.uniform(0.2, 1.0), job.stamp, job.id, _STEP)


def _random_kind(
    state: LeiaState, rng: random.Random
) -> tuple[str, Model | None, str | None, str | None]:
    """job_type, model, format_type, output_type of an ordinary job."""
    roll = rng.random()
    if roll < 0.45:
        model = rng.choice(state.models)
        fmt = "classification" if model.model_type == "classification" else None
        return "predict", model, fmt, None
    if roll < 0.65:
        return "pdf-images", None, None, "image"
    if roll < 0.85:
        return "image-text", None, None, "text"
    return "transform", None, None, rng.choice(["autorotate", "trim", "merge", "split"])


def _make(
    state: LeiaState,
    t: float,
    kind: tuple[str, Model | None, str | None, str | None],
    docs: list[str],
    *,
    after: SimJob | None = None,
    parent: SimJob | None = None,
    page_range: str | None = None,
    application_id: str | None = None,
    submitter_id: str | None = None,
) -> SimJob:
    job_type, model, fmt, output = kind
    job = SimJob(
        id=state._hex_id(t),
        submitter_id=submitter_id or state.app_id,
        application_id=application_id or state.app_id,
        created=t,
        document_ids=docs,
        job_type=job_type,
        model_id=model.id if model else None,
        execute_after_id=after.id if after else None,
        parent_job_id=parent.id if parent else None,
        page_range=page_range,
        format_type=fmt,
        output_type=output,
    )
    job.result_type = result_type_for(job, model)
    return state.add(job)


def _seed_jobs(state: LeiaState, count: int) -> None:
    rng = random.Random(f"leia:{state.seed}:seed")
    template: list[Callable[[_TemplateContext], None]] = []
    room = max(0, count)
    for size, builder in _TEMPLATE:
        if size <= room:
            template.append(builder)
            room -= size
    fillers = room
    # Older jobs first, spread over the past; the template's jobs are the newest.
    gap = 45.0
    start = -1200.0 - (fillers + 1) * gap
    active_quota = min(max(3, fillers // 50), 300)
    recent: list[SimJob] = []
    for index in range(fillers):
        t = start + (index + rng.uniform(0.2, 0.8)) * gap
        docs = _docs(state, rng, 1 if rng.random() < 0.75 else rng.randint(2, 4), t)
        kind = _random_kind(state, rng)
        app = state.partner_id if rng.random() < 0.1 else None
        after = recent[-rng.randint(1, len(recent))] if recent and rng.random() < 0.15 else None
        page_range = rng.choice([None, "0", "0:2", "1:", "0,2:5,-1"]) if after else None
        job = _make(state, t, kind, docs, after=after, page_range=page_range, application_id=app)
        active = index >= fillers - active_quota and rng.random() < 0.6
        if after is not None and after.status in ("FAILED", "CANCELED"):
            job.status = "FAILED"
            job.finished = min(max(t, after.finished or t) + PROPAGATE, -0.01)
            job.reason = f"Prerequisite job {after.id} is {after.status}"
            job.http_code = 400
        elif after is not None and after.status != "PROCESSED":
            _seed_running(state, job, "BLOCKED" if rng.random() < 0.1 else "WAITING", rng)
        elif active:
            status = rng.choice(["READY", "STARTING", "LOADING_MODEL", "PROCESSING", "BLOCKED"])
            _seed_running(state, job, status, rng)
        else:
            roll = rng.random()
            status = "PROCESSED" if roll < 0.86 else "FAILED" if roll < 0.95 else "CANCELED"
            _seed_terminal(state, job, status, rng, after.finished if after else None)
        recent.append(job)
        if len(recent) > 20:
            recent.pop(0)
    ctx = _TemplateContext(state, rng)
    for builder in template:
        builder(ctx)
    other = state.other_app_id
    foreign = _make(
        state,
        -5000.0,
        _classif(state),
        _docs(state, rng, 1, -5000.0),
        application_id=other,
        submitter_id=other,
    )
    _seed_terminal(state, foreign, "PROCESSED", rng)
    foreign = _make(
        state,
        -60.0,
        ("image-text", None, None, "text"),
        _docs(state, rng, 1, -60.0),
        application_id=other,
        submitter_id=other,
    )
    _seed_running(state, foreign, "PROCESSING", rng)


@dataclass
class _TemplateContext:
    state: LeiaState
    rng: random.Random
    named: dict[str, SimJob] = field(default_factory=dict)
    t: float = -900.0

    def make(
        self,
        name: str,
        kind: tuple[str, Model | None, str | None, str | None],
        docs: int = 1,
        *,
        after: str | None = None,
        parent: str | None = None,
        page_range: str | None = None,
    ) -> SimJob:
        self.t += 40.0
        job = _make(
            self.state,
            self.t,
            kind,
            _docs(self.state, self.rng, docs, self.t),
            after=self.named.get(after) if after else None,
            parent=self.named.get(parent) if parent else None,
            page_range=page_range,
        )
        self.named[name] = job
        return job


def _classif(state: LeiaState) -> tuple[str, Model | None, str | None, str | None]:
    return ("predict", state.models[0], "classification", None)


def _kv(state: LeiaState) -> tuple[str, Model | None, str | None, str | None]:
    return ("predict", state.models[1], None, None)


def _t_classified(ctx: _TemplateContext) -> None:
    job = ctx.make("classified", _classif(ctx.state))
    _seed_terminal(ctx.state, job, "PROCESSED", ctx.rng)
    job.result = {"category": "invoice", "score": 0.97, "accuracy": 0.93}
    job.has_result = True


def _t_pdf_running(ctx: _TemplateContext) -> None:
    _seed_running(
        ctx.state, ctx.make("pdf", ("pdf-images", None, None, "image")), "PROCESSING", ctx.rng
    )


def _t_ocr_waiting(ctx: _TemplateContext) -> None:
    job = ctx.make("ocr", ("image-text", None, None, "text"), after="pdf", page_range="0:2")
    _seed_running(ctx.state, job, "WAITING", ctx.rng)


def _t_blocked(ctx: _TemplateContext) -> None:
    _seed_running(
        ctx.state, ctx.make("blocked", ("transform", None, None, "trim")), "BLOCKED", ctx.rng
    )


def _t_ready(ctx: _TemplateContext) -> None:
    _seed_running(ctx.state, ctx.make("ready", _kv(ctx.state), 2), "READY", ctx.rng)


def _t_starting(ctx: _TemplateContext) -> None:
    job = ctx.make("starting", ("image-text", None, None, "text"))
    _seed_running(ctx.state, job, "STARTING", ctx.rng)


def _t_loading(ctx: _TemplateContext) -> None:
    _seed_running(ctx.state, ctx.make("loading", _classif(ctx.state), 3), "LOADING_MODEL", ctx.rng)


def _t_failed(ctx: _TemplateContext) -> None:
    job = ctx.make("failed", ("transform", None, None, "merge"))
    _seed_terminal(ctx.state, job, "FAILED", ctx.rng)
    job.reason, job.http_code = "Document is not a valid PDF", 400


def _t_canceled(ctx: _TemplateContext) -> None:
    _seed_terminal(ctx.state, ctx.make("canceled", _kv(ctx.state)), "CANCELED", ctx.rng)


def _t_conditional_done(ctx: _TemplateContext) -> None:
    state = ctx.state
    source = ctx.named.get("classified")
    if source is None:
        _t_classified(ctx)
        source = ctx.named["classified"]
    job = ctx.make("conditional", (CONDITIONAL_TYPE, None, None, None), after="classified")
    job.document_ids = list(source.document_ids)
    job.rules = standard_rules(state, source.document_ids)
    _seed_terminal(state, job, "PROCESSED", ctx.rng, source.finished)
    sub = _make(
        state,
        job.started or job.created,
        _kv(state),
        list(source.document_ids),
        after=source,
        parent=job,
    )
    sub.created = job.started or job.created
    sub.status, sub.http_code = "PROCESSED", 200
    sub.started = sub.created + 1.0
    sub.finished = (job.finished or 0.0) - 1.0
    job.rule_jobs = {"invoice": [sub.id]}
    job.result = {"invoice": [{"result_type": sub.result_type, "result": result_of(state, sub)}]}
    job.has_result = True


def _t_classify_waiting(ctx: _TemplateContext) -> None:
    job = ctx.make("classify2", _classif(ctx.state), after="ocr" if "ocr" in ctx.named else None)
    _seed_running(ctx.state, job, "WAITING" if job.execute_after_id else "READY", ctx.rng)


def _t_conditional_waiting(ctx: _TemplateContext) -> None:
    after = "classify2" if "classify2" in ctx.named else None
    job = ctx.make("conditional2", (CONDITIONAL_TYPE, None, None, None), after=after)
    source = ctx.named.get("classify2")
    if source is not None:
        job.document_ids = list(source.document_ids)
    job.rules = standard_rules(ctx.state, job.document_ids)
    _seed_running(ctx.state, job, "WAITING" if after else "READY", ctx.rng)


def _t_dependant_failed(ctx: _TemplateContext) -> None:
    after = ctx.named.get("failed")
    job = ctx.make("dep_failed", ("image-text", None, None, "text"), after="failed")
    job.status, job.http_code = "FAILED", 400
    job.finished = ((after.finished or 0.0) + 1.0) if after else ctx.t
    job.reason = f"Prerequisite job {after.id} is FAILED" if after else "Prerequisite job is FAILED"


def _terminal_builder(
    name: str,
    kind: Callable[[LeiaState], tuple[str, Model | None, str | None, str | None]],
    docs: int = 1,
) -> Callable[[_TemplateContext], None]:
    def build(ctx: _TemplateContext) -> None:
        _seed_terminal(ctx.state, ctx.make(name, kind(ctx.state), docs), "PROCESSED", ctx.rng)

    return build


_TEMPLATE: list[tuple[int, Callable[[_TemplateContext], None]]] = [
    (1, _t_classified),
    (1, _t_pdf_running),
    (1, _t_ocr_waiting),
    (1, _t_blocked),
    (1, _t_ready),
    (1, _t_starting),
    (1, _t_loading),
    (1, _t_failed),
    (1, _t_canceled),
    (2, _t_conditional_done),
    (1, _t_classify_waiting),
    (1, _t_conditional_waiting),
    (1, _t_dependant_failed),
    (1, _terminal_builder("done_doc", lambda s: ("image-text", None, None, "text"))),
    (1, _terminal_builder("done_pages", lambda s: ("pdf-images", None, None, "image"))),
    (1, _terminal_builder("done_fields", lambda s: ("predict", s.models[2], None, None))),
    (1, _terminal_builder("done_fields2", _kv, 2)),
    (1, _terminal_builder("done_classes", _classif, 2)),
]
"""The newest seeded jobs: every status, every result type, a chain of three, conditional jobs."""


def _arrive(state: LeiaState, t: float) -> None:
    rng = state.rng
    kind = _random_kind(state, rng)
    docs = _docs(state, rng, 1 if rng.random() < 0.75 else rng.randint(2, 4), t)
    after = state.own[-1] if state.own and rng.random() < 0.2 else None
    job_type, model, fmt, output = kind
    state.new_job(
        t,
        job_type,
        docs,
        model=model,
        format_type=fmt,
        output_type=output,
        execute_after_id=after.id if after else None,
        page_range=rng.choice([None, "0:2"]) if after else None,
        block=rng.random() < 0.05,
    )


# -- HTTP -------------------------------------------------------------------------------------


_SPACE_OFFSET = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def parse_datetime(name: str, text: str) -> datetime:
    """A query date-time: naive means UTC; a `+` decoded as a space is put back."""
    value = text.strip()
    match = _SPACE_OFFSET.match(value)
    if match:
        value = f"{match.group(1)}+{match.group(2)}"
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(400, f"'{text}' is not a 'date-time' (parameter {name})") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Problem(400, f"'{value}' is not of type 'boolean' (parameter {name})")


def parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Problem(400, f"'{text}' is not of type 'integer' (parameter {name})") from None


def _enum(name: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise Problem(400, f"'{value}' is not one of {list(allowed)} (parameter {name})")
    return value


_SORT_VALUE: dict[str, Callable[[SimJob], Any]] = {
    "submitter_id": lambda j: j.submitter_id,
    "application_id": lambda j: j.application_id,
    "creation_time": lambda j: j.created,
    "starting_time": lambda j: j.started,
    "finished_time": lambda j: j.finished,
    "job_type": lambda j: j.job_type,
    "model_id": lambda j: j.model_id,
    "document_ids": lambda j: tuple(j.document_ids),
    "status": lambda j: j.status,
    "parent_job_id": lambda j: j.parent_job_id,
}
_SORT_ZERO: dict[str, Any] = {
    "creation_time": 0.0,
    "starting_time": 0.0,
    "finished_time": 0.0,
    "document_ids": (),
}


def _equals(attr: str, wanted: str) -> Callable[[SimJob], bool]:
    return lambda job: bool(getattr(job, attr) == wanted)


def _sort_key(name: str) -> Callable[[SimJob], Any]:
    """Mongo's order: missing values first when ascending, last when descending."""
    value, zero = _SORT_VALUE[name], _SORT_ZERO.get(name, "")

    def key(job: SimJob) -> Any:
        v = value(job)
        return (v is not None, zero if v is None else v)

    return key


def list_jobs(state: LeiaState, query: QueryParams) -> tuple[list[SimJob], int, int]:
    """Filter, sort and page this application's jobs: (page, offset, total)."""
    preds: list[Callable[[SimJob], bool]] = []
    for name in ("job_id", "application_id", "model_id", "execute_after_id", "parent_job_id"):
        wanted = query.get(name)
        if wanted is not None:
            preds.append(_equals("id" if name == "job_id" else name, wanted))
    if (job_type := query.get("job_type")) is not None:
        _enum("job_type", job_type, JOB_TYPES)
        preds.append(lambda j: j.job_type == job_type)
    if (status := query.get("status")) is not None:
        _enum("status", status, STATUSES)
        preds.append(lambda j: j.status == status)
    if (document := query.get("document_id")) is not None:
        preds.append(lambda j: document in j.document_ids)
    if (after := query.get("created_after")) is not None:
        low = state.seconds_of(parse_datetime("created_after", after))
        preds.append(lambda j: j.created >= low)
    if (before := query.get("created_before")) is not None:
        high = state.seconds_of(parse_datetime("created_before", before))
        preds.append(lambda j: j.created < high)
    keys: list[tuple[str, bool]] = []
    for part in (query.get("sort") or "").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+ ")
        if name not in _SORT_VALUE:
            raise Problem(400, f"Cannot sort by '{name}': use one of {', '.join(SORT_KEYS)}")
        keys.append((name, descending))
    offset = parse_int("offset", query["offset"]) if "offset" in query else 0
    limit = parse_int("limit", query["limit"]) if "limit" in query else state.max_limit
    if offset < 0:
        raise Problem(400, f"offset must not be negative, got {offset}")
    if limit < 1:
        raise Problem(400, f"limit must be positive, got {limit}")
    limit = min(limit, state.max_limit)

    state.tick()
    jobs: list[SimJob]
    if not preds:
        jobs = state.own
    elif len(preds) == 1:
        only = preds[0]
        jobs = [j for j in state.own if only(j)]
    else:
        jobs = [j for j in state.own if all(p(j) for p in preds)]
    for name, descending in reversed(keys):
        jobs = sorted(jobs, key=_sort_key(name), reverse=descending)
    return jobs[offset : offset + limit], offset, len(jobs)


@dataclass
class Call:
    """One request as the handlers see it."""

    state: LeiaState
    method: str
    path_params: Mapping[str, str]
    query: QueryParams
    headers: Headers
    body: bytes

    def token(self) -> str:
        """The token header; Connexion's parameter validation answers 400 when it is missing."""
        token = self.headers.get("token")
        if token is None:
            raise Problem(400, "Missing header parameter 'token'")
        return token

    def auth(self) -> None:
        self.state.authenticate(self.token())

    def json_body(self, required: bool = False) -> dict[str, Any]:
        if not self.body.strip():
            if required:
                raise Problem(400, "Request body is required")
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise Problem(400, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, f"{data!r} is not of type 'object'")
        return data


CallHandler = Callable[[Call], Response]


def endpoint(
    state: LeiaState, op: str, handler: CallHandler
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        body = await request.body()
        call = Call(
            state, request.method, request.path_params, request.query_params, request.headers, body
        )
        with state.lock:
            state.counts[op] += 1
            try:
                state.tick()
                return handler(call)
            except Problem as error:
                return problem_response(error.status, error.detail, error.title)

    return run


def _job_response(state: LeiaState, job: SimJob) -> Response:
    return JSONResponse(state.to_json(job))


def h_login_post(call: Call) -> Response:
    if not call.state.login_post:
        raise Problem(405, "The method is not allowed for the requested URL.")
    body = call.json_body(required=True)
    api_key = body.get("api_key")
    if not isinstance(api_key, str):
        raise Problem(400, "'api_key' is a required property")
    return JSONResponse(call.state.login(api_key))


def h_login_get(call: Call) -> Response:
    return JSONResponse(call.state.login(call.path_params["api_key"]))


def h_logout(call: Call) -> Response:
    token = call.token()
    call.state.authenticate(token)
    call.state.tokens.pop(token, None)
    return Response(status_code=204)


def h_whoami(call: Call) -> Response:
    call.auth()
    return JSONResponse(dict(call.state.application))


def h_get_jobs(call: Call) -> Response:
    call.token()
    page, offset, total = list_jobs(call.state, call.query)
    call.auth()
    if not page:
        raise Problem(404, "No jobs found")
    state = call.state
    headers = {
        "Content-Range": f"{offset}-{offset + len(page) - 1}/{total}",
        "Accept-Range": f"job {state.max_limit}",
    }
    return JSONResponse([state.to_json(job) for job in page], headers=headers)


def h_get_job(call: Call) -> Response:
    call.auth()
    return _job_response(call.state, call.state.owned(call.path_params["job_id"]))


def h_statuses(call: Call) -> Response:
    call.auth()
    ids = [i.strip() for i in call.path_params["job_ids"].split(",") if i.strip()]
    state = call.state
    found: dict[str, str] = {}
    for job_id in ids:
        job = state.jobs.get(job_id)
        if job is None:
            continue
        if job.submitter_id != state.app_id:
            raise Problem(403, "Not the owner of the job")
        found[job_id] = job.status
    if not found:
        raise Problem(404, "Job not found")
    return JSONResponse(found)


def h_cancel(call: Call) -> Response:
    call.auth()
    state = call.state
    state.cancel(state.owned(call.path_params["job_id"]))
    return Response(status_code=204)


def h_start(call: Call) -> Response:
    call.auth()
    state = call.state
    job = state.owned(call.path_params["job_id"])
    state.start(job)
    return _job_response(state, job)


def _params(call: Call, names: Iterable[str]) -> dict[str, Any]:
    """Query parameters overlaid by the JSON body ("all the query parameters can also be passed as
    JSON in the body"); unknown query keys are collected as exploded free-form params."""
    known = set(names)
    merged: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in call.query.multi_items():
        if key in known:
            merged[key] = value
        else:
            extra[key] = value
    merged.update(call.json_body())
    merged["_extra"] = extra
    return merged


def _block(params: Mapping[str, Any]) -> bool:
    value = params.get("block_processing")
    return False if value is None else parse_bool("block_processing", value)


def _prerequisite(state: LeiaState, params: Mapping[str, Any]) -> str | None:
    after = params.get("execute_after_id")
    if after in (None, ""):
        return None
    state.owned(str(after))
    return str(after)


def h_conditional(call: Call) -> Response:
    call.token()
    state = call.state
    params = _params(call, ("callback_url", "block_processing"))
    block = _block(params)
    rules = check_rules(params.get("rules"))
    call.auth()
    prereq = state.owned(call.path_params["execute_after_id"])
    job = state.new_job(
        state.now(),
        CONDITIONAL_TYPE,
        list(prereq.document_ids),
        execute_after_id=prereq.id,
        block=block,
        callback_url=params.get("callback_url"),
        rules=rules,
        application_id=prereq.application_id,
    )
    return _job_response(state, job)


def _document_ids(text: str) -> list[str]:
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if not ids:
        raise Problem(404, "Document not found")
    return ids


def h_apply(call: Call) -> Response:
    call.token()
    state = call.state
    params = _params(
        call,
        (
            "tag",
            "format_type",
            "execute_after_id",
            "page_range",
            "callback_url",
            "block_processing",
            "save_result",
            "priority",
        ),
    )
    block = _block(params)
    fmt = params.get("format_type")
    if fmt is not None:
        _enum("format_type", str(fmt), FORMAT_TYPES)
    call.auth()
    docs = _document_ids(call.path_params["document_ids"])
    if params.get("tag") and len(docs) > 1:
        raise Problem(400, "A tag can only be used with a single document id")
    model = state.model(call.path_params["model_id"])
    job = state.new_job(
        state.now(),
        "predict",
        docs,
        model=model,
        execute_after_id=_prerequisite(state, params),
        block=block,
        format_type=fmt,
        page_range=params.get("page_range"),
        callback_url=params.get("callback_url"),
    )
    return _job_response(state, job)


def h_transform(call: Call) -> Response:
    call.token()
    state = call.state
    output = _enum("output_type", call.path_params["output_type"], TRANSFORM_TYPES)
    params = _params(
        call,
        (
            "input_tag",
            "output_tag",
            "execute_after_id",
            "page_range",
            "callback_url",
            "block_processing",
        ),
    )
    block = _block(params)
    call.auth()
    docs = _document_ids(call.path_params["document_ids"])
    if params.get("input_tag") and len(docs) > 1:
        raise Problem(400, "An input_tag can only be used with a single document id")
    job = state.new_job(
        state.now(),
        transform_job_type(output),
        docs,
        execute_after_id=_prerequisite(state, params),
        block=block,
        output_type=output,
        page_range=params.get("page_range"),
        callback_url=params.get("callback_url"),
    )
    return _job_response(state, job)


FAULT_PROFILE = FaultProfile(
    error=lambda status, message: problem_response(status, message),
    malformed=b'{"id": "',
    expired=lambda: problem_response(401, "Not logged in"),
)
"""How Leia answers when a fault is switched on."""


async def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = {
        404: "The requested URL was not found on the server.",
        405: "The method is not allowed for the requested URL.",
    }.get(exc.status_code, str(exc.detail))
    return problem_response(exc.status_code, detail)


def make_app(state: LeiaState) -> ASGIApp:
    def route(path: str, op: str, handler: CallHandler, method: str) -> Route:
        return Route(path, endpoint(state, op, handler), methods=[method], name=op)

    routes = [
        route("/login", "login_application_post", h_login_post, "POST"),
        route("/login/{api_key}", "login_application", h_login_get, "GET"),
        route("/logout", "logout_application", h_logout, "GET"),
        route("/whoami", "who_am_i", h_whoami, "GET"),
        route("/job", "get_jobs", h_get_jobs, "GET"),
        route(
            "/job/conditional/{execute_after_id}", "create_conditional_job", h_conditional, "POST"
        ),
        route("/job/{job_ids}/status", "get_job_statuses", h_statuses, "GET"),
        route("/job/{job_id}/start", "start_job", h_start, "POST"),
        Route("/job/{job_id}", endpoint(state, "get_job", h_get_job), methods=["GET"]),
        Route("/job/{job_id}", endpoint(state, "cancel_job", h_cancel), methods=["DELETE"]),
        route("/model/{model_id}/apply/{document_ids}", "apply_model_async", h_apply, "POST"),
        route(
            "/document/{document_ids}/transform/{output_type}",
            "transform_document_async",
            h_transform,
            "POST",
        ),
    ]
    app = Starlette(
        routes=[Mount(BASE_PATH, routes=routes)],
        exception_handlers={HTTPException: _http_problem},
    )
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)


def build(settings: EmulatorSettings) -> Emulator:
    state = LeiaState(settings)
    return Emulator(
        kind="leia",
        app=make_app(state),
        base_path=BASE_PATH,
        config={"kind": "leia", "api_key": state.api_key},
        credentials={"api_key": state.api_key},
        state=state,
    )
