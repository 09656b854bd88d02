"""The mapping view of a dsp-ingest project: mapping.csv as a table (original → derivative), and
saving it to a local file (never over an existing file without asking; written to a temporary file
then renamed into place)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, DataTable, Input, Label

from jobtui.core.errors import InputError, ServiceError
from jobtui.core.models import Job
from jobtui.services.download import LocalFileError
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.forms import button_row, message_line, text_field
from jobtui.tui.modals.save_file import SaveDialog
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab


class MappingScreen(SaveDialog):
    """A project's mapping rows, and where to save them. Dismisses with the last path saved.

    | Key | Action |
    | :- | :- |
    | `enter` | In the file field: save. |
    | `escape` | Close. |
    """

    CSS = """
    MappingScreen .dialog { width: 110; height: 90%; }
    MappingScreen #rows { height: 1fr; }
    MappingScreen #count { width: 1fr; color: $text-muted; }
    MappingScreen #path { width: 1fr; background: $panel; padding: 0 1; }
    MappingScreen #path:focus { background: $panel-lighten-2; }
    MappingScreen .field-error { width: 1fr; }
    """

    BINDINGS = [Binding("escape", "close", "Close")]
    WORKERS = "save"

    def __init__(
        self, service: DspIngestService, shortcode: str, directory: Path | None = None
    ) -> None:
        super().__init__()
        self.service = service
        self.shortcode = shortcode
        self.directory = directory
        self.rows: list[tuple[str, str]] | None = None
        self.saved: Path | None = None

    def compose(self) -> ComposeResult:
        name = f"mapping-{self.shortcode}.csv"
        default = str(self.directory / name) if self.directory is not None else name
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(
                f"Mapping of project {self.shortcode} · {self.service.name}",
                classes="dialog-title",
                markup=False,
            )
            yield Label("reading mapping.csv…", id="count", markup=False)
            yield DataTable(id="rows", cursor_type="row", zebra_stripes=True)
            yield Label("Save to file", classes="field-label")
            yield text_field(default, id="path")
            yield message_line()
            yield button_row(
                Button("Save", id="save", variant="primary", disabled=True),
                Button("Close", id="close"),
            )

    def on_mount(self) -> None:
        table = self.query_one("#rows", DataTable)
        table.add_column("original", key="original")
        table.add_column("derivative", key="derivative")
        table.focus()
        self.load()

    @work(exclusive=True, group="mapping", exit_on_error=False, description="read a mapping")
    async def load(self) -> None:
        """Read the project's mapping.csv and fill the table."""
        count = self.query_one("#count", Label)
        try:
            rows = await self.service.mapping(self.shortcode)
        except (ServiceError, InputError) as error:
            count.update("no mapping shown")
            self._say(error.line if isinstance(error, ServiceError) else str(error))
            return
        self.rows = rows
        table = self.query_one("#rows", DataTable)
        table.add_rows([(Text(original), Text(derivative)) for original, derivative in rows])
        count.update(f"{len(rows)} rows · original (as uploaded) → derivative (the stored asset)")
        self.query_one("#save", Button).disabled = False

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        if self.rows is None:
            return
        path = self._destination()
        if path is None:
            return
        self._say("saving…", note=True)
        self.save(path)

    @work(exclusive=True, group=WORKERS, exit_on_error=False, description="save a mapping")
    async def save(self, path: Path) -> None:
        """Write the project's mapping.csv, as the server sends it, to `path`."""
        button = self.query_one("#save", Button)
        button.disabled = True
        try:
            saved = await self.service.save_mapping(self.shortcode, path)
        except (ServiceError, InputError, OSError) as error:
            self._say(
                error.line if isinstance(error, ServiceError | LocalFileError) else str(error)
            )
            return
        finally:
            button.disabled = False
        self._confirmed_overwrite = None
        button.label = "Save"
        self.saved = saved
        self._say(f"saved to {saved}", note=True)

    def action_close(self) -> None:
        self.workers.cancel_group(self, self.WORKERS)
        self.dismiss(self.saved)


def show_mapping(tab: ServiceTab, job: Job | None) -> None:
    """`m`: the selected project's mapping."""
    service = tab.service
    if job is None or not isinstance(service, DspIngestService):
        return

    def done(path: Path | None) -> None:
        if path is not None:
            tab.notify(f"{service.name}: saved the mapping of {job.id} to {path}")

    tab.app.push_screen(MappingScreen(service, job.id), done)
