"""Paged lists: the total a `Content-Range` header announces, the cap on the jobs a service lists
(`Limits.max_jobs`), and reading every page of a list until it ends."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from jobtui.services._http import limits

T = TypeVar("T")

_RANGE = re.compile(r"(?<!\d)(\d{1,18})\s*-\s*(\d{1,18})\s*/\s*(\d{1,18}(?!\d)|\*)")


def parse_content_range(value: str | None) -> int | None:
    """The total of `Content-Range: first-last/total`, read leniently (any unit prefix, even a
    repeated header name); None when absent or unknown (`*`)."""
    if not value:
        return None
    match = _RANGE.search(value)
    if match is None or match.group(3) == "*":
        return None
    return int(match.group(3))


def pages_needed(total: int, page_size: int) -> int:
    """How many requests a full listing of `total` items takes, `page_size` a page (at least
    one)."""
    return max(1, math.ceil(total / page_size))


def capped(jobs: list[T], total: int | None) -> tuple[list[T], int | None]:
    """At most `Limits.max_jobs` of `jobs`; when cut, the total says how many there were."""
    cap = limits().max_jobs
    if len(jobs) <= cap:
        return jobs, total
    return jobs[:cap], max(total or 0, len(jobs))


async def every_page(
    page: Callable[[int], Awaitable[tuple[Sequence[T], int | None]]],
    key: Callable[[T], Hashable],
    first: tuple[Sequence[T], int | None] | None = None,
) -> tuple[list[T], int | None]:
    """Every item of a paged list: `page(offset)` gives the items from `offset` and the total
    the server announced (or None); `first` is the first page when it was read already. Relies
    only on that total and on how many items each page holds (a server may send fewer than
    asked). Ends at a page that adds no new item (by `key`), and at `Limits.max_jobs` items (a
    server paging for ever)."""
    items: dict[Hashable, T] = {}
    offset = 0
    total: int | None = None
    cap = limits().max_jobs
    while len(items) < cap:
        if first is not None:
            (found, announced), first = first, None
        else:
            found, announced = await page(offset)
        if announced is not None:
            total = announced
        new = [item for item in found if key(item) not in items]
        if not new:
            break  # the end, or a server that ignores the offset: nothing new to read
        for item in new[: cap - len(items)]:
            items[key(item)] = item
        offset += len(found)
        if total is not None and offset >= total:
            break
    return list(items.values()), total


__all__ = ["capped", "every_page", "pages_needed", "parse_content_range"]
