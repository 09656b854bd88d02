"""The keys of the screen shown, as its bindings are at the moment `?` is pressed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.key_bar import KeyBar
from jobtui.tui.widgets.service_tab import ServiceTab


class KeyHelp(NamedTuple):
    """One line of help: the key as shown, what it does, where it applies, whether it can now."""

    key: str
    description: str
    scope: str
    enabled: bool


def describe(node: DOMNode) -> str:
    """Where a binding comes from, in a user's words."""
    if isinstance(node, JobTable):
        return "table"
    if isinstance(node, ServiceTab):
        return node.service.name
    if isinstance(node, AllJobsTab):
        return "All jobs"
    if isinstance(node, Screen):
        return str(getattr(node, "HELP_SCOPE", "this screen"))
    if isinstance(node, App):
        return "everywhere"
    return type(node).__name__.lower()


def key_help(bindings: Mapping[str, ActiveBinding], display: dict[str, str]) -> list[KeyHelp]:
    """Help lines for a screen's active bindings (`Screen.active_bindings`: one per key, the
    binding nearest the focus; keys whose check says "not at all" are left out), widest scope
    last; `display` gives each key as the footer shows it."""
    lines = []
    for key, active in bindings.items():
        binding = active.binding
        text = binding.description or binding.tooltip or binding.action.replace("_", " ")
        lines.append(KeyHelp(display.get(key, key), text, describe(active.node), active.enabled))
    return lines


class HelpScreen(ModalScreen[None]):
    """Every key of the screen beneath: key, what it does, where it applies.

    | Key | Action |
    | :- | :- |
    | `escape`, `?`, `q` | Close. |
    """

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, lines: list[KeyHelp]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        for line in self.lines:
            description = Text(line.description)
            if not line.enabled:
                description.append("  (not now)", style="dim")
            table.add_row(line.key, description, line.scope)
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(table)
            yield Label("escape closes", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)
