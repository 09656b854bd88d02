"""The bsub.io upload: the multipart body streamed to a file on disk as it arrives."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO


class MalformedMultipartError(Exception):
    pass


PartEvent = tuple[str, Any]


class MultipartReader:
    """An incremental multipart/form-data parser: feed it chunks, get part events back.

    Events: ("part", {header: value}) when a part's headers are read, ("data", bytes) for each piece
    of its body, ("end", None) when it ends. Only a few bytes are ever buffered between chunks.
    """

    _PREAMBLE, _AFTER, _HEADERS, _DATA, _DONE = range(5)

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"--" + boundary
        self.separator = b"\r\n--" + boundary
        self.buffer = bytearray()
        self.state = self._PREAMBLE

    @property
    def done(self) -> bool:
        return self.state == self._DONE

    def feed(self, data: bytes) -> list[PartEvent]:
        self.buffer += data
        events: list[PartEvent] = []
        buf = self.buffer
        while True:
            if self.state == self._PREAMBLE:
                i = buf.find(self.delimiter)
                if i < 0:
                    keep = len(self.delimiter) - 1
                    if len(buf) > keep:
                        del buf[: len(buf) - keep]
                    return events
                del buf[: i + len(self.delimiter)]
                self.state = self._AFTER
            elif self.state == self._AFTER:
                if len(buf) < 2:
                    return events
                if buf[:2] == b"--":
                    self.state = self._DONE
                    continue
                i = buf.find(b"\r\n")
                if i < 0:
                    if len(buf) > 1024:
                        raise MalformedMultipartError("bad boundary line")
                    return events
                del buf[: i + 2]
                self.state = self._HEADERS
            elif self.state == self._HEADERS:
                if buf[:2] == b"\r\n":
                    end, skip = 0, 2
                else:
                    end, skip = buf.find(b"\r\n\r\n"), 4
                if end < 0:
                    if len(buf) > 16384:
                        raise MalformedMultipartError("part headers too long")
                    return events
                text = bytes(buf[:end]).decode("utf-8", errors="replace")
                del buf[: end + skip]
                headers: dict[str, str] = {}
                for line in text.split("\r\n"):
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                events.append(("part", headers))
                self.state = self._DATA
            elif self.state == self._DATA:
                i = buf.find(self.separator)
                if i < 0:
                    safe = len(buf) - (len(self.separator) - 1)
                    if safe > 0:
                        events.append(("data", bytes(buf[:safe])))
                        del buf[:safe]
                    return events
                if i:
                    events.append(("data", bytes(buf[:i])))
                del buf[: i + len(self.separator)]
                events.append(("end", None))
                self.state = self._AFTER
            else:
                buf.clear()
                return events


def disposition(value: str) -> dict[str, str]:
    """The parameters of a Content-Disposition value: `form-data; name="file"; filename="a"`."""
    params: dict[str, str] = {}
    for piece in _split_params(value)[1:]:
        key, sep, raw = piece.partition("=")
        if not sep:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.strip().lower()] = raw
    return params


def _split_params(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def boundary_of(content_type: str) -> bytes | None:
    kind, _, _ = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    params = disposition(content_type)
    boundary = params.get("boundary")
    return boundary.encode("latin-1") if boundary else None


class UploadSink:
    """Where an upload goes while it arrives: a file in the upload directory."""

    def __init__(self, directory: Path) -> None:
        handle, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
        self.path = Path(name)
        self.file: BinaryIO | None = os.fdopen(handle, "wb")
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        if self.file is not None:
            self.file.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
