"""Typed messages posted by workers to the widgets that own the state."""

from __future__ import annotations

from textual.message import Message

from jobtui.core.polling import PollOutcome


class Polled(Message):
    """One poll of one service finished (successfully or not)."""

    def __init__(self, outcome: PollOutcome, *, scope: int = 0, asked: bool = False) -> None:
        self.outcome = outcome
        self.scope = scope
        """Which scope (filters) of its tab the poll started in (`ServiceTab.rescope`)."""
        self.asked = asked
        """Whether the poll was asked for (`r`, after an action) rather than due."""
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        # A newer outcome carries the whole snapshot, so it can stand in for an older one that is
        # still queued: the table then reconciles from the snapshot instead of the lost delta.
        return isinstance(message, Polled) and message.outcome.service == self.outcome.service


class ActionDone(Message):
    """An action on a service finished: `line` says what happened; `error` is True on failure."""

    def __init__(self, line: str, *, error: bool = False) -> None:
        self.line = line
        self.error = error
        super().__init__()
