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
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, TypeAdapter
from pydantic_core import PydanticSerializationError

from jobtui.core.errors import BadPayloadError
from jobtui.core.text import clean_tree, suspect
from jobtui.services._wire import (
    DEFERRED,
    SHARED,
    Wire,
    WireShared,
    WireText,
    array_items,
    lenient_time,
    number,
    parse_body,
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
    """Never assigned to."""

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


# -- what a listing keeps ---------------------------------------------------------------------


def project_of(params: Mapping[str, Any]) -> str:
    """The project (or collection) a job works on, from its params."""
    req = params.get("req")
    req = req if isinstance(req, Mapping) else {}
    for value in (params.get("prj_id"), req.get("project_id")):
        if value not in (None, ""):
            return f"prj {value}"
    for value in (params.get("collection_id"), req.get("collection_id")):
        if value not in (None, ""):
            return f"coll {value}"
    return ""


_NOTHING_ASKED = (0, 0)


class EcoTaxaRecord:
    """A job as a listing keeps it: the validated `EcoTaxaJob` as pydantic's compact JSON (made
    in Rust from the clean model, so it holds only clean text), compressed by zlib, plus what
    the service reads to make its `Job` (the project, the last error of a job without a message,
    how many names a question asks for). Decoded again only when the whole record is looked at
    (`wire`: the detail pane, `jobtui show`, the journal; `model`: an action's checks).

    A model of an emulator record (660 bytes of JSON, a third of them with a traceback) costs
    about 2,450 bytes: its field dict, six dicts and lists of what was sent, and a fresh copy of
    every text. This costs about 750: some 380 of compressed JSON, 150 of slots, 75 of the
    update time as sent and 100 of the times, which are the very objects the `Job` holds. Its
    texts that repeat (type, state, message, project) are shared (`WireShared`).
    """

    __slots__ = (
        "_json",
        "asked",
        "created_at",
        "id",
        "last_error",
        "owner_id",
        "progress_msg",
        "progress_pct",
        "project",
        "state",
        "type",
        "updated_at",
        "updated_on",
    )

    def __init__(self, job: EcoTaxaJob, dumped: bytes | None = None) -> None:
        self.id: int = job.id
        self.owner_id: int | None = job.owner_id
        self.type: str = job.type
        self.state: str | None = job.state
        self.progress_pct: int | float | None = job.progress_pct
        self.progress_msg: str | None = job.progress_msg
        self.updated_on: str | None = job.updated_on
        self.created_at: datetime | None = job.created_at
        self.updated_at: datetime | None = job.updated_at
        self.project: str = SHARED(project_of(job.params))
        self.last_error: str = "" if (job.progress_msg or "").strip() else job.last_error
        """The last error line, kept only for a job without a message (the table shows it)."""
        users, taxa = len(job.missing_users), len(job.missing_taxa)
        self.asked: tuple[int, int] = (users, taxa) if users or taxa else _NOTHING_ASKED
        """How many user names and taxon names its question asks to map."""
        if dumped is None:
            dumped = _JOB.dump_json(job, exclude_unset=True)
        self._json: bytes = zlib.compress(dumped, 1)
        """The whole record, as `EcoTaxaJob.wire` gives it, in compressed JSON."""

    @classmethod
    def of(cls, job: EcoTaxaJob | EcoTaxaRecord) -> EcoTaxaRecord:
        return job if isinstance(job, EcoTaxaRecord) else cls(job)

    @property
    def state_letter(self) -> str:
        return self.state or ""

    @property
    def has_file(self) -> bool:
        """A finished export: `GET /jobs/{id}/file` has something to send."""
        return self.state_letter == "F" and self.type in EXPORT_TYPES

    @property
    def file_name(self) -> str | None:
        return self.model().file_name

    @property
    def question(self) -> dict[str, Any]:
        return self.model().question

    def fingerprint(self) -> tuple[str, str, str]:
        """What an action is expected to change (`EcoTaxaJob.fingerprint`)."""
        return self.model().fingerprint()

    def same_as(self, other: EcoTaxaRecord) -> bool:
        """Whether both records were sent the same (another answer, the same job unchanged)."""
        return self._json == other._json

    def wire(self) -> dict[str, Any]:
        """The record as received: what `EcoTaxaJob.wire` gave (the fields that were sent, in
        the same order, with the same values)."""
        data: dict[str, Any] = json.loads(zlib.decompress(self._json))
        return data

    def model(self) -> EcoTaxaJob:
        """The record validated again as the model it was made from."""
        return _JOB.validate_json(zlib.decompress(self._json))

    def __repr__(self) -> str:
        return f"EcoTaxaRecord({zlib.decompress(self._json).decode()})"


# -- parsing ------------------------------------------------------------------------------------


def parse_job(service: str, content: bytes) -> EcoTaxaJob:
    """The body of `GET /jobs/{id}/`."""
    return parse_body(service, _JOB, content, "job", lines=_LINES)


def parse_jobs(service: str, content: bytes, *, first_part: bool = False) -> list[EcoTaxaRecord]:
    """The body of `GET /jobs/`, each job validated then kept as an `EcoTaxaRecord`.

    The list is read one job at a time (`array_items`): each is validated, then its strings are
    made clean: a record whose compact JSON may hold a string that `clean` would change
    (`jobtui.core.text.suspect`: a traceback's newlines, a control character) is cleaned and
    validated again. Only one job's dicts and model are alive at a time, beside the records made
    so far. A body that is not a list of jobs goes through `parse_body`, which gives its error
    in one line (or its jobs, once cleaned: text that validated as sent but not once cleaned).

    With `first_part`, `content` is the start of a list: the jobs it holds whole (the one it
    cuts is left out); none when they do not validate."""
    records: list[EcoTaxaRecord] = []
    try:
        for item in array_items(content):
            records.append(_record(_JOB.validate_python(item)))
    except json.JSONDecodeError:
        if first_part:  # where the part cuts a job
            return records
        records.clear()
    except (ValueError, RecursionError):  # a ValidationError is a ValueError
        if first_part:
            return []
        records.clear()
    else:
        return records
    cleaned: list[EcoTaxaJob] = parse_body(service, _JOBS, content, "job list", lines=_LINES)
    try:
        return [_record(model) for model in cleaned]
    except (PydanticSerializationError, ValueError, RecursionError):
        raise BadPayloadError(service, "unexpected job list: a job could not be read") from None


def _record(model: EcoTaxaJob) -> EcoTaxaRecord:
    """The record of a validated model, its strings clean (see `parse_jobs`)."""
    dumped = _JOB.dump_json(model, exclude_unset=True)
    if suspect(dumped):
        model = _JOB.validate_python(clean_tree(json.loads(dumped), _LINES))
        dumped = _JOB.dump_json(model, exclude_unset=True)
    return EcoTaxaRecord(model, dumped)


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
