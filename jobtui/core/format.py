"""Small text formats shared by the services and the UI."""

from __future__ import annotations

from pathlib import Path


def human_size(size: float | None) -> str:
    """1536 -> "1.5 KiB"; None -> ""."""
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


_COUNTS = tuple(str(n) for n in range(1024))


def count_text(n: int) -> str:
    """`str(n)`, one shared string for the small counts every job shows (no new string per job)."""
    return _COUNTS[n] if 0 <= n < len(_COUNTS) else str(n)


MAX_SHOWN_PATH = 80


def shown_path(path: Path | str) -> str:
    """A path for a one-line message: its end, after an ellipsis, when it is too long to read."""
    text = str(path)
    if len(text) <= MAX_SHOWN_PATH:
        return text
    return "…" + text[-(MAX_SHOWN_PATH - 1) :]


MAX_SHOWN_VALUE = 20


def shown_value(text: str) -> str:
    """A typed value quoted for a one-line message: its start, after which an ellipsis, if long."""
    value = text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE] + "…"
    return repr(value)


def span(seconds: float) -> str:
    """A duration as the timeline and the statistics show it: "42 s", "14 min", "3 h 05 min",
    "2 d 4 h"."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"
