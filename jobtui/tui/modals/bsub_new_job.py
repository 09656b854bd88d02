"""The bsub.io new-job dialog: pick a processing type and a local file, upload, submit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from jobtui.core.errors import InputError, ServiceError
from jobtui.core.format import human_size, shown_path
from jobtui.core.models import Action, Job
from jobtui.tui.forms import button_row, message_line
from jobtui.tui.journal import record_action
from jobtui.tui.modals.dialog import WorkingDialog
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.services.bsub.service import BsubService


def check_input_file(text: str) -> Path:
    """The file typed by the user, or InputError naming the field."""
    if not text.strip():
        raise InputError("file", "choose a file to upload")
    if "\x00" in text:
        raise InputError("file", "a path cannot hold a NUL character")
    path = Path(text.strip()).expanduser()
    try:
        if not path.exists():
            raise InputError("file", f"{shown_path(path)} does not exist")
        if not path.is_file():
            raise InputError("file", f"{shown_path(path)} is not a file")
        with path.open("rb"):
            pass
    except OSError as error:  # a name too long, a permission refused, ...
        raise InputError("file", f"{shown_path(path)} cannot be read: {error.strerror}") from None
    return path


class NewBsubJobScreen(WorkingDialog[Job | None]):
    """Create a bsub.io job: type, input file, upload with progress, submit.

    | Key | Action |
    | :- | :- |
    | `ctrl+s` | Create and submit. |
    | `escape` | Close. |
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "create", "Create"),
    ]
    WORKERS = "submit"

    def __init__(self, service: BsubService, directory: Path | None = None) -> None:
        super().__init__()
        self.service = service
        self.directory = directory or Path.cwd()
        self._descriptions: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(f"New job on {self.service.name}", classes="dialog-title", markup=False)
            yield Label("Processing type", classes="field-label")
            yield Select[str]([], prompt="loading types…", id="type")
            yield Static("", id="description", classes="dim", markup=False)
            yield Label("Input file", classes="field-label")
            yield Input(placeholder=f"{self.directory}/input.dat", id="file")
            yield message_line()
            yield ProgressBar(total=None, show_eta=False, id="progress")
            yield button_row(
                Button("Create and submit", id="create", variant="primary"),
                Button("Close", id="close"),
            )

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        self.load_types()

    @work(exclusive=True, group="types", exit_on_error=False, description="load bsub.io types")
    async def load_types(self) -> None:
        select = self.query_one("#type", Select)
        try:
            types = await self.service.types()
        except ServiceError as error:
            self._say(error.line)
            select.prompt = "no types"
            return
        self._descriptions = {t.type: t.description or t.name or "" for t in types}
        # Text: a type's name from the server is shown as it is, never read as markup.
        select.set_options((Text(f"{t.name or t.type}  ({t.type})"), t.type) for t in types)
        select.prompt = "choose a type"
        if self.focused is None:  # never take the focus from a field the user went on to
            select.focus()

    @on(Select.Changed, "#type")
    def _type_changed(self, event: Select.Changed) -> None:
        value = event.value
        text = self._descriptions.get(value, "") if isinstance(value, str) else ""
        self.query_one("#description", Static).update(text)

    def _say(self, text: str, *, note: bool = False) -> None:
        """Show `text` under the form: an error, or with `note` how the upload is going."""
        message = self.query_one("#message", Label)
        message.update(text)
        message.set_class(note, "-note")

    @on(Input.Submitted, "#file")
    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        value = self.query_one("#type", Select).value
        if not isinstance(value, str):
            self._say("type: choose a processing type")
            return
        try:
            path = check_input_file(self.query_one("#file", Input).value)
        except InputError as error:
            self._say(str(error))
            return
        self._say(f"uploading {path.name} ({human_size(path.stat().st_size)})…", note=True)
        self.submit(value, path)

    @work(exclusive=True, group=WORKERS, exit_on_error=False, description="create bsub.io job")
    async def submit(self, type_id: str, path: Path) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        button = self.query_one("#create", Button)
        button.disabled = True

        def progress(done: int, total: int | None) -> None:
            bar.update(total=total, progress=done)
            if total and done >= total:
                self._say(f"{path.name} uploaded, submitting the job…", note=True)

        name = self.service.name
        try:
            job = await self.service.new_job(type_id, path, progress)
        except ServiceError as error:
            record_action(self, name, Action.NEW, "submit", [], error.line)
            self._say(error.line)
            button.disabled = False
            return
        record_action(self, name, Action.NEW, "submit", [job.id])
        self.dismiss(job)
