"""The mapping of a bulk ingest: `mapping.csv`, one row per ingested file (the original's path
under the upload folder, the derivative's name). Read as UTF-8 text with every line cleaned,
parsed with the csv module, and saved as the server sent it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from jobtui.core.errors import BadPayloadError
from jobtui.core.text import clean_lines
from jobtui.services.download import local_error, write_file

MAPPING_HEADER = ("original", "derivative")


def parse_mapping(service: str, text: str) -> list[tuple[str, str]]:
    """The rows of a mapping.csv body, header excluded; `BadPayloadError` unless it starts with
    the header `original,derivative` and every row has two values."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.startswith("original,derivative"):
        raise BadPayloadError(service, "mapping.csv does not start with original,derivative")
    rows: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    for row in reader:
        if not row or row == [""]:
            continue
        if len(row) != 2:
            raise BadPayloadError(
                service, f"mapping.csv line {reader.line_num}: {len(row)} values instead of 2"
            )
        rows.append((row[0], row[1]))
    return rows


def mapping_text(service: str, content: bytes) -> str:
    """The body of mapping.csv as text, each line cleaned; `BadPayloadError` unless UTF-8."""
    try:
        return clean_lines(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadPayloadError(service, "mapping.csv is not UTF-8 text") from None


def write_mapping(dest: Path, data: bytes, overwrite: bool) -> Path:
    """Write a mapping file, making its folder first when it does not exist yet."""
    dest = Path(dest).expanduser()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise local_error(dest, error) from None
    return write_file(dest, data, overwrite=overwrite)
