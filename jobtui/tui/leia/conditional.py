"""The Leia conditional-job dialog: rules that run after the selected job, as a form or as JSON.

The form is one rule (`RuleForm`): when a field of the prerequisite's result satisfies a condition,
run one job (apply a model, or transform the documents). The JSON tab takes a whole
ConditionalBody (or only its `rules` map) for anything the form cannot say: several rules, several
conditions, chains of jobs. Both are validated before anything is sent; a mistake is shown under
the form, naming the field, and nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from jobtui.core.errors import InputError, ServiceError
from jobtui.core.models import Action, Job
from jobtui.services.leia.conditions import (
    CONDITION_OPERATORS,
    RULE_JOB_TYPES,
    TRANSFORM_TYPES,
    RuleForm,
    validate_rules,
)
from jobtui.services.leia.service import LeiaService
from jobtui.tui.forms import button_row, choice, message_line, text_field
from jobtui.tui.journal import record_action
from jobtui.tui.leia.section import state_text
from jobtui.tui.modals.dialog import WorkingDialog
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

OPERATOR_LABELS: Mapping[str, str] = {
    "$eq": "$eq   equals",
    "$ne": "$ne   differs from",
    "$gt": "$gt   greater than",
    "$gte": "$gte  at least",
    "$lt": "$lt   less than",
    "$lte": "$lte  at most",
    "$in": "$in   one of (a,b,c)",
    "$nin": "$nin  none of (a,b,c)",
}
JOB_TYPE_LABELS: Mapping[str, str] = {
    "apply_model": "apply_model  (run a model)",
    "transform": "transform  (convert the documents)",
}
FIELD_WIDGETS: Mapping[str, str] = {
    "rule_id": "#rule-id",
    "field": "#field",
    "operator": "#operator",
    "value": "#value",
    "job_type": "#job-type",
    "model_id": "#model-id",
    "output_type": "#output-type",
    "document_ids": "#document-ids",
    "page_range": "#page-range",
}
"""Where the form shows each `RuleForm` field (an error on it puts the focus there)."""
CLASSIFICATION_FIELDS = ("category", "score", "accuracy")
MAX_HINTS = 8


def result_fields(job: Job) -> list[str]:
    """Field names a condition can test on `job`'s result (dotted for nested objects)."""
    result = job.raw.get("result")
    if not isinstance(result, Mapping):
        kind = str(job.raw.get("result_type") or "")
        return list(CLASSIFICATION_FIELDS) if kind == "classification" else []
    names: list[str] = []
    for key, value in result.items():
        if isinstance(value, Mapping) and value:
            names.extend(f"{key}.{sub}" for sub in value if not isinstance(value[sub], Mapping))
        else:
            names.append(str(key))
    return names


def example_body(job: Job, fields: list[str]) -> dict[str, Any]:
    """A starting point for the JSON tab: one rule that applies a model to the job's documents."""
    docs = [str(d) for d in job.raw.get("document_ids") or []]
    field = fields[0] if fields else "category"
    return {
        "rules": {
            "rule_1": {
                "conditions": {field: {"$eq": "invoice"}},
                "jobs": [{"job_type": "apply_model", "model_id": "", "document_ids": docs}],
            }
        }
    }


class ConditionalJobScreen(WorkingDialog[Job | None]):
    """Create a conditional job that runs after `job`. Dismisses with the new job, or None.

    | Key | Action |
    | :- | :- |
    | `ctrl+s` | Validate and create. |
    | `ctrl+t` | Switch between the form and the JSON editor. |
    | `escape` | Close without creating anything. |
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "create", "Create", priority=True),
        Binding("ctrl+t", "switch_mode", "Form/JSON", priority=True),
    ]
    WORKERS = "conditional"

    def __init__(self, service: LeiaService, job: Job) -> None:
        super().__init__()
        self.service = service
        self.job = job
        self.defaults = RuleForm.for_job(job)
        self.fields = result_fields(job)
        self._json_template = json.dumps(example_body(job, self.fields), indent=2)
        self._json_filled = self._json_template

    def compose(self) -> ComposeResult:
        form = self.defaults
        title = Text.assemble("New conditional job after ", (self.job.id, "bold"), "  ")
        title.append_text(state_text(self.job))
        hint = "It runs once this job is PROCESSED; its conditions test this job's result"
        if self.fields:
            shown = ", ".join(self.fields[:MAX_HINTS])
            more = (
                f" and {len(self.fields) - MAX_HINTS} more" if len(self.fields) > MAX_HINTS else ""
            )
            hint += f" (fields: {shown}{more})"
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(title, classes="dialog-title")
            yield Static(hint + ".", id="fields-hint", classes="dialog-hint", markup=False)
            with TabbedContent(id="mode"):
                with TabPane("Form", id="form-pane"), Grid(classes="form-grid"):
                    yield Label("rule id")
                    yield text_field(form.rule_id, id="rule-id")
                    yield Label("when field", classes="form-group")
                    yield text_field(
                        form.field,
                        id="field",
                        suggester=SuggestFromList(self.fields) if self.fields else None,
                    )
                    yield Label("operator")
                    yield choice(
                        [(OPERATOR_LABELS[op], op) for op in CONDITION_OPERATORS],
                        form.operator,
                        id="operator",
                    )
                    yield Label("value")
                    yield text_field(
                        form.value,
                        placeholder='invoice · 0.8 · true · "42" as text · a,b,c for $in',
                        id="value",
                    )
                    yield Label("then run", classes="form-group")
                    yield choice(
                        [(JOB_TYPE_LABELS[t], t) for t in RULE_JOB_TYPES],
                        form.job_type,
                        id="job-type",
                    )
                    yield Label("model id", id="target-label")
                    with Horizontal(id="target"):
                        yield text_field(
                            form.model_id, placeholder="model id or short name", id="model-id"
                        )
                        yield choice(
                            [(t, t) for t in TRANSFORM_TYPES], form.output_type, id="output-type"
                        )
                    yield Label("document ids")
                    yield text_field(
                        form.document_ids, placeholder="comma-separated", id="document-ids"
                    )
                    yield Label("page range")
                    yield text_field(
                        form.page_range, placeholder="optional, e.g. 0,2:5,-1", id="page-range"
                    )
                    yield Label("")
                    yield Checkbox("create it BLOCKED (start it later with s)", id="blocked")
                with TabPane("JSON", id="json-pane"):
                    yield Static(
                        "A ConditionalBody, or only its rules: "
                        '{"rule_id": {"conditions": {...}, "jobs": [...]}}. '
                        "Tab indents; escape leaves the editor.",
                        classes="dialog-hint",
                    )
                    yield TextArea(
                        self._json_template,
                        id="json",
                        show_line_numbers=True,
                        soft_wrap=False,
                        tab_behavior="indent",
                    )
            yield message_line()
            yield button_row(
                Button("Create (ctrl+s)", id="create", variant="primary", compact=True),
                Button("Form/JSON (ctrl+t)", id="switch", compact=True),
                Button("Close (esc)", id="close", compact=True),
            )

    def on_mount(self) -> None:
        self._show_job_type(self.defaults.job_type)
        self.query_one("#value", Input).focus()

    # -- form -----------------------------------------------------------------------------------

    @on(Select.Changed, "#job-type")
    def _job_type_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._show_job_type(event.value)

    def _show_job_type(self, job_type: str) -> None:
        apply = job_type == "apply_model"
        self.query_one("#model-id").display = apply
        self.query_one("#output-type").display = not apply
        self.query_one("#target-label", Label).update("model id" if apply else "output type")

    def _select(self, selector: str) -> str:
        value = self.query_one(selector, Select).value
        return value if isinstance(value, str) else ""

    def rule_form(self) -> RuleForm:
        """The form's values as a `RuleForm` (not validated yet)."""

        def text(selector: str) -> str:
            return self.query_one(selector, Input).value

        return RuleForm(
            rule_id=text("#rule-id"),
            field=text("#field"),
            operator=self._select("#operator"),
            value=text("#value"),
            job_type=self._select("#job-type"),
            model_id=text("#model-id"),
            output_type=self._select("#output-type"),
            document_ids=text("#document-ids"),
            page_range=text("#page-range"),
        )

    def body(self) -> dict[str, Any]:
        """The validated ConditionalBody of the tab shown; `InputError` names what is wrong."""
        if self.query_one("#mode", TabbedContent).active == "json-pane":
            return validate_rules(self.query_one("#json", TextArea).text)
        blocked = self.query_one("#blocked", Checkbox).value
        return self.rule_form().body(block_processing=blocked)

    @on(TabbedContent.TabActivated, "#mode")
    def _mode_changed(self, event: TabbedContent.TabActivated) -> None:
        self._say("")
        if event.pane.id != "json-pane":
            return
        area = self.query_one("#json", TextArea)
        if area.text != self._json_filled:
            return  # edited by hand: keep it
        try:
            body = self.rule_form().body(
                block_processing=self.query_one("#blocked", Checkbox).value
            )
        except InputError:
            return
        self._json_filled = json.dumps(body, indent=2, ensure_ascii=False)
        area.load_text(self._json_filled)

    # -- create ---------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.query_one("#message", Label).update(text)

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        try:
            body = self.body()
        except InputError as error:
            self._say(f"{error.field}: {error.message}")
            self._focus_field(error.field)
            return
        self._say("creating…")
        self.query_one("#create", Button).disabled = True
        self.create(body)

    def _focus_field(self, field: str) -> None:
        json_mode = self.query_one("#mode", TabbedContent).active == "json-pane"
        selector = "#json" if json_mode else FIELD_WIDGETS.get(field)
        if selector is not None:
            widget = self.query_one(selector, Widget)
            if widget.display:
                widget.focus()

    @work(exclusive=True, group=WORKERS, exit_on_error=False, description="create Leia job")
    async def create(self, body: dict[str, Any]) -> None:
        name = self.service.name
        try:
            job = await self.service.create_conditional(self.job.id, body)
        except (ServiceError, InputError) as error:
            if isinstance(error, ServiceError):
                record_action(self, name, Action.CONDITIONAL, "submit", [], error.line)
            self._say(error.line if isinstance(error, ServiceError) else str(error))
            self.query_one("#create", Button).disabled = False
            return
        record_action(self, name, Action.CONDITIONAL, "submit", [job.id])
        self.dismiss(job)

    @on(Button.Pressed, "#switch")
    def action_switch_mode(self) -> None:
        mode = self.query_one("#mode", TabbedContent)
        mode.active = "form-pane" if mode.active == "json-pane" else "json-pane"
        if mode.active == "json-pane":
            self.query_one("#json", TextArea).focus()
        else:
            self.query_one("#value", Input).focus()


def new_conditional(tab: ServiceTab, job: Job | None) -> None:
    """`k` in the Leia tab: the dialog, then a notification and a poll."""
    service = tab.service
    if job is None or not isinstance(service, LeiaService):
        return
    after = job.id

    def created(new: Job | None) -> None:
        if new is not None:
            tab.notify(
                f"{service.name}: conditional job {new.id} created after {after} ({new.raw_state})"
            )
            tab.poll_now()

    tab.app.push_screen(ConditionalJobScreen(service, job), created)
