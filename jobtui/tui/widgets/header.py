"""The header: the app's title, and on the right how many jobs need attention (see
`jobtui.tui.notify`: jobs asking a question, or failed since the first load, not looked at yet)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Header, Static
from textual.widgets._header import HeaderIcon, HeaderTitle


class AttentionCount(Static):
    """ "⚑ N need attention", or nothing when N is 0."""

    DEFAULT_CSS = """
    AttentionCount { dock: right; width: auto; padding: 0 1; }
    AttentionCount.-some { color: $text-warning; text-style: bold reverse; }
    """

    _text: str = ""
    """What the count says now."""

    def show(self, count: int) -> None:
        text = f"⚑ {count} need{'s' if count == 1 else ''} attention" if count else ""
        if text == self._text:
            return
        # The same width (3 -> 2): repaint the count only, not the screen's layout.
        same_width = len(text) == len(self._text)
        self._text = text
        self.set_class(count > 0, "-some")
        self.update(text, layout=not same_width)


class AttentionHeader(Header):
    """Textual's header with the attention count in place of the clock."""

    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield HeaderTitle()
        yield AttentionCount(id="attention")

    def on_mount(self) -> None:
        self.watch(self.app, "attention", self.query_one(AttentionCount).show)
