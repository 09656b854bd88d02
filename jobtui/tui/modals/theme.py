"""The theme chooser: moving the highlight shows a theme at once; enter keeps it."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList

from jobtui.tui.themes import THEME_NOTES
from jobtui.tui.widgets.key_bar import KeyBar


class ThemeScreen(ModalScreen[str | None]):
    """Choose a theme. Dismisses with its name on enter, with None on escape (the theme shown
    before is back then).

    | Key | Action |
    | :- | :- |
    | `↑` `↓` | Show another theme. |
    | `enter` | Keep the highlighted theme. |
    | `escape` | Go back to the theme shown before. |
    """

    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, names: list[str], current: str, where: str) -> None:
        super().__init__()
        self.names = names
        self.original = current
        self.where = where

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label("Theme", classes="dialog-title")
            yield Label(f"↑↓ shows a theme, enter keeps it ({self.where})", classes="dialog-hint")
            yield OptionList(*(self._prompt(name) for name in self.names), id="themes")

    @staticmethod
    def _prompt(name: str) -> Text:
        note = THEME_NOTES.get(name)
        return Text.assemble(name, (f"  {note}", "dim")) if note else Text(name)

    def on_mount(self) -> None:
        themes = self.query_one(OptionList)
        if self.original in self.names:
            themes.highlighted = self.names.index(self.original)
        themes.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.app.theme = self.names[event.option_index]

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.names[event.option_index])

    def action_close(self) -> None:
        self.app.theme = self.original
        self.dismiss(None)
