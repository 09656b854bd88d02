"""EcoTaxa wire models, state mapping, the answer form and the pure helpers (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from jobtui.core.errors import BadPayloadError, InputError
from jobtui.core.models import Action, Job, JobState
from jobtui.core.text import clean_tree
from jobtui.services.ecotaxa.answer import AnswerForm, parse_id
from jobtui.services.ecotaxa.files import filename_from
from jobtui.services.ecotaxa.service import (
    EcoTaxaService,
    Expectation,
    project_of,
    settle_expectations,
    state_of,
)
from jobtui.services.ecotaxa.wire import (
    EcoTaxaJob,
    parse_jobs,
    parse_time,
    safe_file_name,
    state_word,
)

JOBS = TypeAdapter(list[EcoTaxaJob])


def record(**fields: Any) -> EcoTaxaJob:
    base: dict[str, Any] = {"id": 12, "type": "FileImport", "state": "P"}
    return EcoTaxaJob.model_validate({**base, **fields})


def test_a_minimal_record_is_enough_and_unknown_fields_are_kept() -> None:
    (job,) = JOBS.validate_json(b'[{"id": 3, "type": "Subset", "colour": "blue"}]')
    assert (job.id, job.type, job.state, job.params, job.errors) == (3, "Subset", None, {}, [])
    assert job.model_extra == {"colour": "blue"}
    assert job.wire() == {"id": 3, "type": "Subset", "colour": "blue"}


def test_nulls_and_odd_values_are_tolerated() -> None:
    job = record(
        params=None,
        result=[1, 2],
        errors=["a", {"b": 1}],
        question=None,
        progress_pct="50",
        owner_id="7",
        step="null",
        creation_date="2026-11-02T09:00:00.5",
        updated_on="yesterday",
    )
    assert job.params == {} and job.result == {"value": [1, 2]}
    assert job.errors == ["a", '{"b": 1}'] and job.question == {}
    assert (job.progress_pct, job.owner_id, job.step) == (50.0, 7, "null")
    assert job.created_at == datetime(2026, 11, 2, 9, 0, 0, 500000, tzinfo=UTC)
    assert job.updated_at is None and job.updated_on == "yesterday"


def test_the_raw_record_keeps_what_was_sent() -> None:
    sent = {
        "params": {"prj_id": 1},
        "result": {},
        "errors": [],
        "question": {},
        "reply": {},
        "inside": {},
        "id": 5,
        "owner_id": 2,
        "type": "GeneralExport",
        "state": "R",
        "step": None,
        "progress_pct": 25,
        "progress_msg": "Writing TSV",
        "creation_date": "2026-11-02T09:00:00",
        "updated_on": "2026-11-02T09:00:01.250000",
    }
    (job,) = JOBS.validate_json(json.dumps([sent]))
    assert job.wire() == sent
    assert json.dumps(job.wire()) == json.dumps(sent)  # 25 stays 25, not 25.0
    (half,) = JOBS.validate_json(json.dumps([{**sent, "progress_pct": 12.5}]))
    assert half.progress_pct == 12.5


def test_an_empty_message_is_the_last_line_of_the_errors() -> None:
    service = EcoTaxaService("EcoTaxa", "http://127.0.0.1:9/api", token="t")
    pieces = [
        '  File "<string>", line 1, in <module>\n',
        '  File "/app/API_operations/exports/ForProject.py", line 131, in do_background\n'
        "    self.do_export()\n",
        "AssertionError\n",
        "  \n",
    ]
    crashed = record(state="E", progress_msg="", errors=pieces)
    assert crashed.last_error == "AssertionError"
    assert service.to_job(crashed).message == "AssertionError"
    assert (
        service.to_job(record(state="E", progress_msg=None, errors=["a", "b\n\n"])).message == "b"
    )
    said = record(state="E", progress_msg="No object to export", errors=pieces)
    assert service.to_job(said).message == "No object to export"
    assert service.to_job(record(state="E", progress_msg=" ", errors=[])).message == ""


def test_states_map_to_words_and_categories() -> None:
    assert [state_word(s) for s in "PRAEF"] == ["pending", "running", "asking", "error", "finished"]
    assert [state_of(s) for s in "PRAEF"] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.NEEDS_INPUT,
        JobState.FAILED,
        JobState.SUCCEEDED,
    ]
    assert (state_of("Z"), state_word("Z"), state_of(""), state_word("")) == (
        JobState.UNKNOWN,
        "Z",
        JobState.UNKNOWN,
        "",
    )
    # a state word sent in place of its letter is unknown, and marked so as not to pass for it
    assert (state_of("asking"), state_word("asking")) == (JobState.UNKNOWN, "asking?")


def test_to_job_for_an_unknown_state_and_a_finished_export() -> None:
    service = EcoTaxaService("EcoTaxa", "http://127.0.0.1:9/api", token="t")
    odd = service.to_job(record(state="Z", progress_msg="?"))
    assert (odd.state, odd.raw_state, odd.actions) == (
        JobState.UNKNOWN,
        "Z",
        frozenset({Action.DELETE, Action.LOGS}),
    )
    export = service.to_job(
        record(
            type="DarwinCoreExport",
            state="F",
            progress_pct=None,
            params={"collection_id": 18},
            owner_id=3,
        )
    )
    assert Action.DOWNLOAD in export.actions and export.progress == 100.0
    assert export.extra == {"owner": "#3", "project": "coll 18"}
    assert service.output_name(export) == "dwca.zip"
    named = service.to_job(
        record(type="BackupExport", state="F", result={"out_file": "../../etc/export__BAK_1.zip"})
    )
    assert service.output_name(named) == "export__BAK_1.zip"
    assert service.output_name(service.to_job(record())) == "ecotaxa_job_12"


def test_confirm_text_tells_kill_from_archive() -> None:
    service = EcoTaxaService("EcoTaxa", "http://127.0.0.1:9/api", token="t")
    for letter, tail in (
        ("P", "The job is killed and stays listed as error; erase it again to archive it."),
        ("R", "The job is killed and stays listed as error; erase it again to archive it."),
        ("A", "The job is killed and stays listed as error; erase it again to archive it."),
        ("E", "It is archived and leaves the list."),
        ("F", "It is archived and leaves the list."),
    ):
        job = service.to_job(record(state=letter))
        text = service.confirm_text(Action.DELETE, job)
        assert text == f"Erase EcoTaxa job 12 (FileImport, {state_word(letter)})? {tail}"


def test_disabled_reasons() -> None:
    service = EcoTaxaService("EcoTaxa", "http://127.0.0.1:9/api", token="t")
    running = service.to_job(record(state="R"))
    assert service.disabled_reason(Action.ANSWER, running) == (
        "only asking jobs take an answer (this one is running)"
    )
    assert service.disabled_reason(Action.DELETE, running) is None
    assert service.disabled_reason(Action.CANCEL, running) == "ecotaxa has no cancel action"


def test_parse_time() -> None:
    assert parse_time("2026-11-02T09:00:00") == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert parse_time("2026-11-02T09:00:00Z") == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert parse_time("2026-11-02T11:00:00+02:00") == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert parse_time("") is None and parse_time(None) is None and parse_time("x") is None


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (
            'attachment; filename="export__TSV_12_20240315_1012.zip"',
            "export__TSV_12_20240315_1012.zip",
        ),
        ("attachment; filename=dwca.zip", "dwca.zip"),
        ('attachment; filename="a \\"quoted\\" name.tsv"', 'a "quoted" name.tsv'),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.tsv", "résumé.tsv"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename=".."', None),
        ("attachment", None),
        (None, None),
    ],
)
def test_filename_from_content_disposition(header: str | None, name: str | None) -> None:
    assert filename_from(header) == name


def test_safe_file_name() -> None:
    assert safe_file_name("C:\\tmp\\x.zip") == "x.zip"
    assert safe_file_name("  ") is None and safe_file_name("a/") is None


def test_project_of() -> None:
    assert project_of({"prj_id": 412, "req": {}}) == "prj 412"
    assert project_of({"req": {"project_id": "1,2", "collection_id": None}}) == "prj 1,2"
    assert project_of({"req": {"collection_id": 18, "project_id": None}}) == "coll 18"
    assert project_of({}) == ""


# -- the answer form ----------------------------------------------------------------------------


def asking_job(question: dict[str, Any]) -> Job:
    service = EcoTaxaService("EcoTaxa", "http://127.0.0.1:9/api", token="t")
    return service.to_job(record(state="A", question=question))


def test_the_form_lists_the_question_names() -> None:
    job = asking_job(
        {"missing_users": ["elizandro rodriguez"], "missing_taxa": ["other", "ozzeur"]}
    )
    form = AnswerForm.for_job(job)
    assert form == AnswerForm("12", ("elizandro rodriguez",), ("other", "ozzeur"))
    assert [f.key for f in form.fields] == [
        "users[elizandro rodriguez]",
        "taxa[other]",
        "taxa[ozzeur]",
    ]
    assert job.message == "to map: 1 user(s), 2 taxon name(s)"
    assert AnswerForm.for_job(asking_job({})).empty


def test_the_form_parses_ids_and_names_bad_fields() -> None:
    form = AnswerForm("12", ("elizandro rodriguez",), ("other", "Ozzeur"))
    users, taxa = form.parse({"elizandro rodriguez": " 1 "}, {"other": "99999", "Ozzeur": "85011"})
    assert users == {"elizandro rodriguez": 1} and taxa == {"other": 99999, "ozzeur": 85011}
    partial = form.parse({"elizandro rodriguez": ""}, {"other": "7"})
    assert partial == ({}, {"other": 7})
    for users_text, taxa_text, field, message in (
        (
            {"elizandro rodriguez": "x1"},
            {},
            "users[elizandro rodriguez]",
            "'x1' is not a whole number",
        ),
        ({}, {"other": "-4"}, "taxa[other]", "'-4' is not a whole number"),
        ({}, {"other": "0"}, "taxa[other]", "must be a positive number"),
        ({}, {"other": "1.5"}, "taxa[other]", "'1.5' is not a whole number"),
        ({}, {"nope": "1"}, "taxa[nope]", "this name is not in the question"),
        ({}, {}, "users[elizandro rodriguez]", "give the id of at least one name"),
    ):
        with pytest.raises(InputError) as caught:
            form.parse(users_text, taxa_text)
        assert (caught.value.field, caught.value.message) == (field, message)
    with pytest.raises(InputError) as required:
        form.parse({"elizandro rodriguez": "1"}, {"other": "2"}, require_all=True)
    assert required.value.field == "taxa[Ozzeur]"


def test_parse_id() -> None:
    assert parse_id("f", "") is None and parse_id("f", " 42 ") == 42
    with pytest.raises(InputError):
        parse_id("f", "٣")  # a digit, but not an ASCII one


# -- expectations -------------------------------------------------------------------------------


def test_settle_expectations() -> None:
    still = record(id=1, state="E", progress_msg="boom")
    moved = record(id=2, state="P", progress_msg="Restarting")
    expectations = {
        "1": Expectation("1", "E", "restart", still.fingerprint(), 2),
        "2": Expectation("2", "E", "restart", record(id=2, state="E").fingerprint(), 2),
        "3": Expectation("3", "F", "erase", None, 1),
        "4": Expectation("4", "A", "answer", None, 1),
    }
    current = {"1": still, "2": moved, "4": record(id=4, state="A")}
    waiting, notes = settle_expectations(expectations, current, "EcoTaxa")
    assert set(waiting) == {"1"} and waiting["1"].polls_left == 1
    assert notes == ["EcoTaxa: job 4 is still in A after answer"]
    waiting, notes = settle_expectations(waiting, current, "EcoTaxa")
    assert waiting == {} and notes == ["EcoTaxa: job 1 is still in E after restart"]


def test_a_listed_record_is_the_record_as_sent_cleaned_one_record_at_a_time() -> None:
    """A list is validated as it came, then each record whose strings may need it is cleaned
    and validated again: the result is what cleaning the whole body first gives."""
    sent = [
        {
            "id": 7,
            "type": "FileImport",
            "state": "E",
            "progress_msg": "bad \x1b[31mred\x1b[0m",
            "errors": ["Traceback (most recent call last):\n", "  boom\u202e\n"],
            "params": {"prj_id": 3, "req": {"source_path": "/x/\u202eevil.zip"}},
            "colour\x07": "blue",
        },
        {"id": 8, "type": "Subset", "state": "F", "progress_msg": "Done", "progress_pct": 100},
        {"id": 9, "type": "Subset", "state": "A", "question": {"missing_users": ["a", " "]}},
    ]
    body = json.dumps(sent).encode()
    records = parse_jobs("EcoTaxa", body)
    cleaned = TypeAdapter(list[EcoTaxaJob]).validate_python(
        clean_tree(json.loads(body), ("errors",))
    )
    assert [record.wire() for record in records] == [job.wire() for job in cleaned]
    first = records[0]
    assert first.progress_msg is not None and "\x1b" not in first.progress_msg
    assert first.wire()["errors"][0].endswith("\n")  # the lines of a traceback stay lines
    assert "\u202e" not in json.dumps(first.wire(), ensure_ascii=False)
    assert first.project == "prj 3" and first.last_error == ""
    assert records[2].asked == (1, 0)
    assert records[1].model() == cleaned[1]
    # an answer that is not a list of jobs is one line, as before
    with pytest.raises(BadPayloadError, match="unexpected job list"):
        parse_jobs("EcoTaxa", b'[{"id": "x\\n"}]')


def test_the_first_part_of_a_list_is_the_jobs_it_holds_whole() -> None:
    body = json.dumps([{"id": n, "type": "Subset", "state": "F"} for n in range(50)]).encode()
    cut = body.index(b'{"id": 20,') + 5
    part = parse_jobs("EcoTaxa", body[:cut], first_part=True)
    assert [record.id for record in part] == list(range(20))  # the 21st is cut: left out
    assert parse_jobs("EcoTaxa", b'{"not": "a list"', first_part=True) == []
