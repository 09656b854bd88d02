"""The question an asking EcoTaxa import puts, and the answer jobtui sends back.

A FileImport job stops in A (asking) when its file names users or taxa the server does not know:
its `question` lists the `missing_users` and `missing_taxa`. The answer maps each of those names
to an id (`users` and `taxa`, taxon names lower case); a name left out is asked again.
`AnswerForm` is that question as a form (one field per name) and parses the typed ids;
`checked_ids` checks the maps a caller hands to `EcoTaxaService.answer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobtui.core.errors import InputError
from jobtui.core.format import shown_value
from jobtui.core.models import Job
from jobtui.services.ecotaxa.wire import asked_names


@dataclass(frozen=True, slots=True)
class AnswerField:
    """One line of the answer form: a name from the question and the id it maps to."""

    group: str
    """"users" or "taxa"."""
    name: str
    """The name as the job's file spells it (taxon names are lower case)."""

    @property
    def key(self) -> str:
        """The field's name in `InputError`s: `users[marie dupont]`, `taxa[ozzeur]`."""
        return f"{self.group}[{self.name}]"

    @property
    def label(self) -> str:
        return f"user {self.name!r}" if self.group == "users" else f"taxon {self.name!r}"


MAX_ID = 2**31 - 1
"""The largest id EcoTaxa stores (its ids are 32-bit integers)."""


def parse_id(field: str, text: str) -> int | None:
    """An id typed in a form: None when blank, else a positive whole number (`InputError`)."""
    value = text.strip()
    if not value:
        return None
    if not value.isdigit() or not value.isascii():
        raise InputError(field, f"{shown_value(value)} is not a whole number")
    if len(value) > len(str(MAX_ID)) or int(value) > MAX_ID:
        raise InputError(field, f"is too large (ids go up to {MAX_ID})")
    number = int(value)
    if number <= 0:
        raise InputError(field, "must be a positive number")
    return number


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """The question of an asking FileImport job, as a form: one id per missing user and taxon.

    `parse` turns the typed text into the reply's two maps (blank fields are left out: the job
    then asks again for those names)."""

    job_id: str
    missing_users: tuple[str, ...] = ()
    missing_taxa: tuple[str, ...] = ()

    @classmethod
    def from_question(cls, job_id: str, question: Mapping[str, Any]) -> AnswerForm:
        return cls(
            job_id,
            tuple(asked_names(question.get("missing_users"))),
            tuple(asked_names(question.get("missing_taxa"))),
        )

    @classmethod
    def for_job(cls, job: Job) -> AnswerForm:
        question = job.raw.get("question")
        return cls.from_question(job.id, question if isinstance(question, Mapping) else {})

    @property
    def fields(self) -> tuple[AnswerField, ...]:
        return tuple(AnswerField("users", n) for n in self.missing_users) + tuple(
            AnswerField("taxa", n) for n in self.missing_taxa
        )

    @property
    def empty(self) -> bool:
        """No question to answer (the job is not asking, or asks for nothing)."""
        return not (self.missing_users or self.missing_taxa)

    def parse(
        self,
        users: Mapping[str, str],
        taxa: Mapping[str, str],
        *,
        require_all: bool = False,
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The reply's `users` and `taxa` maps from the typed text, keyed by the names of the
        question. `InputError` names the field (`users[name]`) of the first bad value."""
        out: dict[str, dict[str, int]] = {"users": {}, "taxa": {}}
        for group, typed, asked in (
            ("users", users, self.missing_users),
            ("taxa", taxa, self.missing_taxa),
        ):
            for name in typed:
                if name not in asked:
                    raise InputError(f"{group}[{name}]", "this name is not in the question")
            for name in asked:
                field = AnswerField(group, name)
                value = parse_id(field.key, typed.get(name, ""))
                if value is None:
                    if require_all:
                        raise InputError(field.key, "an id is required")
                    continue
                out[group][name.lower() if group == "taxa" else name] = value
        if not out["users"] and not out["taxa"] and not self.empty:
            first = self.fields[0]
            raise InputError(first.key, "give the id of at least one name")
        return out["users"], out["taxa"]


def checked_ids(group: str, ids: Mapping[str, int]) -> dict[str, int]:
    """The ids of one map of a reply, each a positive whole number (`InputError` names the
    field, `users[name]`, of the first that is not)."""
    out: dict[str, int] = {}
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(f"{group}[{name}]", "must be a positive whole number")
        out[str(name)] = value
    return out
