"""The bsub.io emulator's seeded jobs, and the jobs that arrive by themselves."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from jobtui.emulators.bsub.state import (
    CANCELLED_CODE,
    CATALOGUE,
    FAILURES,
    KINDS_BY_TYPE,
    RECENT_WINDOW,
    WHAT,
    WORKERS,
    BsubState,
    Plan,
    SimJob,
    input_ext,
    input_size,
)

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


# -- seeding ------------------------------------------------------------------------------------


def seed_jobs(state: BsubState, count: int) -> None:
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
    code, message, stage = FAILURES[rng.randrange(len(FAILURES))]
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
        error_message=message.format(what=WHAT.get(job.type, "input")),
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
    marks = _stages(job, plan, submitted, lengths[:done], scale, done)
    job.status = status
    job.updated = marks[-1] if marks else submitted
    remaining = max(lengths[done] * rng.uniform(0.2, 0.9), 1.0)
    state.schedule(job, remaining)


def _stages(
    job: SimJob, plan: Plan, start: float, lengths: Sequence[float], scale: float, reached: int
) -> list[float]:
    """When each stage of `lengths` (times `scale`) ends, run one after the other from `start`;
    the job gets the first `reached` of them as its claimed, preparing and processing times."""
    marks: list[float] = []
    t = start
    for length in lengths:
        t += length * scale
        marks.append(t)
    if reached >= 1:
        job.claimed_by, job.claimed_at = plan.worker, marks[0]
    if reached >= 2:
        job.preparing_at = marks[1]
    if reached >= 3:
        job.processing_at = marks[2]
    return marks


def _uploaded(job: SimJob, plan: Plan, rng: random.Random) -> float:
    """Give a seeded job its input; returns when it was uploaded (loaded jobs) or submitted."""
    kind = KINDS_BY_TYPE[job.type]
    job.data_size = input_size(rng, kind)
    job.filename = f"input.{input_ext(kind)}"
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
        code, message, stage = rng.choice(FAILURES)
        failure = (code, message.format(what=WHAT.get(job.type, "input")), stage)
    failed_early = status == "failed" and failure[2] == "preparing"
    if status == "cancelled":
        stop = rng.choice((1, 1, 3, 4))  # cancelled while pending, or while processing
        lengths = [*lengths[: stop - 1], lengths[stop - 1] * rng.uniform(0.1, 0.9)]
    elif failed_early:
        lengths = lengths[:3]
    total = sum(lengths)
    room = -1.0 - submitted
    scale = min(1.0, room / total) if total > 0 and room > 0 else 0.01
    # the last stage ends the job: the others reached claimed, preparing, processing
    end = _stages(job, plan, submitted, lengths, scale, len(lengths) - 1)[-1]
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


def arrive(state: BsubState, t: float) -> None:
    types = [kind.type for kind in CATALOGUE]
    state.create(state.rng.choice(types), t, auto=True)


# -- multipart ----------------------------------------------------------------------------------
