"""The Leia emulator's state: the application, models, tokens, jobs and their state machine (chains
and conditional jobs), and the results of processed jobs."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import JSONResponse, Response

from jobtui.emulators.base import EmulatorSettings, SimState, found
from jobtui.emulators.leia.rules import rule_matches

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


CONDITIONAL_TYPE = "conditional"
"""`job_type` of conditional jobs: a free string, since JobTypes has no value for them."""

PROPAGATE = 1.0
"""Seconds between a prerequisite ending and its WAITING dependants reacting."""
DEFAULT_TTL = 1800.0
DEFAULT_MAX_LIMIT = 100

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


_CATEGORIES = ("invoice", "receipt", "id_card", "contract", "payslip")
FAILURES = (
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


def _stamp(job: SimJob) -> int:
    return job.stamp


class LeiaState(SimState):
    """Everything the Leia emulator knows. Tests reach it as `running.state`.

    Public pieces: `clock`, `faults`, `counts` (requests per operation id), `api_key`,
    `application`, `models`, `jobs` (id -> SimJob), `own` (this application's jobs in creation
    order), `foreign_ids` (jobs of another application: 403), `expire_tokens()`, `tick()`.
    """

    ARRIVAL_GAP = 20.0
    ARRIVAL_SPREAD = (0.5, 1.5)

    def __init__(self, settings: EmulatorSettings) -> None:
        from jobtui.emulators.leia.seed import arrive, seed_jobs  # seed builds on this module

        super().__init__(settings, "leia")
        options = dict(settings.options)
        self.epoch_ts = settings.epoch.timestamp()
        self._token_rng = random.Random(f"leia:{settings.seed}:tokens")
        self.token_ttl = float(options.get("token_ttl", DEFAULT_TTL))
        self.max_limit = int(options.get("max_limit", DEFAULT_MAX_LIMIT))
        self.login_post = bool(options.get("login_post", True))
        self.api_key = str(options.get("api_key") or f"leia-{self.rng.getrandbits(96):024x}")
        self.tokens: dict[str, float] = {}

        self._machine = self.rng.getrandbits(24)
        self._counter = 0
        self.app_id = self.hex_id(-400 * 86400.0)
        self.partner_id = self.hex_id(-300 * 86400.0)
        self.other_app_id = self.hex_id(-200 * 86400.0)
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
            Model(self.hex_id(-90 * 86400.0), "classif", "document-classifier", "classification"),
            Model(
                self.hex_id(-80 * 86400.0), "invoice-kv", "invoice-fields", "key_value_extraction"
            ),
            Model(self.hex_id(-70 * 86400.0), "id-card", "id-card-fields", "key_value_extraction"),
        ]
        self.models_by_key = {m.id: m for m in self.models} | {m.short_name: m for m in self.models}

        self.jobs: dict[str, SimJob] = {}
        self.own: list[SimJob] = []
        self.foreign_ids: list[str] = []
        self.dependants: dict[str, list[SimJob]] = {}
        self.children: dict[str, list[SimJob]] = {}

        seed_jobs(self, settings.jobs)
        self.start_arrivals(options.get("arrivals"), lambda t: arrive(self, t))

    # -- ids and times --------------------------------------------------------------------------

    def hex_id(self, t: float) -> str:
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

    def step_at(self, t: float, job: SimJob) -> None:
        """The job's next step at time `t`, void if the job changes before."""
        self.at(t, job, self._step, _stamp)

    def resolve_at(self, t: float, job: SimJob) -> None:
        """Look at the job's prerequisite at time `t`, void if the job changes before."""
        self.at(t, job, self._resolve, _stamp)

    def plan(self, job: SimJob) -> Plan:
        rng = random.Random(f"{self.seed}:{job.id}:plan")
        fails = job.job_type != CONDITIONAL_TYPE and rng.random() < 0.08
        reason, code = rng.choice(FAILURES)
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

    def set_status(self, job: SimJob, status: str) -> None:
        job.status = status
        job.stamp += 1

    def set_ready(self, job: SimJob, t: float, step_at: float | None = None) -> None:
        self.set_status(job, "READY")
        self.step_at(t + self.plan(job).queue if step_at is None else step_at, job)

    def _step(self, job: SimJob, t: float) -> None:
        plan = self.plan(job)
        if job.status == "READY":
            self.set_status(job, "STARTING")
            job.started = t
            self.step_at(t + plan.start, job)
        elif job.status == "STARTING":
            if job.model_id:
                self.set_status(job, "LOADING_MODEL")
                self.step_at(t + plan.load, job)
            else:
                self.set_status(job, "PROCESSING")
                self.step_at(t + plan.process, job)
        elif job.status == "LOADING_MODEL":
            self.set_status(job, "PROCESSING")
            self.step_at(t + plan.process, job)
        elif job.status == "PROCESSING":
            if job.job_type == CONDITIONAL_TYPE:
                if job.rule_jobs is None:
                    spawn_rule_jobs(self, job, t)
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
        self.set_status(job, status)
        job.finished = t
        job.reason = reason
        job.http_code = 200 if status == "PROCESSED" else http_code
        for dependant in self.dependants.get(job.id, ()):
            if dependant.status in ("WAITING", "BLOCKED"):
                self.resolve_at(t + PROPAGATE, dependant)
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
            id=self.hex_id(t),
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
            self.set_status(job, "BLOCKED")
        else:
            self._release(job, t)
        return job

    def _release(self, job: SimJob, t: float) -> None:
        """A job that may run: READY, or WAITING on an unfinished prerequisite."""
        prereq = self.jobs.get(job.execute_after_id) if job.execute_after_id else None
        if prereq is None or prereq.status == "PROCESSED":
            self.set_ready(job, t)
            return
        self.set_status(job, "WAITING")
        if prereq.terminal:
            self.resolve_at(t + PROPAGATE, job)

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
        job = found(self.jobs.get(job_id), Problem(404, "Job not found"))
        if job.submitter_id != self.app_id:
            raise Problem(403, "Not the owner of the job")
        return job

    def model(self, key: str) -> Model:
        return found(self.models_by_key.get(key), Problem(404, "Model not found"))

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
        optional: dict[str, Any] = {
            "model_id": job.model_id,
            "execute_after_id": job.execute_after_id,
            "parent_job_id": job.parent_job_id,
            "callback_url": job.callback_url,
            "page_range": job.page_range,
            "starting_time": None if job.started is None else self.iso(job.started),
            "finished_time": None if job.finished is None else self.iso(job.finished),
            "reason": job.reason,
            "http_code": job.http_code,
            "result_type": job.result_type,
        }
        data.update((key, value) for key, value in optional.items() if value is not None)
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
    model = state.models_by_key.get(job.model_id or "")
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


def spawn_rule_jobs(state: LeiaState, job: SimJob, t: float) -> None:
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
                model = state.models_by_key.get(spec["model_id"])
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
