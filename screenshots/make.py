"""Regenerate the SVG screenshots in this folder from the deterministic demo.

    .venv/bin/python screenshots/make.py

It serves an emulator of every kind this version has (seed 1, frozen clock), builds the dashboard
from their `[[services]]` entries as `jobtui demo` does, with the app's clock fixed five minutes
after the emulators' epoch, and saves: `dashboard.svg` (the bsub.io tab), one SVG per other
service tab (named after its kind), `detail.svg` (a failed job's detail), `bsub-new-job.svg`,
`confirm.svg` (a cancel confirmation) and `logs.svg`; with two services or more, `all-jobs.svg`,
`filter.svg` (a `/` filter typed), `help.svg` (the `?` keys) and `palette.svg` (the command
palette). The same tree gives the same files.
`confirm.svg` (a cancel confirmation), `logs.svg`, `themes.svg` (the theme chooser) and
`ansi.svg` (the bsub.io tab in the 16-colour jobtui-ansi theme). The tabs poll only when asked,
so that their history sparklines are the same on every run: the same tree gives the same files.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Label, Select, TabbedContent, TextArea

from jobtui.__main__ import DEMO_JOBS, service_entries
from jobtui.config import config_from_data
from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings
from jobtui.emulators.bsub import BsubState
from jobtui.emulators.runner import KINDS, RunningEmulator, serve_emulators
from jobtui.services import SERVICES, build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.modals.theme import ThemeScreen
from jobtui.tui.screens.dashboard import ALL_PANE, DashboardScreen, pane_id
from jobtui.tui.themes import ANSI_THEME
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab

HERE = Path(__file__).resolve().parent
SIZE = (160, 48)
NOW = DEMO_EPOCH + timedelta(minutes=5)
SETTINGS = EmulatorSettings(seed=1, speed=0, jobs=DEMO_JOBS, options={"arrivals": True})
WAIT = 20.0


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

    def __init__(self, app: JobtuiApp, pilot: Pilot[int], kinds: Sequence[str]) -> None:
        self.app = app
        self.pilot = pilot
        self.kinds = list(kinds)
        self.saved: list[Path] = []

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not predicate():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
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
        await self.until(lambda: tabs.active == wanted and table.has_focus, f"the {kind} tab")

    async def show_job(self, kind: str, job_id: str) -> None:
        tab = self.tab(kind)
        if not tab.query_one(JobTable).move_cursor(job_id):
            raise RuntimeError(f"job {job_id} is not in the {kind} tab")
        detail = tab.query_one(JobDetail)
        await self.until(lambda: detail.job is not None and detail.job.id == job_id, "the detail")

    async def open(self, keys: Sequence[str], kind: type[Screen[Any]], what: str) -> None:
        await self.pilot.press(*keys)
        await self.until(lambda: isinstance(self.app.screen, kind), what)

    async def close_modal(self) -> None:
        await self.pilot.press("escape")
        await self.until(lambda: isinstance(self.app.screen, DashboardScreen), "the dashboard")

    async def save(self, name: str) -> None:
        """Settle, then save the screen as `name` (no blinking cursors, no toasts)."""
        for field in self.app.screen.query(Input):
            field.cursor_blink = False
        for area in self.app.screen.query(TextArea):
            area.cursor_blink = False
        for note in list(self.app._notifications):
            say(f"note ({note.severity}): {note.message}")
        self.app.clear_notifications()
        await self.pilot.pause(0.1)
        await self.pilot.wait_for_scheduled_animations()
        path = Path(self.app.save_screenshot(filename=name, path=str(HERE)))
        self.saved.append(path)


async def shoot(running: Sequence[RunningEmulator]) -> list[Path]:
    kinds = [r.kind for r in running]
    config = config_from_data({"services": service_entries(running)}, source="demo")
    services = [build_service(entry) for entry in config.services]
    app = JobtuiApp(services, title="jobtui demo", refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        shooter = Shooter(app, pilot, kinds)
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
            await shooter.until(lambda: "lines" in str(status.content), "the log")
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

        if len(kinds) > 1:
            await shoot_navigation(shooter)
            await shooter.open("T", ThemeScreen, "the theme chooser")
            await shooter.save("themes.svg")
            await shooter.close_modal()
            app.theme = ANSI_THEME
            await shooter.save("ansi.svg")
        return shooter.saved


async def shoot_navigation(shooter: Shooter) -> None:
    """All jobs, its filter line, the key help and the command palette."""
    pilot = shooter.pilot
    dashboard = shooter.dashboard()
    tabs = dashboard.query_one(TabbedContent)
    tabs.active = ALL_PANE
    table = dashboard.all_tab.table
    await shooter.until(lambda: tabs.active == ALL_PANE and table.has_focus, "the All jobs tab")
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


def main() -> int:
    kinds = available_kinds()
    if not kinds:
        say("no service kind has both an emulator and a service")
        return 1
    with serve_emulators(kinds, SETTINGS) as running:
        saved = asyncio.run(shoot(running))
    for path in saved:
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
