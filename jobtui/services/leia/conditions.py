"""Leia's conditional jobs: the ConditionalBody of `POST /job/conditional/{execute_after_id}`
checked before anything is sent (`InputError("rules", ...)` names the rule and the job at fault),
from JSON text (`validate_rules`) or from the one-rule form (`RuleForm`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from jobtui.core.errors import InputError
from jobtui.core.models import Job

TRANSFORM_TYPES = (
    "text",
    "text_tree",
    "image",
    "autorotate",
    "trim",
    "merge",
    "split",
    "transcode",
)
CONDITION_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
RULE_JOB_TYPES = ("apply_model", "transform")

_BODY_KEYS = frozenset({"rules", "callback_url", "callback_headers", "block_processing"})
_RULE_KEYS = frozenset({"conditions", "jobs"})
_JOB_KEYS = frozenset(
    {
        "job_type",
        "document_ids",
        "tag",
        "page_range",
        "model_id",
        "model_params",
        "format_type",
        "output_type",
        "transform_params",
        "input_tag",
        "output_tag",
    }
)
_SCALAR = (str, int, float, bool, type(None))


def _check_condition(where: str, name: str, cond: Any) -> None:
    items = cond if isinstance(cond, list) else [cond]
    if isinstance(cond, list) and not cond:
        raise InputError("rules", f"{where}: condition on {name!r} is an empty list")
    for item in items:
        if isinstance(item, dict):
            if not item:
                raise InputError("rules", f"{where}: condition on {name!r} is an empty object")
            for op, arg in item.items():
                if op not in CONDITION_OPERATORS:
                    raise InputError(
                        "rules",
                        f"{where}: unknown operator {op!r} on {name!r} "
                        f"(use {' '.join(CONDITION_OPERATORS)})",
                    )
                if op in ("$in", "$nin") and not isinstance(arg, list):
                    raise InputError("rules", f"{where}: {op} on {name!r} needs a list")
                if op in ("$gt", "$gte", "$lt", "$lte") and (
                    isinstance(arg, bool) or not isinstance(arg, int | float | str)
                ):
                    raise InputError("rules", f"{where}: {op} on {name!r} needs a number or text")
        elif not isinstance(item, _SCALAR):
            raise InputError(
                "rules", f"{where}: condition on {name!r} must be a value or {{op: value}}"
            )


def _check_job(where: str, spec: Any, first: bool) -> None:
    if not isinstance(spec, dict):
        raise InputError("rules", f"{where} must be an object")
    unknown = sorted(set(spec) - _JOB_KEYS)
    if unknown:
        raise InputError("rules", f"{where}: unknown key {unknown[0]!r}")
    kind = spec.get("job_type")
    if kind not in RULE_JOB_TYPES:
        raise InputError("rules", f"{where}: job_type must be apply_model or transform")
    if kind == "apply_model":
        if not isinstance(spec.get("model_id"), str) or not spec["model_id"].strip():
            raise InputError("rules", f"{where}: model_id is required for apply_model")
        if spec.get("format_type") not in (None, "classification"):
            raise InputError("rules", f"{where}: format_type can only be 'classification'")
    elif spec.get("output_type") not in TRANSFORM_TYPES:
        raise InputError(
            "rules", f"{where}: output_type must be one of {', '.join(TRANSFORM_TYPES)}"
        )
    docs = spec.get("document_ids", [])
    if not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
        raise InputError("rules", f"{where}: document_ids must be a list of document ids")
    if first and not docs:
        raise InputError("rules", f"{where}: the first job of a rule needs document_ids")
    for key in ("model_params", "transform_params"):
        if key in spec and not isinstance(spec[key], dict):
            raise InputError("rules", f"{where}: {key} must be an object")
    for key in ("tag", "page_range", "input_tag", "output_tag"):
        if key in spec and not isinstance(spec[key], str):
            raise InputError("rules", f"{where}: {key} must be text")


def check_conditional_body(body: Any) -> dict[str, Any]:
    """Validate a ConditionalBody; `InputError("rules", ...)` names the rule and job at fault."""
    if not isinstance(body, dict):
        raise InputError("rules", "must be a JSON object")
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise InputError(
            "rules", f"unknown key {unknown[0]!r} (expected {', '.join(sorted(_BODY_KEYS))})"
        )
    rules = body.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise InputError("rules", 'needs at least one rule: {"rule_id": {conditions, jobs}}')
    for rule_id, rule in rules.items():
        where = f"rule {rule_id!r}"
        if not rule_id.strip():
            raise InputError("rules", "a rule id is empty")
        if not isinstance(rule, dict):
            raise InputError("rules", f"{where} must be an object with conditions and jobs")
        extra = sorted(set(rule) - _RULE_KEYS)
        if extra:
            raise InputError(
                "rules", f"{where}: unknown key {extra[0]!r} (expected conditions, jobs)"
            )
        conditions = rule.get("conditions", {})
        if not isinstance(conditions, dict):
            raise InputError("rules", f"{where}: conditions must be an object")
        for name, cond in conditions.items():
            _check_condition(where, name, cond)
        jobs = rule.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise InputError("rules", f"{where}: jobs must be a non-empty list")
        for index, spec in enumerate(jobs):
            _check_job(f"{where} job {index + 1}", spec, index == 0)
    if "callback_url" in body and not isinstance(body["callback_url"], str):
        raise InputError("rules", "callback_url must be text")
    if "block_processing" in body and not isinstance(body["block_processing"], bool):
        raise InputError("rules", "block_processing must be true or false")
    headers = body.get("callback_headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InputError("rules", "callback_headers must be an object of text values")
    return body


def _finite(text: str) -> float:
    """A JSON number as a float; one JSON cannot carry (like 1e999) is a ValueError."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a JSON value")


def validate_rules(text: str) -> dict[str, Any]:
    """Parse and validate the JSON of a conditional job: a whole ConditionalBody, or only its
    `rules` map. Returns the ConditionalBody; `InputError("rules", ...)` says what is wrong."""
    if not text.strip():
        raise InputError("rules", "is empty")
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            "rules", f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise InputError("rules", "not valid JSON: nested too deeply") from None
    except ValueError as error:  # a number too long to read
        raise InputError("rules", f"not valid JSON: {error}") from None
    if isinstance(data, dict) and data and not set(data) <= _BODY_KEYS:
        data = {"rules": data}
    return check_conditional_body(data)


def _form_value(text: str) -> Any:
    """A typed value: JSON literals (numbers, true, null, "quoted") as such, anything else as text."""
    try:
        value = json.loads(text, parse_constant=str)
    except (ValueError, RecursionError):
        return text
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("value", f"the number {text[:20]} is out of range")
    return value if isinstance(value, _SCALAR) else text


@dataclass
class RuleForm:
    """One rule as a small form: when `field` `operator` `value` holds on the prerequisite's
    result, run one job (apply a model, or transform). `body()` gives a validated ConditionalBody."""

    rule_id: str = "rule_1"
    field: str = "category"
    operator: str = "$eq"
    value: str = ""
    job_type: str = "apply_model"
    model_id: str = ""
    format_type: str = ""
    output_type: str = "text"
    document_ids: str = ""
    """Comma-separated; prefilled with the selected job's documents."""
    page_range: str = ""
    tag: str = ""

    OPERATORS: ClassVar[tuple[str, ...]] = CONDITION_OPERATORS

    @classmethod
    def for_job(cls, job: Job) -> RuleForm:
        docs = job.raw.get("document_ids") or []
        return cls(document_ids=",".join(str(d) for d in docs))

    def condition(self) -> Any:
        if self.operator not in CONDITION_OPERATORS:
            raise InputError("operator", f"use one of {' '.join(CONDITION_OPERATORS)}")
        text = self.value.strip()
        if not text:
            raise InputError("value", "a value is required")
        if self.operator in ("$in", "$nin"):
            return {self.operator: [_form_value(part.strip()) for part in text.split(",")]}
        value = _form_value(text)
        if self.operator in ("$gt", "$gte", "$lt", "$lte") and not isinstance(
            value, int | float | str
        ):
            raise InputError("value", f"{self.operator} needs a number or text")
        return value if self.operator == "$eq" else {self.operator: value}

    def job(self) -> dict[str, Any]:
        docs = [d.strip() for d in self.document_ids.split(",") if d.strip()]
        if not docs:
            raise InputError("document_ids", "at least one document id is required")
        spec: dict[str, Any] = {"job_type": self.job_type, "document_ids": docs}
        if self.job_type == "apply_model":
            if not self.model_id.strip():
                raise InputError("model_id", "a model id or short name is required")
            spec["model_id"] = self.model_id.strip()
            if self.format_type.strip():
                if self.format_type.strip() != "classification":
                    raise InputError("format_type", "can only be classification (or empty)")
                spec["format_type"] = "classification"
        elif self.job_type == "transform":
            if self.output_type not in TRANSFORM_TYPES:
                raise InputError("output_type", f"use one of {', '.join(TRANSFORM_TYPES)}")
            spec["output_type"] = self.output_type
        else:
            raise InputError("job_type", "use apply_model or transform")
        if self.page_range.strip():
            spec["page_range"] = self.page_range.strip()
        if self.tag.strip():
            spec["tag"] = self.tag.strip()
        return spec

    def rule(self) -> dict[str, Any]:
        if not self.rule_id.strip():
            raise InputError("rule_id", "a rule id is required")
        if not self.field.strip():
            raise InputError("field", "the result field to test is required")
        return {"conditions": {self.field.strip(): self.condition()}, "jobs": [self.job()]}

    def body(
        self, *, callback_url: str | None = None, block_processing: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"rules": {self.rule_id.strip(): self.rule()}}
        if callback_url:
            body["callback_url"] = callback_url
        if block_processing:
            body["block_processing"] = True
        return check_conditional_body(body)


__all__ = [
    "CONDITION_OPERATORS",
    "RULE_JOB_TYPES",
    "TRANSFORM_TYPES",
    "RuleForm",
    "check_conditional_body",
    "validate_rules",
]
