"""The job table's rendering: a row becomes a `Strip` only when it is on screen.

Rendered strips are cached per job and invalidated only for the jobs that changed; the styles,
the width and the time are read once per render pass.

On a narrow terminal the columns give way in a fixed order so that Updated and Message stay in
view: long ids are cut first (down to `ID_MIN_WIDTH`), then the service's own columns hide (the
last first), then Type, then Progress. Hidden columns move to the right of Message, where `→`
and `ctrl+pagedown` scroll to them (the ID column stays put).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from operator import attrgetter
from typing import NamedTuple, Unpack

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip

from jobtui.core.models import Column, Job, JobState
from jobtui.core.polling import Clock
from jobtui.tui.widgets.job_table.cursor import TableCursor, WidgetOptions
from jobtui.tui.widgets.job_table.rows import Rows, state_text, timestamp, updated_time

MARKER_WIDTH = 2
SLOW_MARK = "◷ "
"""In the marker column of a running job that is overdue (from the journal), unless marked."""
ID_MIN_WIDTH = 24
"""The narrowest the ID column gets when the terminal is too narrow for the message."""
MESSAGE_ROOM = 20
"""Room the message keeps before long ids are cut."""
MESSAGE_MIN_WIDTH = 10
HIDDEN_LAST = ("type", "progress")
"""Built-in columns that hide on a narrow terminal, in this order, after the service's own."""
MORE_RIGHT = "→"
"""Painted at the right end of the header while columns are out of view on the right."""
PROGRESS_BAR = 5
CACHE_LIMIT = 2048
"""Rendered rows kept; a screen shows far fewer, the rest spares a re-render when scrolling back."""

_CONTROL = str.maketrans({**dict.fromkeys(range(32), " "), 127: " "})
_EIGHTHS = " ▏▎▍▌▋▊▉"


def relative_age(seconds: float) -> str:
    """A short age: `12s ago`, `5m ago`, `3h ago`, `2d ago`."""
    whole = int(seconds) if seconds > 0 else 0
    if whole < 60:
        return f"{whole}s ago"
    if whole < 3600:
        return f"{whole // 60}m ago"
    if whole < 86400:
        return f"{whole // 3600}h ago"
    return f"{whole // 86400}d ago"


def progress_text(progress: float | None) -> str:
    """A 5-cell bar and a percentage, `██▍   48%`; empty when the job reports no progress."""
    if progress is None:
        return ""
    value = min(100.0, max(0.0, progress))
    full, part = divmod(round(value / 100 * PROGRESS_BAR * 8), 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return f"{bar:<{PROGRESS_BAR}}{value:4.0f}%"


def fit(text: str, width: int) -> str:
    """`text` padded or cut to exactly `width` cells (an ellipsis marks a cut), one line."""
    if width <= 0:
        return ""
    if not text.isprintable():
        text = text.translate(_CONTROL)
    if text.isascii():
        length = len(text)
        if length <= width:
            return text + " " * (width - length)
        return text[: width - 1] + "…"
    length = cell_len(text)
    if length <= width:
        return text + " " * (width - length)
    return set_cell_size(text, width - 1) + "…"


class Styles(NamedTuple):
    """The styles of one render pass (full styles for rows, partial ones for cells)."""

    base: Style
    header: Style
    cursor: Style
    marked: Style
    marker: Style
    progress: Style
    muted: Style
    empty: Style
    states: Mapping[JobState, Style]


class Cell(NamedTuple):
    key: str
    title: str
    x: int
    width: int


class Layout(NamedTuple):
    width: int
    """The width of the view."""
    cells: tuple[Cell, ...]
    """Every column, left to right: those that fit the view, Message, then the hidden ones."""
    frozen: int
    """Cells on the left that stay when the rest scrolls (the marks, Service and ID)."""
    total: int
    """The width of a whole row; wider than the view when columns are hidden or cut (then up
    to where the last scroll stop shows the view's width)."""

    @property
    def max_offset(self) -> int:
        """How far the part right of `frozen` scrolls."""
        return max(0, self.total - self.width)

    def stops(self) -> list[int]:
        """The scroll offsets at which a column starts right after the frozen part."""
        stops = {min(cell.x - self.frozen, self.max_offset) for cell in self.cells}
        return sorted(stop for stop in stops if stop >= 0)


class TableRendering(TableCursor):
    """The rendering of a `JobTable`: its columns, their widths and horizontal scroll, styles."""

    empty_text: reactive[str] = reactive("No jobs", repaint=False)
    """Shown, centred and dim, when there are no rows (e.g. "Loading…")."""

    def __init__(
        self,
        rows: Rows,
        columns: Sequence[Column],
        *,
        clock: Clock,
        show_service: bool,
        reverse: bool,
        **options: Unpack[WidgetOptions],
    ) -> None:
        super().__init__(rows, reverse=reverse, **options)
        self._extra = tuple(columns)
        self._clock = clock
        self._show_service = show_service
        self._strips: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._header: Strip | None = None
        self._layout: Layout | None = None
        self._offset_x = 0
        """How far the columns right of the frozen ones are scrolled, in cells."""
        self._styles: Styles | None = None
        self._now: float | None = None
        self._widths = {"id": 4, "state": 5, "type": 4}
        self._painted: dict[int, str | None] = {}
        """The job each line of the body was last painted with (None: a blank line)."""

    # -- watchers -----------------------------------------------------------------------------

    def watch_empty_text(self) -> None:
        if not self._data.rows:
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_rendering()

    # -- public API ---------------------------------------------------------------------------

    @property
    def column_offset(self) -> int:
        """How far the columns right of the ID are scrolled, in cells (0: not scrolled)."""
        return self._offset_x

    def refresh_ages(self) -> None:
        """Repaint the Updated cells on screen whose age text the clock changed.

        The table runs no timer; its owner calls this on its own tick. Only the cells whose age
        text changed are repainted (not their lines), so an idle table writes nothing to the
        terminal and a table of ages that move writes a few bytes a minute per visible row.
        """
        rows = self._data.rows
        if not rows or not self.is_mounted:
            return
        cell = self._updated_cell_in_view()
        now = timestamp(self._clock())
        top = int(self.scroll_y)
        for line in range(1, self.size.height):
            index = top + line - 1
            if index >= len(rows):
                break
            job_id = rows[len(rows) - 1 - index if self._reverse else index]
            cached = self._strips.get(job_id)
            updated = timestamp(updated_time(self._data.jobs[job_id]))
            age = "" if updated is None or now is None else relative_age(now - updated)
            if cached is None:
                self.refresh(Region(0, line, self.size.width, 1))
            elif cached[0][3] != age and cell is not None:
                self.refresh(Region(cell[0], line, cell[1], 1))

    def _updated_cell_in_view(self) -> tuple[int, int] | None:
        """(x, width) of the Updated column where the view shows it; None when scrolled out."""
        layout = self._current_layout()
        cell = next((c for c in layout.cells if c.key == "updated"), None)
        if cell is None:
            return None
        x = cell.x if cell.x < layout.frozen else cell.x - self._offset_x
        start, end = max(x, layout.frozen if cell.x >= layout.frozen else 0), x + cell.width
        end = min(end, layout.width)
        return (start, end - start) if end > start else None

    # -- rendering ----------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._begin_pass()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if self._styles is None or self._layout is None or self._now is None:
            self._begin_pass()
        layout = self._layout
        styles = self._styles
        assert layout is not None and styles is not None
        if y == 0:
            return self._header_in_view(layout, styles)
        rows = self._data.rows
        if not rows:
            self._painted.clear()  # no line shows a job
            return self._empty_strip(y, layout, styles)
        index = int(self.scroll_y) + y - 1
        if index >= len(rows):
            self._painted[y] = None
            return Strip.blank(layout.width, styles.base)
        job_id = rows[len(rows) - 1 - index if self._reverse else index]
        self._painted[y] = job_id
        return self._in_view(self._row_strip(job_id, layout, styles), layout)

    def _refresh_lines(self, jobs: Collection[str]) -> None:
        """Repaint the lines that show one of `jobs`, or another job than they were painted
        with: a poll that changes a few jobs in place repaints their lines, not the table."""
        rows = self._data.rows
        if not rows or self._layout is None or not self.is_mounted:
            self.refresh()
            return
        painted = self._painted
        top = int(self.scroll_y)
        width = self.size.width
        for line in range(1, self.size.height):
            index = top + line - 1
            job_id = None if index >= len(rows) else self._id_at(index)
            if line not in painted or painted[line] != job_id or job_id in jobs:
                self.refresh(Region(0, line, width, 1))

    def _in_view(self, strip: Strip, layout: Layout) -> Strip:
        """The part of a whole row that the view shows: the frozen cells, then the rest from
        the scroll offset."""
        if layout.total <= layout.width:
            return strip
        offset = self._offset_x
        if offset == 0:
            return strip.crop(0, layout.width)
        frozen = layout.frozen
        start = frozen + offset
        return Strip.join([strip.crop(0, frozen), strip.crop(start, start + layout.width - frozen)])

    def _header_in_view(self, layout: Layout, styles: Styles) -> Strip:
        header = self._in_view(self._header_strip(layout, styles), layout)
        if self._offset_x >= layout.max_offset:
            return header
        more = Strip([Segment(MORE_RIGHT, styles.header)])
        return Strip.join([header.crop(0, layout.width - 1), more])

    def _begin_pass(self) -> None:
        """Read the styles (once after each change of styles: `notify_style_update` forgets
        them), the width and the time once per render pass."""
        if self._styles is None:
            styles = self._read_styles()
            self._forget_rendering()
            self._styles = styles
        width = self.scrollable_content_region.width  # less the vertical scrollbar
        if self._layout is None or self._layout.width != width:
            self._layout = self._make_layout(width)
            # Where a column starts, as a scroll by keys leaves it (the last stop is the end).
            stops = self._layout.stops()
            self._offset_x = max((s for s in stops if s <= self._offset_x), default=0)
            self._strips.clear()
            self._header = None
        self._now = timestamp(self._clock())

    def _read_styles(self) -> Styles:
        def full(name: str) -> Style:
            return self.get_component_styles(f"job-table--{name}").rich_style

        def partial(name: str) -> Style:
            return self.get_component_styles(f"job-table--{name}").partial_rich_style

        return Styles(
            base=self.rich_style,
            header=full("header"),
            cursor=full("cursor"),
            marked=full("marked"),
            marker=partial("marker"),
            progress=partial("progress"),
            muted=partial("muted"),
            empty=full("empty"),
            states={s: partial(f"state-{s.value.replace('_', '-')}") for s in JobState},
        )

    def _make_layout(self, width: int) -> Layout:
        """Place the columns for a view `width` cells wide (see the module's docstring)."""
        specs: list[tuple[str, str, int]] = []
        if self._show_service:
            specs.append(("service", "Service", 12))
        specs += [
            ("id", "ID", self._widths["id"]),
            ("state", "State", self._widths["state"]),
            ("type", "Type", self._widths["type"]),
            ("progress", "Progress", PROGRESS_BAR + 5),
            ("updated", "Updated", 8),
        ]
        specs += [(c.key, c.title, c.width) for c in self._extra]
        fixed = MARKER_WIDTH + sum(w + 1 for _, _, w in specs)
        # On a narrow terminal long ids give way to the message first (down to ID_MIN_WIDTH)...
        squeeze = min(MESSAGE_ROOM - (width - fixed), self._widths["id"] - ID_MIN_WIDTH)
        if squeeze > 0:
            specs = [(k, t, w - squeeze if k == "id" else w) for k, t, w in specs]
            fixed -= squeeze
        # ...then the least useful columns move out of view, to the right of the message.
        hidden: list[tuple[str, str, int]] = []
        for key in (*reversed([c.key for c in self._extra]), *HIDDEN_LAST):
            if width - fixed >= MESSAGE_ROOM:
                break
            spec = next(spec for spec in specs if spec[0] == key)
            hidden.append(spec)
            fixed -= spec[2] + 1
        shown = [spec for spec in specs if spec not in hidden]
        shown.append(("message", "Message", max(MESSAGE_MIN_WIDTH, width - fixed)))
        cells: list[Cell] = []
        x = MARKER_WIDTH
        frozen = x
        for key, title, cell_width in (*shown, *(s for s in specs if s in hidden)):
            cells.append(Cell(key, title, x, cell_width))
            x += cell_width + 1
            if key in ("service", "id"):
                frozen = x
        if frozen > width - MESSAGE_ROOM:  # too narrow to keep the ID in place: all scrolls
            frozen = MARKER_WIDTH
        # Scrolled to the end, the first column after the frozen ones starts whole: the row
        # ends in blank cells rather than begin with the tail of a cut column.
        beyond = x - 1 - width  # no gap after the last column
        if beyond <= 0:
            return Layout(width, tuple(cells), frozen, width)
        end = min((c.x - frozen for c in cells if c.x - frozen >= beyond), default=beyond)
        return Layout(width, tuple(cells), frozen, width + end)

    def _header_strip(self, layout: Layout, styles: Styles) -> Strip:
        if self._header is None:
            arrow = " ▼" if self._reverse else " ▲"
            parts = [" " * MARKER_WIDTH]
            for cell in layout.cells:
                title = cell.title + arrow if cell.key == self._data.column else cell.title
                parts.append(fit(title, cell.width) + " ")
            text = "".join(parts)
            self._header = self._finish([Segment(text, styles.header)], layout, styles.header)
        return self._header

    def _empty_strip(self, y: int, layout: Layout, styles: Styles) -> Strip:
        middle = max(1, (self.size.height + 1) // 2)
        if y != middle or not self.empty_text:
            return Strip.blank(layout.width, styles.base)
        text = fit(self.empty_text, layout.width).strip()
        left = max(0, (layout.width - cell_len(text)) // 2)
        segments = [Segment(" " * left, styles.base), Segment(text, styles.base + styles.empty)]
        return Strip(segments).adjust_cell_length(layout.width, styles.base)

    def _row_strip(self, job_id: str, layout: Layout, styles: Styles) -> Strip:
        job = self._data.jobs[job_id]
        cursor = job_id == self._cursor
        marked = job_id in self._marks
        slow = job_id in self._slow and job.state is JobState.RUNNING
        updated = timestamp(updated_time(job))
        age = "" if updated is None or self._now is None else relative_age(self._now - updated)
        state = (job.revision, cursor, marked, age, slow)
        cached = self._strips.get(job_id)
        if cached is not None and cached[0] == state:
            return cached[1]
        strip = self._render_row(job, layout, styles, cursor, marked, age, slow)
        strips = self._strips
        if len(strips) >= CACHE_LIMIT:
            del strips[next(iter(strips))]
        strips[job_id] = (state, strip)
        return strip

    def _render_row(
        self,
        job: Job,
        layout: Layout,
        styles: Styles,
        cursor: bool,
        marked: bool,
        age: str,
        slow: bool = False,
    ) -> Strip:
        row = styles.cursor if cursor else styles.marked if marked else styles.base
        if marked:
            first = Segment("● ", row + styles.marker)
        elif slow:
            first = Segment(SLOW_MARK, row + styles.states[JobState.FAILED])
        else:
            first = Segment(" " * MARKER_WIDTH, row)
        segments = [first]
        add = segments.append
        for key, _, _, width in layout.cells:
            style = row
            if key == "id":
                text = job.id
            elif key == "state":
                text = state_text(job)
                if not cursor:
                    style = row + styles.states[job.state]
            elif key == "type":
                text = job.type
            elif key == "progress":
                text = progress_text(job.progress)
                if not cursor:
                    style = row + styles.progress
            elif key == "updated":
                text = age
                if not cursor:
                    style = row + styles.muted
            elif key == "message":
                text = job.message
            elif key == "service":
                text = job.service
            else:
                text = job.extra.get(key, "")
            add(Segment(fit(text, width) + " ", style))
        return self._finish(segments, layout, row)

    @staticmethod
    def _finish(segments: list[Segment], layout: Layout, style: Style) -> Strip:
        """A whole row (`_in_view` cuts out what the view shows)."""
        return Strip(segments).adjust_cell_length(layout.total, style)

    def _fit_widths(self, jobs: Collection[Job], *, shrink: bool) -> None:
        """Size ID, State and Type to their longest text (bounded); grow only on updates."""
        widths = {"id": 4, "state": 5, "type": 4} if shrink else dict(self._widths)
        texts: tuple[tuple[str, int, Callable[[Job], str]], ...] = (
            ("id", 36, attrgetter("id")),
            ("state", 16, state_text),
            ("type", 16, attrgetter("type")),
        )
        for key, limit, text in texts:
            longest = max(map(len, map(text, jobs)), default=0)
            widths[key] = max(widths[key], min(limit, longest))
        if widths != self._widths:
            self._widths = widths
            self._layout = None

    def _forget_rendering(self) -> None:
        self._strips.clear()
        self._header = None
        self._styles = None

    # -- scrolling the columns ----------------------------------------------------------------

    def _can_scroll_columns(self, step: object) -> bool | None:
        """Whether the columns scroll right (`step` 1) or left: False while every column is in
        view, None at that end."""
        layout = self._current_layout()
        if layout.max_offset == 0:
            return False
        can = self._offset_x < layout.max_offset if step == 1 else self._offset_x > 0
        return True if can else None

    def _scroll_columns(self, step: int) -> None:
        """Scroll to where the next (1) or the previous (-1) column starts."""
        stops = self._current_layout().stops()
        if step > 0:
            target = next((stop for stop in stops if stop > self._offset_x), self._offset_x)
        else:
            target = next((stop for stop in reversed(stops) if stop < self._offset_x), 0)
        self._scroll_columns_to(target)

    def _scroll_page(self, step: int) -> None:
        """Scroll about a view's width of the scrolling columns right (1) or left (-1), to where
        a column starts (at least one column)."""
        layout = self._current_layout()
        offset = self._offset_x
        target = offset + step * max(1, layout.width - layout.frozen)
        stops = layout.stops()
        if step > 0:
            ahead = [stop for stop in stops if offset < stop <= target]
            target = ahead[-1] if ahead else next((s for s in stops if s > offset), offset)
        else:
            behind = [stop for stop in stops if target <= stop < offset]
            target = behind[0] if behind else max((s for s in stops if s < offset), default=0)
        self._scroll_columns_to(target)

    def _current_layout(self) -> Layout:
        width = self.scrollable_content_region.width
        if self._layout is None or self._layout.width != width:
            self._begin_pass()
        assert self._layout is not None
        return self._layout

    def _scroll_columns_to(self, offset: int) -> None:
        offset = min(max(0, offset), self._current_layout().max_offset)
        if offset != self._offset_x:
            self._offset_x = offset
            self.refresh()
