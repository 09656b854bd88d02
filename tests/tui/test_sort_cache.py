"""The sort orders a job table keeps per column stay right across deltas, filters and reversal."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from jobtui.core.models import Column, Job, JobsDelta, JobState
from jobtui.tui.widgets.job_table import BULK_UPDATE, KEPT_SORTS, JobTable, service_row_key
from tests.tui.test_job_table import SIZE, STATES, TableApp, fixed_clock, make_job

COLUMNS = ("message", "state", "id", "queue", "created", "progress")
"""Sorted by in turn: as many as the table keeps, so every one of them is kept up to date."""

assert len(COLUMNS) <= KEPT_SORTS

STATE_FILTER = frozenset({JobState.RUNNING, JobState.QUEUED, JobState.FAILED})


def tied_job(n: int, rng: random.Random, service: str = "svc") -> Job:
    """A job whose message, state, queue and progress repeat across jobs (ties to break)."""
    return replace(
        make_job(
            n,
            state=rng.choice(STATES),
            message=rng.choice(("same", "other", "", "12", "3.5")),
            progress=rng.choice((None, 10.0, 50.0)),
            queue=rng.choice(("cpu", "gpu", "")),
        ),
        service=service,
    )


def new_table(**kwargs: object) -> JobTable:
    return JobTable([Column("queue", "Queue")], clock=fixed_clock, **kwargs)  # type: ignore[arg-type]


def random_delta(
    rng: random.Random, current: dict[str, Job], size: int, serial: int, services: tuple[str, ...]
) -> JobsDelta:
    """About a third each of removed, changed and added jobs; `current` is updated to match."""
    existing = list(current)
    removed = tuple(rng.sample(existing, min(len(existing), size // 3)))
    kept = [key for key in existing if key not in set(removed)]
    changed = tuple(
        replace(
            tied_job(int(current[key].id[4:]), rng, current[key].service),
            created=current[key].created,
            revision=f"r{serial}",
        )
        for key in rng.sample(kept, min(len(kept), size // 3))
    )
    fresh = (tied_job(rng.randrange(10_000), rng, rng.choice(services)) for _ in range(size // 3))
    added = tuple(
        {service_row_key(j): j for j in fresh if service_row_key(j) not in current}.values()
    )
    for key in removed:
        del current[key]
    for job in (*changed, *added):
        current[service_row_key(job)] = job
    return JobsDelta(
        added=added,
        changed=changed,
        removed=tuple(key if len(services) > 1 else key.split("\x1f")[1] for key in removed),
    )


@pytest.mark.parametrize(
    ("services", "filtered", "padding"),
    [
        (("svc",), False, 0),
        (("svc",), True, 0),
        (("svc",), False, BULK_UPDATE),
        (("a", "b"), False, 0),
        (("a", "b"), True, 0),
    ],
    ids=["one-service", "filtered", "bulk", "all-jobs", "all-jobs-filtered"],
)
async def test_kept_sort_orders_match_a_fresh_sort_after_deltas(
    services: tuple[str, ...], filtered: bool, padding: int
) -> None:
    rng = random.Random(11)
    several = len(services) > 1
    table = new_table(show_service=several)
    async with TableApp(table).run_test(size=SIZE) as pilot:
        jobs = [tied_job(n, rng, services[n % len(services)]) for n in range(600)]
        if several:
            # The same ids on two services are two rows.
            jobs += [replace(job, service="b") for job in jobs[:50] if job.service == "a"]
        current = {service_row_key(job): job for job in jobs}
        table.set_jobs(current.values())
        if filtered:
            table.set_filter("e")
            table.set_state_filter(STATE_FILTER)
        for serial in range(2, 6):
            for column in COLUMNS:
                table.sort_by(column, reverse=serial % 2 == 0)
            cursor = table.row_key(table.job_at(table.row_count // 2))
            table.move_cursor(cursor)
            table.apply(random_delta(rng, current, 30 + padding * (serial == 3), serial, services))
            for column in COLUMNS:
                reverse = rng.random() < 0.5
                table.sort_by(column, reverse=reverse)
                reference = new_table(show_service=several, sort=column, reverse=reverse)
                reference.set_jobs(current.values())
                if filtered:
                    reference.set_filter("e")
                    reference.set_state_filter(STATE_FILTER)
                assert table.row_ids() == reference.row_ids(), (serial, column, reverse)
                if cursor in table.row_ids():
                    shown = table.cursor_job
                    assert shown is not None and table.row_key(shown) == cursor
            assert table.total_count == len(current)
        await pilot.pause()


async def test_ties_keep_the_order_the_jobs_came_in_both_ways() -> None:
    """Equal sort values keep insertion order ascending; reversing reverses the whole list."""
    table = new_table(sort="message", reverse=False)
    async with TableApp(table).run_test(size=SIZE):
        jobs = [make_job(n, message="same") for n in (5, 1, 3)]
        table.set_jobs(jobs)
        assert table.row_ids() == ["job-0005", "job-0001", "job-0003"]
        table.sort_by("message", reverse=True)
        assert table.row_ids() == ["job-0003", "job-0001", "job-0005"]
        table.sort_by("id")
        table.apply(JobsDelta(added=(make_job(2, message="same"),)))
        table.apply(JobsDelta(changed=(make_job(5, message="earlier"),)))
        table.sort_by("message")
        assert table.row_ids() == ["job-0005", "job-0001", "job-0003", "job-0002"]
        table.apply(JobsDelta(changed=(make_job(5, message="same"),), removed=("job-0001",)))
        table.sort_by("id")
        table.sort_by("message")
        assert table.row_ids() == ["job-0005", "job-0003", "job-0002"]
