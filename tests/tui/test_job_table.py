"""JobTable: rendering, keyed updates, sorting, filtering, cursor, marks and messages."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.color import Color as RichColor
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message

from jobtui.core.errors import InputError
from jobtui.core.models import Column, Job, JobsDelta, JobState
from jobtui.tui.widgets.job_table import (
    BULK_UPDATE,
    JobTable,
    fit,
    progress_text,
    relative_age,
)

EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = EPOCH + timedelta(days=1)
SIZE = (100, 12)
"""Header plus 11 body lines."""

STATES = list(JobState)


def fixed_clock() -> datetime:
    return NOW


def make_job(
    n: int,
    *,
    state: JobState = JobState.RUNNING,
    raw_state: str | None = None,
    message: str | None = None,
    progress: float | None = None,
    revision: str = "r1",
    **extra: str,
) -> Job:
    """Job `job-NNNN`, created `n` minutes after EPOCH (so default sort puts high `n` first)."""
    return Job(
        service="svc",
        id=f"job-{n:04d}",
        state=state,
        raw_state=state.value if raw_state is None else raw_state,
        type="ocr",
        created=EPOCH + timedelta(minutes=n),
        updated=NOW - timedelta(seconds=30),
        progress=progress,
        message=f"message {n}" if message is None else message,
        extra=extra,
        revision=revision,
    )


def many(count: int) -> list[Job]:
    return [
        make_job(n, state=STATES[n % len(STATES)], size=str(n * 3), progress=float(n % 101))
        for n in range(count)
    ]


class TableApp(App[None]):
    CSS = """
    JobTable > .job-table--state-failed { color: #ff0000; }
    JobTable > .job-table--state-running { color: #00ff00; }
    """

    def __init__(self, table: JobTable) -> None:
        super().__init__()
        self.table = table
        self.moved: list[Job | None] = []
        self.selected: list[Job] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def on_job_table_cursor_moved(self, message: JobTable.CursorMoved) -> None:
        self.moved.append(message.job)

    def on_job_table_selected(self, message: JobTable.Selected) -> None:
        self.selected.append(message.job)


def new_table(columns: Sequence[Column] = (), **kwargs: object) -> JobTable:
    return JobTable(columns, clock=fixed_clock, **kwargs)  # type: ignore[arg-type]


def screen_lines(table: JobTable) -> list[str]:
    """The table's lines as painted (through Textual's own line cache)."""
    width, height = table.size
    return [strip.text for strip in table.render_lines(Region(0, 0, width, height))]


def body_ids(table: JobTable) -> list[str]:
    """The job ids on screen, top to bottom (first word of each body line)."""
    ids = []
    for line in screen_lines(table)[1:]:
        words = line.split()
        if words and words[0] == "●":
            words = words[1:]
        if words and words[0].startswith("job-"):
            ids.append(words[0])
    return ids


def ids(jobs: Iterable[Job]) -> list[str]:
    return [job.id for job in jobs]


# -- helpers ---------------------------------------------------------------------------------


def test_cell_helpers() -> None:
    assert relative_age(-3) == "0s ago"
    assert relative_age(12.7) == "12s ago"
    assert relative_age(125) == "2m ago"
    assert relative_age(7300) == "2h ago"
    assert relative_age(3 * 86400 + 5) == "3d ago"
    assert progress_text(None) == ""
    assert progress_text(50) == "██▌    50%"
    assert progress_text(100) == "█████ 100%"
    assert progress_text(140) == "█████ 100%"
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc…"
    assert fit("a\tb\nc", 5) == "a b c"
    assert fit("日本語です", 5) == "日本…"
    assert fit("x", 0) == ""


def test_extra_column_keys_must_not_shadow_built_in_ones() -> None:
    with pytest.raises(ValueError, match="message"):
        JobTable([Column("message", "Msg")])


# -- rendering -------------------------------------------------------------------------------


async def test_rows_render_with_header_raw_state_progress_age_and_extra_columns() -> None:
    table = new_table([Column("queue", "Queue", 8)])
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs(
            [
                make_job(
                    1, state=JobState.RUNNING, raw_state="processing", progress=50, queue="gpu"
                ),
                make_job(2, state=JobState.FAILED, message="disk full", queue="cpu"),
            ]
        )
        await pilot.pause()
        lines = screen_lines(table)
        header = lines[0].split()
        assert header == ["ID", "State", "Type", "Progress", "Updated", "Queue", "Message"]
        # Default sort: created, newest first.
        assert lines[1].split() == [
            "job-0002",
            "failed",
            "ocr",
            "30s",
            "ago",
            "cpu",
            "disk",
            "full",
        ]
        assert lines[2].split()[:3] == ["job-0001", "processing", "ocr"]
        assert "██▌    50%" in lines[2]
        assert "30s ago" in lines[2]
        assert "gpu" in lines[2] and "message 1" in lines[2]
        assert all(line.strip() == "" for line in lines[3:])
        assert table.row_count == 2 and table.total_count == 2


async def test_long_messages_are_cut_where_the_scrollbar_begins() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n, message="x" * 300) for n in range(50)])
        await pilot.pause()
        assert table.show_vertical_scrollbar
        visible = table.scrollable_content_region.width
        assert visible < table.size.width
        line = screen_lines(table)[1]
        assert line[:visible].rstrip().endswith("x…")
        assert line[visible:].strip() == ""


async def test_a_job_without_a_raw_state_shows_its_category() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(1, state=JobState.NEEDS_INPUT, raw_state="")])
        await pilot.pause()
        assert screen_lines(table)[1].split()[:3] == ["job-0001", "needs", "input"]


async def test_show_service_adds_a_leading_column() -> None:
    table = new_table(show_service=True)
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(1)])
        await pilot.pause()
        lines = screen_lines(table)
        assert lines[0].split()[:2] == ["Service", "ID"]
        assert lines[1].split()[:2] == ["svc", "job-0001"]


async def test_state_cells_take_their_style_from_component_classes() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(1, state=JobState.RUNNING), make_job(2, state=JobState.FAILED)])
        table.move_cursor("job-0001")  # the cursor row is drawn in cursor colours
        await pilot.pause()
        strips = table.render_lines(Region(0, 0, table.size.width, 3))
        failed = next(seg for seg in strips[1] if seg.text.startswith("failed"))
        assert failed.style is not None
        assert failed.style.color == RichColor.parse("#ff0000")
        # The row under the cursor uses the cursor style instead.
        running = next(seg for seg in strips[2] if seg.text.startswith("running"))
        assert running.style is not None
        assert running.style.color != RichColor.parse("#00ff00")


async def test_empty_state_shows_a_centred_settable_line() -> None:
    table = new_table(empty_text="Loading…")
    async with TableApp(table).run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = screen_lines(table)
        shown = [(y, line) for y, line in enumerate(lines) if line.strip()]
        assert shown[0][1].split()[0] == "ID"
        assert [line.strip() for _, line in shown[1:]] == ["Loading…"]
        y, line = shown[1]
        assert y == 6
        left = len(line) - len(line.lstrip())
        right = len(line) - len(line.rstrip())
        assert abs(left - right) <= 1
        table.empty_text = "No jobs match the filter"
        await pilot.pause()
        assert "No jobs match the filter" in screen_lines(table)[6]
        table.set_jobs([make_job(1)])
        await pilot.pause()
        assert "No jobs" not in "".join(screen_lines(table))


async def test_one_hundred_thousand_jobs_load_render_sort_and_filter() -> None:
    jobs = many(100_000)
    table = new_table([Column("size", "Size", 8)])
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs(jobs)
        await pilot.pause()
        assert table.row_count == table.total_count == 100_000
        assert body_ids(table) == [f"job-{n:04d}" for n in range(99_999, 99_988, -1)]
        assert table.cursor_job is jobs[99_999]
        await pilot.press("end")
        assert table.cursor_job is jobs[0]
        assert body_ids(table)[-1] == "job-0000"
        table.sort_by("size")
        assert table.cursor_job is jobs[0]
        assert table.job_at(0) is jobs[0] and table.job_at(99_999) is jobs[99_999]
        table.set_filter("message 4242")
        assert ids(table.job_at(i) for i in range(table.row_count)) == [
            "job-4242",
            *(f"job-{n}" for n in range(42420, 42430)),
        ]
        table.set_state_filter({JobState.FAILED})
        assert table.row_count == 1 and table.job_at(0).id == "job-42424"
        table.set_state_filter(None)
        table.set_filter("")
        assert table.row_count == 100_000
        await pilot.pause()
        assert body_ids(table)[0] == table.job_at(int(table.scroll_y)).id


# -- keyed updates ---------------------------------------------------------------------------


async def test_apply_adds_changes_and_removes_by_key_keeping_the_cursor_job() -> None:
    table = new_table()
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        jobs = [make_job(n) for n in range(10, 50)]
        table.set_jobs(jobs)
        table.move_cursor("job-0030")
        await pilot.pause()
        line = body_ids(table).index("job-0030")
        assert line == 10 and table.scroll_y == 9

        # Newer jobs sort above the cursor: it stays on its job and on its screen line.
        table.apply(JobsDelta(added=(make_job(60), make_job(61))))
        await pilot.pause()
        assert table.cursor_job is not None and table.cursor_job.id == "job-0030"
        assert body_ids(table).index("job-0030") == line
        assert table.row_count == 42

        # Rows above it go away: same again.
        table.apply(JobsDelta(removed=("job-0049", "job-0048", "job-0061")))
        await pilot.pause()
        assert table.cursor_job is not None and table.cursor_job.id == "job-0030"
        assert body_ids(table).index("job-0030") == line
        assert table.get_job("job-0049") is None and table.row_count == 39

        # A changed job is re-rendered; the other rows keep their rendered strips.
        strips = {y: table.render_line(y) for y in range(1, 12)}
        changed = make_job(33, message="now different", revision="r2")
        table.apply(JobsDelta(changed=(changed,)))
        await pilot.pause()
        changed_row = 1 + body_ids(table).index("job-0033")
        for y, strip in strips.items():
            if y == changed_row:
                assert table.render_line(y) is not strip
                assert "now different" in table.render_line(y).text
            else:
                assert table.render_line(y) is strip
        assert table.get_job("job-0033") is changed


async def test_cursor_moves_to_the_nearest_row_when_its_job_goes() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(5)])
        table.move_cursor("job-0002")
        table.apply(JobsDelta(removed=("job-0002",)))
        # Rows are newest first: the row that took its place is job-0001.
        assert table.cursor_job is not None and table.cursor_job.id == "job-0001"
        table.apply(JobsDelta(removed=("job-0001", "job-0000")))
        assert table.cursor_job is not None and table.cursor_job.id == "job-0003"
        table.apply(JobsDelta(removed=("job-0003", "job-0004")))
        assert table.cursor_job is None and table.row_count == 0
        await pilot.pause()


@pytest.mark.parametrize("filtered", [False, True])
async def test_incremental_and_bulk_updates_match_a_fresh_load(filtered: bool) -> None:
    """Random deltas, small (moved in place) and large (re-sorted), under a sort and filters."""
    rng = random.Random(7)
    table = new_table()
    wanted = {JobState.RUNNING, JobState.QUEUED, JobState.FAILED} if filtered else None
    needle = "7" if filtered else ""
    async with TableApp(table).run_test(size=SIZE) as pilot:
        current = {job.id: job for job in (make_job(n) for n in range(0, 3000, 2))}
        table.set_jobs(current.values())
        table.sort_by("id", reverse=True)
        table.set_filter(needle)
        table.set_state_filter(wanted)
        sizes = (3, 40, 900, 5, 3 * BULK_UPDATE, 1)  # deltas of about a third of each
        for serial, round_size in enumerate(sizes, start=2):
            existing = list(current)
            removed = tuple(rng.sample(existing, min(len(existing), round_size // 3)))
            kept = [i for i in existing if i not in set(removed)]
            changed = tuple(
                replace(
                    current[i],
                    state=rng.choice(STATES),
                    message=f"changed {rng.randrange(100)}",
                    revision=f"r{serial}",
                )
                for i in rng.sample(kept, min(len(kept), round_size // 3))
            )
            fresh = [n for n in range(1, 6000, 2) if f"job-{n:04d}" not in current]
            added = tuple(make_job(n) for n in rng.sample(fresh, round_size // 3 + 1))
            for job_id in removed:
                del current[job_id]
            for job in (*changed, *added):
                current[job.id] = job
            table.apply(JobsDelta(added=added, changed=changed, removed=removed))

            reference = new_table(sort="id", reverse=True)
            reference.set_jobs(current.values())
            reference.set_filter(needle)
            reference.set_state_filter(wanted)
            assert table.row_ids() == reference.row_ids()
            assert 0 < table.row_count < table.total_count or not filtered
            assert table.total_count == len(current)
            assert all(table.get_job(i) is job for i, job in current.items())
        await pilot.pause()


@pytest.mark.parametrize("padding", [0, BULK_UPDATE], ids=["in-place", "bulk"])
async def test_deltas_tolerate_unknown_and_repeated_ids(padding: int) -> None:
    """A `changed` job the table never had is added; an `added` one it has is replaced."""
    table = new_table(sort="id", reverse=False)
    async with TableApp(table).run_test(size=SIZE):
        table.set_jobs([make_job(n) for n in range(1, 4)])
        noise = tuple(make_job(n) for n in range(1000, 1000 + padding))
        table.apply(
            JobsDelta(
                added=(make_job(2, message="again", revision="r2"), *noise),
                changed=(make_job(7),),
                removed=("job-0003", "job-0099"),
            )
        )
        assert table.row_ids()[:3] == ["job-0001", "job-0002", "job-0007"]
        assert table.total_count == 3 + padding
        job = table.get_job("job-0002")
        assert job is not None and job.message == "again"


# -- sorting and filtering -------------------------------------------------------------------


async def test_sort_by_keeps_the_cursor_job_and_marks_the_header() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        jobs = [make_job(n, message=f"{'zyxwvutsrq'[n]}-text") for n in range(10)]
        table.set_jobs(jobs)
        table.move_cursor("job-0003")
        table.sort_by("message")
        assert table.cursor_job is jobs[3]
        assert table.row_ids() == [f"job-{n:04d}" for n in range(9, -1, -1)]
        await pilot.pause()
        assert "Message ▲" in screen_lines(table)[0]
        table.sort_by("message", reverse=True)
        assert table.row_ids()[0] == "job-0000"
        assert "Message ▼" in screen_lines(table)[0]
        table.sort_by(None)
        assert table.row_ids() == [f"job-{n:04d}" for n in range(10)]
        assert table.cursor_job is jobs[3]
        with pytest.raises(ValueError, match="nope"):
            table.sort_by("nope")


async def test_sorting_numbers_by_value_and_empty_cells_last() -> None:
    table = new_table([Column("size", "Size")], sort="size", reverse=False)
    async with TableApp(table).run_test(size=SIZE):
        table.set_jobs(
            [make_job(1, size="10"), make_job(2, size="9"), make_job(3), make_job(4, size="abc")]
        )
        assert table.row_ids() == ["job-0002", "job-0001", "job-0004", "job-0003"]
        table.sort_by("progress")
        table.sort_by("state")
        table.sort_by("updated")
        assert table.row_count == 4


async def test_filters_keep_the_cursor_job_when_it_still_matches() -> None:
    table = new_table(sort=None, reverse=False)
    async with TableApp(table).run_test(size=SIZE):
        table.set_jobs(
            [
                make_job(1, state=JobState.RUNNING, raw_state="Processing", message="Alpha beta"),
                make_job(2, state=JobState.FAILED, message="gamma"),
                make_job(3, state=JobState.SUCCEEDED, message="alphabet soup"),
                make_job(4, state=JobState.QUEUED, message="delta"),
            ]
        )
        table.move_cursor("job-0003")

        table.set_filter("ALPHA")
        assert table.row_ids() == ["job-0001", "job-0003"]
        assert table.cursor_job is not None and table.cursor_job.id == "job-0003"

        table.set_filter("processing")  # the raw state is searched as shown
        assert table.row_ids() == ["job-0001"]
        assert table.cursor_job is not None and table.cursor_job.id == "job-0001"

        table.set_filter(r"^(gamma|delta)$", regex=True)
        assert table.row_ids() == ["job-0002", "job-0004"]
        table.set_filter(r"^(GAMMA|Delta)$", regex=True)  # capitals: case is still ignored
        assert table.row_ids() == ["job-0002", "job-0004"]
        table.set_filter(r"^\D+ beta$", regex=True)  # an escape in capitals keeps its meaning
        assert table.row_ids() == ["job-0001"]

        table.set_filter("alpha", invert=True)
        assert table.row_ids() == ["job-0002", "job-0004"]

        table.set_filter("")
        table.move_cursor("job-0004")
        table.set_state_filter({JobState.QUEUED, JobState.FAILED})
        assert table.row_ids() == ["job-0002", "job-0004"]
        assert table.cursor_job is not None and table.cursor_job.id == "job-0004"

        table.set_filter("a", invert=False)
        assert table.row_ids() == ["job-0002", "job-0004"]
        table.set_filter("gam")
        assert table.row_ids() == ["job-0002"]
        assert table.total_count == 4

        with pytest.raises(InputError, match="filter"):
            table.set_filter("(", regex=True)
        assert table.row_ids() == ["job-0002"]

        # A job that starts matching appears; one that stops matching goes.
        table.apply(JobsDelta(changed=(make_job(4, state=JobState.FAILED, message="gamma ray"),)))
        assert table.row_ids() == ["job-0002", "job-0004"]
        table.apply(JobsDelta(changed=(make_job(2, state=JobState.FAILED, message="other"),)))
        assert table.row_ids() == ["job-0004"]


# -- keys, mouse, marks and messages ----------------------------------------------------------


async def test_keys_move_the_cursor_and_scroll_keeps_it_visible() -> None:
    table = new_table()
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(100)])
        table.focus()
        await pilot.pause()
        assert table.cursor_row == 0
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        await pilot.press("pagedown")  # a page is the body height less one line of context
        assert table.cursor_row == 12
        assert table.cursor_job is not None
        assert table.cursor_job.id in body_ids(table)
        await pilot.press("end")
        assert table.cursor_row == 99
        assert body_ids(table)[-1] == "job-0000"
        await pilot.press("pageup")
        assert table.cursor_row == 89
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("up")
        assert table.cursor_row == 0


async def test_space_and_shift_arrows_mark_jobs() -> None:
    table = new_table()
    async with TableApp(table).run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(10)])
        table.focus()
        await pilot.press("space")
        assert ids(table.marked_jobs) == ["job-0009"]
        await pilot.press("space")
        assert table.marked_jobs == ()
        await pilot.press("down", "shift+down", "shift+down")
        assert ids(table.marked_jobs) == ["job-0008", "job-0007", "job-0006"]
        assert table.cursor_job is not None and table.cursor_job.id == "job-0006"
        await pilot.press("shift+up")
        assert table.cursor_job.id == "job-0007"
        await pilot.pause()
        lines = screen_lines(table)
        assert [line.startswith("●") for line in lines[1:5]] == [False, True, True, True]
        # Marks are by id: they survive a re-sort, and go with their job.
        table.sort_by("id")
        assert ids(table.marked_jobs) == ["job-0006", "job-0007", "job-0008"]
        table.apply(JobsDelta(removed=("job-0007",)))
        assert ids(table.marked_jobs) == ["job-0006", "job-0008"]
        # Marked jobs hidden by a filter are not acted on.
        table.set_filter("message 6")
        assert ids(table.marked_jobs) == ["job-0006"]
        table.set_filter("")
        table.clear_marks()
        assert table.marked_jobs == ()


async def test_clicks_select_rows_and_header_clicks_sort() -> None:
    table = new_table()
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(5)])
        await pilot.pause()
        await pilot.click(JobTable, offset=(4, 3))
        assert table.cursor_job is not None and table.cursor_job.id == "job-0002"
        assert app.selected == []
        await pilot.double_click(JobTable, offset=(4, 4))
        assert ids(app.selected) == ["job-0001"]

        header = screen_lines(table)[0]
        await pilot.click(JobTable, offset=(header.index("ID"), 0))
        assert table.sort_column == "id" and not table.sort_reverse
        assert table.row_ids()[0] == "job-0000"
        await pilot.click(JobTable, offset=(header.index("ID") + 1, 0))
        assert table.sort_column == "id" and table.sort_reverse
        assert table.row_ids()[0] == "job-0004"
        assert table.cursor_job.id == "job-0001"


async def test_cursor_moved_and_selected_are_posted() -> None:
    table = new_table()
    app = TableApp(table)
    posted: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=posted.append) as pilot:
        table.set_jobs([make_job(n) for n in range(5)])
        table.focus()
        await pilot.pause()
        assert ids(j for j in app.moved if j is not None) == ["job-0004"]

        await pilot.press("down")
        assert app.moved[-1] is not None and app.moved[-1].id == "job-0003"

        # A change to another job moves nothing; a change to the cursor job is announced.
        count = len(app.moved)
        table.apply(JobsDelta(changed=(make_job(0, revision="r2", message="x"),)))
        await pilot.pause()
        assert len(app.moved) == count
        cursor_changed = make_job(3, revision="r2", message="progressing")
        table.apply(JobsDelta(changed=(cursor_changed,)))
        await pilot.pause()
        assert app.moved[-1] is cursor_changed

        await pilot.press("enter")
        assert app.selected == [cursor_changed]
        assert any(
            isinstance(m, JobTable.Selected) and m.control is table and m.job is cursor_changed
            for m in posted
        )

        table.set_filter("no such job")
        await pilot.pause()
        assert app.moved[-1] is None
        assert table.cursor_job is None


async def test_focus_change_repaints_the_cursor_row() -> None:
    table = new_table()
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(3)])
        table.focus()
        await pilot.pause()
        focused = table.render_lines(Region(0, 1, table.size.width, 1))[0]
        table.blur()
        await pilot.pause()
        blurred = table.render_lines(Region(0, 1, table.size.width, 1))[0]
        assert focused.text == blurred.text
        assert focused[0:1] != blurred[0:1]


async def test_styles_are_read_once_per_change_of_styles_not_at_each_repaint() -> None:
    table = new_table()
    app = TableApp(table)
    async with app.run_test(size=SIZE) as pilot:
        table.set_jobs([make_job(n) for n in range(3)])
        table.focus()
        await pilot.pause()
        table.render_lines(Region(0, 1, table.size.width, 1))
        reads: list[object] = []
        read = table._read_styles

        def counting() -> object:
            reads.append(None)
            return read()

        table._read_styles = counting  # type: ignore[method-assign,assignment]
        for _ in range(3):
            table.render_lines(Region(0, 1, table.size.width, 2))
        assert reads == [], "styles read again with nothing changed"
        table.blur()  # the cursor's style changes with the focus
        await pilot.pause()
        table.render_lines(Region(0, 1, table.size.width, 1))
        assert len(reads) == 1


class _WideIds(App[None]):
    def compose(self) -> ComposeResult:
        yield JobTable([Column("worker", "Worker", 14), Column("size", "Size", 10)])


@pytest.mark.parametrize(("width", "full"), [(170, True), (120, False)])
async def test_long_ids_are_shown_whole_unless_the_message_would_lose_its_room(
    width: int, full: bool
) -> None:
    job_id = "09ce8497-f18b-4161-bbfc-d5fbe735e3d1"
    job = Job("s", job_id, JobState.RUNNING, "processing", message="processing on worker-eu2-02")
    app = _WideIds()
    async with app.run_test(size=(width, 10)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job])
        await pilot.pause()
        line = table.render_line(1).text
        assert (job_id in line) is full
        assert "processing on work" in line  # at least MESSAGE_ROOM cells of it


# -- narrow terminals ---------------------------------------------------------------------------


def _bsub_like_job() -> Job:
    """A job as bsub.io lists it: a UUID, a long type, its own Data and Worker columns."""
    return Job(
        "bsub.io",
        "09ce8497-f18b-4161-bbfc-d5fbe735e3d1",
        JobState.RUNNING,
        "processing",
        type="audio-transcribe",
        created=EPOCH,
        updated=NOW - timedelta(seconds=42),
        message="processing on worker-eu2-02",
        extra={"size": "1002.1 KiB", "worker": "worker-eu2-02"},
    )


class _BsubLike(App[None]):
    def compose(self) -> ComposeResult:
        yield new_table([Column("size", "Data", 10), Column("worker", "Worker", 14)])


def _titles(header: str) -> list[str]:
    return header.replace("→", " ").split()


def _help_keys(app: App[None]) -> dict[str, str]:
    """The table's sideways keys as `?` lists them (key -> description), from the screen's
    active bindings as the help reads them."""
    return {
        key: active.binding.description
        for key, active in app.screen.active_bindings.items()
        if isinstance(active.node, JobTable)
        and key in ("left", "right", "ctrl+pageup", "ctrl+pagedown")
    }


async def test_at_80_columns_updated_and_message_stay_and_the_least_useful_columns_give_way() -> (
    None
):
    app = _BsubLike()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([_bsub_like_job()])
        table.focus()
        await pilot.pause()
        header, row = screen_lines(table)[:2]
        assert _titles(header) == ["ID", "State", "Progress", "Updated", "Message"]
        assert header.endswith("→")  # more to the right
        assert "42s ago" in row and "processing on worker" in row
        assert "audio-transcribe" not in row and "1002.1 KiB" not in row

    wide = _BsubLike()
    async with wide.run_test(size=(170, 10)) as pilot:
        table = wide.query_one(JobTable)
        table.set_jobs([_bsub_like_job()])
        await pilot.pause()
        header = screen_lines(table)[0]
        assert _titles(header) == [
            "ID", "State", "Type", "Progress", "Updated", "Data", "Worker", "Message",
        ]  # fmt: skip
        assert "→" not in header


async def test_right_and_ctrl_pagedown_scroll_to_the_hidden_columns_keeping_the_id() -> None:
    app = _BsubLike()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(JobTable)
        job = _bsub_like_job()
        table.set_jobs([job])
        table.focus()
        await pilot.pause()
        assert _help_keys(app) == {
            "right": "Scroll right",
            "left": "Scroll left",
            "ctrl+pagedown": "Page right",
            "ctrl+pageup": "Page left",
        }
        assert not app.screen.active_bindings["left"].enabled  # nothing to the left yet

        await pilot.press("right")
        header, row = screen_lines(table)[:2]
        assert table.column_offset > 0
        assert _titles(header)[0] == "ID" and "State" not in header
        assert row.startswith("  09ce8497-")  # the ID stays where it was

        await pilot.press("ctrl+pagedown")
        await pilot.press("ctrl+pagedown")
        header, row = screen_lines(table)[:2]
        assert _titles(header)[-3:] == ["Type", "Data", "Worker"]
        assert "→" not in header
        assert "audio-transcribe" in row and "1002.1 KiB" in row and "worker-eu2-02" in row
        assert not app.screen.active_bindings["right"].enabled  # at the right end

        await pilot.press("ctrl+pageup", "ctrl+pageup", "ctrl+pageup")
        assert table.column_offset == 0
        await pilot.press("left")
        assert table.column_offset == 0
        header = screen_lines(table)[0]
        assert _titles(header) == ["ID", "State", "Progress", "Updated", "Message"]

        # Wide enough for every column: nothing to scroll to, and `?` does not offer it.
        await pilot.resize_terminal(170, 10)
        await pilot.pause()
        assert _help_keys(app) == {}
        await pilot.press("right")
        assert table.column_offset == 0


async def test_a_header_click_sorts_by_the_column_under_it_when_scrolled() -> None:
    app = _BsubLike()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([_bsub_like_job(), replace(_bsub_like_job(), id="other", type="a")])
        table.focus()
        await pilot.pause()
        await pilot.press("ctrl+pagedown", "ctrl+pagedown")
        assert table.column_offset > 0
        header = screen_lines(table)[0]
        assert "State" not in header
        await pilot.click(JobTable, offset=(header.index("Type"), 0))
        assert table.sort_column == "type"


async def test_columns_scrolled_by_a_page_or_left_by_a_resize_start_whole() -> None:
    # The first word after the ID is a whole cell, never the tail of one cut by the scroll.
    cells = {"processing", "audio-transcribe", "42s", "1002.1", "worker-eu2-02"}

    def first_scrolled(table: JobTable) -> str:
        return screen_lines(table)[1].split()[1]

    app = _BsubLike()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([_bsub_like_job()])
        table.focus()
        await pilot.pause()
        await pilot.press("ctrl+pagedown")
        assert table.column_offset > 0 and first_scrolled(table) in cells
        await pilot.press("ctrl+pagedown")
        assert first_scrolled(table) in cells
        for width in (96, 120):  # scrolled to the end, then wider
            await pilot.resize_terminal(width, 10)
            await pilot.pause()
            assert first_scrolled(table) in cells, (width, screen_lines(table)[1])
        await pilot.press("ctrl+pageup")
        assert first_scrolled(table) in cells


@pytest.mark.parametrize("width", [24, 30, 40])
async def test_a_view_narrower_than_the_id_scrolls_it_too_and_keeps_its_width(width: int) -> None:
    app = _BsubLike()
    async with app.run_test(size=(width, 10)) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([_bsub_like_job()])
        table.focus()
        await pilot.pause()
        for _ in range(3):
            await pilot.press("right")
            view = table.scrollable_content_region.width
            assert [table.render_line(y).cell_length for y in (0, 1)] == [view, view]
        assert table.column_offset > 0
        # No room to keep the ID in place (marks and ID 27 cells, the message's 20): it scrolls.
        assert "09ce8497" not in table.render_line(1).text


async def test_a_large_delta_is_applied_in_slices_between_turns_of_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rest of a long list (tens of thousands of jobs) goes into the table a slice at a time:
    the event loop (keys, the screen) runs after each turn of work, and every slice leaves a
    whole table."""
    import asyncio

    from jobtui.core.models import JobsDelta
    from jobtui.tui.widgets.job_table import table as job_table
    from tests.pacing import turns_of

    monkeypatch.setattr(job_table, "Pacer", turns_of(2))  # a turn is two slices
    table = new_table()
    async with TableApp(table).run_test(size=(100, 20)):
        table.set_jobs(many(10))
        rest = many(12_000)[10:]
        counts: list[int] = []
        applying = asyncio.ensure_future(table.apply_in_slices(JobsDelta(added=tuple(rest))))
        while not applying.done():
            counts.append(table.row_count)
            await asyncio.sleep(0)
        assert table.row_count == 12_000
        steps = sorted(set(counts))
        assert len(steps) >= 12_000 // (2 * job_table.SLICE)  # a turn every two slices
        assert all(n in (10, 12_000) or (n - 10) % job_table.SLICE == 0 for n in steps)


async def test_slices_that_take_longer_than_a_turn_get_smaller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each job a table of 100,000 rows inserts moves more memory: a slice of `SLICE` jobs can
    take far longer than a turn. The next slice is then halved (down to `LEAST_SLICE`), and
    grows back once slices are quick again."""
    from jobtui.core.models import JobsDelta
    from jobtui.core.pacing import Pacer
    from jobtui.tui.widgets.job_table import table as job_table

    now = [0.0]
    slow = [True]
    sizes: list[int] = []
    monkeypatch.setattr(job_table, "Pacer", lambda: Pacer(turn=5.0, rest=0.0, clock=lambda: now[0]))
    table = new_table()
    apply = table.apply

    def timed_apply(delta: JobsDelta) -> None:
        sizes.append(delta.size)
        now[0] += 12.0 if slow[0] else 0.5  # in turns of 5
        slow[0] = len(sizes) < 8
        apply(delta)

    async with TableApp(table).run_test(size=(100, 20)):
        table.set_jobs(many(10))
        monkeypatch.setattr(table, "apply", timed_apply)
        await table.apply_in_slices(JobsDelta(added=tuple(many(3000)[10:])))
        assert table.row_count == 3000
    least = job_table.LEAST_SLICE
    assert sizes[:8] == [250, 125, 62, 31, least, least, least, least]
    assert sizes[8:13] == [least, least * 2, least * 4, least * 8, job_table.SLICE]
    assert max(sizes) == job_table.SLICE


@pytest.mark.parametrize("where", ["after", "before", "among"])
def test_new_jobs_added_in_bulk_sort_as_a_full_sort_would(where: str) -> None:
    """Adding only new jobs extends the rows when they all sort after (or before) the others, and
    sorts everything otherwise: either way the rows are those of a full sort."""
    from jobtui.core.models import JobsDelta
    from jobtui.tui.widgets.job_table.rows import BULK_UPDATE, Rows

    jobs = many(3 * BULK_UPDATE)
    first, fresh = {
        "after": (jobs[:BULK_UPDATE], jobs[BULK_UPDATE:]),
        "before": (jobs[-BULK_UPDATE:], jobs[:-BULK_UPDATE]),
        "among": (jobs[::3], [j for n, j in enumerate(jobs) if n % 3]),
    }[where]
    for column in (None, "created", "id"):
        rows = Rows(lambda job: job.id)
        rows.sort(column)
        rows.load(first)
        rows.update(JobsDelta(added=tuple(fresh)))
        whole = Rows(lambda job: job.id)
        whole.sort(column)
        whole.load([*first, *fresh])
        assert rows.rows == whole.rows, (where, column)
