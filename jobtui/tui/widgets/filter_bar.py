"""The filter line over a job table: a live regular-expression filter and a state filter.

Typing filters at once; a leading `!` shows the jobs that do not match. Enter keeps the filter and
goes back to the table, escape clears it. While a filter is on, the line stays visible and says
what is filtered and how many rows are left.
"""

from __future__ import annotations

from collections.abc import Collection

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label

from jobtui.core.errors import InputError
from jobtui.core.models import JobState
from jobtui.tui.widgets.job_table import JobTable


def parse_filter(text: str) -> tuple[str, bool]:
    """The pattern and whether it is inverted: `!foo` is (`foo`, True)."""
    if text.startswith("!"):
        return text[1:], True
    return text, False


class FilterBar(Horizontal):
    """The filter of one tab's table; hidden until `/` opens it or a filter is on.

    | Key | Action |
    | :- | :- |
    | `enter` | Keep the filter, back to the table. |
    | `escape` | Clear the text filter, back to the table. |
    """

    BINDINGS = [
        # Priority: the field's own enter (submit, not shown) would hide this one from the key bar.
        Binding("enter", "keep", "Keep filter", priority=True),
        Binding("escape", "clear", "Clear filter"),
    ]

    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        display: none;
        background: $panel;
        &.-active { display: block; }
        & > .prompt { width: auto; padding: 0 1; color: $text-accent; text-style: bold; }
        & > Input { width: 1fr; height: 1; border: none; padding: 0; background: $panel; }
        & > Input:focus { border: none; background-tint: $foreground 5%; }
        & > .note { width: auto; padding: 0 1; color: $text-muted; }
        & > .note.-error { color: $text-error; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table: JobTable | None = None
        """The table this bar filters (set by the screen that pairs them)."""
        self.states: frozenset[JobState] | None = None
        self._input = Input(
            placeholder="regular expression; a leading ! inverts; enter keeps, escape clears",
            compact=True,
        )
        self._note = Label("", classes="note", markup=False)

    def compose(self) -> ComposeResult:
        yield Label("/", classes="prompt")
        yield self._input
        yield self._note

    # -- public API ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The filter as typed."""
        return self._input.value

    @property
    def active(self) -> bool:
        """True while a text or state filter is on."""
        return bool(self._input.value) or self.states is not None

    def open(self) -> None:
        """Show the line and put the cursor in it."""
        self.add_class("-active")
        # At once, not after the queued events (`focus()` waits its turn): keys typed right after
        # `/` belong to the filter, not to the table (where `l` would open a log).
        self.screen.set_focus(self._input)

    def set_text(self, text: str) -> None:
        """Filter by `text` (as if typed)."""
        self._input.value = text
        self._apply_text(text)

    def set_states(self, states: Collection[JobState] | None) -> None:
        """Show only jobs in these states (None: all)."""
        self.states = None if states is None else frozenset(states)
        if self.table is not None:
            self.table.set_state_filter(self.states)
        self._show()

    def clear(self) -> None:
        """Drop the text and the state filter."""
        self.states = None
        if self.table is not None:
            self.table.set_state_filter(None)
        self.set_text("")

    # -- internals ----------------------------------------------------------------------------

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._apply_text(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._back_to_table()

    def on_descendant_blur(self) -> None:
        # Left empty (focus moved away by a click or tab): the line goes.
        if not self.active:
            self.remove_class("-active")

    def _apply_text(self, text: str) -> None:
        table = self.table
        if table is None:
            return
        pattern, invert = parse_filter(text)
        try:
            table.set_filter(pattern, regex=True, invert=invert)
        except InputError as error:
            self._show(error=error.message)
            return
        self._show()

    def refresh_note(self) -> None:
        """Say again what is filtered (after the rows changed)."""
        if self.active:
            self._show()

    def _show(self, *, error: str = "") -> None:
        """Update the note (what is filtered, rows left) and the line's visibility."""
        note = self._note
        note.set_class(bool(error), "-error")
        if error:
            note.update(error)
        elif self.table is not None and self.active:
            parts = []
            if self.states is not None:
                parts.append("state: " + ", ".join(sorted(s.label for s in self.states)))
            parts.append(f"{self.table.row_count} of {self.table.total_count} jobs")
            note.update(" · ".join(parts))
        else:
            note.update("")
        self.set_class(self.active or self._input.has_focus or bool(error), "-active")

    def _back_to_table(self) -> None:
        self.set_class(self.active, "-active")
        if self.table is not None:
            self.table.focus()

    # -- actions ------------------------------------------------------------------------------

    def action_keep(self) -> None:
        self._back_to_table()

    def action_clear(self) -> None:
        self.set_text("")
        self._back_to_table()
