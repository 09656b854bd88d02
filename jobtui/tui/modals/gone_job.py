"""A job that left its server's list, as the journal last knew it (found through the palette):
its last state, times, message, timeline and last record, all plain text."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from jobtui.journal import JobRecord, Timeline
from jobtui.tui.widgets.detail import STATE_STYLES, format_time, format_value, render_timeline


def render_record(job: JobRecord, timeline: Timeline | None) -> RenderableType:
    head = Text.assemble(
        (job.id, "bold"),
        "  ",
        (job.raw_state or job.state.label, STATE_STYLES[job.state]),
        f"  {job.type}" if job.type else "",
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("service", Text(job.service))
    if job.message:
        facts.add_row("message", Text(job.message))
    facts.add_row("first seen", format_time(job.first_seen))
    facts.add_row("last change", format_time(job.changed))
    facts.add_row("left the list", format_time(job.gone))
    if timeline is not None and timeline.steps:
        facts.add_row("timeline", render_timeline(timeline))
    record = Table.grid(padding=(0, 2))
    record.add_column(style="dim", no_wrap=True)
    record.add_column(overflow="fold")
    for key, value in job.record.items():
        record.add_row(Text(str(key)), Text(format_value(value)))
    if job.unreadable:
        record.add_row(Text(job.unreadable, style="italic"))
    return Group(head, facts, Text("last known record", style="bold dim"), record)


class GoneJobScreen(ModalScreen[None]):
    """A job gone from its server's list, from the journal.

    | Key | Action |
    | :- | :- |
    | `escape`, `q` | Close. |
    """

    BINDINGS = [Binding("escape,q", "close", "Close")]
    HELP_SCOPE = "gone job"

    def __init__(self, job: JobRecord, timeline: Timeline | None) -> None:
        super().__init__()
        self.job = job
        self.timeline = timeline

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("A job gone from its server's list", classes="dialog-title")
            with VerticalScroll():
                yield Static(render_record(self.job, self.timeline), id="gone", markup=False)
            yield Label("from the journal · escape closes", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)
