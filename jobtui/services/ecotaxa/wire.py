"""EcoTaxa's wire: the JobModel and the caller as the server sends them, its state letters, and
the parse of each answer's body.

States. EcoTaxa sends one letter. `Job.raw_state` holds the readable word the table shows
(pending, running, asking, error, finished); the letter stays in `Job.raw["state"]`. An unknown
letter is shown as sent (and maps to UNKNOWN, `service.py`).

Every string is cleaned once, here, where the body is parsed (`jobtui.core.text`, through
`services/_wire.py`); the fields of several lines (`errors`, a crash's traceback) keep their
newlines. A file name from the server is one cleaned path component (`safe_file_name`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, TypeAdapter

from jobtui.services._wire import (
    DEFERRED,
    SHARED,
    Wire,
    WireShared,
    WireText,
    lenient_time,
    number,
    parse_body,
    shared_fields_set,
    texts_or_json,
)
from jobtui.services._wire import text as _text
from jobtui.services.download import component

# -- states and types ---------------------------------------------------------------------------

STATE_WORDS: Mapping[str, str] = {
    "P": "pending",
    "R": "running",
    "A": "asking",
    "E": "error",
    "F": "finished",
}
"""The word shown for each state letter."""

EXPORT_TYPES = frozenset(
    {"GeneralExport", "SummaryExport", "BackupExport", "GenExport", "DarwinCoreExport"}
)
"""The job types that produce a file (`GET /jobs/{id}/file`) once finished."""

KILLABLE = frozenset({"P", "R", "A"})
"""States in which erase kills the job (it stays listed, as E); in F and E it archives it."""

_WORDS = frozenset(STATE_WORDS.values())


def state_word(letter: str) -> str:
    """The word shown for a state letter: pending, running... or the state itself if unknown,
    marked with "?" when it reads like one of those words (a server sending "asking" instead of
    "A" must not look like a job that is asking)."""
    word = STATE_WORDS.get(letter)
    if word is not None:
        return word
    return f"{letter}?" if letter in _WORDS else letter


# -- wire models --------------------------------------------------------------------------------


def _object(value: Any) -> Any:
    """A JSON object field: null is `{}`, anything that is not an object is kept under "value"."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


def _job_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return value


WireObject = Annotated[dict[str, Any], BeforeValidator(_object)]


def parse_time(text: str | None) -> datetime | None:
    """A JobModel date-time: naive ISO 8601 in UTC (an offset, or `Z`, is honoured too)."""
    moment: datetime | None = lenient_time(text)
    return moment


class EcoTaxaJob(Wire):
    """A JobModel as the server sends it. Only `id` and `type` are required; every other field
    may be missing or null, and unknown fields are kept. Timestamps stay text, as sent."""

    model_config = ConfigDict(frozen=True)
    """Never assigned to: records sent the same fields share one set of their names
    (`shared_fields_set`)."""

    params: WireObject = {}
    result: WireObject = {}
    errors: Annotated[list[str], BeforeValidator(texts_or_json)] = []
    question: WireObject = {}
    reply: WireObject = {}
    inside: WireObject = {}
    id: Annotated[int, BeforeValidator(_job_id)]
    owner_id: Annotated[int | None, BeforeValidator(_job_id)] = None
    type: Annotated[str, BeforeValidator(_text), AfterValidator(SHARED)]
    state: WireShared = None
    step: Any = None
    progress_pct: Annotated[int | float | None, BeforeValidator(number)] = None
    progress_msg: WireShared = None
    creation_date: WireText = None
    updated_on: WireText = None

    @property
    def state_letter(self) -> str:
        return self.state or ""

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self.creation_date)

    @property
    def updated_at(self) -> datetime | None:
        return parse_time(self.updated_on)

    @property
    def missing_users(self) -> list[str]:
        return asked_names(self.question.get("missing_users"))

    @property
    def missing_taxa(self) -> list[str]:
        return asked_names(self.question.get("missing_taxa"))

    @property
    def has_file(self) -> bool:
        """A finished export: `GET /jobs/{id}/file` has something to send."""
        return self.state_letter == "F" and self.type in EXPORT_TYPES

    @property
    def file_name(self) -> str | None:
        """The produced file's name as the server will call it, when it is known."""
        if self.type == "DarwinCoreExport":
            return "dwca.zip"
        out = self.result.get("out_file")
        return safe_file_name(out) if isinstance(out, str) else None

    @property
    def last_error(self) -> str:
        """The last line of `errors` that is not blank: a crash's exception (the errors of a
        crashed job are traceback pieces of several lines each), or the last import error."""
        for item in reversed(self.errors):
            for line in reversed(item.splitlines()):
                if line.strip():
                    return line.strip()
        return ""

    def fingerprint(self) -> tuple[str, str, str]:
        """What an action is expected to change: state, message and question."""
        question = json.dumps(self.question, sort_keys=True, default=str)
        return (self.state_letter, self.progress_msg or "", question)

    def wire(self) -> dict[str, Any]:
        """The record as received (declared fields that were sent, plus every undeclared one)."""
        return self.model_dump(mode="json", exclude_unset=True)


def asked_names(value: Any) -> list[str]:
    """The names of a question's list (`missing_users`, `missing_taxa`): blanks left out."""
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if item is not None and str(item).strip()]


class EcoTaxaUser(Wire):
    """The caller, from `GET /users/me`. `can_do` 2 means application administrator."""

    id: Annotated[int, BeforeValidator(_job_id)]
    email: WireText = None
    name: WireText = None
    organisation: WireText = None
    can_do: list[int] = []

    @property
    def is_admin(self) -> bool:
        return 2 in self.can_do


_LINES = ("errors",)
"""The fields of several lines (a crash's traceback): they keep their newlines when cleaned."""
_JOB = TypeAdapter(EcoTaxaJob)
_JOBS = TypeAdapter(list[EcoTaxaJob], config=DEFERRED)
_USER = TypeAdapter(EcoTaxaUser)
_TOKEN = TypeAdapter(str)


# -- parsing ------------------------------------------------------------------------------------


def parse_job(service: str, content: bytes) -> EcoTaxaJob:
    """The body of `GET /jobs/{id}/`."""
    return parse_body(service, _JOB, content, "job", lines=_LINES)


def parse_jobs(service: str, content: bytes) -> list[EcoTaxaJob]:
    """The body of `GET /jobs/` (records sent the same fields share one set of their names)."""
    jobs = parse_body(service, _JOBS, content, "job list", lines=_LINES)
    shared_fields_set(jobs)
    return jobs


def parse_user(service: str, content: bytes) -> EcoTaxaUser:
    """The body of `GET /users/me`."""
    return parse_body(service, _USER, content, "user", lines=_LINES)


def parse_token(service: str, content: bytes) -> str:
    """The body of `POST /login`: the token, a JSON string (checked further by the client)."""
    return parse_body(service, _TOKEN, content, "login answer (expected a token)", lines=_LINES)


# -- names --------------------------------------------------------------------------------------


def safe_file_name(name: str) -> str | None:
    """The last part of a name from the server, as one cleaned file name (no controls, no
    leading dot, within the file system's length); None when nothing usable is left."""
    return component(name.replace("\\", "/").rsplit("/", 1)[-1])
