"""The base of the dialogs that work in the background: closing one stops its work."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button

ResultT = TypeVar("ResultT")


class WorkingDialog(ModalScreen[ResultT]):
    """A dialog whose `#close` button (and the `close` action its keys bind) cancels the
    dialog's workers, those of the group `WORKERS`, and closes it without a result."""

    WORKERS: ClassVar[str]
    """The worker group of the dialog's background work."""

    @on(Button.Pressed, "#close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.workers.cancel_group(self, self.WORKERS)
        self.dismiss(None)
