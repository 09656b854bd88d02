"""No data lost by a wrong target: a confirmed action goes to the jobs the confirmation named,
whatever the cursor or a poll did meanwhile; a destructive key is debounced; read-only refuses
every change on every kind of service."""

from __future__ import annotations

import asyncio

from jobtui.core.models import ACTION_INFO
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import DEBOUNCE_SECONDS, ServiceTab
from tests.conftest import EmulatorFactory
from tests.robustness.support import KINDS, service_on
from tests.tui.test_bsub_tui import bsub_app


async def test_the_confirmed_job_is_acted_on_not_the_one_under_the_cursor(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_app(emulator) as bsub:
        first, second = bsub.state.ids_in("processing")[:2]
        await bsub.select(first)
        tab, table = bsub.tab, bsub.table  # reached while the dashboard is on top
        await bsub.pilot.press("c")
        await bsub.screen(ConfirmScreen, "the confirmation")
        # meanwhile the cursor moves and a poll arrives
        assert table.move_cursor(second)
        before = tab.health.polls
        tab.poll_now()
        await bsub.until(lambda: tab.health.polls > before, "a poll under the dialog")
        assert table.cursor_job is not None and table.cursor_job.id == second
        await bsub.pilot.press("y")
        await bsub.until(lambda: bsub.state.counts["cancel_job"] == 1, "the cancel")
        await bsub.until(lambda: bsub.state.jobs[first].status == "failed", "the cancel")
        assert bsub.state.jobs[second].status == "processing"


async def test_a_destructive_key_is_debounced(emulator: EmulatorFactory) -> None:
    async with bsub_app(emulator) as bsub:
        job = bsub.state.ids_in("processing")[0]
        await bsub.select(job)
        await bsub.pilot.press("c")
        await bsub.screen(ConfirmScreen, "the confirmation")
        await bsub.pilot.press("n")
        await bsub.back_on_dashboard()
        # the window runs from the answer, however long the machine took to get back here
        answered = bsub.app.screen.query_one(ServiceTab).last_destructive
        await bsub.pilot.press("c")  # a key bounce right after the answer
        await bsub.pilot.pause()
        if asyncio.get_running_loop().time() - answered < DEBOUNCE_SECONDS:
            assert isinstance(bsub.app.screen, DashboardScreen), "a bounced key asked again"
        await bsub.pilot.pause(DEBOUNCE_SECONDS)
        await bsub.pilot.press("c")
        await bsub.screen(ConfirmScreen, "the confirmation after the debounce")
        await bsub.pilot.press("n")
        assert bsub.state.counts["cancel_job"] == 0


async def test_read_only_refuses_every_change_on_every_kind(emulator: EmulatorFactory) -> None:
    served = [emulator(kind, speed=0, jobs=6) for kind in KINDS]
    services = [service_on(running) for running in served]
    app = JobtuiApp(services, refresh=60, read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        tabs = list(app.screen.query(ServiceTab))
        for _ in range(1000):
            if all(t.health.polls for t in tabs):
                break
            await pilot.pause(0.01)
        counts_before = [dict(getattr(r.state, "counts", {})) for r in served]
        for index, tab in enumerate(tabs):
            await pilot.press(str(index + 1))
            table = tab.query_one(JobTable)
            for row in table.row_ids():
                table.move_cursor(row)
                await pilot.pause()
                for action in tab.service.actions:
                    if not ACTION_INFO[action].mutating:
                        continue
                    assert tab.check_action("act", (action.value,)) is False, action
                    tab.action_act(action.value)  # as if the key got through anyway
                    await pilot.pause()
                    assert isinstance(app.screen, DashboardScreen), f"{action} opened a dialog"
        await pilot.pause(0.2)
        notes = [str(n.message) for n in app.notices]
        assert notes and all(n == "read-only: changes are disabled" for n in notes), notes
    after = [dict(getattr(r.state, "counts", {})) for r in served]
    for kind, before, now in zip(KINDS, counts_before, after, strict=True):
        changed = {op: n for op, n in now.items() if before.get(op) != n}
        reads = (
            "list",
            "get",
            "health",
            "info",
            "whoami",
            "show",
            "status",
            "mapping",
            "projects",
            "login",
            "version",
            "types",
        )
        assert all(any(word in op for word in reads) for op in changed), f"{kind}: {changed}"
