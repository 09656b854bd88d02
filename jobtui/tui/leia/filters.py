"""The Leia filter dialog: the server-side filters of `GET /job`.

Unlike the table's own search, these filters are sent to Leia: the tab then lists only the jobs
the server returns for them (the status line shows the filters in force). Blank fields are not sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from jobtui.core.errors import InputError
from jobtui.services.leia.filters import LeiaFilters, parse_filters, wire_datetime
from jobtui.services.leia.service import LeiaService
from jobtui.services.leia.wire import LeiaJobType, LeiaStatus
from jobtui.tui.forms import button_row, choice, message_line, text_field
from jobtui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

TEXT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("model_id", "model id", "a model id"),
    ("document_id", "document id", "jobs processing this document"),
    ("application_id", "application id", "owner of the documents"),
    ("execute_after_id", "waits on", "jobs whose execute_after_id is this job"),
    ("parent_job_id", "parent job", "jobs created by this conditional job"),
    ("created_after", "created after", "yyyy-mm-ddThh:mm:ss (UTC), inclusive"),
    ("created_before", "created before", "yyyy-mm-ddThh:mm:ss (UTC), exclusive"),
)
"""Free-text filters: (LeiaFilters field, label, placeholder)."""
CHOICES: tuple[tuple[str, str, type[LeiaStatus] | type[LeiaJobType], str], ...] = (
    ("status", "status", LeiaStatus, "any status"),
    ("job_type", "job type", LeiaJobType, "any type"),
)
"""Filters chosen from a list: (LeiaFilters field, label, its values, the prompt for any)."""
CHOICE_FIELDS = tuple(name for name, _, _, _ in CHOICES)
FIELDS = (*CHOICE_FIELDS, *(name for name, _, _ in TEXT_FIELDS))
"""Every filter of the dialog, in its order."""


def widget_id(field: str) -> str:
    return "f-" + field.replace("_", "-")


def filter_text(filters: LeiaFilters, field: str) -> str:
    """A filter's current value as the dialog shows it."""
    value = getattr(filters, field)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return wire_datetime(value)
    return str(value.value if isinstance(value, LeiaStatus | LeiaJobType) else value)


class LeiaFilterScreen(ModalScreen[LeiaFilters | None]):
    """Edit the server-side filters. Dismisses with the new filters, or None when cancelled.

    | Key | Action |
    | :- | :- |
    | `enter` (in a text field or on Apply), `ctrl+s` | Apply. |
    | `ctrl+r` | Clear every field. |
    | `escape` | Close without changing anything. |
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "apply", "Apply", priority=True),
        Binding("ctrl+r", "clear", "Clear", priority=True),
    ]

    def __init__(self, service: LeiaService) -> None:
        super().__init__()
        self.service = service
        self.current = service.filters

    def compose(self) -> ComposeResult:
        current = self.current
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label(f"Filter {self.service.name} jobs on the server", classes="dialog-title")
            with Grid(classes="form-grid"):
                for name, label, kind, prompt in CHOICES:
                    chosen = getattr(current, name)
                    yield Label(label)
                    yield choice(
                        [(member.value, member.value) for member in kind],
                        chosen.value if chosen else Select.NULL,
                        prompt=prompt,
                        id=widget_id(name),
                    )
                for name, label, placeholder in TEXT_FIELDS:
                    yield Label(label)
                    yield text_field(
                        filter_text(current, name), placeholder=placeholder, id=widget_id(name)
                    )
            yield message_line()
            yield button_row(
                Button("Apply (enter)", id="apply", variant="primary", compact=True),
                Button("Clear all (ctrl+r)", id="clear", compact=True),
                Button("Cancel (esc)", id="close", compact=True),
            )

    def on_mount(self) -> None:
        # Focus starts where `enter` applies, as the button says: the first text field (on
        # the status list, enter would open the list instead).
        self.query_one(f"#{widget_id(TEXT_FIELDS[0][0])}", Input).focus()

    def values(self) -> dict[str, str]:
        """The text of every field, as `parse_filters` takes it."""
        out: dict[str, str] = {}
        for name in CHOICE_FIELDS:
            value = self.query_one(f"#{widget_id(name)}", Select).value
            out[name] = value if isinstance(value, str) else ""
        for name, _, _ in TEXT_FIELDS:
            out[name] = self.query_one(f"#{widget_id(name)}", Input).value
        return out

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        try:
            filters = parse_filters(self.values())
        except InputError as error:
            self.query_one("#message", Label).update(f"{error.field}: {error.message}")
            if error.field in FIELDS:
                self.query_one(f"#{widget_id(error.field)}").focus()
            return
        # Filters the dialog does not show (job_id, sort) are kept as they were.
        self.dismiss(replace(filters, job_id=self.current.job_id, sort=self.current.sort))

    @on(Button.Pressed, "#clear")
    def action_clear(self) -> None:
        for name in CHOICE_FIELDS:
            self.query_one(f"#{widget_id(name)}", Select).clear()
        for name, _, _ in TEXT_FIELDS:
            self.query_one(f"#{widget_id(name)}", Input).value = ""
        self.query_one("#message", Label).update("")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def edit_filters(tab: ServiceTab) -> None:
    """`f` in the Leia tab: the dialog, then the filters are applied and the tab polls at once."""
    service = tab.service
    if not isinstance(service, LeiaService):
        return

    def chosen(filters: LeiaFilters | None) -> None:
        if filters is None or filters == service.filters:
            return
        service.set_filters(filters)
        tab.rescope()
        described = filters.describe()
        tab.notify(
            f"{service.name}: filters {described}" if described else f"{service.name}: no filters",
            timeout=3,
        )
        tab.poll_now()

    tab.app.push_screen(LeiaFilterScreen(service), chosen)
