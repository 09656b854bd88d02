"""A scrollable, searchable view of a job's log, optionally following it while the job runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea

from jobtui.core.errors import ServiceError
from jobtui.tui.widgets.key_bar import KeyBar

Loader = Callable[[], Awaitable[str]]


class TextViewScreen(ModalScreen[None]):
    """Show text fetched by `loader`; with `follow`, fetch it again every `interval` seconds.

    | Key | Action |
    | :- | :- |
    | `/` | Search. |
    | `n` | Next match. |
    | `f` | Follow on/off. |
    | `escape`, `q` | Close. |
    """

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match"),
        Binding("f", "toggle_follow", "Follow"),
    ]

    def __init__(
        self,
        title: str,
        loader: Loader,
        *,
        follow: bool = False,
        interval: float = 2.0,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.loader = loader
        self.follow = follow
        self.interval = interval
        self._needle = ""

    def compose(self) -> ComposeResult:
        yield KeyBar()  # this dialog's keys, over the dashboard's
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Label("loading…", id="status", classes="dim", markup=False)
            yield TextArea("", read_only=True, soft_wrap=False, show_line_numbers=True, id="text")
            yield Input(placeholder="search (enter: find, escape: close)", id="search")

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#text", TextArea).focus()
        self.load()

    @work(exclusive=True, group="text-view", exit_on_error=False, description="load text")
    async def load(self) -> None:
        status = self.query_one("#status", Label)
        area = self.query_one("#text", TextArea)
        try:
            text = await self.loader()
        except ServiceError as error:
            status.update(error.line)
            status.add_class("error")
            return
        at_end = area.scroll_y >= area.max_scroll_y - 1
        if text != area.text:
            area.load_text(text)
            if self.follow and at_end:
                area.scroll_end(animate=False)
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        status.remove_class("error")
        status.update(f"{lines} lines" + ("  ·  following" if self.follow else ""))
        if self.follow:
            self.set_timer(self.interval, self.load)

    def action_close(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus:
            search.display = False
            self.query_one("#text", TextArea).focus()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.load()

    @on(Input.Submitted, "#search")
    def _searched(self, event: Input.Submitted) -> None:
        self._needle = event.value
        self.query_one("#text", TextArea).focus()
        self.action_next_match()

    def action_next_match(self) -> None:
        if not self._needle:
            return
        area = self.query_one("#text", TextArea)
        text = area.text
        row, col = area.cursor_location
        lines = text.split("\n")
        start = sum(len(line) + 1 for line in lines[:row]) + col + 1
        needle = self._needle.lower()
        found = text.lower().find(needle, start)
        if found < 0:
            found = text.lower().find(needle)
        status = self.query_one("#status", Label)
        if found < 0:
            status.update(f"not found: {self._needle}")
            return
        line = text.count("\n", 0, found)
        column = found - (text.rfind("\n", 0, found) + 1)
        area.select_line(line)
        area.cursor_location = (line, column)
        area.scroll_cursor_visible(center=True)
        status.update(f"match at line {line + 1}")
