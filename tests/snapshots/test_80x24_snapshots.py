"""SVG snapshots at 80x24, in ASCII (a bare SSH session with `LANG=C`) and in UTF-8: every tab,
and every dialog while toasts are pending, as `jobtui demo` shows them.

Deterministic: the four services' seeded emulators with frozen clocks (speed 0), the app's clock
fixed a few minutes after their epoch, no blinking cursors; toasts that outlast any machine's
delay. Three toasts are on the dashboard (two shown, one folded into "and 1 more"); for the
dialogs, two more arrive while it is open and wait for it to close: nothing covers a dialog.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Input, Select

from jobtui.config import config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.dsp_ingest.state import DspIngestState
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.leia.state import LeiaState
from jobtui.services import build_service
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.dsp_ingest.mapping import MappingScreen
from jobtui.tui.dsp_ingest.upload import UploadScreen
from jobtui.tui.ecotaxa.answer import AnswerScreen
from jobtui.tui.leia.chain import ChainScreen
from jobtui.tui.leia.conditional import ConditionalJobScreen
from jobtui.tui.leia.filters import LeiaFilterScreen
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.notifications import NotificationsScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from jobtui.tui.modals.state_filter import StateFilterScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.modals.theme import ThemeScreen
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services import bsub_support, ecotaxa_support

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (80, 24)
LONG = 3600.0
"""Seconds a toast of these snapshots lasts: longer than any machine takes to shoot them."""


WORKING_FOLDER = Path("/tmp/jobtui-snapshots")
"""The current folder of every snapshot here: the save and new-job dialogs show paths below it,
which must not depend on where the checkout is."""


@pytest.fixture(autouse=True)
def fixed_working_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    WORKING_FOLDER.mkdir(exist_ok=True)
    monkeypatch.chdir(WORKING_FOLDER)


def fixed_clock() -> datetime:
    return NOW


@dataclass
class Demo:
    app: JobtuiApp
    states: dict[str, Any]


def demo(emulator: EmulatorFactory, ascii: bool = True) -> Demo:
    """The four services as `jobtui demo` sets them up, on seeded frozen emulators, in ASCII
    (or, with `ascii=False`, in UTF-8)."""
    running = [
        emulator(kind, seed=1, speed=0, jobs=DEMO_JOBS)
        for kind in ("bsub", "ecotaxa", "leia", "dsp-ingest")
    ]
    config = config_from_data({"services": service_entries(running)}, source="demo")
    services = [build_service(entry) for entry in config.services]
    for service in services:
        if isinstance(service, DspIngestService):
            service.now = fixed_clock
    app = JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock, ascii=ascii)
    return Demo(app, {r.kind: r.state for r in running})


async def until(pilot: Pilot[int], predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15.0
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def dashboard(pilot: Pilot[int]) -> DashboardScreen:
    screen = pilot.app.screen_stack[1]
    assert isinstance(screen, DashboardScreen)
    return screen


async def first_polls(pilot: Pilot[int]) -> None:
    tabs = list(dashboard(pilot).query(ServiceTab))
    await until(
        pilot,
        lambda: all(t.health.polls > 0 and t.health.ok for t in tabs),
        "every service's first poll",
    )
    all_jobs = dashboard(pilot).all_tab.table
    await until(pilot, lambda: all_jobs.has_focus, "the table's focus")


async def show(pilot: Pilot[int], key: str, job_id: str | None = None) -> None:
    """Show the tab of `key`, with the cursor on its first row or on `job_id`."""
    await pilot.press(key)
    screen = dashboard(pilot)
    await until(pilot, lambda: screen.active_table() is not None, "the tab")
    table = screen.active_table()
    assert table is not None
    await until(pilot, lambda: table.row_count > 0 and table.has_focus, "its rows")
    if job_id is None:
        await pilot.press("home")
        first = table.job_at(0)
        await until(pilot, lambda: table.cursor_job is first, "the cursor on the first row")
    else:
        assert table.move_cursor(job_id)
        details = list(screen.query(JobDetail))
        await until(
            pilot,
            lambda: any(d.job is not None and d.job.id == job_id for d in details),
            "the job's detail",
        )


def toasts(app: Any, *messages: str) -> None:
    for message in messages:
        app.notify(message, title="bsub.io", timeout=LONG)


async def pending(pilot: Pilot[int]) -> None:
    """Three toasts on the dashboard: two shown, one folded into "and 1 more"."""
    toasts(pilot.app, "job 1 succeeded", "job 2 failed", "job 3 succeeded")
    await pilot.pause()


def no_blink(pilot: Pilot[int]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


TABS = {"all-jobs": "0", "bsub": "1", "ecotaxa": "2", "leia": "3", "dsp-ingest": "4"}


CHARSETS = {"ascii": True, "utf8": False}
"""A bare SSH session with `LANG=C` (ASCII), and a UTF-8 terminal."""


@pytest.mark.parametrize("tab", list(TABS))
@pytest.mark.parametrize("charset", list(CHARSETS))
def test_tab_with_toasts_pending(
    snap_compare: SnapCompare, emulator: EmulatorFactory, charset: str, tab: str
) -> None:
    """Each tab at 80x24, in ASCII and in UTF-8, with toasts pending."""
    app = demo(emulator, CHARSETS[charset]).app

    async def run_before(pilot: Pilot[int]) -> None:
        await first_polls(pilot)
        await show(pilot, TABS[tab])
        await pending(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


Opener = Callable[[Pilot[int], dict[str, Any]], Awaitable[None]]


async def open_with(pilot: Pilot[int], tab: str, key: str, job_id: str | None = None) -> None:
    await show(pilot, TABS[tab], job_id)
    await pending(pilot)
    await pilot.press(key)


async def bsub_new_job(pilot: Pilot[int], states: dict[str, Any]) -> None:
    await open_with(pilot, "bsub", "n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewBsubJobScreen), "the dialog")
    select = pilot.app.screen.query_one("#type", Select)
    await until(pilot, lambda: select.prompt == "choose a type", "the types")


async def bsub_cancel(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: BsubState = states["bsub"]
    await open_with(pilot, "bsub", "c", bsub_support.seeded(state, "processing").id)


async def bsub_save(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: BsubState = states["bsub"]
    await open_with(pilot, "bsub", "o", bsub_support.seeded(state, "finished").id)


async def bsub_log(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: BsubState = states["bsub"]
    await open_with(pilot, "bsub", "l", bsub_support.seeded(state, "finished").id)
    await until(pilot, lambda: isinstance(pilot.app.screen, TextViewScreen), "the log")
    status = pilot.app.screen.query_one("#status")
    await until(pilot, lambda: "loading" not in str(status.render()), "the log's text")


async def ecotaxa_answer(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: EcoTaxaState = states["ecotaxa"]
    await open_with(pilot, "ecotaxa", "a", str(ecotaxa_support.seeded(state, "A", "FileImport").id))


def leia_job(state: LeiaState, test: Callable[[Any], bool]) -> str:
    return str(next(job for job in state.jobs.values() if test(job)).id)


async def leia_chain(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: LeiaState = states["leia"]
    job = leia_job(state, lambda j: j.status == "WAITING" and bool(state.dependants.get(j.id)))
    await open_with(pilot, "leia", "enter", job)


async def leia_conditional(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: LeiaState = states["leia"]
    job = leia_job(state, lambda j: j.status == "PROCESSED" and j.result_type == "classification")
    await open_with(pilot, "leia", "k", job)


async def leia_filter(pilot: Pilot[int], states: dict[str, Any]) -> None:
    await open_with(pilot, "leia", "f")


async def dsp_upload(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: DspIngestState = states["dsp-ingest"]
    await open_with(pilot, "dsp-ingest", "u", state.roles["empty"])


async def dsp_mapping(pilot: Pilot[int], states: dict[str, Any]) -> None:
    state: DspIngestState = states["dsp-ingest"]
    code = state.roles["mapped"]
    await open_with(pilot, "dsp-ingest", "m", code)
    await until(pilot, lambda: isinstance(pilot.app.screen, MappingScreen), "the view")
    rows = len(state.mapping_rows(code))
    table = pilot.app.screen.query_one("#rows")
    await until(pilot, lambda: getattr(table, "row_count", 0) == rows, "the rows")


async def palette(pilot: Pilot[int], states: dict[str, Any]) -> None:
    """`:` with "go to" typed: the five tabs to go to."""
    await open_with(pilot, "all-jobs", ":")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), "the palette")
    no_blink(pilot)
    await pilot.press(*"go to")
    hits = pilot.app.screen.query_one(CommandList)
    await until(pilot, lambda: hits.option_count == 5, "the tabs")
    await pilot.pause(0.2)


def on_all_jobs(keys: str) -> Opener:
    async def opener(pilot: Pilot[int], states: dict[str, Any]) -> None:
        await open_with(pilot, "all-jobs", keys)

    return opener


DIALOGS: dict[str, tuple[Opener, type[ModalScreen[Any]]]] = {
    "help": (on_all_jobs("?"), HelpScreen),
    "palette": (palette, CommandPalette),
    "theme": (on_all_jobs("T"), ThemeScreen),
    "state-filter": (on_all_jobs("S"), StateFilterScreen),
    "notifications": (on_all_jobs("N"), NotificationsScreen),
    "bsub-new-job": (bsub_new_job, NewBsubJobScreen),
    "bsub-cancel": (bsub_cancel, ConfirmScreen),
    "bsub-save-output": (bsub_save, SaveFileScreen),
    "bsub-log": (bsub_log, TextViewScreen),
    "ecotaxa-answer": (ecotaxa_answer, AnswerScreen),
    "leia-chain": (leia_chain, ChainScreen),
    "leia-conditional": (leia_conditional, ConditionalJobScreen),
    "leia-filter": (leia_filter, LeiaFilterScreen),
    "dsp-ingest-upload": (dsp_upload, UploadScreen),
    "dsp-ingest-mapping": (dsp_mapping, MappingScreen),
}


@pytest.mark.parametrize("dialog", list(DIALOGS))
@pytest.mark.parametrize("charset", list(CHARSETS))
def test_dialog_with_toasts_pending(
    snap_compare: SnapCompare, emulator: EmulatorFactory, charset: str, dialog: str
) -> None:
    """Each dialog at 80x24, in ASCII and in UTF-8: the toasts from before it and those that
    arrive while it is open leave it uncovered."""
    setup = demo(emulator, CHARSETS[charset])
    opener, screen_type = DIALOGS[dialog]

    async def run_before(pilot: Pilot[int]) -> None:
        await first_polls(pilot)
        await opener(pilot, setup.states)
        await until(pilot, lambda: isinstance(pilot.app.screen, screen_type), "the dialog")
        toasts(pilot.app, "job 4 failed", "job 5 asks a question")
        no_blink(pilot)
        await pilot.pause()
        # The toasts that came while the dialog is open wait for it.
        assert [n.message for n in pilot.app._notifications if "job 4" in n.message] == []

    assert snap_compare(setup.app, terminal_size=SIZE, run_before=run_before)
