"""The job table of every tab: a Line API view that renders only the rows on screen.

A `DataTable` builds a renderable per cell up front and is rebuilt to change; at 100,000 jobs that
takes seconds. `JobTable` keeps plain data instead: a dict of jobs by id, the ids in sort order, and
the visible subset after the filters. Sort keys and search strings are computed once per job change,
and a row becomes a `Strip` only when it is on screen. Rendered strips are cached per job and
invalidated only for the jobs that changed.

Everything is keyed by a row key, the job id unless the table is given another `row_key` (a tab
of all services uses `service_row_key`, since ids repeat across services): the cursor and the
marks stay on their jobs across `apply()`, sorting and filtering.

On a narrow terminal the columns give way in a fixed order so that Updated and Message stay in
view: long ids are cut first (down to `ID_MIN_WIDTH`), then the service's own columns hide (the
last first), then Type, then Progress. Hidden columns move to the right of Message, where `→`
and `ctrl+pagedown` scroll to them (the ID column stays put); `?` offers those keys only while
something is out of view.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import attrgetter, contains, not_
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobtui.core.errors import InputError
from jobtui.core.models import Column, Job, JobsDelta, JobState
from jobtui.core.polling import Clock, utc_now

SortKey = tuple[int, float, str, int]
"""(group, number, text, insertion sequence): one type for every column, unique per job."""

KeyFunc = Callable[[Job, int], SortKey]

RowKey = Callable[[Job], str]
"""A job's identity within one table: its id, or (with several services) its service and id."""

job_row_key: RowKey = attrgetter("id")
"""The row key of a table of one service."""


def row_key_of(service: str, job_id: str) -> str:
    """The row key of a job in a table of several services (ids repeat across services)."""
    return f"{service}\x1f{job_id}"


def service_row_key(job: Job) -> str:
    """The row key of a table of several services: the service name and the id."""
    return f"{job.service}\x1f{job.id}"


FIXED_COLUMNS = ("service", "id", "state", "type", "progress", "updated", "message")
"""Keys of the built-in columns; `created` is a further sort key without a column."""

SORT_ONLY_KEYS = ("created",)

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
BULK_UPDATE = 1000
"""Deltas larger than this re-sort all rows instead of moving each job."""
KEPT_SORTS = 6
"""Columns whose sort keys and order are kept up to date, so sorting by them again is instant."""
CACHE_LIMIT = 2048
"""Rendered rows kept; a screen shows far fewer, the rest spares a re-render when scrolling back."""

_CONTROL = str.maketrans({**dict.fromkeys(range(32), " "), 127: " "})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NUMBER_START = frozenset("+-0123456789")
_EIGHTHS = " ▏▎▍▌▋▊▉"
_STATE_ORDER = {state: index for index, state in enumerate(JobState)}


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


def _timestamp(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _time_key(value: datetime | None, seq: int) -> SortKey:
    if value is None:
        return (2, 0.0, "", seq)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (0, value.timestamp(), "", seq)


def _text_key(text: str, seq: int) -> SortKey:
    """Numbers first (by value), then text (case-insensitive), then empty cells."""
    if not text:
        return (2, 0.0, "", seq)
    if text[0] in _NUMBER_START and _NUMBER.fullmatch(text):
        return (0, float(text), "", seq)
    return (1, 0.0, text.lower(), seq)


def _state_text(job: Job) -> str:
    return job.raw_state or job.state.label


def _updated(job: Job) -> datetime | None:
    return job.updated or job.created


def _key_func(column: str | None) -> KeyFunc:
    """The sort key of one column (None: insertion order)."""
    if column is None:
        return lambda job, seq: (0, 0.0, "", seq)
    if column == "created":
        return lambda job, seq: _time_key(job.created, seq)
    if column == "updated":
        return lambda job, seq: _time_key(_updated(job), seq)
    if column == "progress":
        return lambda job, seq: (
            (2, 0.0, "", seq) if job.progress is None else (0, job.progress, "", seq)
        )
    if column == "state":
        return lambda job, seq: (_STATE_ORDER[job.state], 0.0, _state_text(job).lower(), seq)
    if column == "id":
        return lambda job, seq: _text_key(job.id, seq)
    if column == "service":
        return lambda job, seq: _text_key(job.service, seq)
    if column == "type":
        return lambda job, seq: _text_key(job.type, seq)
    if column == "message":
        return lambda job, seq: _text_key(job.message, seq)
    return lambda job, seq: _text_key(job.extra.get(column, ""), seq)


class _Rows:
    """The data behind the table: jobs by id, all ids in sort order, and the visible ones.

    Both id lists are ascending by sort key (the table reverses at display time), and sort keys are
    unique (the insertion sequence breaks ties), so a job's position is found by bisection.

    The keys and the order of the last few columns sorted by are kept and moved job by job with
    each delta, so changing back to one of them costs no sorting at all.
    """

    def __init__(self, search_text: Callable[[Job], str], row_key: RowKey = job_row_key) -> None:
        self.row_key = row_key
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []
        """Every job id, ascending by sort key."""
        self.rows: list[str] = self.order
        """The ids passing the filters, ascending; the same list as `order` when unfiltered."""
        self.column: str | None = None
        self.keys: dict[str, SortKey] = {}
        """Sort keys of the current column."""
        self._search_text = search_text
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._key_funcs: dict[str | None, KeyFunc] = {None: _key_func(None)}
        self._key_cache: dict[str | None, dict[str, SortKey]] = {None: self.keys}
        """Sort keys of the kept columns, the current one included (oldest first)."""
        self._orders: dict[str | None, list[str]] = {None: self.order}
        """The ids in the order of each kept column, while it is known to be up to date."""
        self._search: dict[str, str] | None = None
        self._changes = 0
        """Counts changes to the jobs and to `order` in place (the aligned texts follow it)."""
        self._aligned: tuple[list[str], int, list[str]] | None = None
        """(`order`, `_changes`, the search text of each id of `order`) when last aligned."""
        self.states: frozenset[JobState] | None = None
        self.needle = ""
        self.pattern: re.Pattern[str] | None = None
        self.invert = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def filtered(self) -> bool:
        return self.states is not None or bool(self.needle) or self.pattern is not None

    def index(self, job_id: str) -> int | None:
        """The ascending position of a visible job, or None."""
        key = self.keys.get(job_id)
        if key is None:
            return None
        rows = self.rows
        position = bisect_left(rows, key, key=self.keys.__getitem__)
        if position < len(rows) and rows[position] == job_id:
            return position
        return None

    def position_of(self, key: SortKey) -> int:
        """Where a row with this sort key goes (or went) among the visible rows."""
        return bisect_left(self.rows, key, key=self.keys.__getitem__)

    def matches(self, job_id: str) -> bool:
        """True when the job passes the state filter and the text filter."""
        if self.states is not None and self.jobs[job_id].state not in self.states:
            return False
        if not self.needle and self.pattern is None:
            return True
        text = self._searchable()[job_id]
        if self.pattern is not None:
            return (self.pattern.search(text) is not None) != self.invert
        return (self.needle in text) != self.invert

    # -- loading and updating -----------------------------------------------------------------

    def load(self, jobs: Iterable[Job]) -> None:
        """Replace every job (insertion order is the order given)."""
        self._changes += 1
        self.jobs = {}
        self._seq = {}
        self._next_seq = 0
        seqs = self._seq
        store = self.jobs
        row_key = self.row_key
        for job in jobs:
            job_id = row_key(job)
            if job_id not in seqs:
                seqs[job_id] = len(seqs)
            store[job_id] = job
        self._next_seq = len(seqs)
        key = self._key_funcs[self.column]
        self.keys = {job_id: key(job, seqs[job_id]) for job_id, job in store.items()}
        self._key_cache = {self.column: self.keys}
        self._orders = {}
        self._search = None
        self._resort(list(store))

    def update(self, delta: JobsDelta) -> None:
        """Apply added, changed and removed jobs (removed ones by row key), in place when the
        delta is small.

        In place costs a bisection and a list insertion per job; past a few hundred jobs one
        re-sort of the (mostly sorted) lists is cheaper.
        """
        if delta.size > BULK_UPDATE:
            for job_id in delta.removed:
                self._drop(job_id)
            known = self.jobs.keys()
            row_key = self.row_key
            incoming = [(row_key(job), job) for job in (*delta.added, *delta.changed)]
            fresh = [
                job_id for job_id in dict.fromkeys(k for k, _ in incoming) if job_id not in known
            ]
            kept = (
                [job_id for job_id in self.order if job_id in known]
                if delta.removed
                else self.order
            )
            self._put_many(incoming)
            # The other kept columns keep their keys; their order is sorted again when needed.
            self._orders = {}
            self._resort(kept + fresh)
            return
        for job_id in delta.removed:
            if job_id in self.jobs:
                self._unlist(job_id)
                self._drop(job_id)
        row_key = self.row_key
        for job in (*delta.changed, *delta.added):
            job_id = row_key(job)
            if job_id in self.jobs:
                self._change(job)
            else:
                self._put(job)
                self._list(job_id)

    def sort(self, column: str | None) -> None:
        if column not in self._key_funcs:
            self._key_funcs[column] = _key_func(column)
        keys = self._key_cache.pop(column, None)
        if keys is None:
            key = self._key_funcs[column]
            seqs = self._seq
            keys = {job_id: key(job, seqs[job_id]) for job_id, job in self.jobs.items()}
            earlier = [c for c in self._key_cache if c != self.column]
            for stale in earlier[: max(0, len(earlier) - KEPT_SORTS + 2)]:
                del self._key_cache[stale]
                self._orders.pop(stale, None)
        self._key_cache[column] = keys
        self.column = column
        self.keys = keys
        order = self._orders.get(column)
        if order is None:
            self._resort(self.order)
        else:
            self.order = order
            self._refilter()

    def set_filter(
        self,
        states: frozenset[JobState] | None,
        needle: str,
        pattern: re.Pattern[str] | None,
        invert: bool,
    ) -> None:
        self.states = states
        self.needle = needle
        self.pattern = pattern
        self.invert = invert
        self._refilter()

    # -- internals ----------------------------------------------------------------------------

    def _searchable(self) -> dict[str, str]:
        if self._search is None:
            text = self._search_text
            self._search = {job_id: text(job) for job_id, job in self.jobs.items()}
        return self._search

    def _aligned_texts(self) -> list[str]:
        """The search text of each id of `order`, in that order (kept while nothing changes)."""
        aligned = self._aligned
        if aligned is None or aligned[0] is not self.order or aligned[1] != self._changes:
            search = self._searchable()
            aligned = self._aligned = (self.order, self._changes, [search[i] for i in self.order])
        return aligned[2]

    def _resort(self, ids: list[str]) -> None:
        """Sort every id (given in an order close to the result, which makes sorting cheap)."""
        self.order = self._orders[self.column] = sorted(ids, key=self.keys.__getitem__)
        self._refilter()

    def _refilter(self) -> None:
        if not self.filtered:
            self.rows = self.order
            return
        order = self.order
        if self.states is None:
            # One pass in C over the texts in row order, no Python code per row.
            texts = self._aligned_texts()
            if self.pattern is not None:
                found: Iterable[object] = map(self.pattern.search, texts)
            else:
                found = map(contains, texts, repeat(self.needle))
            self.rows = list(compress(order, map(not_, found) if self.invert else found))
            return
        matches = self.matches
        self.rows = [i for i in order if matches(i)]

    def _put(self, job: Job) -> None:
        """Store a job and its keys (a new id gets the next insertion sequence)."""
        self._put_many(((self.row_key(job), job),))

    def _put_many(self, incoming: Sequence[tuple[str, Job]]) -> None:
        """Store jobs, given with their row keys, and their keys (a new id gets the next
        insertion sequence); one pass for a first poll of tens of thousands."""
        seqs = self._seq
        store = self.jobs
        next_seq = self._next_seq
        caches = [(keys, self._key_funcs[column]) for column, keys in self._key_cache.items()]
        search, search_text = self._search, self._search_text
        for job_id, job in incoming:
            seq = seqs.get(job_id)
            if seq is None:
                seq = seqs[job_id] = next_seq
                next_seq += 1
            store[job_id] = job
            for keys, key in caches:
                keys[job_id] = key(job, seq)
            if search is not None:
                search[job_id] = search_text(job)
        self._next_seq = next_seq
        self._changes += len(incoming)

    def _drop(self, job_id: str) -> None:
        self._changes += 1
        self.jobs.pop(job_id, None)
        self._seq.pop(job_id, None)
        for keys in self._key_cache.values():
            keys.pop(job_id, None)
        if self._search is not None:
            self._search.pop(job_id, None)

    def _list(self, job_id: str) -> None:
        """Insert a stored job into the sorted lists (the visible one if it matches)."""
        self._changes += 1
        for column, ids in self._orders.items():
            keys = self._key_cache[column]
            ids.insert(bisect_left(ids, keys[job_id], key=keys.__getitem__), job_id)
        if self.rows is not self.order and self.matches(job_id):
            self._insert_row(job_id)

    def _unlist(self, job_id: str) -> None:
        """Remove a job from the sorted lists, while its current keys are still known."""
        self._changes += 1
        for column, ids in self._orders.items():
            _remove(ids, job_id, self._key_cache[column])
        if self.rows is not self.order:
            _remove(self.rows, job_id, self.keys)

    def _change(self, job: Job) -> None:
        """Replace a stored job; move it only where its sort key or its visibility changed."""
        job_id = self.row_key(job)
        old_keys = {column: keys[job_id] for column, keys in self._key_cache.items()}
        filtered = self.rows is not self.order
        shown = filtered and _find(self.rows, job_id, self.keys) is not None
        self._put(job)
        for column, ids in self._orders.items():
            keys = self._key_cache[column]
            new_key = keys[job_id]
            if new_key == old_keys[column]:
                continue
            # Bisect with the old key while the list is still in the old order.
            keys[job_id] = old_keys[column]
            _remove(ids, job_id, keys)
            keys[job_id] = new_key
            ids.insert(bisect_left(ids, new_key, key=keys.__getitem__), job_id)
        if not filtered:
            return
        moved = self.keys[job_id] != old_keys[self.column]
        visible = self.matches(job_id)
        if shown and (moved or not visible):
            new_key = self.keys[job_id]
            self.keys[job_id] = old_keys[self.column]
            _remove(self.rows, job_id, self.keys)
            self.keys[job_id] = new_key
        if visible and (moved or not shown):
            self._insert_row(job_id)

    def _insert_row(self, job_id: str) -> None:
        rows = self.rows
        rows.insert(bisect_left(rows, self.keys[job_id], key=self.keys.__getitem__), job_id)


def _find(ids: list[str], job_id: str, keys: Mapping[str, SortKey]) -> int | None:
    """The position of a job in a list sorted by `keys`, or None."""
    position = bisect_left(ids, keys[job_id], key=keys.__getitem__)
    return position if position < len(ids) and ids[position] == job_id else None


def _remove(ids: list[str], job_id: str, keys: Mapping[str, SortKey]) -> None:
    position = _find(ids, job_id, keys)
    if position is not None:
        del ids[position]


class _Styles(NamedTuple):
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


class _Cell(NamedTuple):
    key: str
    title: str
    x: int
    width: int


class _Layout(NamedTuple):
    width: int
    """The width of the view."""
    cells: tuple[_Cell, ...]
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


class _Anchor(NamedTuple):
    """The cursor before a change: its sort key, and its line in the body if it was on screen."""

    key: SortKey | None
    line: int | None


class JobTable(ScrollView, can_focus=True):
    """The jobs of one service (or of all services), sorted, filtered, with a cursor and marks."""

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

    empty_text: reactive[str] = reactive("No jobs", repaint=False)
    """Shown, centred and dim, when there are no rows (e.g. "Loading…")."""

    class CursorMoved(Message):
        """The job under the cursor changed, or its content did. `job` is None with no rows."""

        def __init__(self, table: JobTable, job: Job | None) -> None:
            self.table = table
            self.job = job
            super().__init__()

        @property
        def control(self) -> JobTable:
            return self.table

    class Selected(Message):
        """Enter was pressed (or a row double-clicked) on a job."""

        def __init__(self, table: JobTable, job: Job) -> None:
            self.table = table
            self.job = job
            super().__init__()

        @property
        def control(self) -> JobTable:
            return self.table

    class MarksChanged(Message):
        """Jobs were marked or unmarked (what an action applies to changed)."""

        def __init__(self, table: JobTable) -> None:
            self.table = table
            super().__init__()

        @property
        def control(self) -> JobTable:
            return self.table

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
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        clashes = [c.key for c in columns if c.key in FIXED_COLUMNS or c.key in SORT_ONLY_KEYS]
        if clashes:
            raise ValueError(f"column keys clash with built-in columns: {', '.join(clashes)}")
        self._extra = tuple(columns)
        self._clock = clock
        self._show_service = show_service
        if row_key is None:
            row_key = service_row_key if show_service else job_row_key
        self.row_key: RowKey = row_key
        """A job's identity in this table (`get_job`, `move_cursor`... take it)."""
        self._data = _Rows(self._search_text, row_key)
        self._reverse = reverse
        self._check_sort_key(sort)
        self._data.sort(sort)
        self._cursor: str | None = None
        self._marks: set[str] = set()
        self._slow: frozenset[str] = frozenset()
        """Row keys of the running jobs the journal found overdue (marked `SLOW_MARK`)."""
        self._announced: Job | None = None
        self._strips: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._header: Strip | None = None
        self._layout: _Layout | None = None
        self._offset_x = 0
        """How far the columns right of the frozen ones are scrolled, in cells."""
        self._styles: _Styles | None = None
        self._now: float | None = None
        self._widths = {"id": 4, "state": 5, "type": 4}
        self.set_reactive(JobTable.empty_text, empty_text)

    # -- watchers -----------------------------------------------------------------------------

    def watch_empty_text(self) -> None:
        if not self._data.rows:
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_rendering()

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
        self._rows_changed(anchor)

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
        self.post_message(self.MarksChanged(self))

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
            self.post_message(self.MarksChanged(self))

    def refresh_ages(self) -> None:
        """Repaint the rows on screen so that the Updated ages follow the clock.

        The table runs no timer; its owner calls this on its own tick. Only the lines whose age
        text changed are repainted, so an idle table writes nothing to the terminal.
        """
        rows = self._data.rows
        if not rows or not self.is_mounted:
            return
        now = _timestamp(self._clock())
        top = int(self.scroll_y)
        for line in range(1, self.size.height):
            index = top + line - 1
            if index >= len(rows):
                break
            job_id = rows[len(rows) - 1 - index if self._reverse else index]
            cached = self._strips.get(job_id)
            updated = _timestamp(_updated(self._data.jobs[job_id]))
            age = "" if updated is None or now is None else relative_age(now - updated)
            if cached is None or cached[0][3] != age:
                self.refresh(Region(0, line, self.size.width, 1))

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
            return self._empty_strip(y, layout, styles)
        index = int(self.scroll_y) + y - 1
        if index >= len(rows):
            return Strip.blank(layout.width, styles.base)
        job_id = rows[len(rows) - 1 - index if self._reverse else index]
        return self._in_view(self._row_strip(job_id, layout, styles), layout)

    @property
    def column_offset(self) -> int:
        """How far the columns right of the ID are scrolled, in cells (0: not scrolled)."""
        return self._offset_x

    def _in_view(self, strip: Strip, layout: _Layout) -> Strip:
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

    def _header_in_view(self, layout: _Layout, styles: _Styles) -> Strip:
        header = self._in_view(self._header_strip(layout, styles), layout)
        if self._offset_x >= layout.max_offset:
            return header
        more = Strip([Segment(MORE_RIGHT, styles.header)])
        return Strip.join([header.crop(0, layout.width - 1), more])

    def _begin_pass(self) -> None:
        """Read the styles, the width and the time once per render pass."""
        styles = self._read_styles()
        if styles != self._styles:
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
        self._now = _timestamp(self._clock())

    def _read_styles(self) -> _Styles:
        def full(name: str) -> Style:
            return self.get_component_styles(f"job-table--{name}").rich_style

        def partial(name: str) -> Style:
            return self.get_component_styles(f"job-table--{name}").partial_rich_style

        return _Styles(
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

    def _make_layout(self, width: int) -> _Layout:
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
        cells: list[_Cell] = []
        x = MARKER_WIDTH
        frozen = x
        for key, title, cell_width in (*shown, *(s for s in specs if s in hidden)):
            cells.append(_Cell(key, title, x, cell_width))
            x += cell_width + 1
            if key in ("service", "id"):
                frozen = x
        if frozen > width - MESSAGE_ROOM:  # too narrow to keep the ID in place: all scrolls
            frozen = MARKER_WIDTH
        # Scrolled to the end, the first column after the frozen ones starts whole: the row
        # ends in blank cells rather than begin with the tail of a cut column.
        beyond = x - 1 - width  # no gap after the last column
        if beyond <= 0:
            return _Layout(width, tuple(cells), frozen, width)
        end = min((c.x - frozen for c in cells if c.x - frozen >= beyond), default=beyond)
        return _Layout(width, tuple(cells), frozen, width + end)

    def _header_strip(self, layout: _Layout, styles: _Styles) -> Strip:
        if self._header is None:
            arrow = " ▼" if self._reverse else " ▲"
            parts = [" " * MARKER_WIDTH]
            for cell in layout.cells:
                title = cell.title + arrow if cell.key == self._data.column else cell.title
                parts.append(fit(title, cell.width) + " ")
            text = "".join(parts)
            self._header = self._finish([Segment(text, styles.header)], layout, styles.header)
        return self._header

    def _empty_strip(self, y: int, layout: _Layout, styles: _Styles) -> Strip:
        middle = max(1, (self.size.height + 1) // 2)
        if y != middle or not self.empty_text:
            return Strip.blank(layout.width, styles.base)
        text = fit(self.empty_text, layout.width).strip()
        left = max(0, (layout.width - cell_len(text)) // 2)
        segments = [Segment(" " * left, styles.base), Segment(text, styles.base + styles.empty)]
        return Strip(segments).adjust_cell_length(layout.width, styles.base)

    def _row_strip(self, job_id: str, layout: _Layout, styles: _Styles) -> Strip:
        job = self._data.jobs[job_id]
        cursor = job_id == self._cursor
        marked = job_id in self._marks
        slow = job_id in self._slow and job.state is JobState.RUNNING
        updated = _timestamp(_updated(job))
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
        layout: _Layout,
        styles: _Styles,
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
                text = _state_text(job)
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
    def _finish(segments: list[Segment], layout: _Layout, style: Style) -> Strip:
        """A whole row (`_in_view` cuts out what the view shows)."""
        return Strip(segments).adjust_cell_length(layout.total, style)

    # -- internals ----------------------------------------------------------------------------

    def _search_text(self, job: Job) -> str:
        """The text a filter searches: every cell but Updated, one line per cell, lowercase."""
        progress = "" if job.progress is None else f"{job.progress:.0f}%"
        text = f"{job.id}\n{_state_text(job)}\n{job.type}\n{progress}\n{job.message}"
        if self._show_service:
            text = f"{job.service}\n{text}"
        if self._extra:
            extra = job.extra
            text = "\n".join([text, *(extra.get(c.key, "") for c in self._extra)])
        return text.lower()

    def _check_sort_key(self, column: str | None) -> None:
        known = {*FIXED_COLUMNS, *SORT_ONLY_KEYS, *(c.key for c in self._extra)}
        if column is not None and column not in known:
            raise ValueError(f"no column {column!r} to sort by")

    def _fit_widths(self, jobs: Collection[Job], *, shrink: bool) -> None:
        """Size ID, State and Type to their longest text (bounded); grow only on updates."""
        widths = {"id": 4, "state": 5, "type": 4} if shrink else dict(self._widths)
        texts: tuple[tuple[str, int, Callable[[Job], str]], ...] = (
            ("id", 36, attrgetter("id")),
            ("state", 16, _state_text),
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

    def _anchor(self) -> _Anchor:
        """Where the cursor is before a change: its sort key and its line on screen."""
        cursor = self._cursor
        if cursor is None:
            return _Anchor(None, 0)
        row = self._display_index(cursor)
        line = None if row is None else row - int(self.scroll_y)
        if line is not None and not 0 <= line < self._body_height():
            line = None
        return _Anchor(self._data.keys.get(cursor), line)

    def _rows_changed(self, anchor: _Anchor) -> None:
        """Re-seat the cursor after the rows changed, keep it on its line, repaint, announce.

        If the cursor's job is gone, the cursor goes to the row that took its place. If the
        cursor was on screen, the view scrolls so that it stays on the same screen line.
        """
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
        self.virtual_size = Size(0, len(rows) + 1)
        self.refresh()
        row = self._display_index(self._cursor)
        if anchor.line is not None and row is not None and self.is_mounted:
            self.scroll_to(y=max(0, row - anchor.line), animate=False, force=True)
            self._scroll_to_cursor()
        self._announce()

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
            self.post_message(self.CursorMoved(self, job))

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
            self.post_message(self.MarksChanged(self))

    # -- events -------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

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
        layout = self._current_layout()
        if layout.max_offset == 0:
            return False
        step = parameters[0]
        can = self._offset_x < layout.max_offset if step == 1 else self._offset_x > 0
        return True if can else None

    def action_scroll_columns(self, step: int) -> None:
        """Scroll to where the next (1) or the previous (-1) column starts."""
        stops = self._current_layout().stops()
        if step > 0:
            target = next((stop for stop in stops if stop > self._offset_x), self._offset_x)
        else:
            target = next((stop for stop in reversed(stops) if stop < self._offset_x), 0)
        self._scroll_columns_to(target)

    def action_scroll_page(self, step: int) -> None:
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

    def _current_layout(self) -> _Layout:
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
