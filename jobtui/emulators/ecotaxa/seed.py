"""The EcoTaxa emulator's seeded jobs, and the jobs that arrive by themselves."""

from __future__ import annotations

import itertools
import random

from jobtui.emulators.ecotaxa.content import describe, failure_of, result_of
from jobtui.emulators.ecotaxa.errors import exception_pieces
from jobtui.emulators.ecotaxa.state import EcoTaxaState, SimJob
from jobtui.emulators.ecotaxa.world import (
    IMPORT_ERRORS,
    JOB_SERVICE,
    MSG_DONE,
    MSG_KILLED,
    MSG_PROCEEDING,
    STATES,
    UNKNOWN_TAXA,
    UNKNOWN_USERS,
    WEIGHTS,
)

# -- seeding --------------------------------------------------------------------------------

_GUARANTEED: tuple[tuple[str, str, int], ...] = (
    ("FileImport", "A", 2),
    ("GeneralExport", "R", 2),
    ("FileImport", "P", 2),
    ("BackupExport", "F", 2),
    ("SummaryExport", "F", 2),
    ("GeneralExport", "F", 3),
    ("Subset", "E", 2),
    ("FileImport", "E", 2),
    ("DarwinCoreExport", "F", 2),
    ("Prediction", "P", 2),
    ("FileImport", "F", 2),
    ("GeneralExport", "E", 2),
    ("FileImport", "A", 3),
    ("NightlyMaintenance", "F", 1),
)
"""(type, state, owner) of the newest seeded jobs, so that even a small seed shows each case."""


RECENT = 40
"""Only the newest seeded jobs may still be pending, running or asking; older ones have ended."""


def seed_jobs(state: EcoTaxaState, count: int) -> None:
    rng = random.Random(f"ecotaxa:{state.seed}:seed")
    types = [t for t, _ in WEIGHTS]
    weights = list(itertools.accumulate(w for _, w in WEIGHTS))
    owners = (2, 3, 1)
    owner_weights = (70, 90, 100)
    recent_states = list(itertools.accumulate((8, 8, 3, 12, 69)))
    plans: list[tuple[str, str, int]] = []
    for index in range(count):
        if index < len(_GUARANTEED):
            plans.append(_GUARANTEED[index])
            continue
        type_ = rng.choices(types, cum_weights=weights)[0]
        owner = rng.choices(owners, cum_weights=owner_weights)[0]
        if index < RECENT:
            state_ = rng.choices(STATES, cum_weights=recent_states)[0]
        else:
            state_ = "E" if rng.random() < 0.12 else "F"
        if type_ == "Prediction" and state_ in ("R", "A"):
            state_ = "P"
        if type_ != "FileImport" and state_ == "A":
            state_ = "R"
        plans.append((type_, state_, owner))
    # newest first above; make them oldest first, spread back in time (within the 30 days the
    # nightly maintenance keeps)
    t = 0.0
    times: list[float] = []
    spread = min(3900.0, 25 * 86400 / max(1, count))
    for index in range(count):
        t -= rng.uniform(30, 600) if index < RECENT else rng.uniform(0.2, 1.8) * spread
        times.append(t)
    for index in range(count - 1, -1, -1):
        type_, state_, owner = plans[index]
        if index < RECENT:
            _seed_one(state, type_, state_, owner, times[index])
        else:
            _seed_old(state, rng, type_, state_, owner, times[index])


def _seed_old(
    state: EcoTaxaState, rng: random.Random, type_: str, target: str, owner: int, created: float
) -> None:
    """An old job, already F or E: made in one go from the seeding stream (its log is written
    when it is first read)."""
    job = SimJob(key=state.new_id(), type=type_, owner_id=owner, created=created, updated=created)
    describe(state, job, rng)
    job.missing_users = job.missing_taxa = ()
    job.runs = 1
    job.history = True
    job.updated = created + rng.uniform(10.0, 200.0)
    if target == "F":
        job.state = "F"
        job.progress_pct = 100
        job.progress_msg = MSG_DONE
        job.result = result_of(state, job, rng)
    elif type_ == "FileImport":
        infos = [
            rng.choice(IMPORT_ERRORS).format(
                n=job.key % 97, line=rng.randrange(2, 4000), day=rng.randrange(1, 29)
            )
            for _ in range(rng.randrange(1, 4))
        ]
        job.state = "E"
        job.progress_pct = 0
        job.errors = infos
        job.result = {"infos": infos}
        job.progress_msg = f"{len(infos)} error(s) during run"
    elif rng.random() < 0.15:
        job.state = "E"
        job.progress_pct = rng.choice((0, 25, 50, 75))
        job.progress_msg = MSG_KILLED
    else:
        message, frames, last = failure_of(state, job, rng)
        job.state = "E"
        job.progress_pct = rng.choice((0, 25, 50, 75))
        job.progress_msg = message
        job.errors = exception_pieces(frames, last)
    state.add(job)
    state.to_json(job)  # serialized now, so that even the first listing of many jobs is fast


def _seed_one(state: EcoTaxaState, type_: str, target: str, owner: int, created: float) -> None:
    """One seeded job that reached `target` by the epoch (P and R ones go on from there)."""
    job = SimJob(key=state.new_id(), type=type_, owner_id=owner, created=created, updated=created)
    rng = random.Random(f"ecotaxa:{state.seed}:{job.key}:make")
    describe(state, job, rng)
    state.add(job)
    state.log(job, created, JOB_SERVICE, "INFO", f"Creating job {job.key}")
    if target == "P":
        job.gen += 1
        job.stamp += 1
        if type_ != "Prediction":
            state.start_at(rng.uniform(1.0, 20.0), job)
        return
    crashed_reply = False
    if type_ == "FileImport":
        if target == "A" or (target == "E" and rng.random() < 0.5):
            # seeded questions name two taxa at least, so that a partial answer is possible
            if len(job.missing_taxa) < 2:
                job.missing_taxa = tuple(rng.sample(UNKNOWN_TAXA, rng.randrange(2, 4)))
            job.missing_users = job.missing_users or tuple(
                rng.sample(UNKNOWN_USERS, rng.randrange(0, 3))
            )
            crashed_reply = target == "E"
        else:
            job.missing_users = job.missing_taxa = ()
    job.fails = target == "E" and not crashed_reply
    fate = state.fate(job)
    start = created + fate.queue
    if target == "R":
        # started a while ago; the run ends a little after the epoch
        state.start_run(job, start, duration=-start + rng.uniform(5.0, fate.duration + 5.0))
        return
    state.start_run(job, start, schedule=False)
    end = start + min(fate.duration, -start * 0.5)
    if target == "E" and type_ != "FileImport" and rng.random() < 0.15:
        job.state = "E"
        job.progress_msg = MSG_KILLED
        state.log(job, end, "", "", f"\nProcess killed by user {owner}")
        state.changed(job, end)
        return
    for step in range(fate.steps):
        state.progress(job, start + (end - start) * step / fate.steps + 0.5)
    if crashed_reply:
        # it asked, and the reply it got had no "users": the next run failed on it
        asked = start + (end - start) / 2
        state.end_run(job, asked)
        reply = {"taxa": {name: rng.randrange(10_000, 90_000) for name in job.missing_taxa}}
        job.reply = reply
        job.pending_reply = reply
        job.progress_msg = MSG_PROCEEDING
        state.start_run(job, asked + 5.0, schedule=False)
    state.end_run(job, end)


def arrive(state: EcoTaxaState, t: float) -> None:
    rng = random.Random(f"ecotaxa:{state.seed}:arrival:{t:.6f}")
    types = [t_ for t_, _ in WEIGHTS if t_ != "Prediction"]
    weights = [w for t_, w in WEIGHTS if t_ != "Prediction"]
    type_ = rng.choices(types, weights)[0]
    owner = rng.choices((2, 3, 1), (80, 15, 5))[0]
    job = state.create(type_, owner, t)
    job.fails = rng.random() < 0.12
