"""Every notification of the session, newest first: what the toasts said, also those folded
into "and N more", held while a dialog was open, or expired before they were read."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from jobtui.tui.notify import Notice

_SEVERITY_STYLE = {"warning": "bold yellow", "error": "bold red"}


def notices_text(notices: Sequence[Notice]) -> Text:
    """`notices` newest first, one block each: time (UTC), title, severity, then the message
    (plain text: it names jobs and quotes servers)."""
    text = Text(no_wrap=False)
    if not notices:
        text.append("no notifications yet", style="dim")
    for index, notice in enumerate(reversed(notices)):
        if index:
            text.append("\n")
        text.append(notice.at.strftime("%H:%M:%S"), style="dim")
        text.append("  ")
        text.append(notice.title or "jobtui", style="bold")
        if notice.severity != "information":
            text.append(f"  {notice.severity}", style=_SEVERITY_STYLE.get(notice.severity, ""))
        for line in notice.message.splitlines() or [""]:
            text.append(f"\n  {line}")
    return text


class NotificationsScreen(ModalScreen[None]):
    """The session's notifications, newest first.

    | Key | Action |
    | :- | :- |
    | `escape`, `q`, `N` | Close. |
    """

    BINDINGS = [Binding("escape,q,N", "close", "Close")]
    HELP_SCOPE = "notifications"

    def __init__(self, notices: Sequence[Notice]) -> None:
        super().__init__()
        self.notices = list(notices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(f"Notifications ({len(self.notices)})", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(notices_text(self.notices), id="notices")
            yield Label("newest first, escape closes", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)
