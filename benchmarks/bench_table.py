"""The job table at scale: JobTable against Textual's DataTable on the same synthetic jobs.

Every figure runs in a headless app of 120x40 and ends with the table's visible lines rendered as a
frame would render them ("paint": `Pilot.pause`, then `render_lines` of the whole table).

* load: `JobTable.set_jobs` / `DataTable.add_rows` of the same cell texts, until the first row is
  on screen; "All jobs" is the table of the All jobs tab (a Service column, rows keyed by service
  and id) given the same jobs as four services' first polls, as the dashboard hands them over;
* poll: a delta in which 1% of the jobs changed (state, progress, message, time), applied with
  `JobTable.apply` / `DataTable.update_cell` by row key, then painted; the cursor's job and its screen
  line are checked before and after;
* sort: one sort by another column (`JobTable.sort_by` / `DataTable.sort`), then painted;
* filter: what each keystroke in a filter field does (`JobTable.set_filter` with the text typed so
  far, substring or regex), then painted. A DataTable has no filter: its reference is clearing it
  and adding the matching rows again.

Times are CPU time of the process from the call to the painted frame (see `_Run.time`).
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable

from benchmarks.common import Row, at_most, median
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


COLUMN_TITLES = ("ID", "State", "Type", "Progress", "Updated", "Queue", "Size", "Message")
COLUMN_KEYS = ("id", "state", "type", "progress", "updated", "queue", "size", "message")
SUBSTRING_KEYS = "file_12"
REGEX_KEYS = r"step 1[0-6] of"


def changed(job: Job, n: int) -> Job:
    """The job after one poll: its next state, more progress, a new message and time."""
    state = STATES[(STATES.index(job.state) + 1) % len(STATES)]
    updated = (job.updated or EPOCH) + timedelta(seconds=60)
    return Job(
        service=job.service,
        id=job.id,
        state=state,
        raw_state=RAW.get(state, state.value),
        type=job.type,
        created=job.created,
        updated=updated,
        progress=min(100.0, (job.progress or 0.0) + 7),
        message=f"step {n % 17 + 1} of 17: processing file_{n}.tif",
        extra=job.extra,
        revision=f"{job.revision}+1",
    )


def delta_of(jobs: list[Job], share: float, on_screen: list[str]) -> JobsDelta:
    """`share` of the jobs changed, spread over the list, including the jobs on screen."""
    count = max(1, int(len(jobs) * share))
    step = max(1, len(jobs) // count)
    picked = {job.id: job for job in jobs[::step][:count]}
    by_id = {job.id: job for job in jobs}
    for job_id in on_screen[: count // 4]:
        picked.setdefault(job_id, by_id[job_id])
    return JobsDelta(changed=tuple(changed(job, n) for n, job in enumerate(picked.values())))


def prefixes(text: str) -> list[str]:
    return [text[: n + 1] for n in range(len(text))]


def valid_regexes(text: str) -> list[str]:
    """The prefixes of `text` that compile (typing a regex passes through invalid ones)."""
    valid = []
    for prefix in prefixes(text):
        try:
            re.compile(prefix)
        except re.error:
            continue
        valid.append(prefix)
    return valid


class _Run:
    """One headless app holding one table, and timing of "do something, then paint"."""

    def __init__(self, pilot: Pilot[None], table: Widget) -> None:
        self.pilot = pilot
        self.table = table

    async def paint(self) -> str:
        return await paint(self.pilot, self.table)

    async def time(self, action: Callable[[], object], check: str | None = None) -> float:
        """CPU seconds of this process from the call until `check` is painted (or one paint).

        CPU time, not wall time: it counts the work done, not the harness's idle detection nor
        the time other processes on the machine take the cores.
        """
        gc.collect()
        start = time.perf_counter()
        cpu = time.process_time()
        action()
        screen = await self.paint()
        while check is not None and check not in screen:
            if time.perf_counter() - start > DEADLINE:
                raise TimeoutError(f"{check!r} never showed")
            screen = await self.paint()
        return time.process_time() - cpu


async def in_app(table: Widget, body: Callable[[_Run], Awaitable[None]]) -> None:
    app = BenchApp(table)
    async with app.run_test(size=SIZE) as pilot:
        run = _Run(pilot, table)
        await run.paint()
        await body(run)


def job_table() -> JobTable:
    return JobTable(COLUMNS, clock=lambda: NOW)


def data_table() -> DataTable[str]:
    return DataTable(cursor_type="row")


def load_data_table(table: DataTable[str], jobs: list[Job]) -> None:
    if not table.columns:
        for key, title in zip(COLUMN_KEYS, COLUMN_TITLES, strict=True):
            table.add_column(title, key=key)
    for job in jobs:
        table.add_row(*cells(job), key=job.id)


# -- load -------------------------------------------------------------------------------------


async def time_load(jobs: list[Job], *, datatable: bool) -> float:
    seconds: list[float] = []
    table: Widget
    if datatable:
        theirs = table = data_table()

        async def body(run: _Run) -> None:
            seconds.append(await run.time(partial(load_data_table, theirs, jobs), jobs[0].id))

    else:
        ours = table = job_table()

        async def body(run: _Run) -> None:
            seconds.append(await run.time(partial(ours.set_jobs, jobs), jobs[-1].id))

    await in_app(table, body)
    return seconds[0]


async def time_all_jobs_load(jobs: list[Job]) -> float:
    """The All jobs table: the jobs spread over four services (whose ids collide), each
    service's first poll handed over as one delta."""
    per_service: dict[str, list[Job]] = {}
    for n, job in enumerate(jobs):
        service = f"service-{n % 4}"
        per_service.setdefault(service, []).append(replace(job, service=service, id=str(n // 4)))
    table = JobTable(COLUMNS, clock=lambda: NOW, show_service=True)
    seconds: list[float] = []

    def load() -> None:
        for service_jobs in per_service.values():
            table.apply(JobsDelta(tuple(service_jobs)))

    async def body(run: _Run) -> None:
        seconds.append(await run.time(load, str((len(jobs) - 1) // 4)))

    await in_app(table, body)
    return seconds[0]


async def bench_all_jobs_load(size: int, repeat: int, limit: float) -> Row:
    jobs = make_jobs(size)
    ours = [await time_all_jobs_load(jobs) for _ in range(repeat)]
    value = median(ours) * 1000
    return Row(
        figure=f"load {size:,} jobs of four services into All jobs, to first paint",
        unit="ms",
        jobtui=value,
        reference=None,
        reference_name="",
        target=f"<= {limit:g} ms",
        passed=at_most(value, limit),
        runs=repeat,
        samples=[s * 1000 for s in ours],
    )


async def bench_load(size: int, repeat: int, datatable_repeat: int, limit: float) -> Row:
    jobs = make_jobs(size)
    ours = [await time_load(jobs, datatable=False) for _ in range(repeat)]
    theirs = [await time_load(jobs, datatable=True) for _ in range(datatable_repeat)]
    value = median(ours) * 1000
    return Row(
        figure=f"load {size:,} jobs into a tab, to first paint",
        unit="ms",
        jobtui=value,
        reference=median(theirs) * 1000 if theirs else None,
        reference_name="Textual DataTable",
        target=f"<= {limit:g} ms",
        passed=at_most(value, limit),
        runs=repeat,
        samples=[s * 1000 for s in ours],
    )


# -- poll -------------------------------------------------------------------------------------


async def bench_poll(size: int, repeat: int) -> list[Row]:
    jobs = make_jobs(size)
    ours: list[float] = []
    theirs: list[float] = []
    kept: list[bool] = []

    for _ in range(repeat):
        table = job_table()

        async def ours_body(run: _Run, table: JobTable = table) -> None:
            table.set_jobs(jobs)
            await run.paint()
            table.move_cursor(table.row_ids()[size // 2])
            table.scroll_to(y=size // 2 - 10, animate=False, force=True)
            await run.paint()
            before = (table.cursor_job, table.cursor_row, table.scroll_y)
            assert before[0] is not None and before[1] is not None
            screen = table.row_ids()[int(table.scroll_y) : int(table.scroll_y) + SIZE[1]]
            delta = delta_of(jobs, 0.01, screen)
            ours.append(await run.time(lambda: table.apply(delta)))
            job = table.cursor_job
            kept.append(
                job is not None
                and job.id == before[0].id
                and table.cursor_row == before[1]
                and table.scroll_y == before[2]
            )

        await in_app(table, ours_body)

        dt = data_table()

        async def theirs_body(run: _Run, dt: DataTable[str] = dt) -> None:
            load_data_table(dt, jobs)
            await run.paint()
            dt.move_cursor(row=size // 2, animate=False)
            await run.paint()
            delta = delta_of(jobs, 0.01, [])

            def update() -> None:
                for job in delta.changed:
                    for key, value in zip(COLUMN_KEYS, cells(job), strict=True):
                        dt.update_cell(job.id, key, value)

            theirs.append(await run.time(update))

        await in_app(dt, theirs_body)

    value = median(ours) * 1000
    return [
        Row(
            figure=f"apply a poll where 1% of {size:,} jobs changed (UI work)",
            unit="ms",
            jobtui=value,
            reference=median(theirs) * 1000,
            reference_name="DataTable update_cell by key",
            target="<= 30 ms",
            passed=at_most(value, 30),
            runs=repeat,
            samples=[s * 1000 for s in ours],
        ),
        Row(
            figure="  cursor and scroll stay on the same job",
            unit="",
            jobtui=float(all(kept)),
            reference=None,
            reference_name="",
            target="same job, same line",
            passed=all(kept),
            note=f"{sum(kept)} of {len(kept)} runs",
            runs=repeat,
        ),
    ]


# -- sort and filter --------------------------------------------------------------------------


async def bench_sort_filter(size: int, repeat: int, datatable: bool) -> list[Row]:
    jobs = make_jobs(size)
    sort_ms: list[float] = []
    substring_ms: list[float] = []
    regex_ms: list[float] = []
    table = job_table()

    async def body(run: _Run) -> None:
        table.set_jobs(jobs)
        await run.paint()
        for _ in range(repeat):
            for column in ("message", "state", "id", "queue", "created"):
                sort_ms.append(await run.time(partial(table.sort_by, column)))
            for text in prefixes(SUBSTRING_KEYS):
                substring_ms.append(await run.time(partial(table.set_filter, text)))
            substring_ms.append(await run.time(lambda: table.set_filter("")))
            for text in valid_regexes(REGEX_KEYS):
                regex_ms.append(await run.time(partial(table.set_filter, text, regex=True)))
            regex_ms.append(await run.time(lambda: table.set_filter("", regex=True)))

    await in_app(table, body)

    ref_sort: list[float] = []
    ref_filter: list[float] = []
    if datatable:
        dt = data_table()
        search = {job.id: "\n".join(cells(job)).lower() for job in jobs}
        rows = {job.id: cells(job) for job in jobs}

        def refill(needle: str) -> None:
            dt.clear()
            for job_id, text in search.items():
                if needle in text:
                    dt.add_row(*rows[job_id], key=job_id)

        async def ref_body(run: _Run) -> None:
            load_data_table(dt, jobs)
            await run.paint()
            for column in ("message", "state"):
                ref_sort.append(await run.time(partial(dt.sort, column)))
            for text in prefixes(SUBSTRING_KEYS)[-2:]:
                ref_filter.append(await run.time(partial(refill, text)))

        await in_app(dt, ref_body)

    def row(figure: str, samples: list[float], reference: list[float], name: str) -> Row:
        value = median(samples) * 1000
        return Row(
            figure=figure,
            unit="ms",
            jobtui=value,
            reference=median(reference) * 1000 if reference else None,
            reference_name=name if reference else "",
            target="<= 50 ms",
            passed=at_most(value, 50),
            runs=len(samples),
            samples=[s * 1000 for s in samples],
        )

    return [
        row(f"sort {size:,} rows by a column", sort_ms, ref_sort, "DataTable.sort"),
        row(
            f"filter {size:,} rows, substring, per keystroke",
            substring_ms,
            ref_filter,
            "DataTable clear + add matches",
        ),
        row(f"filter {size:,} rows, regex, per keystroke", regex_ms, [], ""),
    ]


async def run_table(quick: bool) -> list[Row]:
    if quick:
        return [
            await bench_load(1000, 1, 1, 150),
            await bench_load(5000, 1, 1, 1000),
            await bench_all_jobs_load(5000, 1, 1000),
        ]
    return [
        await bench_load(10_000, 5, 3, 150),
        await bench_load(100_000, 3, 1, 1000),
        await bench_all_jobs_load(100_000, 3, 1000),
    ]


async def run_poll(quick: bool) -> list[Row]:
    return await bench_poll(1000 if quick else 10_000, 1 if quick else 5)


async def run_sort_filter(quick: bool) -> list[Row]:
    return await bench_sort_filter(2000 if quick else 100_000, 1 if quick else 3, datatable=True)
