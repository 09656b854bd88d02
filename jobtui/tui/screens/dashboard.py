"""The main screen: an All jobs tab (with two services or more), then one tab per service."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Collection, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TabbedContent, TabPane

from jobtui.core.models import Action, JobState
from jobtui.core.polling import Clock
from jobtui.core.service import Service
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.filter_bar import FilterBar
from jobtui.tui.widgets.header import AttentionHeader
from jobtui.tui.widgets.job_table import JobTable, row_key_of
from jobtui.tui.widgets.key_bar import KeyBar
from jobtui.tui.widgets.service_tab import ServiceTab

ALL_PANE = "all-jobs"

PINNED_KEYS = ("quit", "help", "filter")
"""Binding ids the key bar always shows (with the palette's key), most important first."""
LAST_KEYS = ("refresh", "pause")
"""Binding ids the key bar shows only when room is left after the job's actions."""


def pane_id(index: int) -> str:
    return f"service-{index}"


def takes_text(widget: Widget | None) -> bool:
    """Whether `widget` is a field text is typed into: an Input, or a TextArea. No TextArea can
    exist before its module is imported (a costly import the first frame does without), so
    until then none is looked for."""
    if isinstance(widget, Input):
        return True
    text_area = sys.modules.get("textual.widgets._text_area")
    return text_area is not None and isinstance(widget, text_area.TextArea)


def tab_title(service: Service, *, live: bool = True) -> str:
    """A service tab's label: its name, ⚠ when TLS is not verified, ▲ while its data is stale.
    The ▲'s cell stays blank while live: the label keeps its width, so a change of health
    moves no other widget and repaints only the tab. (The cell stands for the tab's right
    padding, which the dashboard's stylesheet takes away.)"""
    name = service.name if service.tls_verified else f"{service.name} ⚠"
    return f"{name} {' ' if live else '▲'}"


class DashboardTabs(TabbedContent):
    """Textual's TabbedContent, but a pane's news that something in it got focus switches to it
    only while the focus is still there and the news is newer than the last switch. That news is a
    message, handled after those before it: a number key pressed at start-up, before the first
    tab's focus had been reported, showed its tab, and then the stale report switched back to the
    first."""

    _switched_at = 0.0
    """When the shown pane last changed, by the monotonic clock Textual stamps messages with."""

    def watch_active(self) -> None:
        self._switched_at = time.monotonic()

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        # Textual calls the handler of every class in the MRO: TabbedContent's, which switches
        # to the pane, runs after this one unless its default is prevented. A report made before
        # the last switch is stale even while the focus is still in its pane (the switch moves
        # the focus by a message of its own, which may come after it).
        focused = self.screen.focused
        stale = event.time < self._switched_at
        if stale or focused is None or event.tab_pane not in focused.ancestors_with_self:
            event.prevent_default()
            event.stop()


class DashboardScreen(Screen[None]):
    """Tabs of services; each tab polls on its own, hidden ones included. With two services or
    more, the first tab, All jobs, shows every service's jobs together (like k9s's all namespaces,
    on `0`); the service tabs keep `1`..`9`.

    | Key | Action |
    | :- | :- |
    | `0` | Show the All jobs tab. |
    | `1`..`9` | Show that service's tab. |
    | `]`, `[` | Next / previous tab. |
    | `/` | Filter the table (regular expression; a leading `!` inverts; escape clears). |
    | `S` | Show only jobs in one state. |
    | `escape` | Clear the tab's filters (text and state). |
    | `:`, `ctrl+p` | The command palette. |
    | `enter` (All jobs) | Open the job in its service's tab. |
    | `P` | Pause every tab (again: resume every tab). |
    """

    HELP_SCOPE = "dashboard"
    """How the key help names this screen's keys."""

    BINDINGS = [
        Binding("right_square_bracket", "switch_tab(1)", "Next tab", show=False, id="next_tab"),
        Binding(
            "left_square_bracket", "switch_tab(-1)", "Previous tab", show=False, id="previous_tab"
        ),
        Binding("0", "show_all", "All jobs", show=False, id="all_jobs"),
        # `/` and `:` act when they arrive, before the keys typed with them are handed out, so that
        # those go to the filter line or the palette they open (priority; see `check_action`).
        Binding("slash", "filter", "Filter", priority=True, id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("S", "state_filter", "State filter", show=False, id="state_filter"),
        Binding("colon", "palette", "Commands", show=False, priority=True, id="palette"),
        Binding("P", "pause_all", "Pause all", show=False, id="pause_all"),
    ]

    def __init__(
        self,
        services: Sequence[Service],
        *,
        interval: float,
        intervals: dict[str, float] | None = None,
        read_only: bool = False,
        clock: Clock,
    ) -> None:
        super().__init__()
        self.services = list(services)
        self.interval = interval
        self.intervals = intervals or {}
        self.read_only = read_only
        self.clock = clock
        self.has_all = len(self.services) > 1
        self._bars: tuple[FilterBar, ...] = ()
        self._all: AllJobsTab | None = None
        self.panes = ([ALL_PANE] if self.has_all else []) + [
            pane_id(index) for index in range(len(self.services))
        ]
        """The tab panes' ids, in order."""
        for index, service in enumerate(self.services[:9]):
            key = str(index + 1)
            self._bindings.bind(key, f"show_tab({index})", f"{service.name} tab", show=False)

    def compose(self) -> ComposeResult:
        yield AttentionHeader()
        with DashboardTabs(id="tabs"):
            if self.has_all:
                with TabPane("All jobs  ", id=ALL_PANE):  # as wide apart as the others
                    yield FilterBar()
                    yield AllJobsTab(self.services, clock=self.clock, id="all")
            for index, service in enumerate(self.services):
                with TabPane(tab_title(service), id=pane_id(index)):
                    yield FilterBar()
                    yield ServiceTab(
                        service,
                        interval=self.intervals.get(service.name, self.interval),
                        read_only=self.read_only,
                        clock=self.clock,
                        id=f"tab-{index}",
                    )
        yield KeyBar(pinned=PINNED_KEYS, last=LAST_KEYS)

    def on_mount(self) -> None:
        for pane in self.query(TabPane):
            pane.query_one(FilterBar).table = pane.query_one(JobTable)
        # The tabs are made once: each poll's changes reach them without a query of the DOM.
        self._bars = tuple(self.query(FilterBar))
        self._all = self.query_one(AllJobsTab) if self.has_all else None
        if self.has_all:
            self.all_tab.tabs = {tab.service.name: tab for tab in self.query(ServiceTab)}
        self._focus_active_table()

    # -- public API ---------------------------------------------------------------------------

    @property
    def all_tab(self) -> AllJobsTab:
        return self._all or self.query_one(AllJobsTab)

    def service_tab(self, name: str) -> ServiceTab | None:
        """The tab of the service called `name`."""
        return next((t for t in self.query(ServiceTab) if t.service.name == name), None)

    def active_pane(self) -> TabPane | None:
        tabs = self.query_one(TabbedContent)
        return tabs.get_pane(tabs.active) if tabs.active else None

    def active_table(self) -> JobTable | None:
        pane = self.active_pane()
        return None if pane is None else pane.query_one(JobTable)

    def active_bar(self) -> FilterBar | None:
        pane = self.active_pane()
        return None if pane is None else pane.query_one(FilterBar)

    def show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def jump_to_job(self, service: str, job_id: str) -> bool:
        """Show a job in its service's tab, clearing that tab's filter if it hides the job."""
        index = next((i for i, s in enumerate(self.services) if s.name == service), None)
        if index is None:
            return False
        pane = self.query_one(TabbedContent).get_pane(pane_id(index))
        table = pane.query_one(JobTable)
        if table.get_job(job_id) is None:
            self.notify(f"{service}: job {job_id} is no longer listed", severity="warning")
            return False
        self.show_pane(pane_id(index))
        if not table.move_cursor(job_id):
            pane.query_one(FilterBar).clear()
            table.move_cursor(job_id)
        return True

    def show_jobs(self, keys: Sequence[tuple[str, str]]) -> None:
        """Show exactly these jobs ((service, id) each) in All jobs (or in the only service's
        tab): a filter matching their ids, each a whole cell, which the filter line shows."""
        ids = sorted({job_id for _service, job_id in keys})
        if not ids:
            return
        pane = ALL_PANE if self.has_all else pane_id(0)
        self.show_pane(pane)
        bar = self.query_one(TabbedContent).get_pane(pane).query_one(FilterBar)
        bar.set_states(None)
        bar.set_text("^(?:" + "|".join(re.escape(i) for i in ids) + ")$")

    def refresh_status(self) -> None:
        """Say again on the status lines what they say (the journal turned off, say)."""
        for tab in self.query(ServiceTab):
            tab.refresh_status()
        if self.has_all:
            self.all_tab.refresh_status()

    def set_slow(self, keys: Collection[tuple[str, str]]) -> None:
        """Mark these running jobs ((service, id) each) slow in their tab and in All jobs."""
        for tab in self.query(ServiceTab):
            tab.table.set_slow({job_id for name, job_id in keys if name == tab.service.name})
        if self.has_all:
            self.all_tab.table.set_slow({row_key_of(name, job_id) for name, job_id in keys})

    def active_tab(self) -> AllJobsTab | ServiceTab | None:
        """The All jobs tab or the service tab shown."""
        pane = self.active_pane()
        if pane is None:
            return None
        if pane.id == ALL_PANE:
            return pane.query_one(AllJobsTab)
        return pane.query_one(ServiceTab)

    def act_here(self, action: Action) -> None:
        """Run an action's key on the active tab, as if it was pressed there."""
        tab = self.active_tab()
        if tab is not None:
            tab.action_act(action.value)

    def filter_states(self, state: JobState | None) -> None:
        """Show only jobs in `state` in the active tab (None: all)."""
        bar = self.active_bar()
        if bar is not None:
            bar.set_states(None if state is None else {state})

    # -- internals ----------------------------------------------------------------------------

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self._focus_active_table()

    def _focus_active_table(self) -> None:
        table = self.active_table()
        if table is not None:
            table.focus()

    @on(JobTable.Selected)
    def _selected_in_all(self, message: JobTable.Selected) -> None:
        """Enter on All jobs: the job in its service's tab, and only that (enter there does
        what enter does in that tab, such as Leia's chain)."""
        if not self.has_all or message.table is not self.all_tab.table:
            return
        job = message.job
        if self.service_tab(job.service) is not None:
            self.jump_to_job(job.service, job.id)

    @on(ServiceTab.JobsUpdated)
    async def _jobs_updated(self, message: ServiceTab.JobsUpdated) -> None:
        if self.has_all:
            await self.all_tab.take(message.tab.service, message.delta)
        for bar in self._bars or self.query(FilterBar):
            bar.refresh_note()

    def action_pause_all(self) -> None:
        tabs = list(self.query(ServiceTab))
        pause = not all(tab.paused for tab in tabs)
        for tab in tabs:
            tab.set_paused(pause)

    @on(ServiceTab.AskedPollDone)
    def _asked_poll_done(self, message: ServiceTab.AskedPollDone) -> None:
        if self.has_all:
            self.all_tab.asked_poll_done(message.tab.service)

    @on(ServiceTab.HealthChanged)
    def _health_changed(self, message: ServiceTab.HealthChanged) -> None:
        tabs = self.query_one(TabbedContent)
        index = self.services.index(message.tab.service)
        tabs.get_tab(pane_id(index)).label = tab_title(message.tab.service, live=message.health.ok)
        if self.has_all:
            self.all_tab.health_changed(message.tab.service, message.health)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Keys of tabs that do not exist do nothing, and the help does not list them.
        if action == "show_tab":
            index = parameters[0]
            return isinstance(index, int) and index < len(self.services)
        if action == "show_all":
            return self.has_all
        if action == "clear_filter":
            bar = self.active_bar()
            return bar is not None and bar.active
        # While a field has the cursor, `/` and `:` are typed into it.
        return action not in ("filter", "palette") or not takes_text(self.focused)

    # -- actions ------------------------------------------------------------------------------

    def action_show_tab(self, index: int) -> None:
        if 0 <= index < len(self.services):
            self.show_pane(pane_id(index))

    def action_show_all(self) -> None:
        if self.has_all:
            self.show_pane(ALL_PANE)

    def action_switch_tab(self, step: int) -> None:
        if not self.panes:  # a dashboard of no service (only tests make one)
            return
        active = self.query_one(TabbedContent).active
        current = self.panes.index(active) if active in self.panes else 0
        self.show_pane(self.panes[(current + step) % len(self.panes)])

    def action_palette(self) -> None:
        self.app.action_command_palette()

    def action_filter(self) -> None:
        bar = self.active_bar()
        if bar is not None:
            bar.open()

    def action_clear_filter(self) -> None:
        bar = self.active_bar()
        if bar is not None:
            bar.clear()

    def action_state_filter(self) -> None:
        from jobtui.tui.modals.state_filter import ALL_STATES, StateFilterScreen

        bar = self.active_bar()
        if bar is None:
            return

        def chosen(choice: JobState | str | None) -> None:
            if choice == ALL_STATES:
                bar.set_states(None)
            elif isinstance(choice, JobState):
                bar.set_states({choice})

        self.app.push_screen(StateFilterScreen(bar.states), chosen)
