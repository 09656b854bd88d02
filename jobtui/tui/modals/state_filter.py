"""A small chooser of the one state to show (or all of them)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from jobtui.core.models import JobState
from jobtui.tui.widgets.key_bar import KeyBar

ALL_STATES = "all"

CHOICES: tuple[tuple[str, str, str], ...] = (
    ("a", ALL_STATES, "all states"),
    ("q", JobState.QUEUED.value, JobState.QUEUED.label),
    ("r", JobState.RUNNING.value, JobState.RUNNING.label),
    ("n", JobState.NEEDS_INPUT.value, JobState.NEEDS_INPUT.label),
    ("s", JobState.SUCCEEDED.value, JobState.SUCCEEDED.label),
    ("f", JobState.FAILED.value, JobState.FAILED.label),
    ("c", JobState.CANCELLED.value, JobState.CANCELLED.label),
)
"""(key, value, label) of each choice: its first letter picks it at once."""


class StateFilterScreen(ModalScreen[JobState | str | None]):
    """Pick one state to show, or `ALL_STATES`; None when dismissed with escape.

    | Key | Action |
    | :- | :- |
    | `a` `q` `r` `n` `s` `f` `c` | All, queued, running, needs input, succeeded, failed, cancelled. |
    | `enter` | The highlighted choice. |
    | `escape` | Keep the filter as it is. |
    """

    BINDINGS = [
        Binding("escape", "pick(None)", "Keep as it is"),
        *(Binding(key, f"pick('{value}')", label, show=False) for key, value, label in CHOICES),
    ]

    def __init__(self, current: frozenset[JobState] | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog narrow"):
            yield Label("Show jobs in state", classes="dialog-title")
            yield OptionList(
                *(Option(f"{key}  {label}", id=value) for key, value, label in CHOICES),
                id="states",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current is not None and len(self.current) == 1:
            (state,) = self.current
            options.highlighted = options.get_option_index(state.value)
        else:
            options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option.id)

    def action_pick(self, value: str | None) -> None:
        if value is None:
            self.dismiss(None)
        elif value == ALL_STATES:
            self.dismiss(ALL_STATES)
        else:
            self.dismiss(JobState(value))
