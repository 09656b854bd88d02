"""Upload a local folder to a dsp-ingest project: check the names first, then stream each file
with per-file and overall progress; cancelling keeps what was uploaded and says exactly what.

The dialog has three steps. Check walks the folder (`DspIngestService.plan_upload`) and shows what
would be sent and every file left out with its reason (those are never sent). Upload sends the
plan's files one after the other with two progress bars: the current file's bytes, and the
overall bytes with "n of m files". Cancel stops between pieces; the report then lists the files
uploaded, those not uploaded, and the one cut off midway, if any.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static

from jobtui.core.errors import InputError, ServiceError
from jobtui.core.format import human_size, shown_path
from jobtui.core.models import Action, Job
from jobtui.services.dsp_ingest.ingest import UploadPlan, UploadProgress, UploadReport
from jobtui.services.dsp_ingest.names import validate_shortcode
from jobtui.services.dsp_ingest.service import DspIngestService
from jobtui.tui.forms import button_row, message_line, text_field
from jobtui.tui.journal import record_action
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

MAX_LISTED = 300
"""File names listed per kind in the dialog (the counts are always complete)."""


def _listing(names: Sequence[str], style: str = "") -> Text:
    """Names one per line, indented, at most `MAX_LISTED` of them."""
    text = Text()
    for name in names[:MAX_LISTED]:
        text.append("  ").append(name, style=style).append("\n")
    if len(names) > MAX_LISTED:
        text.append(f"  … and {len(names) - MAX_LISTED} more\n", style="dim")
    return text


def plan_text(code: str, plan: UploadPlan) -> RenderableType:
    """What an upload of `plan` to project `code` sends and leaves out."""
    parts: list[RenderableType] = []
    if plan.files:
        parts.append(
            Text.assemble(
                (f"{len(plan.files)} files", "bold"),
                f" ({human_size(plan.total_bytes)}) to upload to project ",
                (code, "bold"),
                ".",
            )
        )
    else:
        parts.append(
            Text.assemble(
                ("Nothing to upload: ", "bold red"),
                "the folder has no file the service would take.",
            )
        )
    if plan.rejected:
        parts.append(Text(f"{len(plan.rejected)} left out, never sent:", style="bold yellow"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="yellow", no_wrap=True, max_width=36, overflow="ellipsis")
        grid.add_column(style="dim", overflow="fold")
        for rejected in plan.rejected[:MAX_LISTED]:
            grid.add_row(Text(f"  {rejected.rel}"), Text(rejected.reason))
        if len(plan.rejected) > MAX_LISTED:
            grid.add_row(f"  … and {len(plan.rejected) - MAX_LISTED} more", "")
        parts.append(grid)
    empty = plan.empty_images
    if empty:
        what = (
            "1 empty image is sent, but the ingest will fail on it:"
            if len(empty) == 1
            else f"{len(empty)} empty images are sent, but the ingest will fail on them:"
        )
        parts.append(Text(what, style="yellow"))
        names = _listing(empty)
        names.rstrip()
        parts.append(names)
    return Group(*parts)


def _names_line(names: Sequence[str]) -> Text:
    """Names joined with commas on wrapped, indented lines, at most `MAX_LISTED` of them."""
    text = Text("  " + ", ".join(names[:MAX_LISTED]))
    if len(names) > MAX_LISTED:
        text.append(f" … and {len(names) - MAX_LISTED} more", style="dim")
    return text


def report_text(report: UploadReport) -> RenderableType:
    """Exactly what an upload did: uploaded, failed (with reasons), not uploaded, cut off."""
    parts: list[RenderableType] = [Text(report.summary(), style="bold")]
    if report.stopped:
        parts.append(Text(f"Stopped: {report.stopped}", style="red"))
    if report.interrupted:
        parts.append(
            Text.assemble(
                ("Cut off midway: ", "bold yellow"),
                report.interrupted,
                (
                    " (the server may keep a partial copy: upload it again, or finalize, "
                    "before starting the ingest)",
                    "yellow",
                ),
            )
        )
    if report.uploaded:
        parts.append(Text(f"Uploaded ({len(report.uploaded)}):", style="green"))
        parts.append(_names_line(report.uploaded))
    if report.failed:
        parts.append(Text(f"Failed ({len(report.failed)}):", style="red"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="red", no_wrap=True, max_width=36, overflow="ellipsis")
        grid.add_column(overflow="fold")
        for failure in report.failed[:MAX_LISTED]:
            grid.add_row(Text(f"  {failure.rel}"), Text(failure.reason))
        parts.append(grid)
    if report.not_uploaded:
        parts.append(Text(f"Not uploaded ({len(report.not_uploaded)}):", style="yellow"))
        parts.append(_names_line(report.not_uploaded))
    if report.rejected:
        parts.append(
            Text(f"Left out by the check, never sent: {len(report.rejected)}", style="dim")
        )
    return Group(*parts)


def progress_lines(progress: UploadProgress) -> tuple[str, str]:
    """The current file's line and the overall line of an upload's progress."""
    if progress.file:
        current = (
            f"{progress.file}  {human_size(progress.file_sent)} of {human_size(progress.file_size)}"
        )
    else:
        current = "—"
    if progress.retry_in is not None:
        current += f"  · retrying in {progress.retry_in:.0f} s"
        if progress.note:
            current += f": {progress.note}"
    overall = (
        f"{progress.files_done} of {progress.files_total} files · "
        f"{human_size(progress.bytes_done)} of {human_size(progress.bytes_total)}"
    )
    return current, overall


class UploadScreen(ModalScreen[UploadReport | None]):
    """Check, then upload a folder to a project. Dismisses with the upload's report, or None when
    nothing was sent.

    | Key | Action |
    | :- | :- |
    | `enter` | In a field: check the folder (again). |
    | `escape` | Close; while uploading: cancel the upload (what was sent stays). |
    """

    CSS = """
    UploadScreen .dialog { width: 96; }
    UploadScreen #plan-box { height: auto; max-height: 16; }
    UploadScreen #progress-box { height: auto; margin-top: 1; }
    UploadScreen #progress-box Label { width: 1fr; color: $text-muted; }
    UploadScreen #progress-box ProgressBar { margin: 0 0 1 0; }
    UploadScreen .field-error { width: 1fr; margin-top: 1; }
    """

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, service: DspIngestService, shortcode: str = "", folder: str = "") -> None:
        super().__init__()
        self.service = service
        self.shortcode = shortcode
        self.folder = folder
        self.plan: UploadPlan | None = None
        self.code: str | None = None
        """The shortcode the plan was checked for (validated, upper-cased)."""
        self.report: UploadReport | None = None
        self.progress: UploadProgress | None = None
        self.cancel_event = asyncio.Event()
        self.uploading = False

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(
                f"Upload a folder · {self.service.name}", classes="dialog-title", markup=False
            )
            yield Static(
                "Files go to the project's import folder; start the ingest (i) afterwards.",
                classes="dialog-hint",
            )
            with Grid(classes="form-grid"):
                yield Label("project")
                yield text_field(
                    self.shortcode, placeholder="shortcode: 4 hex digits, like 0803", id="shortcode"
                )
                yield Label("folder")
                yield text_field(self.folder, placeholder="a local folder to upload", id="folder")
            yield message_line()
            with VerticalScroll(id="plan-box"):
                yield Static("", id="plan", markup=False)
            with Vertical(id="progress-box"):
                yield Label("", id="file-line", markup=False)
                yield ProgressBar(total=1, show_eta=False, id="file-bar")
                yield Label("", id="total-line", markup=False)
                yield ProgressBar(total=1, show_eta=False, id="total-bar")
            yield button_row(
                Button("Check", id="check", variant="primary"),
                Button("Upload", id="upload", variant="success", disabled=True),
                Button("Cancel upload", id="cancel", variant="error"),
                Button("Close", id="close"),
            )

    def on_mount(self) -> None:
        self.query_one("#plan-box").display = False
        self.query_one("#progress-box").display = False
        self.query_one("#cancel").display = False
        self.query_one("#folder" if self.shortcode else "#shortcode", Input).focus()

    # -- helpers --------------------------------------------------------------------------------

    def _say(self, text: str, *, note: bool = False) -> None:
        message = self.query_one("#message", Label)
        message.update(text)
        message.set_class(note, "-note")

    def _show_plan(self, text: RenderableType | None) -> None:
        box = self.query_one("#plan-box")
        box.display = text is not None
        self.query_one("#plan", Static).update(text or "")
        box.scroll_home(animate=False)

    # -- check ----------------------------------------------------------------------------------

    @on(Input.Changed)
    def _changed(self) -> None:
        """Another project or folder: the last check no longer holds."""
        if self.uploading or self.report is not None:
            return
        if self.plan is not None:
            self.plan = None
            self.code = None
            self.query_one("#upload", Button).disabled = True
            self._show_plan(None)
        self._say("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#check")
    def _check(self) -> None:
        if self.uploading:
            return
        try:
            code = validate_shortcode(self.query_one("#shortcode", Input).value)
        except InputError as error:
            self._say(f"{error.field}: {error.message}")
            self.query_one("#shortcode", Input).focus()
            return
        folder = self.query_one("#folder", Input).value.strip()
        if not folder:
            self._say("folder: give the path of a local folder")
            self.query_one("#folder", Input).focus()
            return
        shortcode = self.query_one("#shortcode", Input)
        if shortcode.value != code:
            with self.prevent(Input.Changed):
                shortcode.value = code
        self._say("checking the folder…", note=True)
        self.check(code, folder)

    @work(exclusive=True, group="check", exit_on_error=False, description="check an upload folder")
    async def check(self, code: str, folder: str) -> None:
        """Walk the folder in a thread and show what would be sent and what is left out."""
        try:
            plan = await asyncio.to_thread(self.service.plan_upload, Path(folder))
        except InputError as error:
            self._say(f"{error.field}: {error.message}")
            self.query_one("#folder", Input).focus()
            return
        except OSError as error:
            self._say(f"folder: cannot read {shown_path(folder)}: {error.strerror or error}")
            return
        self.plan = plan
        self.code = code
        self._say("")
        self._show_plan(plan_text(code, plan))
        upload = self.query_one("#upload", Button)
        upload.disabled = not plan.files
        if plan.files:
            upload.focus()

    # -- upload ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#upload")
    def _upload(self) -> None:
        if self.uploading or self.plan is None or self.code is None or not self.plan.files:
            return
        self.uploading = True
        self.cancel_event.clear()
        for selector in ("#shortcode", "#folder"):
            self.query_one(selector, Input).disabled = True
        for selector in ("#check", "#upload", "#close"):
            self.query_one(selector).display = False
        cancel = self.query_one("#cancel", Button)
        cancel.display = True
        cancel.focus()
        self.query_one("#progress-box").display = True
        self._say(f"uploading to project {self.code}…", note=True)
        self.upload(self.code, self.plan)

    def _progressed(self, progress: UploadProgress) -> None:
        self.progress = progress
        current, overall = progress_lines(progress)
        self.query_one("#file-line", Label).update(current)
        self.query_one("#total-line", Label).update(overall)
        file_bar = self.query_one("#file-bar", ProgressBar)
        if progress.file:
            file_bar.update(total=max(1, progress.file_size), progress=progress.file_sent)
        total_bar = self.query_one("#total-bar", ProgressBar)
        if progress.bytes_total > 0:
            total_bar.update(total=progress.bytes_total, progress=progress.bytes_done)
        else:
            total_bar.update(total=max(1, progress.files_total), progress=progress.files_done)

    @work(exclusive=True, group="upload", exit_on_error=False, description="upload a folder")
    async def upload(self, code: str, plan: UploadPlan) -> None:
        """Send the plan's files; show the report (or why nothing was sent)."""
        try:
            report = await self.service.upload(
                code, plan, progress=self._progressed, cancel=self.cancel_event
            )
        except (ServiceError, InputError) as error:
            self.uploading = False
            if isinstance(error, ServiceError):
                record_action(self, self.service.name, Action.UPLOAD, "upload", [code], error.line)
            self._say(error.line if isinstance(error, ServiceError) else str(error))
            self._restore_buttons(finished=False)
            return
        self.uploading = False
        outcome = "cancelled" if report.cancelled else "ok" if report.complete else "incomplete"
        record_action(self, self.service.name, Action.UPLOAD, "upload", [code], outcome)
        self.report = report
        self._finished(report)

    def _restore_buttons(self, *, finished: bool) -> None:
        self.query_one("#cancel").display = False
        close = self.query_one("#close", Button)
        close.display = True
        if not finished:
            for selector in ("#shortcode", "#folder"):
                self.query_one(selector, Input).disabled = False
            self.query_one("#check").display = True
            self.query_one("#upload").display = True
        close.focus()

    def _finished(self, report: UploadReport) -> None:
        self._restore_buttons(finished=True)
        self._show_plan(report_text(report))
        if report.cancelled:
            self._say("upload cancelled: what was sent stays on the server", note=True)
        elif report.complete:
            self._say(f"done: start the ingest of project {report.shortcode} with i", note=True)
        else:
            self._say("the upload did not send every file: see below")
        # the current file's line and bar are over; the overall ones say where it stopped
        self.query_one("#file-line").display = False
        self.query_one("#file-bar").display = False

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        if not self.uploading:
            return
        self.cancel_event.set()
        cancel = self.query_one("#cancel", Button)
        cancel.disabled = True
        cancel.label = "Cancelling…"
        self._say("cancelling: the file being sent is stopped…", note=True)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.uploading:
            self._cancel()
            return
        self.dismiss(self.report)


def _open(tab: ServiceTab, shortcode: str) -> None:
    service = tab.service
    if not isinstance(service, DspIngestService):
        return
    if tab.read_only:
        tab.notify("read-only: changes are disabled", severity="warning")
        return

    def done(report: UploadReport | None) -> None:
        if report is None:
            return
        tab.notify(
            f"{service.name}: {report.summary()}",
            severity="information" if report.complete else "warning",
            timeout=8,
        )
        tab.poll_now()

    tab.app.push_screen(UploadScreen(service, shortcode), done)


def upload_folder(tab: ServiceTab, job: Job | None) -> None:
    """`u`: upload a folder, to the selected project unless another one is typed."""
    _open(tab, job.id if job is not None else "")


def upload_anywhere(tab: ServiceTab) -> None:
    """`U`: upload a folder to a project typed in the dialog."""
    _open(tab, "")
