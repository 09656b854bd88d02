"""The rows behind the job table: jobs by row key, sorted, filtered; no rendering, no Textual.

`Rows` keeps plain data: a dict of jobs by row key, the keys in sort order, and the visible subset
after the filters. Sort keys and search strings are computed once per job change, and a delta
moves only the jobs that changed (see `Rows.update`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import compress, repeat
from operator import attrgetter, contains, not_

from jobtui.core.models import Column, Job, JobsDelta, JobState

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

BULK_UPDATE = 1000
"""Deltas larger than this re-sort all rows instead of moving each job."""
KEPT_SORTS = 6
"""Columns whose sort keys and order are kept up to date, so sorting by them again is instant."""

_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NUMBER_START = frozenset("+-0123456789")
_STATE_ORDER = {state: index for index, state in enumerate(JobState)}


def timestamp(value: datetime | None) -> float | None:
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


def state_text(job: Job) -> str:
    return job.raw_state or job.state.label


def updated_time(job: Job) -> datetime | None:
    return job.updated or job.created


def _key_func(column: str | None) -> KeyFunc:
    """The sort key of one column (None: insertion order)."""
    if column is None:
        return lambda job, seq: (0, 0.0, "", seq)
    if column == "created":
        return lambda job, seq: _time_key(job.created, seq)
    if column == "updated":
        return lambda job, seq: _time_key(updated_time(job), seq)
    if column == "progress":
        return lambda job, seq: (
            (2, 0.0, "", seq) if job.progress is None else (0, job.progress, "", seq)
        )
    if column == "state":
        return lambda job, seq: (_STATE_ORDER[job.state], 0.0, state_text(job).lower(), seq)
    if column == "id":
        return lambda job, seq: _text_key(job.id, seq)
    if column == "service":
        return lambda job, seq: _text_key(job.service, seq)
    if column == "type":
        return lambda job, seq: _text_key(job.type, seq)
    if column == "message":
        return lambda job, seq: _text_key(job.message, seq)
    return lambda job, seq: _text_key(job.extra.get(column, ""), seq)


def search_text_of(columns: Sequence[Column], *, show_service: bool) -> Callable[[Job], str]:
    """The text a filter searches in a job: every cell but Updated, one line per cell, lowercase.

    `columns` are the service's own columns; `show_service` adds the Service column.
    """

    def search_text(job: Job) -> str:
        progress = "" if job.progress is None else f"{job.progress:.0f}%"
        text = f"{job.id}\n{state_text(job)}\n{job.type}\n{progress}\n{job.message}"
        if show_service:
            text = f"{job.service}\n{text}"
        if columns:
            extra = job.extra
            text = "\n".join([text, *(extra.get(c.key, "") for c in columns)])
        return text.lower()

    return search_text


class Rows:
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
            if len(fresh) == len(incoming) and not delta.removed:
                self._add_sorted(fresh)
            else:
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

    def _add_sorted(self, fresh: list[str]) -> None:
        """Add new ids only (no other row moved): when they all sort after the last row or
        before the first (the rest of a long list, in the server's order, by insertion order or
        time), the rows are extended without sorting them all again."""
        keys = self.keys
        fresh.sort(key=keys.__getitem__)
        order = self.order
        if not order or keys[fresh[0]] > keys[order[-1]]:
            self.order = self._orders[self.column] = order + fresh
        elif keys[fresh[-1]] < keys[order[0]]:
            self.order = self._orders[self.column] = fresh + order
        else:
            self._resort(order + fresh)
            return
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
