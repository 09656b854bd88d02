"""Toasts never cover a dialog, at most two show at once, each clears after its timeout, and
`N` lists every notification of the session. Against a seeded bsub.io emulator over loopback,
with Textual's toast rack on (as in the real app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._toast import Toast, ToastRack

from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.notifications import NotificationsScreen
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import start, token_of
from tests.tui.live_support import ManualClock, fail_job, running_job, until


@asynccontextmanager
async def dashboard(emulator: EmulatorFactory) -> AsyncIterator[tuple[JobtuiApp, Pilot[int]]]:
    running, _ = start(emulator, jobs=10)
    app = JobtuiApp([BsubService("bsub", running.url, token_of(running))], clock=ManualClock())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.row_count == 10, "the first poll")
        yield app, pilot


def toasts_on_screen(app: JobtuiApp) -> list[str]:
    """The text of the toasts the active screen shows."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


async def test_toasts_wait_while_a_dialog_is_open_and_show_once_it_closes(
    emulator: EmulatorFactory,
) -> None:
    async with dashboard(emulator) as (app, pilot):
        app.notify("before the dialog", timeout=120)  # outlasts a busy machine
        await until(pilot, lambda: len(toasts_on_screen(app)) == 1, "the first toast")

        app.push_screen(ConfirmScreen("Cancel?", "job 1"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
        app.notify("job 2 failed", title="bsub", severity="error")
        await pilot.pause()
        # Nothing on the dialog: neither the toast from before nor the new one.
        assert toasts_on_screen(app) == []
        assert [n.message for n in app._notifications] == ["before the dialog"]
        assert [n.message for n in app.notices] == ["before the dialog", "job 2 failed"]

        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the dashboard")
        await until(
            pilot, lambda: any("job 2 failed" in t for t in toasts_on_screen(app)), "the held toast"
        )


async def test_a_poll_during_a_dialog_notifies_after_it(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=10)
    app = JobtuiApp(
        [BsubService("bsub", running.url, token_of(running))], refresh=60.0, clock=ManualClock()
    )
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.row_count == 10, "the first poll")
        tab = app.screen.query_one(ServiceTab)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        job = running_job(state)
        fail_job(state, job)
        polls = tab.health.polls
        tab.poll_now()
        await until(pilot, lambda: tab.health.polls > polls, "the poll")
        await until(pilot, lambda: any(job.id in n.message for n in app.notices), "the notice")
        assert toasts_on_screen(app) == []
        assert not any(job.id in n.message for n in app._notifications)
        await pilot.press("escape")
        await until(
            pilot, lambda: any(job.id in t for t in toasts_on_screen(app)), "the toast after it"
        )


async def test_at_most_two_toasts_and_the_rest_fold_into_and_n_more(
    emulator: EmulatorFactory,
) -> None:
    async with dashboard(emulator) as (app, pilot):
        for index in range(6):
            app.notify(
                f"message {index}", severity="error" if index == 4 else "information", timeout=120
            )
        await until(pilot, lambda: len(toasts_on_screen(app)) == 3, "three toasts")
        shown = toasts_on_screen(app)
        assert shown[:2] == ["message 0", "message 1"]
        assert shown[2] == "and 4 more (N lists every notification)"
        more = [n for n in app._notifications if n.message.startswith("and ")]
        assert [n.severity for n in more] == ["error"]  # the worst of the folded ones


async def test_toasts_clear_within_their_timeout(emulator: EmulatorFactory) -> None:
    async with dashboard(emulator) as (app, pilot):
        for index in range(5):
            app.notify(f"message {index}", timeout=0.5)
        await until(pilot, lambda: bool(toasts_on_screen(app)), "the toasts")
        # The "and N more" toast has the default timeout; the screen is clear after it.
        await until(
            pilot,
            lambda: not toasts_on_screen(app) and not list(app._notifications),
            "every toast gone",
            seconds=app.NOTIFICATION_TIMEOUT + 5,
        )


async def test_n_lists_every_notification_newest_first(emulator: EmulatorFactory) -> None:
    async with dashboard(emulator) as (app, pilot):
        for index in range(4):
            app.notify(f"message {index} [/bogus]", title="bsub")
        await pilot.press("N")
        await until(pilot, lambda: isinstance(app.screen, NotificationsScreen), "the history")
        screen = app.screen
        assert isinstance(screen, NotificationsScreen)
        text = str(screen.query_one("#notices", Static).content)
        lines = [line.strip() for line in text.splitlines()]
        messages = [line for line in lines if line.startswith("message")]
        assert messages == [f"message {i} [/bogus]" for i in (3, 2, 1, 0)]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NotificationsScreen), "closed")


async def test_the_and_n_more_toast_names_the_key_as_rebound(emulator: EmulatorFactory) -> None:
    running, _ = start(emulator, jobs=3)
    service = BsubService("bsub", running.url, token_of(running))
    app = JobtuiApp([service], clock=ManualClock(), keys={"notifications": "f9"})
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for index in range(3):
            app.notify(f"message {index}", timeout=120)
        await until(pilot, lambda: len(list(app._notifications)) == 3, "three toasts")
        assert list(app._notifications)[2].message == "and 1 more (f9 lists every notification)"
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, NotificationsScreen), "the history")


async def test_toasts_folded_or_taken_away_leave_no_empty_holders(
    emulator: EmulatorFactory,
) -> None:
    # Each fold replaces the "and N more" toast: Textual's rack removed the old toast and left
    # its holder mounted, a widget more in every layout for the rest of the session (the live
    # dashboard's memory grew, and each layout took longer).
    async with dashboard(emulator) as (app, pilot):
        for n in range(8):
            app.notify(f"job {n} failed", timeout=120)  # outlasts a busy machine
            shown = f"job {n} failed" if n < 2 else f"and {n - 1} more"

            def on_screen(text: str = shown) -> bool:
                return any(text in toast for toast in toasts_on_screen(app))

            await until(pilot, on_screen, shown)
        rack = app.screen.query_one(ToastRack)
        await pilot.press("question_mark")  # a dialog, and back: the toasts are shown again
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "the dashboard")
        await until(pilot, lambda: len(toasts_on_screen(app)) == 3, "the toasts again")
        await until(pilot, lambda: len(rack.children) == 3, "one holder per toast")
        assert all(holder.children for holder in rack.children)
