"""Chain navigation in the Leia tab: enter lists the jobs linked to the selected one, choosing one
moves the table's cursor to it, and backspace goes back the way it came.

The way back is kept per tab (`History`), as job ids: a job that left the list meanwhile is
skipped when going back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from jobtui.core.models import Job
from jobtui.services.leia.service import LeiaService
from jobtui.tui.leia.section import ChainEntry, chain_entries, entry_text, state_text
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

MAX_HISTORY = 100


class ChainScreen(ModalScreen[str | None]):
    """Pick a job linked to `job` (what it waits on, its parent, children, dependents).

    Dismisses with the chosen job's id, or None.

    | Key | Action |
    | :- | :- |
    | `enter` | Go to the highlighted job. |
    | `escape` | Close. |
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, job: Job, entries: list[ChainEntry]) -> None:
        super().__init__()
        self.job = job
        self.entries = entries

    def compose(self) -> ComposeResult:
        title = Text.assemble("Chain of ", (self.job.id, "bold"), "  ", state_text(self.job))
        if self.job.type:
            title.append(f"  {self.job.type}", style="dim")
        width = max(len(e.job_id) for e in self.entries)
        options: list[Option] = []
        role = ""
        for index, entry in enumerate(self.entries):
            if entry.role != role:
                role = entry.role
                options.append(Option(Text(role, style="bold dim"), disabled=True))
            line = Text("  ").append_text(entry_text(entry, id_width=width))
            options.append(Option(line, id=str(index), disabled=entry.job is None))
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(title, classes="dialog-title")
            yield OptionList(*options, id="chain")
            yield Static("enter: go to the job · escape: close", classes="dialog-hint")

    def on_mount(self) -> None:
        chain = self.query_one("#chain", OptionList)
        chain.highlighted = next(
            (i for i, option in enumerate(chain.options) if not option.disabled), None
        )
        chain.focus()

    @on(OptionList.OptionSelected, "#chain")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss(self.entries[int(event.option.id)].job_id)

    def action_close(self) -> None:
        self.dismiss(None)


class History:
    """The jobs a tab came from, most recent last."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def push(self, job_id: str) -> None:
        if self.ids and self.ids[-1] == job_id:
            return
        self.ids.append(job_id)
        del self.ids[:-MAX_HISTORY]

    def pop(self) -> str | None:
        return self.ids.pop() if self.ids else None

    def __len__(self) -> int:
        return len(self.ids)


_HISTORIES: WeakKeyDictionary[ServiceTab, History] = WeakKeyDictionary()


def history(tab: ServiceTab) -> History:
    """The way back of one tab."""
    found = _HISTORIES.get(tab)
    if found is None:
        found = _HISTORIES[tab] = History()
    return found


def go_to(tab: ServiceTab, from_id: str | None, job_id: str) -> bool:
    """Move the cursor to `job_id`, remembering `from_id` for the way back."""
    table = tab.query_one(JobTable)
    if not table.move_cursor(job_id):
        tab.notify(
            f"{tab.service.name}: job {job_id} is not in the list (filtered out?)",
            severity="warning",
        )
        return False
    if from_id is not None and from_id != job_id:
        history(tab).push(from_id)
    return True


def open_chain(tab: ServiceTab, job: Job) -> None:
    """Enter on a Leia job: list its linked jobs and go to the one chosen."""
    service = tab.service
    if not isinstance(service, LeiaService):
        return
    entries = chain_entries(service.chain(job.id))
    if not entries:
        tab.notify(
            f"{service.name}: job {job.id} has no linked jobs (nothing it waits on, "
            "no parent, no children, no dependents)",
            timeout=4,
        )
        return

    def chosen(job_id: str | None) -> None:
        if job_id is not None:
            go_to(tab, job.id, job_id)

    tab.app.push_screen(ChainScreen(job, entries), chosen)


def go_back(tab: ServiceTab) -> None:
    """Backspace: return to the job the last jump came from."""
    table = tab.query_one(JobTable)
    way_back = history(tab)
    while (job_id := way_back.pop()) is not None:
        if table.move_cursor(job_id):
            return
    tab.notify(f"{tab.service.name}: no previous job to go back to", timeout=3)
