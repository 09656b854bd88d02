"""The main screen: one tab per configured service."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from jobtui.core.polling import Clock
from jobtui.core.service import Service
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab


def pane_id(index: int) -> str:
    return f"service-{index}"


class DashboardScreen(Screen[None]):
    """Tabs of services; each tab polls on its own, hidden ones included.

    | Key | Action |
    | :- | :- |
    | `1`..`9` | Show that service's tab. |
    | `]`, `[` | Next / previous tab. |
    """

    BINDINGS = [
        Binding("right_square_bracket", "switch_tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "switch_tab(-1)", "Previous tab", show=False),
        *(Binding(str(n), f"show_tab({n - 1})", f"Tab {n}", show=False) for n in range(1, 10)),
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

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs"):
            for index, service in enumerate(self.services):
                title = service.name if service.tls_verified else f"{service.name} ⚠"
                with TabPane(title, id=pane_id(index)):
                    yield ServiceTab(
                        service,
                        interval=self.intervals.get(service.name, self.interval),
                        read_only=self.read_only,
                        clock=self.clock,
                        id=f"tab-{index}",
                    )
        yield Footer()

    def on_mount(self) -> None:
        self._focus_active_table()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self._focus_active_table()

    def _focus_active_table(self) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active:
            pane = tabs.get_pane(tabs.active)
            pane.query_one(JobTable).focus()

    def action_show_tab(self, index: int) -> None:
        if 0 <= index < len(self.services):
            self.query_one(TabbedContent).active = pane_id(index)

    def action_switch_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        current = int((tabs.active or pane_id(0)).rpartition("-")[2])
        self.action_show_tab((current + step) % len(self.services))

    @on(ServiceTab.HealthChanged)
    def _health_changed(self, message: ServiceTab.HealthChanged) -> None:
        tabs = self.query_one(TabbedContent)
        index = self.services.index(message.tab.service)
        tab = tabs.get_tab(pane_id(index))
        name = message.tab.service.name
        if not message.tab.service.tls_verified:
            name = f"{name} ⚠"
        tab.label = name if message.health.ok else f"{name} ▲"
