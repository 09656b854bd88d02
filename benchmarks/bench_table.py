"""Time to load N jobs and paint the first screen: JobTable against Textual's DataTable.

    .venv/bin/python benchmarks/bench_table.py [--sizes 10000,100000] [--no-datatable]

"All jobs" is the JobTable of the All jobs tab (a Service column, rows keyed by service and id)
given the same jobs as four services' first polls. The tables get the same synthetic jobs in one headless app of 120x40. "load" is the call that
hands the data over (`JobTable.set_jobs`, `DataTable.add_rows` of the same cell texts); "paint" is
the time from then until the table's first row is on screen; "idle" is one pause and paint of an
unchanged table in the same app (the floor under "paint": Pilot.pause waits for the CPU to idle).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable

from jobtui.core.models import Column, Job, JobsDelta, JobState
from jobtui.tui.widgets.job_table import JobTable, progress_text, relative_age

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
NOW = EPOCH + timedelta(days=2)
STATES = list(JobState)
RAW = {JobState.RUNNING: "processing", JobState.QUEUED: "pending"}
COLUMNS = [Column("queue", "Queue", 8), Column("size", "Size", 8)]
SIZE = (120, 40)
DEADLINE = 300.0


def make_jobs(count: int) -> list[Job]:
    jobs = []
    for n in range(count):
        state = STATES[n % len(STATES)]
        jobs.append(
            Job(
                service="bench",
                id=f"{n:08d}",
                state=state,
                raw_state=RAW.get(state, state.value),
                type=("ocr", "convert", "classify")[n % 3],
                created=EPOCH + timedelta(seconds=n),
                updated=EPOCH + timedelta(seconds=n + 30),
                progress=float(n % 101) if n % 2 else None,
                message=f"step {n % 17} of 17: processing file_{n}.tif",
                extra={"queue": ("cpu", "gpu")[n % 2], "size": str(n * 13 % 10_000)},
                revision=str(n),
            )
        )
    return jobs


def cells(job: Job) -> tuple[str, ...]:
    updated = job.updated or job.created
    age = relative_age((NOW - updated).total_seconds()) if updated else ""
    return (
        job.id,
        job.raw_state,
        job.type,
        progress_text(job.progress),
        age,
        *(job.extra.get(c.key, "") for c in COLUMNS),
        job.message,
    )


class BenchApp(App[None]):
    def __init__(self, table: Widget) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table


async def paint(pilot: Pilot[None], table: Widget) -> str:
    """Let the app run its pending work, then render the table's screen as a frame would."""
    await pilot.pause()
    width, height = table.size
    return "\n".join(strip.text for strip in table.render_lines(Region(0, 0, width, height)))


async def measure(
    table: Widget, load: Callable[[], None], first_id: str
) -> tuple[float, float, float]:
    """Seconds to load, to paint the first row after that, and for one idle pause and paint."""
    app = BenchApp(table)
    async with app.run_test(size=SIZE) as pilot:
        await paint(pilot, table)
        start = time.perf_counter()
        await paint(pilot, table)
        idle = time.perf_counter() - start
        gc.collect()
        start = time.perf_counter()
        load()
        loaded = time.perf_counter()
        while first_id not in await paint(pilot, table):
            if time.perf_counter() - loaded > DEADLINE:
                raise TimeoutError("the first row never showed")
        painted = time.perf_counter()
    return loaded - start, painted - loaded, idle


async def bench_job_table(jobs: list[Job]) -> tuple[float, float, float]:
    table = JobTable(COLUMNS, clock=lambda: NOW)
    return await measure(table, lambda: table.set_jobs(jobs), jobs[-1].id)


async def bench_all_jobs(jobs: list[Job]) -> tuple[float, float, float]:
    """The All jobs table: the same jobs spread over four services (whose ids collide), each
    service's first poll handed over as one delta, as the dashboard does."""
    table = JobTable(clock=lambda: NOW, show_service=True)
    per_service: dict[str, list[Job]] = {}
    for n, job in enumerate(jobs):
        service = f"service-{n % 4}"
        per_service.setdefault(service, []).append(replace(job, service=service, id=str(n // 4)))

    def load() -> None:
        for service_jobs in per_service.values():
            table.apply(JobsDelta(tuple(service_jobs)))

    return await measure(table, load, str((len(jobs) - 1) // 4))


async def bench_data_table(jobs: list[Job]) -> tuple[float, float, float]:
    table: DataTable[str] = DataTable(cursor_type="row")
    rows = [cells(job) for job in jobs]

    def load() -> None:
        table.add_columns("ID", "State", "Type", "Progress", "Updated", "Queue", "Size", "Message")
        table.add_rows(rows)

    return await measure(table, load, jobs[0].id)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated job counts")
    parser.add_argument("--no-datatable", action="store_true", help="time JobTable only")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{'table':<10} {'jobs':>8} {'load s':>8} {'paint s':>8} {'total s':>8} {'idle s':>8}")
    for size in sizes:
        jobs = make_jobs(size)
        benches = [("JobTable", bench_job_table), ("All jobs", bench_all_jobs)]
        if not args.no_datatable:
            benches.append(("DataTable", bench_data_table))
        for name, bench in benches:
            load, shown, idle = await bench(jobs)
            total = load + shown
            line = f"{name:<10} {size:>8} {load:>8.3f} {shown:>8.3f} {total:>8.3f} {idle:>8.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
