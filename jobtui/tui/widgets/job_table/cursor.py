"""The job table's cursor, marks and vertical scrolling, kept on their jobs across changes.

The cursor and the marks are row keys, not row numbers: after a delta, a sort or a filter the
cursor stays on its job (or goes to the row that took its place) and on its line of the screen.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple, TypedDict, Unpack

from textual import events
from textual.geometry import Region, Size

from jobtui.core.models import Job
from jobtui.tui.updates import SteadyScrollView
from jobtui.tui.widgets.job_table.rows import Rows, SortKey


class WidgetOptions(TypedDict):
    """What every widget takes, passed through the table's layers to Textual's `Widget`."""

    name: str | None
    id: str | None
    classes: str | None
    disabled: bool


class Anchor(NamedTuple):
    """The cursor before a change: its sort key, and its line in the body if it was on screen."""

    key: SortKey | None
    line: int | None


class TableCursor(SteadyScrollView):
    """The cursor, the marks and the vertical scroll of a `JobTable` over its `Rows`."""

    def __init__(self, rows: Rows, *, reverse: bool, **options: Unpack[WidgetOptions]) -> None:
        super().__init__(**options)
        self._data = rows
        self._reverse = reverse
        self._cursor: str | None = None
        self._marks: set[str] = set()
        self._slow: frozenset[str] = frozenset()
        """Row keys of the running jobs the journal found overdue (marked `SLOW_MARK`)."""
        self._announced: Job | None = None
        self._lines_only = False
        """A scroll repaints only the lines whose job changed (see `_rows_changed`)."""

    # -- public API ---------------------------------------------------------------------------

    @property
    def cursor_job(self) -> Job | None:
        """The job under the cursor, or None when there are no rows."""
        return None if self._cursor is None else self._data.jobs.get(self._cursor)

    @property
    def cursor_row(self) -> int | None:
        """The cursor's row number (0 is the first row shown), or None."""
        return self._display_index(self._cursor)

    @property
    def marked_jobs(self) -> tuple[Job, ...]:
        """The marked jobs that are shown now, in display order."""
        data = self._data
        shown = [job_id for job_id in self._marks if data.index(job_id) is not None]
        shown.sort(key=data.keys.__getitem__, reverse=self._reverse)
        return tuple(data.jobs[job_id] for job_id in shown)

    def move_cursor(self, job_id: str) -> bool:
        """Put the cursor on a job; False if it is not shown."""
        if self._data.index(job_id) is None:
            return False
        self._set_cursor(job_id)
        return True

    def toggle_mark(self, job_id: str) -> None:
        """Mark a job, or unmark it if it is marked."""
        if job_id in self._marks:
            self._marks.discard(job_id)
        elif job_id in self._data.jobs:
            self._marks.add(job_id)
        else:
            return
        self._refresh_job(job_id)
        self._post_marks_changed()

    def set_slow(self, row_keys: Collection[str]) -> None:
        """Mark these jobs (by row key) slow: running past what their type usually takes."""
        slow = frozenset(row_keys)
        changed, self._slow = slow ^ self._slow, slow
        for job_id in changed:
            self._refresh_job(job_id)

    def clear_marks(self) -> None:
        """Unmark every job (after an action on the marked jobs)."""
        if self._marks:
            self._marks.clear()
            self.refresh()
            self._post_marks_changed()

    # -- for the table ------------------------------------------------------------------------

    def _post_cursor_moved(self, job: Job | None) -> None:
        """Tell the table's owner that the job under the cursor changed (`JobTable.CursorMoved`)."""
        raise NotImplementedError

    def _post_marks_changed(self) -> None:
        """Tell the table's owner that the marks changed (`JobTable.MarksChanged`)."""
        raise NotImplementedError

    # -- internals ----------------------------------------------------------------------------

    def _display_index(self, job_id: str | None) -> int | None:
        if job_id is None:
            return None
        index = self._data.index(job_id)
        if index is None:
            return None
        return len(self._data.rows) - 1 - index if self._reverse else index

    def _id_at(self, row: int) -> str:
        rows = self._data.rows
        return rows[len(rows) - 1 - row if self._reverse else row]

    def _anchor(self) -> Anchor:
        """Where the cursor is before a change: its sort key and its line on screen."""
        cursor = self._cursor
        if cursor is None:
            return Anchor(None, 0)
        row = self._display_index(cursor)
        line = None if row is None else row - int(self.scroll_y)
        if line is not None and not 0 <= line < self._body_height():
            line = None
        return Anchor(self._data.keys.get(cursor), line)

    def _rows_changed(self, anchor: Anchor, changed: Collection[str] | None = None) -> None:
        """Re-seat the cursor after the rows changed, keep it on its line, repaint, announce.

        If the cursor's job is gone, the cursor goes to the row that took its place. If the
        cursor was on screen, the view scrolls so that it stays on the same screen line.
        `changed` (the jobs a delta changed) repaints only the lines that show another job, or
        one of these, than they did; None repaints the whole table.
        """
        before = self._cursor
        data = self._data
        rows = data.rows
        if not rows:
            self._cursor = None
        elif self._cursor is None or data.index(self._cursor) is None:
            if anchor.key is None:
                self._cursor = self._id_at(0)
            else:
                position = data.position_of(anchor.key)
                if self._reverse:
                    position -= 1
                self._cursor = rows[min(len(rows) - 1, max(0, position))]
        size = Size(0, len(rows) + 1)
        if size != self.virtual_size:
            # The table's size is set by its parent, not by its rows: a new virtual size changes
            # the scrollbar, not the screen's layout (which assigning it would redo).
            self.set_reactive(TableCursor.virtual_size, size)
            self._scroll_update(size)
        if changed is None:
            self.refresh()
        row = self._display_index(self._cursor)
        if anchor.line is not None and row is not None and self.is_mounted:
            # A scroll repaints the whole table; here `_refresh_lines` repaints the lines that
            # show another job than they did (none, when a job arrived above the view).
            self._lines_only = changed is not None
            try:
                self.scroll_to(y=max(0, row - anchor.line), animate=False, force=True)
                self._scroll_to_cursor()
            finally:
                self._lines_only = False
        if changed is not None:
            moved = (before, self._cursor) if before != self._cursor else ()
            self._refresh_lines({*changed, *filter(None, moved)})
        self._announce()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        if not self._lines_only:
            super().watch_scroll_y(old_value, new_value)
        elif self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = new_value

    def _refresh_lines(self, jobs: Collection[str]) -> None:
        """Repaint the lines that show `jobs`, or another job than they showed (all: a full
        repaint)."""
        self.refresh()

    def _set_cursor(self, job_id: str | None) -> None:
        old = self._cursor
        if job_id == old:
            return
        self._cursor = job_id
        self._refresh_job(old)
        self._refresh_job(job_id)
        self._scroll_to_cursor()
        self._announce()

    def _refresh_job(self, job_id: str | None) -> None:
        """Repaint the row of one job, if it is on screen."""
        row = self._display_index(job_id)
        if row is None:
            return
        line = row - int(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        row = self._display_index(self._cursor)
        if row is None or not self.is_mounted:
            return
        body = self._body_height()
        top = int(self.scroll_y)
        if row < top:
            target = row
        elif row >= top + body:
            target = row - body + 1
        else:
            return
        self.scroll_to(y=target, animate=False, force=True)

    def _announce(self) -> None:
        job = self.cursor_job
        before = self._announced
        if job is before:
            return
        self._announced = job
        if job is None or before is None or job != before:
            self._post_cursor_moved(job)

    def _page(self) -> int:
        return max(1, self._body_height() - 1)

    def _move(self, rows: int) -> None:
        current = self._display_index(self._cursor)
        count = len(self._data.rows)
        if count == 0:
            return
        target = 0 if current is None else min(count - 1, max(0, current + rows))
        self._set_cursor(self._id_at(target))

    def _mark_and_move(self, rows: int) -> None:
        if self._cursor is None:
            return
        self._mark(self._cursor)
        self._move(rows)
        if self._cursor is not None:
            self._mark(self._cursor)

    def _mark(self, job_id: str) -> None:
        if job_id not in self._marks:
            self._marks.add(job_id)
            self._refresh_job(job_id)
            self._post_marks_changed()

    # -- events -------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()
