"""The Leia emulator's seeded jobs, and the jobs that arrive by themselves."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jobtui.emulators.leia.state import (
    CONDITIONAL_TYPE,
    FAILURES,
    PROPAGATE,
    LeiaState,
    Model,
    SimJob,
    result_of,
    result_type_for,
)


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
        job.reason, job.http_code = rng.choice(FAILURES)


def _seed_running(state: LeiaState, job: SimJob, status: str, rng: random.Random) -> None:
    """Place a job in a non-terminal status with its next transition a little in the future."""
    plan = state.plan(job)
    if status == "WAITING" or status == "BLOCKED":
        state.set_status(job, status)
        return
    if status == "READY":
        state.set_ready(job, 0.0, step_at=plan.queue * rng.uniform(0.2, 1.0))
        return
    if status == "LOADING_MODEL" and not job.model_id:
        status = "PROCESSING"
    job.started = job.created + (-job.created) * rng.uniform(0.1, 0.5)
    state.set_status(job, status)
    length = {"STARTING": plan.start, "LOADING_MODEL": plan.load}.get(status, plan.process)
    state.step_at(length * rng.uniform(0.2, 1.0), job)


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
        id=state.hex_id(t),
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


def seed_jobs(state: LeiaState, count: int) -> None:
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


def arrive(state: LeiaState, t: float) -> None:
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
