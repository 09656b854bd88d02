"""The theme chooser: moving the highlight shows a theme as soon as it rests; enter keeps it.

Showing a theme restyles and repaints the whole dashboard (Textual parses its CSS again with the
theme's variables and applies it to every widget): 100 to 300 ms of CPU on a shared machine. The
highlight itself moves at once; the theme under it is shown once no other move came for
`PREVIEW_DELAY` seconds, so that keys never queue behind themes already passed (a held `↓` used to
take half a second per theme). `benchmarks/bench_theme.py` measures both.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Label, OptionList

from jobtui.tui.themes import THEME_NOTES
from jobtui.tui.widgets.key_bar import KeyBar

PREVIEW_DELAY = 0.15
"""Seconds the highlight rests on a theme before it is shown."""


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
        self.wanted = current
        """The theme under the highlight (shown once it rests there)."""
        self.preview_delay = PREVIEW_DELAY
        self._preview: Timer | None = None

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog"):
            yield Label("Theme", classes="dialog-title")
            yield Label(
                f"↑↓ shows a theme, enter keeps it ({self.where})",
                classes="dialog-hint",
                markup=False,
            )
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
        self.wanted = self.names[event.option_index]
        if self._preview is not None:
            self._preview.stop()
        self._preview = self.set_timer(self.preview_delay, self.show_wanted)

    def show_wanted(self) -> None:
        """Show the theme under the highlight (nothing to do if it is shown already)."""
        self._preview = None
        self._show(self.wanted)

    def _show(self, name: str) -> None:
        if self.app.theme != name:
            self.app.theme = name

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._stop_preview()
        name = self.names[event.option_index]
        self._show(name)
        self.dismiss(name)

    def action_close(self) -> None:
        self._stop_preview()
        self._show(self.original)
        self.dismiss(None)

    def _stop_preview(self) -> None:
        if self._preview is not None:
            self._preview.stop()
            self._preview = None
