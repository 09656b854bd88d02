"""The server-side filters and sort of Leia's `GET /job`: `LeiaFilters` as query parameters, and
`parse_filters` from the text of a form (`InputError` names the field at fault)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from jobtui.core.errors import InputError
from jobtui.core.format import shown_value
from jobtui.services.leia.wire import LeiaJobType, LeiaStatus

E = TypeVar("E", bound=StrEnum)

SORT_FIELDS = (
    "submitter_id",
    "application_id",
    "creation_time",
    "starting_time",
    "finished_time",
    "job_type",
    "model_id",
    "document_ids",
    "status",
    "parent_job_id",
)


def wire_datetime(moment: datetime) -> str:
    """A query date-time as the server wants it: naive UTC, whole seconds, `yyyy-MM-ddThh:mm:ss`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class LeiaFilters:
    """The server-side filters and sort of `GET /job`. Empty fields are not sent."""

    job_id: str | None = None
    application_id: str | None = None
    job_type: LeiaJobType | None = None
    model_id: str | None = None
    document_id: str | None = None
    execute_after_id: str | None = None
    parent_job_id: str | None = None
    status: LeiaStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort: tuple[str, ...] = ()
    """Sort fields in order, each optionally prefixed with `-` for descending."""

    def params(self) -> dict[str, str]:
        """Query parameters for httpx (which URL-encodes them)."""
        out: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or value == "" or value == ():
                continue
            if isinstance(value, datetime):
                out[spec.name] = wire_datetime(value)
            elif isinstance(value, StrEnum):
                out[spec.name] = value.value
            elif isinstance(value, tuple):
                out[spec.name] = ",".join(value)
            else:
                out[spec.name] = str(value)
        return out

    def describe(self) -> str:
        """One line for a status bar: `status=PROCESSING job_type=predict sort=-creation_time`."""
        return " ".join(f"{k}={v}" for k, v in self.params().items())

    def __bool__(self) -> bool:
        return bool(self.params())


FILTER_FIELDS = tuple(spec.name for spec in fields(LeiaFilters))


def _parse_time(name: str, text: str) -> datetime:
    value = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            name, f"not a date-time: {shown_value(text)} (use yyyy-mm-ddThh:mm:ss, UTC)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_sort(text: str) -> tuple[str, ...]:
    """`-creation_time, status` -> ('-creation_time', 'status'); unknown fields are refused."""
    keys: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name = part.removeprefix("-").removeprefix("+").strip()
        if name not in SORT_FIELDS:
            raise InputError("sort", f"cannot sort by {name!r}; use {', '.join(SORT_FIELDS)}")
        keys.append(f"-{name}" if part.startswith("-") else name)
    return tuple(keys)


def _choice(name: str, enum: type[E], value: str, text: str, noun: str) -> E:
    """`value` as a member of `enum`; `InputError` shows `text` as typed and every allowed value."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InputError(name, f"{shown_value(text)} is not {noun} ({allowed})") from None


def parse_filters(values: Mapping[str, str]) -> LeiaFilters:
    """Filters from form text (blank values are ignored); `InputError` names the bad field."""
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        text = (raw or "").strip()
        if name not in FILTER_FIELDS:
            raise InputError(name, "unknown filter")
        if not text:
            continue
        if name == "status":
            kwargs[name] = _choice(name, LeiaStatus, text.upper(), text, "a status")
        elif name == "job_type":
            kwargs[name] = _choice(name, LeiaJobType, text.lower(), text, "a job type")
        elif name in ("created_after", "created_before"):
            kwargs[name] = _parse_time(name, text)
        elif name == "sort":
            kwargs[name] = parse_sort(text)
        else:
            kwargs[name] = text
    filters = LeiaFilters(**kwargs)
    if (
        filters.created_after is not None
        and filters.created_before is not None
        and filters.created_after >= filters.created_before
    ):
        raise InputError("created_before", "must be later than created_after")
    return filters


__all__ = [
    "FILTER_FIELDS",
    "SORT_FIELDS",
    "LeiaFilters",
    "parse_filters",
    "parse_sort",
    "wire_datetime",
]
