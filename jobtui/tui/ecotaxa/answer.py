"""The EcoTaxa answer form: an asking import's question as one id field per missing name.

The form is built from `EcoTaxaService.answer_form(job)`. Ids are checked by `AnswerForm.parse`
before anything is sent: a mistake is shown under the form, naming the field, and the focus goes
to that field. Blank fields are left out of the reply (the job then asks again for those names).
Enter moves to the next field and sends from the last one; ctrl+s sends from anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import Button, Input, Label, Static

from jobtui.core.errors import InputError, ServiceError
from jobtui.core.models import Action, Job
from jobtui.services.ecotaxa.answer import AnswerField, AnswerForm
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.tui.forms import button_row, message_line, text_field
from jobtui.tui.journal import record_action
from jobtui.tui.modals.dialog import WorkingDialog
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab


def field_id(field: AnswerField, index: int) -> str:
    """The Input's widget id of a field (names may hold any character, so by position)."""
    return f"{'user' if field.group == 'users' else 'taxon'}-{index}"


class AnswerScreen(WorkingDialog[str | None]):
    """Answer an asking EcoTaxa import. Dismisses with the service's confirmation line.

    | Key | Action |
    | :- | :- |
    | `enter` | Next field; on the last one, send. |
    | `ctrl+s` | Send. |
    | `escape` | Close without sending. |
    """

    DEFAULT_CSS = """
    AnswerScreen .dialog { width: 80; }
    AnswerScreen .form-grid { grid-columns: 30 1fr; }
    AnswerScreen .form-grid > Label { text-overflow: ellipsis; text-wrap: nowrap; }
    AnswerScreen .field-error { width: 1fr; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "send", "Send", priority=True),
    ]
    WORKERS = "answer"

    def __init__(self, service: EcoTaxaService, job: Job, form: AnswerForm) -> None:
        super().__init__()
        self.service = service
        self.job = job
        self.form = form
        self.ids: dict[str, str] = {}
        """Field key (`users[name]`) -> Input id."""
        self.labels: dict[str, str] = {}
        """Field key -> how the form's messages name it (`taxon 'egg sp.'`)."""
        counts = {"users": 0, "taxa": 0}
        for field in form.fields:
            self.labels[field.key] = field.label
            self.ids[field.key] = field_id(field, counts[field.group])
            counts[field.group] += 1

    def compose(self) -> ComposeResult:
        title = Text.assemble("Answer EcoTaxa job ", (self.job.id, "bold"))
        if self.job.type:
            title.append(f"  {self.job.type}", style="dim")
        users, taxa = len(self.form.missing_users), len(self.form.missing_taxa)
        hint = (
            f"The file names {users} user(s) and {taxa} taxon name(s) this server does not know. "
            "Give the EcoTaxa id of each (a whole number); a blank field is left out and the "
            "job asks for it again."
        )
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(title, classes="dialog-title")
            yield Static(hint, id="hint", classes="dialog-hint")
            with Grid(classes="form-grid", id="fields"):
                group = ""
                for field in self.form.fields:
                    if field.group != group:
                        group = field.group
                        yield Label(
                            "users → user id" if group == "users" else "taxa → taxon id",
                            classes="form-group",
                        )
                        yield Label("")
                    yield Label(f"  {field.name}", classes="answer-name", markup=False)
                    yield text_field(placeholder="id", id=self.ids[field.key])
            yield message_line()
            yield button_row(
                Button("Send (ctrl+s)", id="send", variant="primary", compact=True),
                Button("Close (esc)", id="close", compact=True),
            )

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        if inputs:
            inputs[0].focus()

    # -- values -------------------------------------------------------------------------------

    def typed(self) -> tuple[dict[str, str], dict[str, str]]:
        """The text of every field, by name: (users, taxa)."""
        users: dict[str, str] = {}
        taxa: dict[str, str] = {}
        for field in self.form.fields:
            value = self.query_one(f"#{self.ids[field.key]}", Input).value
            (users if field.group == "users" else taxa)[field.name] = value
        return users, taxa

    def _say(self, text: str, *, note: bool = False) -> None:
        message = self.query_one("#message", Label)
        message.update(text)
        message.set_class(note, "-note")

    # -- send ---------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        if event.input in inputs and inputs.index(event.input) < len(inputs) - 1:
            inputs[inputs.index(event.input) + 1].focus()
            return
        self.action_send()

    @on(Button.Pressed, "#send")
    def action_send(self) -> None:
        if self.query_one("#send", Button).disabled:
            return
        typed_users, typed_taxa = self.typed()
        if not any(v.strip() for v in (*typed_users.values(), *typed_taxa.values())):
            self._say("give the id of at least one name (blank fields are left out)")
            self.query(Input).first().focus()
            return
        try:
            users, taxa = self.form.parse(typed_users, typed_taxa)
        except InputError as error:
            self._say(f"{self.labels.get(error.field, error.field)}: {error.message}")
            widget_id = self.ids.get(error.field)
            if widget_id is not None:
                self.query_one(f"#{widget_id}", Input).focus()
            return
        self._say("sending…", note=True)
        self.query_one("#send", Button).disabled = True
        self.send(users, taxa)

    @work(exclusive=True, group=WORKERS, exit_on_error=False, description="answer EcoTaxa job")
    async def send(self, users: dict[str, int], taxa: dict[str, int]) -> None:
        name = self.service.name
        try:
            line = await self.service.answer(self.job, users, taxa)
        except (ServiceError, InputError) as error:
            if isinstance(error, ServiceError):
                record_action(self, name, Action.ANSWER, "answer", [self.job.id], error.line)
            self._say(error.line if isinstance(error, ServiceError) else str(error))
            self.query_one("#send", Button).disabled = False
            return
        record_action(self, name, Action.ANSWER, "answer", [self.job.id])
        self.dismiss(line)


def answer_job(tab: ServiceTab, job: Job | None) -> None:
    """`a` in the EcoTaxa tab: the form for the job's question, then a notification and a poll."""
    service = tab.service
    if job is None or not isinstance(service, EcoTaxaService):
        return
    form = service.answer_form(job)
    if form.empty:
        tab.notify(f"{service.name}: job {job.id} asks no question to answer", severity="warning")
        return

    def answered(line: str | None) -> None:
        if line is not None:
            tab.notify(line, severity="warning" if "still asking" in line else "information")
            tab.poll_now()

    tab.app.push_screen(AnswerScreen(service, job, form), answered)
