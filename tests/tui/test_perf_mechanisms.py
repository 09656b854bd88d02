"""The mechanisms that keep jobtui cheap at scale and quiet when idle (the benchmarks time them).

Two bsub.io tabs run on frozen emulators over loopback HTTP. Nothing here is timed: each test
counts work (rows rendered, deltas applied, frames sent to the terminal) that a broken mechanism
would multiply.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static, TabbedContent
from textual.widgets._toast import Toast

from jobtui.core.models import Job, JobsDelta, JobState
from jobtui.core.pacing import Pacer
from jobtui.core.service import Service
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.journal import Timeline
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.messages import Polled
from jobtui.tui.screens.dashboard import ALL_PANE, tab_title
from jobtui.tui.updates import SpanUpdate
from jobtui.tui.widgets import detail as detail_module
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.header import AttentionCount, AttentionHeader
from jobtui.tui.widgets.history import SPARK_WIDTH
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.key_bar import BarKey, KeyBar
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded, start, token_of
from tests.tui.driver import count_calls
from tests.tui.live_support import show_tab

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)


@dataclass
class Two:
    """Two bsub.io tabs: the first is shown, the second hidden."""

    app: JobtuiApp
    pilot: Pilot[int]
    states: tuple[BsubState, BsubState]

    def tab(self, index: int) -> ServiceTab:
        return self.app.screen.query_one(f"#tab-{index}", ServiceTab)

    def table(self, index: int) -> JobTable:
        return self.tab(index).query_one(JobTable)

    async def until(self, predicate: Callable[[], bool], what: str, pauses: int = 2000) -> None:
        for _ in range(pauses):
            if predicate():
                return
            await self.pilot.pause(0.005)
        raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def two_tabs(
    emulator: EmulatorFactory,
    refresh: float = 60.0,
    clock: Callable[[], datetime] = lambda: NOW,
    *,
    toasts: bool = False,
) -> AsyncIterator[Two]:
    shown, shown_state = start(emulator, jobs=60)
    hidden, hidden_state = start(emulator, jobs=60, seed=2)
    services = [
        BsubService("shown", shown.url, token_of(shown)),
        BsubService("hidden", hidden.url, token_of(hidden)),
    ]
    app = JobtuiApp(services, refresh=refresh, clock=clock)
    async with app.run_test(size=SIZE, notifications=toasts) as pilot:
        two = Two(app, pilot, (shown_state, hidden_state))
        await two.until(
            lambda: two.table(0).row_count > 0 and two.table(1).row_count > 0, "the first polls"
        )
        await show_tab(pilot, 0)  # All jobs comes first with two services
        yield two


def count_frames(app: JobtuiApp) -> list[RenderableType]:
    """Record every screen update the app hands to its driver (the terminal)."""
    frames: list[RenderableType] = []
    original = app._display

    def display(screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            frames.append(renderable)
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    return frames


async def settle(two: Two, frames: list[RenderableType]) -> None:
    """Let the start-up finish: wait for a tenth of a second without a frame."""
    for _ in range(100):
        count = len(frames)
        await two.pilot.pause(0.1)
        if len(frames) == count:
            return
    raise AssertionError("the screen never settled")


def cancel_one(state: BsubState) -> str:
    with state.lock:
        job = seeded(state, "loaded")
        state.cancel(job)
        return job.id


async def test_a_hidden_tab_keeps_polling_but_renders_nothing(emulator: EmulatorFactory) -> None:
    async with two_tabs(emulator) as two:
        hidden, shown = two.table(1), two.table(0)
        hidden_lines = count_calls(hidden, "render_line")
        shown_lines = count_calls(shown, "render_line")
        for index, table in ((1, hidden), (0, shown)):
            job_id = cancel_one(two.states[index])
            two.tab(index).poll_now()

            def cancelled(table: JobTable = table, job_id: str = job_id) -> bool:
                job = table.get_job(job_id)
                return job is not None and job.state is JobState.CANCELLED

            await two.until(cancelled, f"the cancel on tab {index}")
            await two.pilot.pause()
        assert shown_lines, "the shown tab rendered its change (the counting works)"
        assert hidden_lines == []


async def test_a_newer_poll_replaces_a_queued_older_one(emulator: EmulatorFactory) -> None:
    async with two_tabs(emulator) as two:
        tab, table = two.tab(0), two.table(0)
        first = cancel_one(two.states[0])
        older = await tab.monitor.poll_once()
        second = cancel_one(two.states[0])
        newer = await tab.monitor.poll_once()
        applied = count_calls(table, "apply")
        tab.post_message(Polled(older))
        tab.post_message(Polled(newer))
        await two.until(lambda: bool(applied), "the poll applied")
        await two.pilot.pause()
        assert len(applied) == 1, "the older outcome was handled instead of being replaced"
        delta: JobsDelta = applied[0]
        assert {job.id for job in delta.changed} == {first, second}
        assert all(table.get_job(i).state is JobState.CANCELLED for i in (first, second))  # type: ignore[union-attr]


async def test_a_skipped_poll_is_made_up_for_in_turns_of_the_event_loop(
    emulator: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer outcome that replaced an older one is compared with what the tab shows: for a
    long list (tens of thousands of jobs), in turns of the event loop, as a poll is."""
    from jobtui.core import models, polling
    from tests.pacing import turns_of

    pacers: list[Pacer] = []

    def pacer() -> Pacer:
        pacers.append(turns_of(1)())
        return pacers[-1]

    async with two_tabs(emulator) as two:
        tab, table = two.tab(0), two.table(0)
        first = cancel_one(two.states[0])
        older = await tab.monitor.poll_once()
        second = cancel_one(two.states[0])
        newer = await tab.monitor.poll_once()
        monkeypatch.setattr(polling, "DIFF_PACED", 10)  # 60 jobs: a long list
        monkeypatch.setattr(models, "DIFF_SLICE", 5)
        monkeypatch.setattr(polling, "Pacer", pacer)
        applied = count_calls(table, "apply")
        tab.post_message(Polled(older))
        tab.post_message(Polled(newer))
        await two.until(lambda: bool(applied), "the poll applied")
        assert len(pacers) == 1 and pacers[0].rests >= 60 // 5 - 1
        delta: JobsDelta = applied[0]
        assert {job.id for job in delta.changed} == {first, second}


async def test_an_idle_dashboard_sends_no_frames(emulator: EmulatorFactory) -> None:
    async with two_tabs(emulator, refresh=0.2) as two:
        frames = count_frames(two.app)
        # The sparklines grow until they hold SPARK_WIDTH samples; a full steady one stays still.
        await two.until(
            lambda: all(len(two.tab(i).history.samples) > SPARK_WIDTH for i in (0, 1)),
            "full sparklines",
        )
        await settle(two, frames)
        frames.clear()
        polls = [two.tab(i).health.polls for i in (0, 1)]
        await two.until(
            lambda: all(two.tab(i).health.polls >= polls[i] + 4 for i in (0, 1)), "more polls"
        )
        await two.pilot.pause()
        assert frames == [], "polls that changed nothing sent frames"
        for index in (0, 1):
            two.table(index).refresh_ages()  # what the tab's slow timer does
        await two.pilot.pause()
        assert frames == [], "ages that did not change were repainted"
        # The counting sees a real change: a cancelled job repaints its row.
        cancel_one(two.states[0])
        await two.until(lambda: bool(frames), "a frame after a change")


def table_spans(
    two: Two, frames: list[RenderableType], index: int = 0
) -> list[tuple[int, int, int]]:
    """The (line, first column, end column) of the table spans the frames wrote, in the table's
    own coordinates."""
    region = two.table(index).region
    spans: list[tuple[int, int, int]] = []
    for frame in frames:
        for y, x1, x2 in getattr(frame, "spans", ()):
            if region.y <= y < region.bottom and x1 < region.right and x2 > region.x:
                spans.append((y - region.y, x1 - region.x, x2 - region.x))
    return spans


async def test_ages_repaint_only_their_cells_and_only_when_their_text_changes(
    emulator: EmulatorFactory,
) -> None:
    now = [NOW]
    async with two_tabs(emulator, clock=lambda: now[0]) as two:
        table = two.table(0)
        frames = count_frames(two.app)
        await settle(two, frames)
        updated = next(cell for cell in table._current_layout().cells if cell.key == "updated")
        top = table.get_job(table.row_ids()[0])
        assert top is not None and top.updated is not None
        age = (NOW - top.updated).total_seconds()
        assert age >= 60, "the first row's age has minute resolution"
        # Just before the first row's age reaches its next minute: its cell stays as it is.
        now[0] = NOW + timedelta(seconds=59 - age % 60)
        frames.clear()
        table.refresh_ages()
        await two.pilot.pause()
        assert 1 not in {line for line, _, _ in table_spans(two, frames)}, "a still age repainted"
        # An hour later every age on screen reads differently: only the Updated cells are written.
        now[0] = NOW + timedelta(hours=1)
        frames.clear()
        table.refresh_ages()
        await two.until(lambda: bool(frames), "the ages repainted")
        await two.pilot.pause()
        spans = table_spans(two, frames)
        assert {line for line, _, _ in spans} == set(range(1, table.size.height))
        assert {(x1, x2) for _, x1, x2 in spans} == {(updated.x, updated.x + updated.width)}
        # What reaches the terminal over the table is those cells alone: the ages, not their
        # rows. (The status line below may repaint its own "updated … ago" meanwhile.)
        console = two.app.console
        region = table.region
        written = ""
        for frame in frames:
            if not isinstance(frame, ChopsUpdate):
                continue
            over = [(y, x1, x2) for y, x1, x2 in frame.spans if region.y <= y < region.bottom]
            if over:
                written += SpanUpdate(frame.chops, over, frame.chop_ends).render_segments(console)
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\n", "", written)
        assert plain.split() == ["1h", "ago"] * (table.size.height - 1)


async def test_a_small_delta_renders_only_its_rows_on_screen(emulator: EmulatorFactory) -> None:
    async with two_tabs(emulator) as two:
        table = two.table(0)
        await two.pilot.pause()
        on_screen = table.row_ids()[: table.size.height - 1]
        below = table.row_ids()[table.size.height + 5 :]
        changed = [_moved_on(table.get_job(i)) for i in (on_screen[2], on_screen[5], below[0])]
        rendered = count_calls(table, "_render_row")
        table.apply(JobsDelta(changed=tuple(changed)))
        await two.pilot.pause()
        assert sorted(job.id for job in rendered) == sorted([on_screen[2], on_screen[5]])


async def test_a_delta_repaints_only_the_lines_it_changed(emulator: EmulatorFactory) -> None:
    async with two_tabs(emulator) as two:
        table = two.table(0)
        frames = count_frames(two.app)
        await settle(two, frames)
        on_screen = table.row_ids()[: table.size.height - 1]
        frames.clear()
        table.apply(JobsDelta(changed=(_moved_on(table.get_job(on_screen[3])),)))
        await two.until(lambda: bool(frames), "the change painted")
        await two.pilot.pause()
        assert {y for y, _, _ in table_spans(two, frames)} == {4}  # the header is line 0


async def test_the_detail_of_a_job_that_moved_on_repaints_only_its_changed_lines(
    emulator: EmulatorFactory,
) -> None:
    async with two_tabs(emulator) as two:
        detail = two.tab(0).query_one(JobDetail)
        job = detail.job
        assert job is not None
        frames = count_frames(two.app)
        await settle(two, frames)
        frames.clear()
        detail.show(_moved_on(job))
        await two.until(lambda: bool(frames), "the change painted")
        await two.pilot.pause()
        region = detail.region
        lines = {
            y
            for frame in frames
            for y, x1, x2 in getattr(frame, "spans", ())
            if region.y <= y < region.bottom and x1 < region.right and x2 > region.x
        }
        # The message line changed (and nothing that moved the lines below it).
        assert len(lines) == 1, lines
        (line,) = lines
        assert "moved on" in two.app.screen._compositor.render_strips()[line].text


def _moved_on(job: Job | None) -> Job:
    assert job is not None
    return replace(job, message="moved on", revision=job.revision + "+1")


async def test_the_keys_and_the_detail_follow_the_cursor_without_laying_the_screen_out(
    emulator: EmulatorFactory,
) -> None:
    # A layout of the whole screen is what held keys for 50-100 ms: moving the cursor across
    # jobs whose states allow other actions, and whose details differ in length, needs none.
    async with two_tabs(emulator) as two:
        bar = two.app.screen.query_one(KeyBar)
        layouts = count_calls(two.app.screen, "_refresh_layout")
        painted = count_calls(bar, "render")

        def cancel() -> BarKey:
            return next(key for key in bar.keys if key.description == "Cancel")

        table, detail = two.table(0), two.tab(0).query_one(JobDetail)
        for state in ("finished", "processing", "finished", "processing"):
            job = seeded(two.states[0], state)
            assert table.move_cursor(job.id)
            greyed = state == "finished"

            def shown(greyed: bool = greyed, job_id: str = job.id) -> bool:
                return cancel().enabled is not greyed and getattr(detail.job, "id", None) == job_id

            await two.until(shown, f"Cancel and the detail of a {state} job")
            await two.pilot.pause()
            line = bar.render()
            start = line.plain.index(" c Cancel ")
            assert any(
                span.start <= start < span.end and bool(Style.parse(str(span.style)).dim) is greyed
                for span in line.spans
            ), f"Cancel painted dim={greyed}"
        assert layouts == [], f"{len(layouts)} layouts while the cursor moved"
        assert painted, "the bar never repainted"
        assert not bar.children  # one widget, one line

        tabs = two.app.screen.query_one(TabbedContent)
        before = bar.keys
        await two.pilot.press("0")  # All jobs offers other keys than a service's tab
        await two.until(lambda: tabs.active == ALL_PANE, "All jobs shown")
        await two.until(lambda: bar.keys != before, "the keys of All jobs")
        assert "Pause" not in {key.description for key in bar.keys}


async def test_the_detail_of_a_job_shown_again_is_not_rendered_again(
    emulator: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    original = detail_module.render_job

    def render_job(job: Job, service: Service, timeline: Timeline | None = None) -> RenderableType:
        rendered.append(job.id)
        return original(job, service, timeline)

    def shown_text(detail: JobDetail) -> str:
        console = Console(width=120, record=True, color_system=None)
        console.print(detail.content)
        return console.export_text()

    monkeypatch.setattr(detail_module, "render_job", render_job)
    async with two_tabs(emulator) as two:
        table, detail = two.table(0), two.tab(0).query_one(JobDetail)

        async def look_at(job_id: str) -> None:
            assert table.move_cursor(job_id)
            await two.until(
                lambda: detail.job is not None and detail.job.id == job_id, f"{job_id} shown"
            )

        first, second = table.row_ids()[:2]
        await look_at(first)
        rendered.clear()  # every detail pane (All jobs has its own) has shown its first job
        for job_id in (second, first, second, first):
            await look_at(job_id)
        assert rendered == [second]
        assert first in shown_text(detail)

        loaded = seeded(two.states[0], "loaded")
        await look_at(loaded.id)
        with two.states[0].lock:
            two.states[0].cancel(loaded)
        two.tab(0).poll_now()  # the poll brings a new version of the job under the cursor
        await two.until(
            lambda: detail.job is not None and detail.job.state is JobState.CANCELLED,
            "the cancelled job's detail",
        )
        assert rendered.count(loaded.id) == 2 and "cancelled" in shown_text(detail).lower()


async def test_a_hidden_tabs_detail_is_rendered_when_shown_not_at_each_poll(
    emulator: EmulatorFactory,
) -> None:
    async with two_tabs(emulator) as two:
        table, detail = two.table(1), two.tab(1).query_one(JobDetail)
        loaded = seeded(two.states[1], "loaded")
        assert table.move_cursor(loaded.id)
        await two.until(lambda: getattr(detail.job, "id", None) == loaded.id, "the hidden detail")
        rendered = count_calls(detail, "_render_content")
        with two.states[1].lock:
            two.states[1].cancel(loaded)
        two.tab(1).poll_now()  # the poll brings a new version of the job under the cursor
        await two.until(
            lambda: detail.job is not None and detail.job.state is JobState.CANCELLED,
            "the cancelled job in the hidden detail",
        )
        await two.pilot.pause()
        assert rendered == [], "a hidden pane rendered its lines"

        await show_tab(two.pilot, 1)

        def shown() -> str:
            region = detail.region
            strips = two.app.screen._compositor.render_strips()
            return "\n".join(strip.text for strip in strips[region.y : region.bottom])

        await two.until(lambda: "cancelled" in shown().lower(), "the cancelled job shown")
        assert loaded.id in shown()


async def test_a_short_detail_after_a_long_one_keeps_the_scrollbar_and_needs_no_layout(
    emulator: EmulatorFactory,
) -> None:
    async with two_tabs(emulator) as two:
        table, detail = two.table(0), two.tab(0).query_one(JobDetail)
        job = table.cursor_job
        assert job is not None
        long = replace(job, raw={f"field_{n}": n for n in range(200)}, revision="long")
        short = replace(job, raw={}, message="", revision="short")
        layouts = count_calls(two.app.screen, "_refresh_layout")
        for shown in (long, short, long, short):
            detail.show(shown)
            await two.pilot.pause()
            assert detail.virtual_size.height > detail.size.height or shown is short
            assert detail.show_vertical_scrollbar  # there for a short detail too
        assert layouts == [], f"{len(layouts)} layouts for details of other lengths"


def test_a_tab_label_keeps_its_width_when_its_service_goes_stale_and_back() -> None:
    # A wider label would move every tab after it: a layout and a repaint of the tab bar.
    for verify in (True, False):
        service = BsubService("bsub.io", "https://127.0.0.1:1", "token", verify=verify)
        live, stale = tab_title(service), tab_title(service, live=False)
        assert stale.endswith("▲") and not live.endswith("▲")
        assert cell_len(live) == cell_len(stale)


def screen_spans(frames: list[RenderableType]) -> list[tuple[int, int, int]]:
    """The (line, first column, end column) of every span the frames wrote; a full update
    counts as every line, whole."""
    spans: list[tuple[int, int, int]] = []
    for frame in frames:
        if isinstance(frame, ChopsUpdate):
            spans.extend(frame.spans)
        else:
            spans.extend((y, 0, SIZE[0]) for y in range(SIZE[1]))
    return spans


def outside(spans: list[tuple[int, int, int]], regions: list[Region]) -> list[tuple[int, int, int]]:
    """The spans that are not within one of `regions`."""
    return [
        (y, x1, x2)
        for y, x1, x2 in spans
        if not any(r.y <= y < r.bottom and r.x <= x1 and x2 <= r.right for r in regions)
    ]


async def test_a_toast_repaints_its_own_cells_only(emulator: EmulatorFactory) -> None:
    # A toast is a widget mounted and removed: each lays the screen out again, and every scroll
    # view (the job table, the detail pane) took that for a new size and repainted its
    # scrollbar, every line of the screen at its right edge.
    async with two_tabs(emulator, toasts=True) as two:
        frames = count_frames(two.app)
        await settle(two, frames)
        frames.clear()
        two.app.notify("job 42 failed", timeout=0.5)
        toasts: list[Region] = []

        def shown() -> bool:
            toasts.extend(t.region for t in two.app.screen.query(Toast) if t.region)
            return bool(toasts)

        await two.until(shown, "the toast shown")
        await two.until(lambda: not two.app.screen.query(Toast), "the toast gone")
        await settle(two, frames)
        spans = screen_spans(frames)
        assert spans, "the toast was painted (the counting works)"
        assert outside(spans, toasts) == []


async def test_a_toast_shown_is_written_to_the_terminal_once(emulator: EmulatorFactory) -> None:
    # Textual set a new widget's first size as a reactive that asked for another layout and
    # paint: every toast was written to the terminal twice.
    async with two_tabs(emulator, toasts=True) as two:
        frames = count_frames(two.app)
        await settle(two, frames)
        frames.clear()
        two.app.notify("job 42 failed", timeout=30)
        await two.until(lambda: any(t.region for t in two.app.screen.query(Toast)), "the toast")
        await settle(two, frames)
        [toast] = [t.region for t in two.app.screen.query(Toast)]
        painted = [
            y
            for y, x1, x2 in screen_spans(frames)
            if toast.y <= y < toast.bottom and toast.x < x2 and x1 < toast.right
        ]
        assert painted, "the toast was painted (the counting works)"
        assert sorted(painted) == sorted(set(painted)), "a line of the toast written twice"


async def test_the_attention_count_repaints_the_count_alone(emulator: EmulatorFactory) -> None:
    # The count is a reactive of the App: one that repaints repainted the whole screen, some
    # 40 KB, at each job that failed or asked a question.
    async with two_tabs(emulator) as two:
        count = two.app.screen.query_one(AttentionCount)
        frames = count_frames(two.app)
        await settle(two, frames)
        header = two.app.screen.query_one(AttentionHeader)
        for attention in (3, 2, 12, 0):
            frames.clear()
            two.app.attention = attention
            await two.until(lambda: bool(frames), "the count painted")
            await settle(two, frames)
            assert (f"⚑ {attention} need attention" in str(count.render())) is bool(attention)
            # The same width (3 -> 2): the count alone; another: the header's line.
            same_width = attention == 2
            where = count.region if same_width else header.region
            assert outside(screen_spans(frames), [where]) == []


async def test_the_all_jobs_status_line_repaints_only_when_it_says_something_new(
    emulator: EmulatorFactory,
) -> None:
    async with two_tabs(emulator) as two:
        await two.pilot.press("0")
        tabs = two.app.screen.query_one(TabbedContent)
        await two.until(lambda: tabs.active == ALL_PANE, "All jobs shown")
        all_jobs = two.app.screen.query_one(AllJobsTab)
        status = all_jobs.query_one("#status", Static)
        frames = count_frames(two.app)
        await settle(two, frames)
        # A poll of a service whose changes are not on screen: the job count stays.
        hidden = two.table(1)
        off_screen = hidden.get_job(hidden.row_ids()[-1])
        frames.clear()
        await all_jobs.take(two.tab(1).service, JobsDelta(changed=(_moved_on(off_screen),)))
        await settle(two, frames)
        assert [s for s in screen_spans(frames) if s[0] == status.region.y] == []
        # A new count is painted.
        await all_jobs.take(two.tab(1).service, JobsDelta(removed=(hidden.row_ids()[0],)))
        await two.until(lambda: "119 jobs" in str(status.content), "the new count")
        await settle(two, frames)
        assert [s for s in screen_spans(frames) if s[0] == status.region.y]


async def test_a_job_arriving_above_the_view_repaints_no_line(emulator: EmulatorFactory) -> None:
    # The cursor keeps its line: a job added above the view scrolls it by one row, and each
    # line still shows the job it showed. A scroll repaints the whole table; here only the lines
    # that show another job are (none), and the scrollbar.
    async with two_tabs(emulator) as two:
        table = two.table(0)
        body = table.size.height - 1
        await two.pilot.press(*["down"] * (body + 5))  # scrolled: the first rows are above
        await two.until(lambda: table.scroll_y > 0, "the table scrolled")
        frames = count_frames(two.app)
        await settle(two, frames)
        shown = table.row_ids()[int(table.scroll_y) : int(table.scroll_y) + body]
        newest = table.get_job(table.row_ids()[0])
        assert newest is not None and newest.created is not None
        arrived = replace(newest, id="new-job", created=newest.created + timedelta(seconds=1))
        frames.clear()
        table.apply(JobsDelta(added=(arrived,)))
        await two.until(lambda: bool(frames), "the scrollbar painted")
        await settle(two, frames)
        assert table.row_ids()[0] == "new-job"
        assert table.row_ids()[int(table.scroll_y) : int(table.scroll_y) + body] == shown
        scrollbar_x = table.region.right - table.scrollbar_size_vertical
        assert [s for s in table_spans(two, frames) if s[1] < scrollbar_x - table.region.x] == []
