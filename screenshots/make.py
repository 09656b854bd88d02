"""Regenerate the SVG screenshots in this folder from the deterministic demo.

    .venv/bin/python screenshots/make.py [--out FOLDER]

It serves an emulator of every kind this version has (seed 1, frozen clock), builds the dashboard
from their `[[services]]` entries as `jobtui demo` does, with the app's clock fixed five minutes
after the emulators' epoch, and saves:

- the tabs: `dashboard.svg` (bsub.io), one SVG per other service tab (named after its kind),
  `detail.svg` (a failed job's detail), `logs.svg` (a job's log);
- every dialog: `bsub-new-job.svg`, `confirm.svg` (a cancel confirmation), `save-output.svg`,
  `ecotaxa-answer.svg` (an import's question, a mistake named), `leia-chain.svg`,
  `leia-conditional.svg`, `leia-filter.svg`, `dsp-ingest-upload.svg` (a folder checked),
  `dsp-ingest-mapping.svg`, `state-filter.svg` (the `S` chooser), `themes.svg`;
- with two services or more: `all-jobs.svg`, `filter.svg` (a `/` filter typed), `help.svg` (the
  `?` keys), `palette.svg` (the command palette), `bulk-confirm.svg` (jobs of two services
  marked, one confirmation) and `bulk-summary.svg` (the per-job summary after it), and
  `ansi.svg` (the bsub.io tab in the 16-colour jobtui-ansi theme);
- from the job journal (a second dashboard, whose journal holds an earlier session and 30 days
  of seeded bsub.io jobs): `timeline.svg` (a job's timeline in the detail pane, the since-last
  line as a toast, overdue jobs marked ◷) and `statistics.svg` (the `G` screen).

The tabs poll only when asked, so that their history sparklines are the same on every run, and
the script works in a temporary folder, so that paths read the same: the same tree gives the
same files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TextArea,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from jobtui.config import config_from_data
from jobtui.core.models import Job, JobState
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.runner import KINDS, RunningEmulator, serve_emulators
from jobtui.journal import Journal, JournalSettings, ServiceRef
from jobtui.services import SERVICES, build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.journal import JournalLink
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from jobtui.tui.modals.state_filter import StateFilterScreen
from jobtui.tui.modals.statistics import StatisticsScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.modals.theme import ThemeScreen
from jobtui.tui.screens.dashboard import ALL_PANE, DashboardScreen, pane_id
from jobtui.tui.themes import ANSI_THEME
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable, row_key_of
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.settle import settle

HERE = Path(__file__).resolve().parent
SIZE = (160, 48)
NOW = DEMO_EPOCH + timedelta(minutes=5)
SETTINGS = EmulatorSettings(seed=1, speed=0, jobs=DEMO_JOBS, options={"arrivals": True})
WAIT = 60.0
"""How long a condition may take at most before the script gives up (a bound on a wait, never
a sleep: on a loaded machine a poll or a log can take many seconds)."""


def fixed_clock() -> datetime:
    return NOW


def say(text: str) -> None:
    print(text, file=sys.stderr)


def available_kinds() -> list[str]:
    """The kinds with both an emulator and a service in this tree, in the demo's order."""
    kinds: list[str] = []
    for kind in KINDS:
        modules = [KINDS[kind], SERVICES.get(kind, "").partition(":")[0]]
        try:
            for module in modules:
                importlib.import_module(module)
        except ImportError as error:
            say(f"skipped {kind}: {error}")
            continue
        kinds.append(kind)
    return kinds


class Shooter:
    """Drives the demo app and saves screenshots of it."""

    def __init__(
        self, app: JobtuiApp, pilot: Pilot[int], kinds: Sequence[str], folder: Path
    ) -> None:
        self.app = app
        self.pilot = pilot
        self.kinds = list(kinds)
        self.folder = folder
        self.saved: list[Path] = []

    async def until(
        self, predicate: Callable[[], bool], what: str, state: Callable[[], str] | None = None
    ) -> None:
        deadline = time.monotonic() + WAIT
        while not predicate():
            if time.monotonic() > deadline:
                seen = f" ({state()})" if state is not None else ""
                raise RuntimeError(f"timed out waiting for {what}{seen}")
            await self.pilot.pause(0.02)

    def dashboard(self) -> DashboardScreen:
        return next(s for s in self.app.screen_stack if isinstance(s, DashboardScreen))

    def tab(self, kind: str) -> ServiceTab:
        index = self.kinds.index(kind)
        return self.dashboard().query_one(f"#tab-{index}", ServiceTab)

    async def first_polls(self) -> None:
        """Wait until every tab shows its first poll (its rows, or why it has none)."""
        tabs = [self.tab(kind) for kind in self.kinds]
        await self.until(lambda: all(t.health.polls > 0 for t in tabs), "the first polls")
        for kind, tab in zip(self.kinds, tabs, strict=True):
            if not tab.health.ok:
                say(f"warning: the {kind} tab's first poll failed: {tab.health.error}")

    async def show_tab(self, kind: str) -> None:
        tabs = self.dashboard().query_one(TabbedContent)
        wanted = pane_id(self.kinds.index(kind))
        tabs.active = wanted
        table = self.tab(kind).query_one(JobTable)
        await self.until(
            lambda: tabs.active == wanted and table.has_focus,
            f"the {kind} tab",
            lambda: f"active {tabs.active!r}, focused {self.app.focused!r}",
        )

    async def show_all_jobs(self) -> JobTable:
        """Show the All jobs tab; its table."""
        dashboard = self.dashboard()
        tabs = dashboard.query_one(TabbedContent)
        tabs.active = ALL_PANE
        table = dashboard.all_tab.table
        await self.until(lambda: tabs.active == ALL_PANE and table.has_focus, "the All jobs tab")
        return table

    async def show_job(self, kind: str, job_id: str) -> None:
        tab = self.tab(kind)
        if not tab.query_one(JobTable).move_cursor(job_id):
            raise RuntimeError(f"job {job_id} is not in the {kind} tab")
        detail = tab.query_one(JobDetail)
        await self.until(lambda: detail.job is not None and detail.job.id == job_id, "the detail")

    async def open(self, keys: Sequence[str], kind: type[Screen[Any]], what: str) -> None:
        await self.pilot.press(*keys)
        await self.until(lambda: isinstance(self.app.screen, kind), what)

    def first_job_in(self, kind: str, state: JobState) -> str:
        """The id of the first job of the `kind` tab's table in `state`."""
        table = self.tab(kind).query_one(JobTable)
        for row in range(table.row_count):
            job = table.job_at(row)
            if job.state is state:
                return job.id
        raise RuntimeError(f"the {kind} tab has no job {state.label}")

    async def close_modal(self) -> None:
        await self.pilot.press("escape")
        await self.until(lambda: isinstance(self.app.screen, DashboardScreen), "the dashboard")

    async def save(self, name: str, *, toasts: bool = False) -> None:
        """Settle, then save the screen as `name` (no blinking cursors; no toasts unless asked)."""
        for field in self.app.screen.query(Input):
            field.cursor_blink = False
        for area in self.app.screen.query(TextArea):
            area.cursor_blink = False
        if not toasts:
            for note in list(self.app._notifications):
                say(f"note ({note.severity}): {note.message}")
            self.app.clear_notifications()
        # A pressed button stays highlighted for a moment (its "-active" class, removed by a
        # timer): wait it out, however long the machine took to get here.
        buttons = list(self.app.screen.query(Button))
        await self.until(
            lambda: not any(b.has_class("-active") for b in buttons), "pressed buttons to settle"
        )
        await settle(self.pilot, WAIT)
        path = Path(self.app.save_screenshot(filename=name, path=str(self.folder)))
        self.saved.append(path)


async def shoot(running: Sequence[RunningEmulator], folder: Path) -> list[Path]:
    kinds = [r.kind for r in running]
    config = config_from_data({"services": service_entries(running)}, source="demo")
    services = [build_service(entry) for entry in config.services]
    for service in services:
        if service.kind == "dsp-ingest":
            # dsp-ingest stamps when it saw a project change, and dates its token, by the wall clock
            service.now = fixed_clock  # type: ignore[attr-defined]
    app = JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        shooter = Shooter(app, pilot, kinds, folder)
        await shooter.first_polls()

        for kind in kinds:
            if kind == "bsub":
                continue
            await shooter.show_tab(kind)
            await shooter.save(f"{kind}.svg")

        if "bsub" in kinds:
            bsub = running[kinds.index("bsub")].state
            assert isinstance(bsub, BsubState)
            await shooter.show_tab("bsub")
            await shooter.save("dashboard.svg")

            await shooter.show_job("bsub", bsub.ids_in("failed", cancelled=False)[0])
            await shooter.save("detail.svg")

            await shooter.show_job("bsub", bsub.ids_in("finished")[0])
            await shooter.open("l", TextViewScreen, "the log view")
            status = app.screen.query_one("#status", Label)
            await shooter.until(
                lambda: "lines" in str(status.content), "the log", lambda: str(status.content)
            )
            await shooter.save("logs.svg")
            await shooter.close_modal()

            await shooter.show_job("bsub", bsub.ids_in("processing")[0])
            await shooter.open("c", ConfirmScreen, "the confirmation")
            await shooter.save("confirm.svg")
            await shooter.close_modal()

            await shooter.open("n", NewBsubJobScreen, "the new-job dialog")
            select = app.screen.query_one("#type", Select)
            await shooter.until(lambda: select.prompt == "choose a type", "the types")
            select.value = "pdf-text"
            app.screen.query_one("#file", Input).focus()
            await pilot.press(*"report-2026.pdf")
            await shooter.save("bsub-new-job.svg")
            await shooter.close_modal()

            await shooter.show_job("bsub", bsub.ids_in("finished")[0])
            await shooter.open("o", SaveFileScreen, "the save dialog")
            field = app.screen.query_one("#path", Input)
            field.value = Path(field.value).name  # not the temporary folder's own name
            await shooter.save("save-output.svg")
            await shooter.close_modal()

            await shooter.open("S", StateFilterScreen, "the state chooser")
            await shooter.save("state-filter.svg")
            await shooter.close_modal()

        if "ecotaxa" in kinds:
            await shoot_ecotaxa(shooter)
        if "leia" in kinds:
            await shoot_leia(shooter, running[kinds.index("leia")])
        if "dsp-ingest" in kinds:
            await shoot_dsp_ingest(shooter, running[kinds.index("dsp-ingest")])

        await shooter.open("T", ThemeScreen, "the theme chooser")
        await shooter.save("themes.svg")
        await shooter.close_modal()

        if len(kinds) > 1:
            await shoot_navigation(shooter)
            if {"bsub", "leia"} <= set(kinds):
                await shoot_bulk(shooter)
        if "bsub" in kinds:
            await shooter.show_tab("bsub")
            app.theme = ANSI_THEME
            await shooter.save("ansi.svg")
    if "bsub" in kinds:
        shooter.saved += await shoot_journal(running, folder)
    return shooter.saved


PAST_DAYS = 30
PAST_JOBS = 240
LAST_SESSION = NOW - timedelta(hours=15)
"""When the earlier dashboard session the journal holds ended."""


def past_jobs(service: str, types: Sequence[str]) -> list[Job]:
    """Seeded bsub.io jobs of the 30 days before the last session: each type its own usual
    queue wait and run time, one in ten failed."""
    rng = random.Random(1)
    jobs = []
    for n in range(PAST_JOBS):
        kind = types[n % len(types)]
        scale = 30 + 90 * (types.index(kind) + 1)
        created = LAST_SESSION - timedelta(seconds=rng.uniform(600, PAST_DAYS * 86400 - 600))
        started = created + timedelta(seconds=rng.expovariate(1 / 20))
        finished = started + timedelta(seconds=rng.lognormvariate(0, 0.6) * scale)
        state = JobState.FAILED if rng.random() < 0.1 else JobState.SUCCEEDED
        raw = "failed" if state is JobState.FAILED else "finished"
        jobs.append(
            Job(
                service,
                f"past-{n:04d}",
                state,
                raw,
                type=kind,
                created=created,
                updated=finished,
                started=started,
                finished=finished,
                raw={"id": f"past-{n:04d}", "status": raw, "type": kind},
            )
        )
    return sorted(jobs, key=lambda job: job.finished or NOW)


async def shoot_journal(running: Sequence[RunningEmulator], folder: Path) -> list[Path]:
    """The dashboard on the same emulators with a journal (in the working folder) that holds an
    earlier session: the timeline of a job, and the statistics screen."""
    kinds = [r.kind for r in running]
    config = config_from_data({"services": service_entries(running)}, source="demo")
    refs = {e.name: ServiceRef(e.name, str(e.url)) for e in config.services}
    bsub_name = config.services[kinds.index("bsub")].name
    bsub = running[kinds.index("bsub")].state
    assert isinstance(bsub, BsubState)
    settings = JournalSettings(path=Path.cwd() / "journal.sqlite3")
    past = past_jobs(bsub_name, sorted({kind.type for kind in bsub.types})[:4])
    moment = [LAST_SESSION]
    with Journal(settings, origin="dashboard", now=lambda: moment[0]) as earlier:
        for job in past:
            assert job.finished is not None
            moment[0] = min(job.finished, LAST_SESSION)
            earlier.record_jobs(refs[bsub_name], [job], complete=False)
        assert earlier.flush()
        moment[0] = LAST_SESSION
    services = [build_service(entry) for entry in config.services]
    for service in services:
        if service.kind == "dsp-ingest":
            service.now = fixed_clock  # type: ignore[attr-defined]
    link = JournalLink(Journal(settings, now=fixed_clock), refs, clock=fixed_clock)
    app = JobtuiApp(
        services, title="jobtui demo", refresh=60.0, clock=fixed_clock, journal=link, tz=UTC
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        shooter = Shooter(app, pilot, kinds, folder)
        await shooter.first_polls()
        await shooter.until(lambda: app.since_last is not None, "the since-last line")
        await shooter.until(lambda: bool(app.overdue), "the overdue jobs")
        await shooter.show_tab("bsub")
        job_id = bsub.ids_in("finished")[0]
        await shooter.show_job("bsub", job_id)
        detail = shooter.tab("bsub").query_one(JobDetail)
        await shooter.until(lambda: "timeline" in str(detail_text(detail)), "the timeline")
        app.clear_notifications()  # the since-last line alone, as it shows at start
        assert app.since_last is not None
        app.notify(app.since_last.line(NOW, UTC), title="since you were last here")
        await shooter.save("timeline.svg", toasts=True)
        app.clear_notifications()
        await shooter.open("G", StatisticsScreen, "the statistics")
        stats = app.screen.query_one("#stats", Static)
        await shooter.until(lambda: "days" in str(stats.render()), "the statistics' lines")
        await shooter.save("statistics.svg")
        await shooter.close_modal()
    return shooter.saved


def detail_text(detail: JobDetail) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(detail.content)
    return console.export_text()


async def shoot_ecotaxa(shooter: Shooter) -> None:
    """The answer form of an import that asks, after a non-integer id was refused."""
    from jobtui.tui.ecotaxa.answer import AnswerScreen

    await shooter.show_tab("ecotaxa")
    await shooter.show_job("ecotaxa", shooter.first_job_in("ecotaxa", JobState.NEEDS_INPUT))
    await shooter.open("a", AnswerScreen, "the answer form")
    form = shooter.app.screen
    fields = list(form.query(Input))
    fields[0].value = "12"
    if len(fields) > 1:
        fields[1].value = "4x"
    await shooter.pilot.press("ctrl+s")
    message = form.query_one("#message")
    await shooter.until(lambda: bool(str(message.render()).strip()), "the form's message")
    await shooter.save("ecotaxa-answer.svg")
    await shooter.close_modal()


async def shoot_leia(shooter: Shooter, running: RunningEmulator) -> None:
    """A chain, the conditional-job form with a mistake named, and the server-side filters."""
    from jobtui.emulators.leia.state import LeiaState
    from jobtui.tui.leia.chain import ChainScreen
    from jobtui.tui.leia.conditional import ConditionalJobScreen
    from jobtui.tui.leia.filters import LeiaFilterScreen

    state = running.state
    assert isinstance(state, LeiaState)
    pilot = shooter.pilot
    await shooter.show_tab("leia")

    waiting = next(
        job
        for job in state.own
        if job.status == "WAITING"
        and state.dependants.get(job.id)
        and job.job_type != "conditional"
    )
    await shooter.show_job("leia", waiting.id)
    await shooter.open(["enter"], ChainScreen, "the chain view")
    await shooter.save("leia-chain.svg")
    await shooter.close_modal()

    classified = next(
        job
        for job in state.own
        if job.status == "PROCESSED" and job.result_type == "classification"
    )
    await shooter.show_job("leia", classified.id)
    await shooter.open("k", ConditionalJobScreen, "the conditional-job form")
    form = shooter.app.screen
    await pilot.press(*"invoice", "ctrl+s")
    model = form.query_one("#model-id", Input)
    await shooter.until(lambda: model.has_focus, "the model's error")
    await shooter.save("leia-conditional.svg")
    await shooter.close_modal()

    await shooter.open("f", LeiaFilterScreen, "the filter dialog")
    form = shooter.app.screen
    form.query_one("#f-job-type", Select).value = "predict"
    form.query_one("#f-created-after", Input).value = "last tuesday"
    await pilot.press("ctrl+s")
    after = form.query_one("#f-created-after", Input)
    await shooter.until(lambda: after.has_focus, "the date's error")
    await shooter.save("leia-filter.svg")
    await shooter.close_modal()


async def shoot_dsp_ingest(shooter: Shooter, running: RunningEmulator) -> None:
    """The upload dialog after checking a folder, and a project's mapping."""
    from jobtui.emulators.dsp_ingest.state import DspIngestState
    from jobtui.tui.dsp_ingest.mapping import MappingScreen
    from jobtui.tui.dsp_ingest.upload import UploadScreen

    state = running.state
    assert isinstance(state, DspIngestState)
    folder = Path("scans")
    for i in range(1, 13):
        path = folder / ("letters" if i > 8 else "") / f"scan_{i:02d}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (1000 * i))
    for name in ("draft#2.tif", "notes.exe", ".DS_Store", "README"):
        (folder / name).write_bytes(b"left out")
    (folder / "empty.png").write_bytes(b"")

    await shooter.show_tab("dsp-ingest")
    await shooter.show_job("dsp-ingest", state.roles["empty"])
    await shooter.open("u", UploadScreen, "the upload dialog")
    dialog = shooter.app.screen
    assert isinstance(dialog, UploadScreen)
    dialog.query_one("#folder", Input).value = str(folder)
    dialog.query_one("#check", Button).press()  # not a click: the pointer would hover on it
    await shooter.until(lambda: dialog.plan is not None, "the check")
    await shooter.save("dsp-ingest-upload.svg")
    await shooter.close_modal()

    code = state.roles["mapped"]
    await shooter.show_job("dsp-ingest", code)
    await shooter.open("m", MappingScreen, "the mapping")
    rows = shooter.app.screen.query_one("#rows", DataTable)
    expected = len(state.mapping_rows(code))
    await shooter.until(lambda: expected > 0 and rows.row_count == expected, "the mapping's rows")
    await shooter.save("dsp-ingest-mapping.svg")
    await shooter.close_modal()


async def shoot_bulk(shooter: Shooter) -> None:
    """Running jobs of bsub.io and Leia marked in All jobs: one confirmation, then the summary."""
    pilot = shooter.pilot
    table = await shooter.show_all_jobs()
    names = {kind: shooter.tab(kind).service.name for kind in ("bsub", "leia")}
    for kind in ("bsub", "leia"):
        job_id = shooter.first_job_in(kind, JobState.RUNNING)
        assert table.move_cursor(row_key_of(names[kind], job_id))
        await pilot.press("space")
    await shooter.until(lambda: len(table.marked_jobs) == 2, "the marks")
    await shooter.open("c", ConfirmScreen, "the bulk confirmation")
    await shooter.save("bulk-confirm.svg")
    await pilot.press("y")
    await shooter.until(lambda: isinstance(shooter.app.screen, DashboardScreen), "the dashboard")
    await shooter.until(
        lambda: any("done" in str(n.message) for n in shooter.app._notifications), "the summary"
    )
    await shooter.save("bulk-summary.svg", toasts=True)


async def shoot_navigation(shooter: Shooter) -> None:
    """All jobs, its filter line, the key help and the command palette."""
    pilot = shooter.pilot
    table = await shooter.show_all_jobs()
    await pilot.press("home")
    await shooter.save("all-jobs.svg")

    await pilot.press("slash", *"fail|error")
    await shooter.until(lambda: table.row_count < table.total_count, "the filter")
    await shooter.save("filter.svg")
    await pilot.press("escape")
    await shooter.until(lambda: table.row_count == table.total_count, "the filter cleared")

    await shooter.open(["question_mark"], HelpScreen, "the key help")
    await shooter.save("help.svg")
    await shooter.close_modal()

    await shooter.open(["colon"], CommandPalette, "the command palette")
    await pilot.press(*"go to")
    hits = shooter.app.screen.query_one(CommandList)
    await shooter.until(lambda: hits.option_count == len(shooter.kinds) + 1, "the tabs")
    await shooter.save("palette.svg")
    await shooter.close_modal()


@contextlib.contextmanager
def working_folder() -> Iterator[None]:
    """Work in a new temporary folder, so that the paths the dialogs show read the same."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="jobtui-screenshots-") as folder:
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(before)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the screenshots from the demo.")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="the folder to write them in (default: here)"
    )
    folder = parser.parse_args(argv).out.resolve()
    kinds = available_kinds()
    if not kinds:
        say("no service kind has both an emulator and a service")
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    with serve_emulators(kinds, SETTINGS) as running, working_folder():
        saved = asyncio.run(shoot(running, folder))
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
