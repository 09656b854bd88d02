"""The EcoTaxa tab driven with Pilot against the EcoTaxa emulator over loopback HTTP.

Each test starts a seeded emulator with a frozen clock (speed 0) and the real app on an
`EcoTaxaService`; the tab polls every minute, so polls happen when a test (or an action) asks for
one, and time moves only when a test advances the emulator's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, Label, Static

from jobtui.core.models import JobState
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.services._http import Limits, limits, set_limits
from jobtui.services.ecotaxa import service as ecotaxa_service
from jobtui.services.ecotaxa.client import EcoTaxaClient
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.services.ecotaxa.wire import EcoTaxaRecord
from jobtui.tui.app import JobtuiApp
from jobtui.tui.ecotaxa.answer import AnswerScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.widgets.detail import JobDetail
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import advance_until, seeded
from tests.tui.driver import TabDriver

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (120, 44)


def fixed_clock() -> datetime:
    return NOW


class EcoTaxa(TabDriver[EcoTaxaState, EcoTaxaService]):
    """One running emulator, the service on it, and the app being driven."""

    def word(self, job_id: int | str) -> str:
        job = self.listed(job_id)
        return job.raw_state if job is not None else "(not listed)"

    def notes(self) -> list[str]:
        return [str(n.message) for n in self.app.notices]

    async def open_form(self) -> AnswerScreen:
        await self.pilot.press("a")
        await self.until(lambda: isinstance(self.app.screen, AnswerScreen), "the answer form")
        screen = self.app.screen
        assert isinstance(screen, AnswerScreen)
        return screen


@asynccontextmanager
async def ecotaxa_app(emulator: EmulatorFactory, *, seed: int = 1) -> AsyncIterator[EcoTaxa]:
    running = emulator("ecotaxa", seed=seed, speed=0, jobs=30)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    config = running.emulator.config
    service = EcoTaxaService(
        "EcoTaxa",
        running.url,
        username=str(config["username"]),
        password=str(config["password"]),
    )
    app = JobtuiApp([service], refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        eco = EcoTaxa(running, state, service, app, pilot)
        await eco.until(lambda: eco.table.row_count > 0, "the first poll")
        yield eco


def detail_text(eco: EcoTaxa) -> str:
    body = eco.app.screen.query_one(JobDetail)
    console = Console(width=110, record=True, color_system=None)
    console.print(body.content)
    return console.export_text()


def form_labels(form: AnswerScreen) -> list[str]:
    return [str(label.content).strip() for label in form.query(".answer-name").results(Label)]


def message_of(screen: AnswerScreen | SaveFileScreen) -> str:
    return str(screen.query_one("#message", Label).content)


def field(form: AnswerScreen, group: str, name: str) -> Input:
    return form.query_one(f"#{form.ids[f'{group}[{name}]']}", Input)


def part_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.part"))


# -- answer -------------------------------------------------------------------------------------


async def test_answer_a_question_and_see_the_job_finish(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "A", "FileImport")
        users, taxa = list(sim.missing_users), list(sim.missing_taxa)
        await eco.select(sim.id)
        assert eco.word(sim.id) == "asking"
        text = detail_text(eco)
        assert "missing taxa" in text and all(name in text for name in taxa)

        form = await eco.open_form()
        assert form_labels(form) == users + taxa
        first = form.query(Input).first()
        assert first.has_focus
        await eco.pilot.press("ctrl+s")  # nothing typed: nothing to send
        await eco.until(lambda: "at least one" in message_of(form), "the form's message")
        # a non-integer id: the form names the field, focuses it, and sends nothing
        second = field(form, "taxa", taxa[0])
        second.focus()
        await eco.pilot.press("1", "2", "x")
        await eco.pilot.press("ctrl+s")
        await eco.until(lambda: "not a whole number" in message_of(form), "the form's error")
        assert f"taxon {taxa[0]!r}: '12x' is not a whole number" in message_of(form)
        assert second.has_focus
        assert eco.state.counts["reply_job_question"] == 0
        assert isinstance(eco.app.screen, AnswerScreen)

        for number, name in enumerate(users, start=1):
            field(form, "users", name).value = str(100 + number)
        for number, name in enumerate(taxa, start=1):
            field(form, "taxa", name).value = f" {5000 + number} "
        await eco.pilot.press("ctrl+s")
        await eco.until(lambda: not isinstance(eco.app.screen, AnswerScreen), "the form to close")
        assert eco.state.counts["reply_job_question"] == 1
        assert sim.reply == {
            "users": {name: 100 + n for n, name in enumerate(users, start=1)},
            "taxa": {name.lower(): 5000 + n for n, name in enumerate(taxa, start=1)},
        }
        assert any(f"job {sim.id} answered" in note for note in eco.notes())
        await eco.until(lambda: eco.word(sim.id) in ("pending", "running"), "the job to proceed")

        advance_until(eco.state, lambda: sim.state == "F", step=5.0)
        await eco.poll()
        await eco.until(lambda: eco.word(sim.id) == "finished", "the job to finish")
        shown = eco.listed(sim.id)
        assert shown is not None and shown.state is JobState.SUCCEEDED
        text = detail_text(eco)
        assert "last reply" in text and f"{taxa[0].lower()} → 5001" in text


async def test_a_partial_answer_asks_again_with_the_names_left(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "A", "FileImport")
        taxa = list(sim.missing_taxa)
        assert len(taxa) >= 2
        await eco.select(sim.id)
        form = await eco.open_form()
        field(form, "taxa", taxa[0]).value = "4242"
        await eco.pilot.press("ctrl+s")
        await eco.until(lambda: not isinstance(eco.app.screen, AnswerScreen), "the form to close")
        assert eco.state.counts["reply_job_question"] == 1

        advance_until(eco.state, lambda: sim.state == "A", step=5.0)
        await eco.poll()
        await eco.until(lambda: eco.word(sim.id) == "asking", "the job to ask again")
        left = list(sim.missing_users) + taxa[1:]
        text = detail_text(eco)
        assert taxa[1] in text
        form = await eco.open_form()
        assert form_labels(form) == left
        assert f"taxa[{taxa[0]}]" not in form.ids
        await eco.pilot.press("escape")
        await eco.until(lambda: not isinstance(eco.app.screen, AnswerScreen), "the form to close")
        assert eco.state.counts["reply_job_question"] == 1


async def test_answer_is_not_offered_for_a_job_that_does_not_ask(
    emulator: EmulatorFactory,
) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "F", "BackupExport")
        await eco.select(sim.id)
        await eco.pilot.press("a")
        await eco.until(lambda: any("only asking jobs" in n for n in eco.notes()), "the reason")
        assert not isinstance(eco.app.screen, AnswerScreen)


# -- restart, erase, notes ----------------------------------------------------------------------


async def test_restart_a_job_in_error(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        finished = seeded(eco.state, "F", "BackupExport")
        await eco.select(finished.id)
        await eco.pilot.press("R")
        await eco.until(lambda: any("only jobs in error" in n for n in eco.notes()), "the reason")
        assert eco.state.counts["restart_job"] == 0

        sim = seeded(eco.state, "E", "Subset")
        await eco.select(sim.id)
        await eco.pilot.press("R")
        await eco.until(lambda: eco.state.counts["restart_job"] == 1, "the restart")
        await eco.until(lambda: any(f"job {sim.id} restarting" in n for n in eco.notes()), "note")
        await eco.until(lambda: eco.word(sim.id) in ("pending", "running"), "the job to restart")


async def test_a_silent_no_op_is_told(emulator: EmulatorFactory) -> None:
    """An action the server ignored (the job stays as it was for the next polls) is notified."""
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "E", "GeneralExport")
        eco.service.expect_change(str(sim.id), "E", "restart", polls=1)
        await eco.poll()
        line = f"job {sim.id} is still in E after restart"
        status = eco.tab.query_one("#status", Static)
        await eco.until(lambda: line in str(status.content), "the status line's note")
        await eco.until(lambda: any(line in n for n in eco.notes()), "the notification")
        count = sum(line in n for n in eco.notes())
        await eco.poll()
        assert sum(line in n for n in eco.notes()) == count


async def test_erase_says_what_it_does_in_each_state(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "R", "GeneralExport")
        await eco.select(sim.id)
        await eco.pilot.press("d")
        await eco.until(lambda: isinstance(eco.app.screen, ConfirmScreen), "the confirmation")
        confirm = eco.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert f"Erase EcoTaxa job {sim.id} (GeneralExport, running)?" in confirm.body
        assert "killed and stays listed as error" in confirm.body
        assert eco.state.counts["erase_job"] == 0
        await eco.pilot.press("y")
        await eco.until(lambda: eco.state.counts["erase_job"] == 1, "the erase")
        await eco.until(lambda: eco.word(sim.id) == "error", "the job to be killed")

        await eco.pilot.pause(0.5)  # the confirmation's debounce
        await eco.select(sim.id)
        await eco.pilot.press("d")
        await eco.until(lambda: isinstance(eco.app.screen, ConfirmScreen), "the confirmation")
        confirm = eco.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "It is archived and leaves the list." in confirm.body
        await eco.pilot.press("y")
        await eco.until(lambda: eco.state.counts["erase_job"] == 2, "the second erase")
        await eco.until(lambda: eco.listed(sim.id) is None, "the job to leave the list")


# -- log and file -------------------------------------------------------------------------------


async def test_the_log_of_a_running_job_is_followed(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "R", "GeneralExport")
        await eco.select(sim.id)
        await eco.pilot.press("l")
        await eco.until(lambda: isinstance(eco.app.screen, TextViewScreen), "the log")
        view = eco.app.screen
        assert isinstance(view, TextViewScreen)
        assert view.follow
        status = view.query_one("#status", Label)
        await eco.until(lambda: "following" in str(status.content), "the log to load")
        assert eco.state.counts["get_job_log_file"] >= 1


async def test_save_a_finished_export(emulator: EmulatorFactory, tmp_path: Path) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded(eco.state, "F", "BackupExport")
        name, data = eco.state.file_of(sim)
        await eco.select(sim.id)
        await eco.pilot.press("o")
        await eco.until(lambda: isinstance(eco.app.screen, SaveFileScreen), "the save dialog")
        dialog = eco.app.screen
        assert isinstance(dialog, SaveFileScreen)
        path = dialog.query_one("#path", Input)
        assert Path(path.value).name == name
        path.value = str(tmp_path / name)
        await eco.pilot.press("enter")
        await eco.until(lambda: not isinstance(eco.app.screen, SaveFileScreen), "the download")
        saved = tmp_path / name
        assert saved.read_bytes() == data
        assert not part_files(tmp_path)
        assert any(f"saved {saved}" in n for n in eco.notes())


# -- the demo -----------------------------------------------------------------------------------


async def test_the_demo_config_opens_an_ecotaxa_tab_that_answers(
    emulator: EmulatorFactory,
) -> None:
    """`jobtui demo` points a `[[services]]` entry at the emulator: the tab it builds lists the
    jobs and offers the answer form on an asking job."""
    from jobtui.config import config_from_data
    from jobtui.emulate_cli import KINDS, service_entries
    from jobtui.services import build_service

    assert "ecotaxa" in KINDS
    running = emulator("ecotaxa", seed=3, speed=0, jobs=20)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    config = config_from_data({"services": service_entries([running])}, source="demo")
    services = [build_service(entry) for entry in config.services]
    assert [s.kind for s in services] == ["ecotaxa"] and services[0].name == "EcoTaxa"
    app = JobtuiApp(services, refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        service = services[0]
        assert isinstance(service, EcoTaxaService)
        eco = EcoTaxa(running, state, service, app, pilot)
        await eco.until(lambda: eco.table.row_count > 0, "the first poll")
        sim = seeded(state, "A", "FileImport")
        await eco.select(sim.id)
        form = await eco.open_form()
        assert form_labels(form) == list(sim.missing_users) + list(sim.missing_taxa)


# -- messages -----------------------------------------------------------------------------------


async def test_an_empty_failure_message_shows_the_last_line_of_errors(
    emulator: EmulatorFactory,
) -> None:
    """A summary export that failed on a bare `assert` has an empty message: the table and the
    detail's first lines show the exception, the last line of its errors."""
    async with ecotaxa_app(emulator, seed=63) as eco:
        sim = next(j for j in eco.state.owned_by(2, "E") if j.progress_msg == "")
        assert sim.errors[-1] == "AssertionError\n"
        assert eco.shown(sim.id).message == "AssertionError"
        await eco.select(sim.id)
        lines = [line.strip() for line in detail_text(eco).splitlines() if line.strip()]
        assert lines[0].startswith(f"{sim.id}  error")
        assert lines[1].split() == ["message", "AssertionError"]
        says = next(line for line in lines if line.startswith("server says"))
        assert says.split(None, 2)[2] == "nothing: the message is the last line of errors"


async def test_a_list_over_its_bound_shows_its_first_part_then_says_it_in_one_line(
    emulator: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first part of a long list is shown as it comes; when the rest takes the list past
    its bound (`[limits] list_mib`), the next poll says so in one line naming the bound, and
    the jobs shown stay (the dashboard goes on)."""
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    before = limits()
    set_limits(Limits(list_page=12 << 10))  # some 30 jobs: the emulator's list is larger
    try:
        async with ecotaxa_app(emulator) as eco:
            shown = eco.table.row_count
            assert 0 < shown < len(eco.state.owned_by(2))
            eco.tab.poll_now()
            await eco.until(lambda: not eco.tab.health.ok, "the list's bound")
            status = eco.tab.status_text()
            assert "job list larger than 12.0 KiB: not read further" in status, status
            assert "\n" not in status
            assert eco.table.row_count == shown
    finally:
        set_limits(before)


async def test_a_long_list_shows_its_first_part_and_the_cursor_stays_on_the_newest_job(
    emulator: EmulatorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EcoTaxa's list is one answer, in no order (the server's is by id, oldest first): the
    jobs of its first bytes are shown while the rest is validated. A cursor left on the first
    row stays on the first row when the rest comes, newer jobs above: the newest job."""
    monkeypatch.setattr(ecotaxa_service, "FIRST_PART", 4096)
    rest = asyncio.Event()
    parse_list = EcoTaxaClient.parse_list

    async def after_the_first_part(client: EcoTaxaClient, content: bytes) -> list[EcoTaxaRecord]:
        await rest.wait()
        return await parse_list(client, content)

    monkeypatch.setattr(EcoTaxaClient, "parse_list", after_the_first_part)
    async with ecotaxa_app(emulator) as eco:
        owned = eco.state.owned_by(2)
        assert 0 < eco.table.row_count < len(owned)
        assert "loading the rest" in eco.tab.status_text()
        rest.set()
        newest = str(max(job.id for job in owned))
        await eco.until(lambda: eco.table.row_count == len(owned), "the rest of the list")
        assert eco.table.cursor_row == 0
        job = eco.table.cursor_job
        assert job is not None and job.id == newest
