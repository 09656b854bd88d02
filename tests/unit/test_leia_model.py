"""Leia pieces that need no server: wire models, state mapping, filters, rules and chains."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobtui.core.errors import InputError
from jobtui.core.models import Action, JobState
from jobtui.core.secret import Secret
from jobtui.emulators.leia.rules import condition_holds, rule_matches
from jobtui.services.leia.chain import chain_of
from jobtui.services.leia.conditions import RuleForm, validate_rules
from jobtui.services.leia.filters import LeiaFilters, parse_filters, parse_sort
from jobtui.services.leia.service import STATE_OF, LeiaService, state_of
from jobtui.services.leia.wire import (
    LeiaApplication,
    LeiaJob,
    LeiaJobType,
    LeiaRecord,
    LeiaStatus,
    parse_jobs,
)
from jobtui.services.paging import parse_content_range


@pytest.fixture
async def service() -> AsyncIterator[LeiaService]:
    leia = LeiaService("leia", "http://127.0.0.1:9/leia/1.0.0", "k")
    yield leia
    await leia.aclose()


def job(**fields: Any) -> LeiaJob:
    base: dict[str, Any] = {
        "id": "j1",
        "application_id": "a1",
        "creation_time": "2026-11-02T08:00:00.500Z",
        "document_ids": ["d1"],
        "job_type": "predict",
        "status": "PROCESSED",
    }
    return LeiaJob.model_validate_json(json.dumps(base | fields))


# -- models and mapping -------------------------------------------------------------------------


def test_every_status_maps_and_unknown_ones_are_kept() -> None:
    assert {status.value for status in LeiaStatus} == set(STATE_OF)
    expected = {
        "BLOCKED": JobState.QUEUED,
        "WAITING": JobState.QUEUED,
        "READY": JobState.QUEUED,
        "STARTING": JobState.RUNNING,
        "LOADING_MODEL": JobState.RUNNING,
        "PROCESSING": JobState.RUNNING,
        "PROCESSED": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
        "CANCELED": JobState.CANCELLED,
    }
    assert {s: state_of(s) for s in expected} == expected
    assert state_of("NEW") is JobState.UNKNOWN
    assert state_of("") is JobState.UNKNOWN


@pytest.mark.parametrize(
    "result",
    [
        None,
        [],
        {},
        "text",
        3.5,
        [{"id": "d", "filename": "x"}],
        {"category": "invoice", "score": 0.9, "accuracy": 0.8},
        {"rule": [{"result_type": "object", "result": {"a": 1}}]},
    ],
)
def test_results_of_any_shape_are_accepted(result: Any) -> None:
    assert job(result=result).result == result
    # A listing keeps the record as its JSON: the whole record reads back the same.
    kept = LeiaRecord(job(result=result))
    assert kept.wire() == job(result=result).wire()
    assert kept.model() == job(result=result)


def test_a_kept_record_shows_what_the_model_shows() -> None:
    """What the service keeps of a listed job gives the detail pane, `jobtui show` and the
    journal the very record the model gives: the fields sent, in the order sent, cleaned."""
    sent = {
        "id": "j9",
        "status": "FAILED",
        "reason": "bad \u001b[31mpage\u202e",
        "http_code": 400,
        "document_ids": ["d1", 2],
        "creation_time": "2026-11-02T08:00:00Z",
        "starting_time": "2026-11-02T10:00:00+02:00",
        "result": {"score": 0.1, "big": 12345678901234567890, "nested": [None, True, "\u009b"]},
        "submitter_id": "s1",
        "ws_id": {"nested": True},
        "execute_after_id": "j8",
        "parent_job_id": "j7",
        "result_type": "conditional",
    }
    body = json.dumps([sent]).encode()
    (kept,) = parse_jobs("leia", body)
    model = LeiaJob.model_validate_json(json.dumps(sent))
    wire = kept.wire()
    assert list(wire) == list(model.wire())
    assert wire["reason"] == "bad \u241b[31mpage\ufffd" == kept.reason
    assert wire["result"]["nested"] == [None, True, "\ufffd"]
    assert wire["result"]["big"] == 12345678901234567890
    assert wire["document_ids"] == ["d1", "2"] and kept.documents == 2
    assert (kept.id, kept.status, kept.http_code) == ("j9", "FAILED", 400)
    assert (kept.execute_after_id, kept.parent_job_id) == ("j8", "j7")
    assert kept.is_conditional and kept.terminal and kept.status_text == "FAILED"
    assert kept.starting_time == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert LeiaRecord.of(kept) is kept


def test_wire_model_is_tolerant_and_keeps_undeclared_fields() -> None:
    record = LeiaJob.model_validate_json(
        json.dumps(
            {
                "id": 507,
                "document_ids": None,
                "status": "ARCHIVED",
                "creation_time": "yesterday",
                "starting_time": "2026-11-02T08:00:00",
                "finished_time": "2026-11-02T10:00:00+02:00",
                "submitter_id": "s1",
                "http_code": 5000,
                "page_range": "0:2",
                "ws_id": {"nested": True},
            }
        )
    )
    assert record.id == "507" and record.document_ids == () and record.status == "ARCHIVED"
    assert record.creation_time is None
    assert record.starting_time == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert record.finished_time == datetime(2026, 11, 2, 8, tzinfo=UTC)
    wire = record.wire()
    assert wire["submitter_id"] == "s1" and wire["http_code"] == 5000
    assert wire["page_range"] == "0:2" and wire["ws_id"] == {"nested": True}
    assert "model_id" not in wire  # not sent, not invented


async def test_to_job_columns_actions_and_messages(service: LeiaService) -> None:
    done = service.to_job(job(model_id="m1", document_ids=["d1", "d2", "d3"]))
    assert done.state is JobState.SUCCEEDED and done.raw_state == "PROCESSED"
    assert done.extra == {"job_type": "predict", "model": "m1", "documents": "3"}
    assert done.actions == frozenset({Action.CONDITIONAL})
    assert done.created == datetime(2026, 11, 2, 8, 0, 0, 500000, tzinfo=UTC)

    blocked = service.to_job(job(status="BLOCKED"))
    assert blocked.actions == frozenset({Action.CONDITIONAL, Action.CANCEL, Action.START})
    assert blocked.message == "blocked until started"
    waiting = service.to_job(job(status="WAITING", execute_after_id="j0"))
    assert waiting.message == "waits on j0" and Action.START not in waiting.actions
    failed = service.to_job(job(status="FAILED", reason="Bad page", http_code=400))
    assert failed.message == "Bad page (code 400)" and failed.actions == {Action.CONDITIONAL}
    odd = service.to_job(job(status="ARCHIVED"))
    assert odd.state is JobState.UNKNOWN and odd.raw_state == "ARCHIVED"
    assert Action.CANCEL in odd.actions

    later = service.to_job(job(status="FAILED", reason="Bad page", http_code=400))
    assert later == failed and later.revision == failed.revision
    assert service.to_job(job(status="PROCESSING")).revision != done.revision


async def test_from_config_reads_name_url_verify_and_key() -> None:
    @dataclass
    class Config:
        name: str
        url: str
        verify: bool
        api_key: Secret

    leia = LeiaService.from_config(
        Config("prod leia", "https://api.leia.io/leia/1.0.0", False, Secret("s3cret"))
    )
    try:
        assert leia.name == "prod leia" and leia.client.base_url == "https://api.leia.io/leia/1.0.0"
        assert "s3cret" not in repr(leia) and "s3cret" not in repr(leia.client)
    finally:
        await leia.aclose()


# -- filters ------------------------------------------------------------------------------------


def test_filter_params_are_wire_values() -> None:
    filters = LeiaFilters(
        status=LeiaStatus.LOADING_MODEL,
        job_type=LeiaJobType.PDF_IMAGES,
        created_after=datetime(
            2026, 11, 2, 10, 30, 15, 987654, tzinfo=timezone(timedelta(hours=2))
        ),
        created_before=datetime(2026, 11, 2, 9, 0, 0),
        document_id="a&b=c",
        sort=("-creation_time", "status"),
    )
    assert filters.params() == {
        "job_type": "pdf-images",
        "document_id": "a&b=c",
        "status": "LOADING_MODEL",
        "created_after": "2026-11-02T08:30:15",
        "created_before": "2026-11-02T09:00:00",
        "sort": "-creation_time,status",
    }
    assert not LeiaFilters() and LeiaFilters().params() == {}


def test_parse_filters_names_the_bad_field() -> None:
    filters = parse_filters(
        {
            "status": "processing",
            "job_type": "PREDICT",
            "created_after": "2026-11-02 08:00",
            "model_id": " ",
        }
    )
    assert filters == LeiaFilters(
        status=LeiaStatus.PROCESSING,
        job_type=LeiaJobType.PREDICT,
        created_after=datetime(2026, 11, 2, 8, tzinfo=UTC),
    )
    cases = {
        "status": {"status": "DONE"},
        "job_type": {"job_type": "train"},
        "created_after": {"created_after": "last week"},
        "sort": {"sort": "colour"},
        "created_before": {
            "created_after": "2026-11-02T10:00:00",
            "created_before": "2026-11-02T09:00:00",
        },
        "owner": {"owner": "me"},
    }
    for name, values in cases.items():
        with pytest.raises(InputError) as caught:
            parse_filters(values)
        assert caught.value.field == name


def test_parse_sort_and_content_range() -> None:
    assert parse_sort(" -creation_time , status,+job_type") == (
        "-creation_time",
        "status",
        "job_type",
    )
    assert parse_content_range("0-99/1000") == 1000
    assert parse_content_range("job 100-199/250") == 250
    assert parse_content_range("0-0/*") is None
    assert parse_content_range("bytes") is None
    assert parse_content_range(None) is None


# -- conditional rules --------------------------------------------------------------------------

GOOD = {
    "rules": {
        "invoices": {
            "conditions": {"category": "invoice", "score": [{"$gte": 0.8}, {"$lt": 1}]},
            "jobs": [
                {"job_type": "apply_model", "model_id": "invoice-kv", "document_ids": ["d1"]},
                {"job_type": "transform", "output_type": "text"},
            ],
        },
        "others": {
            "conditions": {"category": {"$nin": ["invoice"]}},
            "jobs": [{"job_type": "transform", "output_type": "text", "document_ids": ["d1"]}],
        },
    },
    "block_processing": False,
}


def test_validate_rules_accepts_a_body_or_a_bare_rules_map() -> None:
    assert validate_rules(json.dumps(GOOD)) == GOOD
    assert validate_rules(json.dumps(GOOD["rules"])) == {"rules": GOOD["rules"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        (
            '{"rules": {',
            "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 12",
        ),
        ("[1]", "must be a JSON object"),
        ('{"rules": {}}', "needs at least one rule"),
        ('{"r": {"jobs": []}}', "rule 'r': jobs must be a non-empty list"),
        ('{"r": {"when": {}, "jobs": []}}', "rule 'r': unknown key 'when'"),
        (
            '{"r": {"conditions": {"x": {"$like": 1}}, "jobs": [{}]}}',
            "rule 'r': unknown operator '$like' on 'x'",
        ),
        ('{"r": {"conditions": {"x": {"$in": 1}}, "jobs": [{}]}}', "$in on 'x' needs a list"),
        ('{"r": {"conditions": {"x": {"$gt": true}}, "jobs": [{}]}}', "$gt on 'x' needs a number"),
        ('{"r": {"jobs": [{"job_type": "predict"}]}}', "rule 'r' job 1: job_type must be"),
        (
            '{"r": {"jobs": [{"job_type": "apply_model", "document_ids": ["d"]}]}}',
            "rule 'r' job 1: model_id is required",
        ),
        (
            '{"r": {"jobs": [{"job_type": "transform", "output_type": "pdf", "document_ids": ["d"]}]}}',
            "rule 'r' job 1: output_type must be one of",
        ),
        (
            '{"r": {"jobs": [{"job_type": "transform", "output_type": "text"}]}}',
            "the first job of a rule needs document_ids",
        ),
        (
            '{"r": {"jobs": [{"job_type": "transform", "output_type": "text", "document_ids": ["d"], "model": 1}]}}',
            "rule 'r' job 1: unknown key 'model'",
        ),
        (
            '{"rules": {"r": {"jobs": [{"job_type": "transform", "output_type": "text", "document_ids": ["d"]}]}}, "callback_url": 3}',
            "callback_url must be text",
        ),
    ],
)
def test_validate_rules_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_rules(text)
    assert caught.value.field == "rules"
    assert message in caught.value.message


async def test_rule_form_builds_a_valid_body(service: LeiaService) -> None:
    selected = service.to_job(job(document_ids=["d1", "d2"]))
    form = RuleForm.for_job(selected)
    assert form.document_ids == "d1,d2"
    form.value, form.model_id = "invoice", "invoice-kv"
    assert form.body() == {
        "rules": {
            "rule_1": {
                "conditions": {"category": "invoice"},
                "jobs": [
                    {
                        "job_type": "apply_model",
                        "document_ids": ["d1", "d2"],
                        "model_id": "invoice-kv",
                    }
                ],
            }
        }
    }
    form.field, form.operator, form.value = "score", "$gte", "0.8"
    assert form.rule()["conditions"] == {"score": {"$gte": 0.8}}
    form.operator, form.value = "$in", 'invoice, receipt, 3, "4"'
    assert form.rule()["conditions"] == {"score": {"$in": ["invoice", "receipt", 3, "4"]}}
    form.job_type, form.output_type, form.page_range = "transform", "text", "0:2"
    assert form.job() == {
        "job_type": "transform",
        "document_ids": ["d1", "d2"],
        "output_type": "text",
        "page_range": "0:2",
    }
    assert form.body(block_processing=True, callback_url="http://cb")["block_processing"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": " "}, "value"),
        ({"operator": "$like"}, "operator"),
        ({"rule_id": ""}, "rule_id"),
        ({"field": ""}, "field"),
        ({"model_id": ""}, "model_id"),
        ({"document_ids": " , "}, "document_ids"),
        ({"format_type": "table"}, "format_type"),
        ({"job_type": "transform", "output_type": "pdf"}, "output_type"),
        ({"job_type": "train"}, "job_type"),
        ({"operator": "$gt", "value": "null"}, "value"),
    ],
)
def test_rule_form_errors_name_the_form_field(changes: dict[str, str], field: str) -> None:
    form = RuleForm(**({"value": "invoice", "model_id": "kv", "document_ids": "d1"} | changes))
    with pytest.raises(InputError) as caught:
        form.body()
    assert caught.value.field == field


def test_emulator_conditions_follow_mongo_semantics() -> None:
    result = {"category": "invoice", "score": 0.85, "fields": {"total": 12}}
    assert condition_holds(result, "category", "invoice")
    assert not condition_holds(result, "category", "receipt")
    assert condition_holds(result, "score", [{"$gt": 0.8}, {"$lte": 0.85}])
    assert not condition_holds(result, "score", [{"$gt": 0.8}, {"$lt": 0.85}])
    assert condition_holds(result, "score", [0.85, {"$ne": 1}])
    assert condition_holds(result, "fields.total", {"$gte": 12, "$lt": 13})
    assert condition_holds(result, "category", {"$in": ["receipt", "invoice"]})
    assert condition_holds(result, "category", {"$nin": ["receipt"]})
    assert condition_holds(result, "missing", {"$ne": 1})
    assert condition_holds(result, "missing", {"$nin": [1]})
    assert not condition_holds(result, "missing", {"$eq": None})
    assert not condition_holds(result, "missing", {"$gt": 0})
    assert not condition_holds(result, "category", {"$gt": 3})  # text against a number
    assert rule_matches(result, {"conditions": {}})
    assert not rule_matches([result], {"conditions": {"category": "invoice"}})


# -- chains -------------------------------------------------------------------------------------


async def test_chain_of_a_snapshot(service: LeiaService) -> None:
    records = [
        job(id="a"),
        job(id="cond", execute_after_id="a", job_type="conditional", status="PROCESSING"),
        job(id="sub1", execute_after_id="a", parent_job_id="cond", status="PROCESSED"),
        job(id="sub2", execute_after_id="sub1", parent_job_id="cond", status="WAITING"),
        job(id="orphan", execute_after_id="gone", status="WAITING"),
    ]
    snapshot = {r.id: service.to_job(r) for r in records}
    chain = chain_of("a", snapshot)
    assert chain.waits_on_id is None and chain.parent is None
    assert [j.id for j in chain.dependents] == ["cond", "sub1"]
    assert chain.children == ()
    cond = chain_of("cond", snapshot)
    assert cond.waits_on is snapshot["a"]
    assert [j.id for j in cond.children] == ["sub1", "sub2"]
    sub2 = chain_of("sub2", snapshot)
    assert sub2.parent is snapshot["cond"] and sub2.waits_on is snapshot["sub1"]
    orphan = chain_of("orphan", snapshot)
    assert orphan.waits_on_id == "gone" and orphan.waits_on is None


def test_an_echoed_api_key_stays_masked() -> None:
    application = LeiaApplication.model_validate_json(
        '{"id": "a", "api_key": "ghsrt6j94u6nbdw148j6t41nxf65bnwdt", "email": "x@y.z", "extra": 1}'
    )
    assert "ghsrt6j94u6nbdw148j6t41nxf65bnwdt" not in repr(application)
    assert application.api_key is not None
    assert application.api_key.get_secret_value() == "ghsrt6j94u6nbdw148j6t41nxf65bnwdt"
