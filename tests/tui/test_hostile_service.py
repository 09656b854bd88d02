"""The dashboard keeps answering keys while one service hangs or sends an endless body (from the
raw-socket hostile server), and that tab then says which bound ended its poll."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial

import pytest

from jobtui.services._http import Limits, limits, set_limits
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.robustness.hostile import Answer, HostileServer, Writer, json_answer, raw, silent
from tests.services.bsub_support import start, token_of
from tests.tui.live_support import SIZE, ManualClock, show_tab, until

JOBS = 20


async def paced_endless_body(writer: asyncio.StreamWriter) -> None:
    """A job list that never ends, 16 KiB every 20 ms (2 MiB in some 3 s)."""
    writer.write(raw("200 OK", {"Content-Type": "application/json"}))
    writer.write(b'{"success":true,"data":{"jobs":[')
    block = b'{"id":"x","status":"finished"},' * 512
    while True:
        writer.write(block)
        await writer.drain()
        await asyncio.sleep(0.02)


def moved_from(table: JobTable, row: int | None) -> bool:
    return table.cursor_row != row


@pytest.fixture
def restore_limits() -> Iterator[None]:
    before = limits()
    try:
        yield
    finally:
        set_limits(before)


@pytest.mark.parametrize(
    ("answer", "bounds", "line"),
    [
        (
            silent,
            Limits(deadline=3.0),
            "bsub-hostile: job list: no complete answer within 3 s (the deadline)",
        ),
        (
            paced_endless_body,
            Limits(deadline=30.0, list_page=2 << 20),
            "bsub-hostile: job list larger than 2.0 MiB: not read further",
        ),
    ],
    ids=["hang", "endless body"],
)
async def test_keys_are_answered_while_a_service_hangs_or_sends_for_ever(
    emulator: EmulatorFactory, restore_limits: None, answer: Writer, bounds: Limits, line: str
) -> None:
    set_limits(bounds)  # each hostile poll ends within seconds
    running, _ = start(emulator, jobs=JOBS)
    # The server answers harmlessly (an empty job list) until the healthy tab is on screen; then
    # the tab is asked to poll again and meets the hostile answer, whose bound (a few seconds)
    # starts only then, however long the healthy tab took to load on a busy machine.
    hostile_now = threading.Event()
    harmless = json_answer({"success": True, "data": {"jobs": []}})

    def route(method: str, path: str) -> Answer:
        return answer if hostile_now.is_set() else harmless

    with HostileServer(route) as server:
        services = [
            BsubService("bsub-hostile", server.url, "tok"),
            BsubService("bsub-1", running.url, token_of(running)),
        ]
        app = JobtuiApp(services, refresh=60.0, clock=ManualClock())
        async with app.run_test(size=SIZE) as pilot:
            hostile = app.screen.query_one("#tab-0", ServiceTab)
            healthy = app.screen.query_one("#tab-1", ServiceTab)
            table = healthy.query_one(JobTable)
            await until(pilot, lambda: table.row_count == JOBS, "the healthy tab's jobs")
            await until(pilot, lambda: hostile.health.polls > 0, "the harmless first poll")
            await show_tab(pilot, 1)
            polls, sent = hostile.health.polls, len(server.requests)
            hostile_now.set()
            hostile.poll_now()
            await until(pilot, lambda: len(server.requests) > sent, "the hostile poll under way")
            moved = 0
            while hostile.health.polls == polls:  # the hostile poll has not ended yet
                before = table.cursor_row
                await pilot.press("down" if before != JOBS - 1 else "home")
                await until(pilot, partial(moved_from, table, before), "the cursor moved")
                moved += 1
            assert moved >= 3, "keys were answered while the hostile poll ran"
            await until(pilot, lambda: hostile.health.error is not None, "the hostile error")
            assert hostile.health.error == line
