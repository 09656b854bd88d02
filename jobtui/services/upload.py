"""Files read from disk for an upload: the size of the pieces sent, and the file opened to read
(in a worker thread: opening a file on a network file system may block)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

UPLOAD_CHUNK = 256 * 1024
"""Bytes read from a file and sent at a time."""


def open_read(path: Path) -> BinaryIO:
    """`path` opened to read its bytes (`OSError` when it cannot be)."""
    return path.open("rb")


__all__ = ["UPLOAD_CHUNK", "open_read"]
