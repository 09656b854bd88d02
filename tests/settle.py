"""Wait until a running app has nothing left to do: the condition a screenshot needs.

A message posted by one widget (a tab's `JobsChanged`, which the app turns into the header's
attention count) is handled after the test's own condition may already hold; on a loaded machine
that gap is long enough for a screenshot to catch the screen half updated. `settle` waits until no
message pump of the app (the app, every screen, every widget) has a message queued, several checks
in a row, with the screen's pending repaints done, and no tab about to count the job under its
cursor as looked at (`ServiceTab.looking`: a tab just shown does so after a moment, by a timer).
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import App
from textual.message_pump import MessagePump
from textual.pilot import Pilot

QUIET_CHECKS = 3
"""Checks in a row that must find every queue empty (a handler may post a message of its own)."""


def _pumps(app: App[Any]) -> list[MessagePump]:
    pumps: list[MessagePump] = [app]
    for screen in app.screen_stack:
        pumps.append(screen)
        pumps.extend(screen.walk_children(with_self=False))
    return pumps


def busy_pumps(app: App[Any]) -> list[MessagePump]:
    """The app's message pumps that have a message waiting, or a look about to be counted."""
    return [
        pump for pump in _pumps(app) if pump.message_queue_size or getattr(pump, "looking", False)
    ]


async def settle(pilot: Pilot[Any], limit: float = 20.0) -> None:
    """Return once no message is queued anywhere in the app, `QUIET_CHECKS` times in a row."""
    deadline = time.monotonic() + limit
    quiet = 0
    while quiet < QUIET_CHECKS:
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        busy = busy_pumps(pilot.app)
        quiet = 0 if busy else quiet + 1
        if busy and time.monotonic() > deadline:
            raise AssertionError(f"the app never settled: messages still queued for {busy[:5]}")
