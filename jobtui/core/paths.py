"""Relative paths as servers see them, without touching the disk."""

from __future__ import annotations

from collections.abc import Iterable


def normalize_parts(parts: Iterable[str]) -> list[str]:
    """A split path normalized like java.nio's `Path.normalize` (empty and `.` parts dropped,
    `..` removing its parent where there is one)."""
    out: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == ".." and out and out[-1] != "..":
            out.pop()
        else:
            out.append(part)
    return out
