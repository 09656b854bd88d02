"""`JobTable`: the job table of every tab, as a widget (keys, styles, messages, the public API).

The table is built in layers, each in its own module: `rows` (the jobs, sorted and filtered; no
rendering), `cursor` (the cursor, the marks and the vertical scroll) and `render` (columns,
styles, strips and the horizontal scroll). This module binds them to keys and messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from jobtui.core.errors import InputError
from jobtui.core.models import Column, Job, JobsDelta, JobState
from jobtui.core.pacing import Pacer
from jobtui.core.polling import Clock, utc_now
from jobtui.tui.widgets.job_table.cursor import WidgetOptions
from jobtui.tui.widgets.job_table.render import TableRendering
from jobtui.tui.widgets.job_table.rows import (
    FIXED_COLUMNS,
    SORT_ONLY_KEYS,
    RowKey,
    Rows,
    job_row_key,
    search_text_of,
    service_row_key,
)


class _TableMessage(Message):
    """A message from one table (its `control`)."""

    def __init__(self, table: JobTable) -> None:
        self.table = table
        super().__init__()

    @property
    def control(self) -> JobTable:
        return self.table


SLICE = 250
"""Jobs of a delta `JobTable.apply_in_slices` applies at a time, at most; the event loop runs
between slices once a turn of work is over (`Pacer`)."""
LEAST_SLICE = 16
"""The fewest jobs of a slice: a slice that took longer than a turn is halved down to this."""


def next_slice(size: int, spent: float, turn: float) -> int:
    """The size of the slice after one of `size` jobs that took `spent`: halved when it took
    longer than a `turn` (a table of 100,000 rows moves more memory for each job it inserts),
    doubled back up to `SLICE` when it took under a quarter of one."""
    if spent > turn:
        return max(LEAST_SLICE, size // 2)
    if spent < turn / 4:
        return min(SLICE, size * 2)
    return size


class JobTable(TableRendering, can_focus=True):
    """The jobs of one service (or of all services), sorted, filtered, with a cursor and marks.

    `empty_text` is shown, centred and dim, when there are no rows (e.g. "Loading…").
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("shift+up", "mark_up", "Mark up", show=False),
        Binding("shift+down", "mark_down", "Mark down", show=False),
        Binding(
            "greater_than_sign", "sort_step(1)", "Sort by next column", show=False, id="sort_next"
        ),
        Binding(
            "less_than_sign",
            "sort_step(-1)",
            "Sort by previous column",
            show=False,
            id="sort_previous",
        ),
        Binding("I", "sort_reverse", "Reverse the sort", show=False, id="sort_reverse"),
        Binding("right", "scroll_columns(1)", "Scroll right", show=False),
        Binding("left", "scroll_columns(-1)", "Scroll left", show=False),
        Binding("ctrl+pagedown", "scroll_page(1)", "Page right", show=False),
        Binding("ctrl+pageup", "scroll_page(-1)", "Page left", show=False),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | enter | Select the job under the cursor (posts `JobTable.Selected`). |
    | up | Move the cursor up. |
    | down | Move the cursor down. |
    | pageup | Move the cursor one page up. |
    | pagedown | Move the cursor one page down. |
    | home | Move the cursor to the first row. |
    | end | Move the cursor to the last row. |
    | space | Mark or unmark the job under the cursor. |
    | shift+up | Mark the job under the cursor and the one above, moving up. |
    | shift+down | Mark the job under the cursor and the one below, moving down. |
    | > | Sort by the next column (Created comes after the last one). |
    | < | Sort by the previous column. |
    | I | Reverse the sort order. |
    | right, left | Scroll to the next / previous column (when columns are out of view). |
    | ctrl+pagedown, ctrl+pageup | Scroll a page right / left (likewise). |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-table--header",
        "job-table--cursor",
        "job-table--marked",
        "job-table--marker",
        "job-table--progress",
        "job-table--muted",
        "job-table--empty",
        *(f"job-table--state-{state.value.replace('_', '-')}" for state in JobState),
    }
    """
    | Class | Description |
    | :- | :- |
    | `job-table--header` | The header row. |
    | `job-table--cursor` | The row under the cursor. |
    | `job-table--marked` | Marked rows. |
    | `job-table--marker` | The mark sign in the leading column. |
    | `job-table--progress` | The progress bar. |
    | `job-table--muted` | Secondary cells (the age in Updated). |
    | `job-table--empty` | The line shown when there are no rows. |
    | `job-table--state-<state>` | The State cell, per `JobState` (`needs_input` is `needs-input`). |
    """

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        color: $foreground;

        & > .job-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .job-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 3%;
            & > .job-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .job-table--marked { background: $accent 20%; }
        & > .job-table--marker { color: $text-accent; text-style: bold; }
        & > .job-table--progress { color: $text-primary; }
        & > .job-table--muted { color: $text-muted; }
        & > .job-table--empty { color: $text-muted; text-style: italic; }
        & > .job-table--state-queued { color: $text-secondary; }
        & > .job-table--state-running { color: $text-warning; }
        & > .job-table--state-needs-input { color: $text-accent; text-style: bold; }
        & > .job-table--state-succeeded { color: $text-success; }
        & > .job-table--state-failed { color: $text-error; text-style: bold; }
        & > .job-table--state-cancelled { color: $text-muted; }
        & > .job-table--state-unknown { text-style: italic; }
    }
    """

    class CursorMoved(_TableMessage):
        """The job under the cursor changed, or its content did. `job` is None with no rows."""

        def __init__(self, table: JobTable, job: Job | None) -> None:
            self.job = job
            super().__init__(table)

    class Selected(_TableMessage):
        """Enter was pressed (or a row double-clicked) on a job."""

        def __init__(self, table: JobTable, job: Job) -> None:
            self.job = job
            super().__init__(table)

    class MarksChanged(_TableMessage):
        """Jobs were marked or unmarked (what an action applies to changed)."""

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        clock: Clock = utc_now,
        show_service: bool = False,
        row_key: RowKey | None = None,
        sort: str | None = "created",
        reverse: bool = True,
        empty_text: str = "No jobs",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """A job table.

        Args:
            columns: The service's own columns, after the built-in ones, read from `Job.extra`.
            clock: The time "now" for the Updated column (tests pass a fixed one).
            show_service: Lead with a Service column (for a tab of all services).
            row_key: A job's identity in this table; the default is the id, or the service and
                the id with `show_service`. Methods taking a `job_id` take this key.
            sort: The initial sort column key, `"created"`, or None for the order given.
            reverse: Sort descending.
            empty_text: The line shown when there are no rows.
        """
        clashes = [c.key for c in columns if c.key in FIXED_COLUMNS or c.key in SORT_ONLY_KEYS]
        if clashes:
            raise ValueError(f"column keys clash with built-in columns: {', '.join(clashes)}")
        if row_key is None:
            row_key = service_row_key if show_service else job_row_key
        rows = Rows(search_text_of(columns, show_service=show_service), row_key)
        options = WidgetOptions(name=name, id=id, classes=classes, disabled=disabled)
        super().__init__(
            rows, columns, clock=clock, show_service=show_service, reverse=reverse, **options
        )
        self.row_key: RowKey = row_key
        """A job's identity in this table (`get_job`, `move_cursor`... take it)."""
        self._check_sort_key(sort)
        self._data.sort(sort)
        self.set_reactive(JobTable.empty_text, empty_text)

    def _post_cursor_moved(self, job: Job | None) -> None:
        self.post_message(self.CursorMoved(self, job))

    def _post_marks_changed(self) -> None:
        self.post_message(self.MarksChanged(self))

    # -- public API ---------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown (after the filters)."""
        return len(self._data.rows)

    @property
    def total_count(self) -> int:
        """Jobs held (before the filters)."""
        return len(self._data.jobs)

    @property
    def sort_column(self) -> str | None:
        """The key of the column the rows are sorted by (None: the order given)."""
        return self._data.column

    @property
    def sort_reverse(self) -> bool:
        """True when sorted descending."""
        return self._reverse

    @property
    def sort_keys(self) -> tuple[str, ...]:
        """Every key the rows can be sorted by, in column order (`created` last)."""
        leading = ("service",) if self._show_service else ()
        shown = ("id", "state", "type", "progress", "updated", *(c.key for c in self._extra))
        return (*leading, *shown, "message", *SORT_ONLY_KEYS)

    def held_jobs(self) -> Collection[Job]:
        """Every job held, shown or not (a view: do not keep it across changes)."""
        return self._data.jobs.values()

    def get_job(self, job_id: str) -> Job | None:
        """A job held by the table, shown or not."""
        return self._data.jobs.get(job_id)

    def job_at(self, row: int) -> Job:
        """The job shown on row `row` (0 is the first row); IndexError outside the rows."""
        rows = self._data.rows
        if not 0 <= row < len(rows):
            raise IndexError(row)
        return self._data.jobs[rows[len(rows) - 1 - row if self._reverse else row]]

    def row_ids(self) -> list[str]:
        """The ids of the rows, in display order (a copy)."""
        rows = self._data.rows
        return rows[::-1] if self._reverse else list(rows)

    def set_jobs(self, jobs: Iterable[Job]) -> None:
        """Replace every job (the first load); the cursor stays on its job if it is still here."""
        anchor = self._anchor()
        self._data.load(jobs)
        self._strips.clear()
        self._marks.intersection_update(self._data.jobs)
        self._fit_widths(self._data.jobs.values(), shrink=True)
        self._rows_changed(anchor)

    async def apply_in_slices(self, delta: JobsDelta) -> None:
        """`apply`, a slice of at most `SLICE` jobs at a time, letting the event loop run after
        each turn of work (`Pacer`): the rest of a list of 100,000 goes in while keys are
        answered. A slice that took longer than a turn makes the next one smaller
        (`next_slice`). Each slice leaves a whole table."""
        if delta.size <= SLICE:
            self.apply(delta)
            return
        pacer = Pacer()
        size = SLICE
        parts = (("removed", delta.removed), ("changed", delta.changed), ("added", delta.added))
        for part, items in parts:
            start = 0
            while start < len(items):
                began = pacer.now()
                self.apply(JobsDelta(**{part: items[start : start + size]}))  # type: ignore[arg-type]
                start += size
                size = next_slice(size, pacer.now() - began, pacer.turn)
                await pacer.tick()

    def apply(self, delta: JobsDelta) -> None:
        """Add, change and remove jobs by id; other rows are left alone."""
        if not delta:
            return
        anchor = self._anchor()
        self._data.update(delta)
        strips = self._strips
        if strips:  # rendered rows of these jobs are stale (a first load has none)
            row_key = self._data.row_key
            for job in (*delta.added, *delta.changed):
                strips.pop(row_key(job), None)
        for job_id in delta.removed:
            strips.pop(job_id, None)
            if job_id not in self._data.jobs:
                self._marks.discard(job_id)
        self._fit_widths((*delta.added, *delta.changed), shrink=False)
        row_key = self._data.row_key
        changed = [row_key(job) for job in (*delta.added, *delta.changed)]
        self._rows_changed(anchor, changed=[*changed, *delta.removed])

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        """Sort by a column key (or `"created"`; None: the order given); the cursor stays."""
        self._check_sort_key(column)
        anchor = self._anchor()
        self._reverse = reverse
        if column != self._data.column:
            self._data.sort(column)
        self._header = None
        self._rows_changed(anchor)

    def set_filter(self, text: str, *, regex: bool = False, invert: bool = False) -> None:
        """Show only jobs whose visible text contains `text` (case-insensitive).

        With `regex`, `text` is a regular expression searched in each cell (`^` and `$` anchor
        at cell edges); with `invert`, only jobs that do not match. An empty text shows all.
        The Updated column is not searched (its text changes with time).

        Raises:
            InputError: `text` is not a valid regular expression.
        """
        pattern: re.Pattern[str] | None = None
        needle = ""
        if text and regex:
            # The searched text is lowercase already: a pattern without capitals needs no
            # IGNORECASE, which would cost it the literal-prefix scan (three times slower).
            flags = re.MULTILINE | (re.IGNORECASE if text != text.lower() else 0)
            try:
                pattern = re.compile(text, flags)
            except re.error as error:
                raise InputError("filter", f"not a regular expression: {error}") from None
        elif text:
            needle = text.lower()
        anchor = self._anchor()
        data = self._data
        data.set_filter(data.states, needle, pattern, invert and bool(text))
        self._rows_changed(anchor)

    def set_state_filter(self, states: Collection[JobState] | None) -> None:
        """Show only jobs in these states (None: every state)."""
        anchor = self._anchor()
        data = self._data
        wanted = None if states is None else frozenset(states)
        data.set_filter(wanted, data.needle, data.pattern, data.invert)
        self._rows_changed(anchor)

    # -- internals ----------------------------------------------------------------------------

    def _check_sort_key(self, column: str | None) -> None:
        known = {*FIXED_COLUMNS, *SORT_ONLY_KEYS, *(c.key for c in self._extra)}
        if column is not None and column not in known:
            raise ValueError(f"no column {column!r} to sort by")

    # -- events -------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self._layout is None:
            return
        if offset.y == 0:
            layout = self._layout
            x = offset.x if offset.x < layout.frozen else offset.x + self._offset_x
            for cell in layout.cells:
                if cell.x <= x < cell.x + cell.width + 1:
                    same = cell.key == self._data.column
                    self.sort_by(cell.key, reverse=not self._reverse if same else False)
                    event.stop()
                    break
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._data.rows):
            event.stop()
            self._set_cursor(self._id_at(row))
            job = self.cursor_job
            if event.chain == 2 and job is not None:
                self.post_message(self.Selected(self, job))

    # -- actions ------------------------------------------------------------------------------

    def action_select(self) -> None:
        job = self.cursor_job
        if job is not None:
            self.post_message(self.Selected(self, job))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-self._page())

    def action_page_down(self) -> None:
        self._move(self._page())

    def action_first(self) -> None:
        self._move(-len(self._data.rows))

    def action_last(self) -> None:
        self._move(len(self._data.rows))

    def action_toggle_mark(self) -> None:
        if self._cursor is not None:
            self.toggle_mark(self._cursor)

    def action_mark_up(self) -> None:
        self._mark_and_move(-1)

    def action_mark_down(self) -> None:
        self._mark_and_move(1)

    def action_sort_step(self, step: int) -> None:
        keys = self.sort_keys
        column = self._data.column
        index = keys.index(column) if column in keys else -1 if step > 0 else 0
        self.sort_by(keys[(index + step) % len(keys)], reverse=self._reverse)

    def action_sort_reverse(self) -> None:
        self.sort_by(self._data.column, reverse=not self._reverse)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Sideways only when columns are out of view (else `?` does not offer it), and not
        # past either end (`?` then says "not now").
        if action not in ("scroll_columns", "scroll_page"):
            return True
        return self._can_scroll_columns(parameters[0])

    def action_scroll_columns(self, step: int) -> None:
        """Scroll to where the next (1) or the previous (-1) column starts."""
        self._scroll_columns(step)

    def action_scroll_page(self, step: int) -> None:
        """Scroll about a view's width of the scrolling columns right (1) or left (-1)."""
        self._scroll_page(step)
