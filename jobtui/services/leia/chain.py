"""Leia's job chains: a job waits on another (`execute_after_id`: it runs once that one is
PROCESSED, and fails when it does not get there) and a conditional job creates jobs by its rules
(their `parent_job_id`). `LeiaChain` is one job's links for the detail pane; the indexes answer
which unfinished jobs a cancel fails."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jobtui.core.models import Job
from jobtui.services.leia.wire import LeiaRecord

Links = dict[str, list[str]]
"""Job id -> the ids of the jobs that point at it, in listing order."""


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


def _chain(
    job_id: str,
    waits_on_id: str | None,
    parent_id: str | None,
    jobs: Mapping[str, Job],
    children: tuple[Job, ...],
    dependents: tuple[Job, ...],
) -> LeiaChain:
    return LeiaChain(
        job_id,
        waits_on_id,
        jobs.get(waits_on_id) if waits_on_id else None,
        parent_id,
        jobs.get(parent_id) if parent_id else None,
        children,
        dependents,
    )


def chain_of(job_id: str, snapshot: Mapping[str, Job]) -> LeiaChain:
    """The links of `job_id` within `snapshot` (one pass over it)."""
    job = snapshot.get(job_id)
    waits_on_id = _link(job, "execute_after_id") if job else None
    parent_id = _link(job, "parent_job_id") if job else None
    children = tuple(j for j in snapshot.values() if _link(j, "parent_job_id") == job_id)
    dependents = tuple(j for j in snapshot.values() if _link(j, "execute_after_id") == job_id)
    return _chain(job_id, waits_on_id, parent_id, snapshot, children, dependents)


def link_indexes(records: Iterable[LeiaRecord]) -> tuple[Links, Links]:
    """(dependents, children) of every record: who waits on each job, and what each created."""
    dependents: Links = {}
    children: Links = {}
    for record in records:
        add_links(record, dependents, children)
    return dependents, children


def add_links(record: LeiaRecord, dependents: Links, children: Links) -> None:
    """Put one record into the indexes of `link_indexes`."""
    if record.execute_after_id:
        dependents.setdefault(record.execute_after_id, []).append(record.id)
    if record.parent_job_id:
        children.setdefault(record.parent_job_id, []).append(record.id)


def chain_in(
    job_id: str,
    records: Mapping[str, LeiaRecord],
    jobs: Mapping[str, Job],
    dependents: Links,
    children: Links,
) -> LeiaChain:
    """`chain_of` from the records and the indexes of `link_indexes` (no pass over the jobs)."""
    record = records.get(job_id)
    return _chain(
        job_id,
        record.execute_after_id if record else None,
        record.parent_job_id if record else None,
        jobs,
        tuple(jobs[i] for i in children.get(job_id, ()) if i in jobs),
        tuple(jobs[i] for i in dependents.get(job_id, ()) if i in jobs),
    )


def dependents_that_fail(job_id: str, dependents: Links, jobs: Mapping[str, Job]) -> list[Job]:
    """Jobs not yet ended whose `execute_after_id` chain leads to `job_id`: cancelling it
    fails them."""
    out: list[Job] = []
    seen = {job_id}
    todo = list(dependents.get(job_id, ()))
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        job = jobs.get(current)
        if job is not None and not job.state.terminal:
            out.append(job)
        todo.extend(dependents.get(current, ()))
    return out


def unfinished_children(job_id: str, children: Links, jobs: Mapping[str, Job]) -> list[Job]:
    """The jobs `job_id` created that have not ended (cancelling it cancels them)."""
    found = (jobs.get(i) for i in children.get(job_id, ()))
    return [job for job in found if job is not None and not job.state.terminal]


__all__ = [
    "LeiaChain",
    "Links",
    "add_links",
    "chain_in",
    "chain_of",
    "dependents_that_fail",
    "link_indexes",
    "unfinished_children",
]
