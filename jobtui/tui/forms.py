"""Form fields as the dialogs build them: compact, one line, found again by their id."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import Horizontal
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Select
from textual.widgets.select import NoSelection


def text_field(
    value: str | None = None,
    *,
    id: str,
    placeholder: str = "",
    suggester: Suggester | None = None,
) -> Input:
    """A compact one-line text field holding `value`."""
    return Input(value, placeholder=placeholder, suggester=suggester, id=id, compact=True)


def choice(
    options: Iterable[tuple[str, str]],
    value: str | NoSelection,
    *,
    id: str,
    prompt: str | None = None,
) -> Select[str]:
    """A compact list of (label, value) options: with a `prompt` it may be left unset (the
    prompt shows then); without one, an option is always chosen."""
    if prompt is None:
        return Select(options, value=value, allow_blank=False, compact=True, id=id)
    return Select(options, value=value, prompt=prompt, compact=True, id=id)


def message_line() -> Label:
    """The line under a form where a dialog says what is wrong, or how it is going."""
    return Label("", id="message", classes="field-error", markup=False)


def button_row(*buttons: Button) -> Horizontal:
    """A dialog's buttons, side by side at its foot."""
    return Horizontal(*buttons, classes="dialog-buttons")
