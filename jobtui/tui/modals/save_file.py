"""Save a job's output to a local file, with progress, never overwriting without asking."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, ProgressBar

from jobtui.core.errors import ServiceError
from jobtui.core.format import shown_path
from jobtui.core.models import Job
from jobtui.core.service import Service
from jobtui.services.download import LocalFileError, exists
from jobtui.tui.forms import button_row, message_line
from jobtui.tui.modals.dialog import WorkingDialog
from jobtui.tui.widgets.key_bar import KeyBar


def check_destination(text: str) -> Path:
    """The path typed by the user, or ValueError with a message for the form naming the field."""
    if not text.strip():
        raise ValueError("file: give a file path")
    if "\x00" in text:
        raise ValueError("file: a path cannot hold a NUL character")
    path = Path(text.strip()).expanduser()
    try:
        if path.is_dir():
            raise ValueError(f"file: {shown_path(path)} is a folder: give a file name")
        if not path.parent.is_dir():
            what = "is not a folder" if path.parent.exists() else "does not exist"
            raise ValueError(f"file: folder {shown_path(path.parent)} {what}")
    except OSError as error:  # a name too long, a permission refused, ...
        raise ValueError(f"file: cannot use {shown_path(path)}: {error.strerror}") from None
    return path


class SaveDialog(WorkingDialog[Path | None]):
    """A dialog that writes to the file named in its `#path` field when `#save` is pressed, and
    says how it went in its `#message` label: a file that exists is written over only after a
    second Save of the same path."""

    def __init__(self) -> None:
        super().__init__()
        self._confirmed_overwrite: Path | None = None

    def _say(self, text: str, *, warning: bool = False, note: bool = False) -> None:
        """Show `text` under the field: an error, with `warning` a question to confirm, with
        `note` how it is going."""
        message = self.query_one("#message", Label)
        message.update(text)
        message.set_class(warning, "-warning")
        message.set_class(note, "-note")

    @on(Input.Changed, "#path")
    def _path_changed(self) -> None:
        """Another path: what was said about the previous one, and its overwrite, no longer hold."""
        if self._confirmed_overwrite is not None:
            self._confirmed_overwrite = None
            self.query_one("#save", Button).label = "Save"
        self._say("")

    def _destination(self) -> Path | None:
        """The path to write, checked; None (and why, or the question to overwrite, said)."""
        try:
            path = check_destination(self.query_one("#path", Input).value)
        except ValueError as error:
            self._say(str(error))
            return None
        if exists(path) and self._confirmed_overwrite != path:
            self._confirmed_overwrite = path
            self._say(f"{path.name} exists: press Save again to overwrite it", warning=True)
            self.query_one("#save", Button).label = "Overwrite"
            return None
        return path


class SaveFileScreen(SaveDialog):
    """Ask where to save, then download with a progress bar. Dismisses with the saved path.

    | Key | Action |
    | :- | :- |
    | `enter` | Save. |
    | `escape` | Close (a running download is stopped; nothing is left behind but the partial file). |
    """

    BINDINGS = [Binding("escape", "close", "Close")]
    WORKERS = "download"

    def __init__(self, service: Service, job: Job, directory: Path | None = None) -> None:
        super().__init__()
        self.service = service
        self.job = job
        self.directory = directory or Path.cwd()

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(f"Save output of {self.job.id}", classes="dialog-title", markup=False)
            yield Label("File", classes="field-label")
            yield Input(str(self.directory / self.service.output_name(self.job)), id="path")
            yield message_line()
            yield ProgressBar(total=None, show_eta=False, id="progress")
            yield button_row(
                Button("Save", id="save", variant="primary"),
                Button("Close", id="close"),
            )

    def on_mount(self) -> None:
        self.query_one("#progress").display = False
        self.query_one("#path", Input).focus()

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        path = self._destination()
        if path is None:
            return
        self._say("")
        self.download(path)

    @work(exclusive=True, group=WORKERS, exit_on_error=False, description="download output")
    async def download(self, path: Path) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        self.query_one("#save", Button).disabled = True

        def progress(done: int, total: int | None) -> None:
            bar.update(total=total, progress=done)

        try:
            saved = await self.service.download(
                self.job, path, progress, overwrite=self._confirmed_overwrite == path
            )
        except (ServiceError, OSError) as error:
            if isinstance(error, ServiceError | LocalFileError):
                self._say(error.line)
            else:
                self._say(f"cannot write {shown_path(path)}: {error.strerror or error}")
            self.query_one("#save", Button).disabled = False
            return
        self.dismiss(saved)
