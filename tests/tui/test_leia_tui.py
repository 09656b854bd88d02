"""The Leia tab driven with Pilot against the Leia emulator over loopback HTTP.

Each test starts a seeded emulator with a frozen clock (speed 0) and the real app on a
`LeiaService`; the tab polls every minute, so polls happen when a test (or an action) asks for
one, and time moves only when a test advances the emulator's clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from rich.console import Console, RenderableType
from textual.strip import Strip
from textual.widgets import Input, Select, Static, Tab, TabbedContent, TextArea

from jobtui.core.models import Job, JobState
from jobtui.core.service import PollResult, Service
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.leia.state import LeiaState, SimJob
from jobtui.services.leia.filters import LeiaFilters
from jobtui.services.leia.service import LeiaService
from jobtui.services.leia.wire import LeiaStatus
from jobtui.tui.app import JobtuiApp
from jobtui.tui.leia.chain import ChainScreen
from jobtui.tui.leia.conditional import ConditionalJobScreen
from jobtui.tui.leia.filters import LeiaFilterScreen
from jobtui.tui.leia.section import human_size, render_failure, render_result, render_section
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.widgets import detail as detail_module
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.settle import settle
from tests.tui.driver import TabDriver

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)


def fixed_clock() -> datetime:
    return NOW


class Leia(TabDriver[LeiaState, LeiaService]):
    """One running emulator, the service on it, and the app being driven."""


@asynccontextmanager
async def leia_app(
    emulator: EmulatorFactory, *, seed: int = 1, jobs: int = 24
) -> AsyncIterator[Leia]:
    running = emulator("leia", seed=seed, speed=0, jobs=jobs)
    state = running.state
    assert isinstance(state, LeiaState)
    service = LeiaService("leia", running.url, str(running.emulator.config["api_key"]))
    app = JobtuiApp([service], refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        leia = Leia(running, state, service, app, pilot)
        await leia.until(lambda: leia.table.row_count > 0, "the first poll")
        yield leia


def waiting_dependents(state: LeiaState, head: SimJob) -> list[SimJob]:
    out: list[SimJob] = []
    todo = list(state.dependants.get(head.id, ()))
    while todo:
        job = todo.pop(0)
        if job.status == "WAITING":
            out.append(job)
            todo.extend(state.dependants.get(job.id, ()))
    return out


def running_head(state: LeiaState) -> tuple[SimJob, list[SimJob]]:
    """A running job with a chain of WAITING jobs behind it."""
    for job in state.own:
        if job.status == "PROCESSING":
            chain = waiting_dependents(state, job)
            if chain:
                return job, chain
    raise AssertionError("the seeded jobs have no running job with waiting dependents")


def detail_text(leia: Leia) -> str:
    """The detail pane as plain text."""
    body = leia.app.screen.query_one(JobDetail)
    console = Console(width=110, record=True, color_system=None)
    console.print(body.content)
    return console.export_text()


def text_of(widget: Static) -> str:
    return str(widget.content)


def status_line(leia: Leia) -> str:
    return text_of(leia.tab.query_one("#status", Static))


# -- cancel and start ---------------------------------------------------------------------------


async def test_cancel_a_parent_and_see_its_dependents_fail(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        head, chain = running_head(leia.state)
        await leia.select(head.id)
        await leia.pilot.press("c")
        await leia.until(lambda: isinstance(leia.app.screen, ConfirmScreen), "the confirmation")
        confirm = leia.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert f"Cancel Leia job {head.id} (PROCESSING)?" in confirm.body
        assert f"{len(chain)} dependent jobs wait on it and will fail" in confirm.body
        assert all(f"\n  {d.id}  WAITING  {d.job_type}" in confirm.body for d in chain)
        assert leia.state.counts["cancel_job"] == 0

        await leia.pilot.press("y")
        await leia.until(lambda: leia.shown(head.id).raw_state == "CANCELED", "the cancel")
        assert leia.state.counts["cancel_job"] == 1
        assert all(leia.shown(d.id).raw_state == "WAITING" for d in chain)

        leia.state.clock.advance(len(chain) + 0.5)  # the failure travels one link a second
        await leia.poll()
        await leia.until(
            lambda: all(leia.shown(d.id).raw_state == "FAILED" for d in chain), "the dependents"
        )
        for dependant in chain:
            assert leia.shown(dependant.id).state is JobState.FAILED
        assert f"Prerequisite job {head.id} is CANCELED" in leia.shown(chain[0].id).message


async def test_cancel_is_asked_first_and_no_keeps_the_job(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        head, _ = running_head(leia.state)
        await leia.select(head.id)
        await leia.pilot.press("c")
        await leia.until(lambda: isinstance(leia.app.screen, ConfirmScreen), "the confirmation")
        await leia.pilot.press("n")
        await leia.until(lambda: not isinstance(leia.app.screen, ConfirmScreen), "the answer")
        await leia.poll()
        assert leia.state.counts["cancel_job"] == 0
        assert leia.shown(head.id).raw_state == "PROCESSING"


async def test_start_a_blocked_job(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        blocked = next(j for j in leia.state.own if j.status == "BLOCKED")
        processed = next(j for j in leia.state.own if j.status == "PROCESSED")
        await leia.select(processed.id)
        await leia.pilot.press("s")  # not allowed: says why, sends nothing
        await leia.pilot.pause()
        assert leia.state.counts["start_job"] == 0

        await leia.select(blocked.id)
        await leia.pilot.press("s")
        await leia.until(
            lambda: leia.shown(blocked.id).raw_state in ("READY", "WAITING"), "the start"
        )
        assert leia.state.counts["start_job"] == 1
        assert leia.state.jobs[blocked.id].status == leia.shown(blocked.id).raw_state


# -- conditional jobs ---------------------------------------------------------------------------


async def open_conditional(leia: Leia, after: SimJob) -> ConditionalJobScreen:
    await leia.select(after.id)
    await leia.pilot.press("k")
    await leia.until(lambda: isinstance(leia.app.screen, ConditionalJobScreen), "the dialog")
    screen = leia.app.screen
    assert isinstance(screen, ConditionalJobScreen)
    return screen


def classified(state: LeiaState) -> SimJob:
    return next(
        j for j in state.own if j.status == "PROCESSED" and j.result_type == "classification"
    )


async def test_conditional_job_from_the_form(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        assert screen.query_one("#document-ids", Input).value == ",".join(after.document_ids)
        await leia.pilot.press(*"invoice")  # the value field has the focus
        screen.query_one("#model-id", Input).focus()
        await leia.pilot.press(*"invoice-kv")
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: not isinstance(leia.app.screen, ConditionalJobScreen), "close")

        assert leia.state.counts["create_conditional_job"] == 1
        created = leia.state.own[-1]
        assert created.job_type == "conditional" and created.execute_after_id == after.id
        assert created.rules == {
            "rule_1": {
                "conditions": {"category": "invoice"},
                "jobs": [
                    {
                        "job_type": "apply_model",
                        "document_ids": after.document_ids,
                        "model_id": "invoice-kv",
                    }
                ],
            }
        }
        await leia.until(lambda: leia.table.get_job(created.id) is not None, "the new job")
        assert leia.shown(created.id).raw.get("execute_after_id") == after.id
        # The cursor stayed on the prerequisite; its chain now lists the new job.
        assert leia.cursor_on(after.id)
        await leia.until(lambda: created.id in detail_text(leia), "the chain in the detail")


async def test_a_blocked_conditional_job_then_started(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        await leia.pilot.press(*"invoice")
        screen.query_one("#job-type", Select).value = "transform"
        await leia.pilot.click("#blocked")
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: not isinstance(leia.app.screen, ConditionalJobScreen), "close")
        created = leia.state.own[-1]
        assert created.status == "BLOCKED" and created.execute_after_id == after.id
        await leia.until(lambda: leia.table.get_job(created.id) is not None, "the new job")
        await leia.select(created.id)
        await leia.pilot.press("s")
        await leia.until(lambda: leia.shown(created.id).raw_state == "READY", "the start")
        assert leia.state.counts["start_job"] == 1


async def test_conditional_job_from_json(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        await leia.pilot.click("#--content-tab-json-pane")
        await leia.until(
            lambda: screen.query_one("#mode", TabbedContent).active == "json-pane", "the JSON tab"
        )
        rules = {
            "low": {
                "conditions": {"score": {"$lt": 0.5}},
                "jobs": [
                    {"job_type": "transform", "output_type": "text", "document_ids": ["d1"]},
                    {"job_type": "apply_model", "model_id": "classif"},
                ],
            }
        }
        screen.query_one("#json", TextArea).load_text(json.dumps(rules, indent=2))
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: not isinstance(leia.app.screen, ConditionalJobScreen), "close")
        assert leia.state.counts["create_conditional_job"] == 1
        created = leia.state.own[-1]
        assert created.execute_after_id == after.id and created.rules == rules


async def test_json_tab_starts_from_the_form(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        await leia.pilot.press(*"receipt")
        screen.query_one("#job-type", Select).value = "transform"
        await leia.pilot.press("ctrl+t")
        await leia.until(
            lambda: screen.query_one("#mode", TabbedContent).active == "json-pane", "the JSON tab"
        )
        body = json.loads(screen.query_one("#json", TextArea).text)
        assert body == {
            "rules": {
                "rule_1": {
                    "conditions": {"category": "receipt"},
                    "jobs": [
                        {
                            "job_type": "transform",
                            "document_ids": after.document_ids,
                            "output_type": "text",
                        }
                    ],
                }
            }
        }
        assert screen.query_one("#json", TextArea).has_focus
        await leia.pilot.press("ctrl+t")
        await leia.until(
            lambda: screen.query_one("#mode", TabbedContent).active == "form-pane", "the form"
        )
        assert screen.query_one("#value", Input).has_focus


async def test_mistakes_name_the_field_and_send_nothing(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        message = screen.query_one("#message", Static)

        await leia.pilot.press("ctrl+s")  # no value
        await leia.until(lambda: "value: a value is required" in text_of(message), "error")
        assert screen.query_one("#value", Input).has_focus

        await leia.pilot.press(*"invoice", "ctrl+s")  # no model
        await leia.until(lambda: text_of(message).startswith("model_id: "), "model error")
        assert screen.query_one("#model-id", Input).has_focus

        await leia.pilot.click("#--content-tab-json-pane")
        await leia.until(
            lambda: screen.query_one("#mode", TabbedContent).active == "json-pane", "the JSON tab"
        )
        area = screen.query_one("#json", TextArea)
        area.load_text('{"rules": {"r": {"conditions": {}, "jobs": [}}}')
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: "rules: not valid JSON" in text_of(message), "JSON error")

        area.load_text('{"r": {"jobs": [{"job_type": "apply_model", "document_ids": ["d"]}]}}')
        await leia.pilot.press("ctrl+s")
        await leia.until(
            lambda: "model_id is required for apply_model" in text_of(message), "rule error"
        )
        assert isinstance(leia.app.screen, ConditionalJobScreen)
        assert leia.state.counts["create_conditional_job"] == 0

        await leia.pilot.press("escape")  # leaves the editor
        assert isinstance(leia.app.screen, ConditionalJobScreen)
        await leia.pilot.press("escape")
        await leia.until(lambda: not isinstance(leia.app.screen, ConditionalJobScreen), "close")
        assert leia.state.counts["create_conditional_job"] == 0


async def test_a_refused_conditional_job_shows_the_server_line(
    emulator: EmulatorFactory,
) -> None:
    async with leia_app(emulator) as leia:
        after = classified(leia.state)
        screen = await open_conditional(leia, after)
        await leia.pilot.press(*"invoice")
        screen.query_one("#model-id", Input).value = "invoice-kv"
        leia.state.faults.fail_status = 500
        await leia.pilot.press("ctrl+s")
        message = screen.query_one("#message", Static)
        await leia.until(lambda: text_of(message).startswith("leia: "), "the server error")
        assert "Simulated failure" in text_of(message)
        assert isinstance(leia.app.screen, ConditionalJobScreen)
        leia.state.faults.fail_status = None


# -- chain navigation ---------------------------------------------------------------------------


async def test_enter_lists_the_chain_and_jumps_backspace_returns(
    emulator: EmulatorFactory,
) -> None:
    async with leia_app(emulator) as leia:
        head, chain = running_head(leia.state)
        middle = chain[0]
        await leia.select(middle.id)
        await leia.pilot.press("enter")
        await leia.until(lambda: isinstance(leia.app.screen, ChainScreen), "the chain")
        picker = leia.app.screen
        assert isinstance(picker, ChainScreen)
        assert [(e.role, e.job_id) for e in picker.entries] == [
            ("waits on", head.id),
            *(("dependents", d.id) for d in leia.state.dependants.get(middle.id, ())),
        ]
        await leia.pilot.press("enter")  # the first one: what it waits on
        await leia.until(lambda: not isinstance(leia.app.screen, ChainScreen), "the jump")
        assert leia.cursor_on(head.id)

        await leia.pilot.press("enter")  # from the head, on to its dependent
        await leia.until(lambda: isinstance(leia.app.screen, ChainScreen), "the chain")
        await leia.pilot.press("enter")
        await leia.until(lambda: not isinstance(leia.app.screen, ChainScreen), "the jump")
        assert leia.cursor_on(middle.id)

        await leia.pilot.press("backspace")
        await leia.until(
            lambda: leia.cursor_on(head.id),
            "back to the head",
        )
        await leia.pilot.press("backspace")
        await leia.until(
            lambda: leia.cursor_on(middle.id),
            "back to the start",
        )
        await leia.pilot.press("backspace")  # nothing left: the cursor stays
        await leia.pilot.pause()
        assert leia.cursor_on(middle.id)


async def test_children_of_a_conditional_job_are_reachable(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        parent = next(
            j for j in leia.state.own if j.job_type == "conditional" and j.status == "PROCESSED"
        )
        child = leia.state.children[parent.id][0]
        await leia.select(parent.id)
        await leia.pilot.press("enter")
        await leia.until(lambda: isinstance(leia.app.screen, ChainScreen), "the chain")
        picker = leia.app.screen
        assert isinstance(picker, ChainScreen)
        roles = [(e.role, e.job_id) for e in picker.entries]
        assert roles[:2] == [("waits on", parent.execute_after_id), ("children", child.id)]
        await leia.pilot.press("down", "enter")
        await leia.until(
            lambda: leia.cursor_on(child.id),
            "the child",
        )
        await leia.pilot.press("escape")  # nothing open: escape does nothing
        await leia.pilot.press("backspace")
        await leia.until(
            lambda: leia.cursor_on(parent.id),
            "back to the parent",
        )


async def test_enter_on_a_job_without_links_opens_nothing(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        alone = next(
            j
            for j in leia.state.own
            if not j.execute_after_id
            and not j.parent_job_id
            and not leia.state.dependants.get(j.id)
            and not leia.state.children.get(j.id)
        )
        await leia.select(alone.id)
        await leia.pilot.press("enter")
        await leia.pilot.pause()
        assert not isinstance(leia.app.screen, ChainScreen)


# -- server-side filters ------------------------------------------------------------------------


async def test_filter_dialog_filters_on_the_server(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        failed = {j.id for j in leia.state.own if j.status == "FAILED"}
        assert failed and len(failed) < leia.table.row_count
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        screen = leia.app.screen
        assert isinstance(screen, LeiaFilterScreen)
        screen.query_one("#f-status", Select).value = "FAILED"
        lists = leia.state.counts["get_jobs"]
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: set(leia.table.row_ids()) == failed, "the filtered list")
        assert leia.state.counts["get_jobs"] == lists + 1  # listed again, by the server
        assert leia.table.total_count == len(failed)  # not hidden by the table: never received
        assert leia.service.filters == LeiaFilters(status=LeiaStatus.FAILED)
        await leia.until(lambda: "filter status=FAILED" in status_line(leia), "the status line")

        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        await leia.pilot.press("ctrl+r", "ctrl+s")  # clear all, apply
        await leia.until(lambda: leia.table.row_count > len(failed), "the whole list")
        assert not leia.service.filters
        await leia.until(lambda: "filter" not in status_line(leia), "the status line")


async def test_a_bad_filter_names_the_field(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        screen = leia.app.screen
        assert isinstance(screen, LeiaFilterScreen)
        field = screen.query_one("#f-created-after", Input)
        field.focus()
        await leia.pilot.press(*"yesterday", "enter")
        message = screen.query_one("#message", Static)
        await leia.until(
            lambda: text_of(message).startswith("created_after: not a date-time"), "error"
        )
        assert field.has_focus and isinstance(leia.app.screen, LeiaFilterScreen)
        assert not leia.service.filters

        field.value = "2026-11-02T08:50:00"
        screen.query_one("#f-created-before", Input).value = "2026-11-02 08:40"
        await leia.pilot.press("ctrl+s")
        await leia.until(
            lambda: "created_before: must be later than created_after" in text_of(message),
            "the range error",
        )
        await leia.pilot.press("escape")
        await leia.until(lambda: not isinstance(leia.app.screen, LeiaFilterScreen), "close")
        assert not leia.service.filters


# -- the detail section -------------------------------------------------------------------------


def section_text(job: Job, service: LeiaService) -> str:
    console = Console(width=110, record=True, color_system=None)
    section = render_section(job, service)
    assert section is not None
    console.print(section)
    return console.export_text()


async def test_detail_section_reads_each_result_type(emulator: EmulatorFactory) -> None:
    async with leia_app(emulator) as leia:
        service = leia.service
        jobs = service.jobs

        def first(result_type: str) -> Job:
            return next(
                j
                for j in jobs.values()
                if j.raw.get("result_type") == result_type and j.raw.get("result") is not None
            )

        text = section_text(first("classification"), service)
        assert "result · classification" in text
        assert "invoice" in text and "0.97" in text and "0.93" in text

        pages = first("list[document]")
        text = section_text(pages, service)
        docs = pages.raw["result"]
        assert f"{len(docs)} document" in text and "filename" in text and "mime" in text
        assert all(d["filename"] in text for d in docs) and "image/jpeg" in text
        assert "KiB" in text

        text = section_text(first("dict[classification]"), service)
        assert "document" in text and "category" in text

        fields = first("object")
        text = section_text(fields, service)
        assert all(f"{k}" in text for k in fields.raw["result"])

        conditional = first("conditional")
        text = section_text(conditional, service)
        rule = next(iter(conditional.raw["result"]))
        assert f"rule {rule}" in text and "1. object" in text
        assert "waits on" in text and "children" in text

        failed = next(j for j in jobs.values() if j.raw.get("http_code") == 400)
        text = section_text(failed, service)
        assert "failed" in text and "http_code 400: a problem with the input data" in text
        assert failed.message == f"{failed.raw['reason']} (code 400)"  # the row above the section


async def test_other_jobs_changing_make_the_section_again_not_the_record(
    emulator: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's section may show other jobs: when they change, the section and the facts are
    made again, and the job's record, unchanged, keeps its rendered lines."""
    records: list[str] = []
    sections: list[str] = []
    make_record, make_section = detail_module.render_record, detail_module.render_section

    def render_record(job: Job) -> RenderableType:
        records.append(job.id)
        return make_record(job)

    def render_section(job: Job, service: Service) -> RenderableType | None:
        sections.append(job.id)
        return make_section(job, service)

    monkeypatch.setattr(detail_module, "render_record", render_record)
    monkeypatch.setattr(detail_module, "render_section", render_section)
    async with leia_app(emulator) as leia:
        done = next(job for job in leia.state.own if job.status == "PROCESSED")
        other = next(job for job in leia.state.own if not job.terminal)
        await leia.select(done.id)
        detail = leia.app.screen.query_one(JobDetail)
        shown = detail.job
        await leia.pilot.pause()
        records.clear()
        sections.clear()
        with leia.state.lock:
            leia.state.cancel(other)
        await leia.poll()
        await leia.until(lambda: leia.shown(other.id).raw_state == "CANCELED", "the cancel")
        await leia.until(lambda: sections == [done.id], "the section made again")
        await leia.pilot.pause()
        assert detail.job is shown and records == []

        # the lines are those of the whole detail rendered at once
        console = leia.app.console
        width = detail.scrollable_content_region.width
        options = console.options.update(width=width, height=None, highlight=False, markup=False)
        whole = console.render_lines(detail.content, options, style=detail.rich_style, pad=True)
        assert [Strip(line, width).text for line in whole] == [
            strip.text for strip in detail._shown.lines
        ]
        assert done.id in detail_text(leia)


# -- the demo -----------------------------------------------------------------------------------


async def test_the_leia_tab_joins_the_demo(emulator: EmulatorFactory) -> None:
    """`jobtui demo` builds its app from `[[services]]` entries pointing at the emulators: the
    Leia entry becomes a Leia tab with its own keys."""
    from jobtui.config import config_from_data
    from jobtui.emulate_cli import service_entries
    from jobtui.tui.app import build_app

    running = emulator("leia", seed=7, speed=0, jobs=40)
    config = config_from_data({"services": service_entries([running])}, source="demo")
    app = build_app(config, title="jobtui demo")
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        assert [str(tab.label).rstrip() for tab in tabs.query(Tab)] == ["Leia"]
        table = app.screen.query_one(JobTable)
        tab = app.screen.query_one(ServiceTab)
        assert isinstance(tab.service, LeiaService)
        deadline = time.monotonic() + 10.0
        while table.row_count < 40:
            assert time.monotonic() < deadline, "the Leia tab never filled"
            await pilot.pause(0.01)
        shown = set(app.active_bindings)
        assert {"c", "s", "k", "f", "backspace"} <= shown
        await pilot.press("f")
        while not isinstance(app.screen, LeiaFilterScreen):
            assert time.monotonic() < deadline, "no filter dialog"
            await pilot.pause(0.01)


def plain(renderable: object) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_results_of_an_unexpected_shape_fall_back_to_a_tree() -> None:
    text = plain(render_result("classification", {"label": "x", "nested": {"deep": [1, None]}}))
    assert "label" in text and "nested" in text and "deep" in text and "null" in text
    assert "category" not in text
    assert "no documents" in plain(render_result("list[document]", []))
    assert "no rule matched" in plain(render_result("conditional", {}))
    assert "42" in plain(render_result("something-new", 42))
    text = plain(
        render_result(
            "conditional",
            {
                "r": [
                    {
                        "result_type": "classification",
                        "result": {"category": "a", "score": 0.5, "accuracy": 1},
                    }
                ]
            },
        )
    )
    assert "rule r" in text and "1. classification" in text and "0.5" in text
    assert [human_size(n) for n in (840, 12_600, 3 * 1024**2, None)] == [
        "840 B",
        "12.3 KiB",
        "3.0 MiB",
        "—",
    ]


def test_a_failure_without_reason_or_code_says_so() -> None:
    job = Job("leia", "j1", JobState.FAILED, "FAILED", raw={"id": "j1", "status": "FAILED"})
    assert "the server gave no reason" in plain(render_failure(job))
    internal = Job(
        "leia", "j2", JobState.FAILED, "FAILED", raw={"reason": "boom", "http_code": 5000}
    )
    assert "http_code 5000: a Leia internal error" in plain(render_failure(internal))
    done = Job("leia", "j3", JobState.SUCCEEDED, "PROCESSED", raw={"http_code": 200})
    assert render_failure(done) is None


async def test_a_change_of_filters_is_not_news(emulator: EmulatorFactory) -> None:
    """Clearing a filter brings finished jobs into view: they were there all along, so no toast
    announces them (nor do they count as needing attention)."""
    async with leia_app(emulator) as leia:
        failed = {j.id for j in leia.state.own if j.status == "FAILED"}
        finished = {j.id for j in leia.state.own if j.status == "PROCESSED"}
        assert failed and finished
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        screen = leia.app.screen
        assert isinstance(screen, LeiaFilterScreen)
        screen.query_one("#f-status", Select).value = "FAILED"
        await leia.pilot.press("ctrl+s")
        await leia.until(lambda: set(leia.table.row_ids()) == failed, "the filtered list")
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        await leia.pilot.press("ctrl+r", "ctrl+s")  # clear all, apply
        await leia.until(lambda: finished <= set(leia.table.row_ids()), "the whole list")
        await settle(leia.pilot)
        # Every notice of the session (a toast shown may have timed out on a busy machine).
        toasts = [notice.message for notice in leia.app.notices]
        # Only the dialog's own word on what it did: no jobs, no second word on the filters.
        assert toasts == ["leia: filters status=FAILED", "leia: no filters"], toasts
        assert leia.app.attention == 0


async def test_enter_applies_the_filter_dialog_at_once(emulator: EmulatorFactory) -> None:
    """The dialog's button says `Apply (enter)`: enter, pressed first thing, applies."""
    async with leia_app(emulator) as leia:
        failed = {j.id for j in leia.state.own if j.status == "FAILED"}
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        screen = leia.app.screen
        assert isinstance(screen, LeiaFilterScreen)
        screen.query_one("#f-status", Select).value = "FAILED"
        await leia.pilot.press("enter")
        await leia.until(lambda: not isinstance(leia.app.screen, LeiaFilterScreen), "applied")
        assert leia.service.filters == LeiaFilters(status=LeiaStatus.FAILED)
        await leia.until(lambda: set(leia.table.row_ids()) == failed, "the filtered list")


async def test_a_long_list_shows_its_first_page_at_once_then_the_rest_as_no_news(
    emulator: EmulatorFactory,
) -> None:
    """1,000 jobs: the first page's rows come first ("100 of 1000 jobs · loading the rest…"),
    the rest follows at once without waiting for the poll interval, and none of it is news."""
    running = emulator("leia", seed=1, speed=0, jobs=1000)
    state = running.state
    assert isinstance(state, LeiaState)
    service = LeiaService("leia", running.url, str(running.emulator.config["api_key"]))
    rest = asyncio.Event()
    real_poll = service.poll
    calls = [0]

    async def poll() -> PollResult:
        calls[0] += 1
        if calls[0] == 2:
            await rest.wait()  # hold the rest back until the first page was looked at
        return await real_poll()

    service.poll = poll  # type: ignore[method-assign]
    app = JobtuiApp([service], refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        leia = Leia(running, state, service, app, pilot)
        tab = app.screen.query_one(ServiceTab)
        await leia.until(lambda: leia.table.row_count > 0 and calls[0] == 2, "the first page")
        assert leia.table.row_count == 100
        assert f"100 of {len(state.own)} jobs · loading the rest…" in tab.status_text()
        rest.set()
        await leia.until(lambda: leia.table.row_count == len(state.own), "every row")
        await leia.until(lambda: "loading" not in tab.status_text(), "the whole list's status")
        assert f"{len(state.own)} jobs" in tab.status_text()
        assert tab.health.polls == 2  # the rest came at once, not after the 60 s interval
        assert not app.notices  # neither the first page nor the rest is news
