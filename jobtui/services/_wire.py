"""Lenient field parsers shared by the services' wire models, and the one-line form of a
validation error. Every service keeps what the server sent whenever it can be read at all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from jobtui.core.errors import BadPayloadError


def lenient_time(value: Any) -> Any:
    """A date-time as the server wrote it (`Z`, an offset, or naive UTC); anything else is None."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def text(value: Any) -> Any:
    """A number where text was expected is kept as its text; anything else is left to the model."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def errors_line(error: ValidationError) -> str:
    """The first problem of a body that did not validate, as "where: what"."""
    first = error.errors()[0] if error.errors() else None
    if not first:
        return "unexpected body"
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where or 'body'}: {first.get('msg', 'invalid')}"


def parse_body(service: str, adapter: TypeAdapter[Any], content: bytes, what: str) -> Any:
    """Validate a response body; a body that does not fit is one `BadPayloadError` line."""
    try:
        return adapter.validate_json(content)
    except ValidationError as error:
        if content.lstrip()[:1] == b"<":
            raise BadPayloadError(service, f"unexpected {what}: an HTML page, not JSON") from None
        raise BadPayloadError(service, f"unexpected {what}: {errors_line(error)}") from None
