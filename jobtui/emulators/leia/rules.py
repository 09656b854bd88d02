"""The conditions of Leia's conditional jobs, evaluated on a prerequisite's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONDITION_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")


def _lookup(result: Any, name: str) -> tuple[bool, Any]:
    value = result
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _compare(op: str, present: bool, value: Any, operand: Any) -> bool:
    if op == "$eq":
        return present and value == operand
    if op == "$ne":
        return not present or value != operand
    if op == "$in":
        return present and isinstance(operand, list) and value in operand
    if op == "$nin":
        return not present or not isinstance(operand, list) or value not in operand
    if not present:
        return False
    try:
        if op == "$gt":
            return bool(value > operand)
        if op == "$gte":
            return bool(value >= operand)
        if op == "$lt":
            return bool(value < operand)
        if op == "$lte":
            return bool(value <= operand)
    except TypeError:
        return False
    return False


def condition_holds(result: Any, name: str, cond: Any) -> bool:
    present, value = _lookup(result, name)
    items = cond if isinstance(cond, list) else [cond]
    for item in items:
        if isinstance(item, dict) and item and all(op in CONDITION_OPS for op in item):
            if not all(_compare(op, present, value, arg) for op, arg in item.items()):
                return False
        elif not _compare("$eq", present, value, item):
            return False
    return True


def rule_matches(result: Any, rule: Mapping[str, Any]) -> bool:
    conditions = rule.get("conditions") or {}
    return all(condition_holds(result, name, cond) for name, cond in conditions.items())
