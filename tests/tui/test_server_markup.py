"""Server text is never read as markup: a job id that is bad markup stops nothing (detail pane,
command palette), a planted `[@click=app.quit]` in a field does nothing when clicked, and a toast
shows `[link=…]` as it was sent. The dashboard runs on a bsub.io emulator over loopback."""

from __future__ import annotations

from textual.command import CommandList
from textual.widgets import Label
from textual.widgets._toast import Toast

from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.robustness.server_text_support import BOGUS_ID, CLICK, LINK, newest, plant, rename
from tests.services.bsub_support import start, token_of
from tests.tui.live_support import (
    SIZE,
    Live,
    ManualClock,
    fail_job,
    live_app,
    running_job,
    until,
)


def detail_lines(live: Live) -> list[str]:
    detail = live.tab().query_one(JobDetail)
    return [strip.text for strip in detail._shown.lines]


async def select(live: Live, job_id: str) -> JobDetail:
    """Poll, put the cursor on `job_id` and wait until its detail is rendered."""
    await live.poll()
    screen = live.app.screen
    assert isinstance(screen, DashboardScreen)
    assert screen.jump_to_job("bsub-1", job_id)
    detail = live.tab().query_one(JobDetail)
    await live.until(
        lambda: detail.job is not None and detail.job.id == job_id and bool(detail_lines(live)),
        "the job's detail",
    )
    return detail


async def test_a_job_id_of_bad_markup_shows_as_sent(emulator: EmulatorFactory) -> None:
    async with live_app(emulator, jobs=10) as live:
        state = live.states[0]
        rename(state, newest(state, state.order[0]), BOGUS_ID)
        await select(live, BOGUS_ID)
        assert any(BOGUS_ID in line for line in detail_lines(live))

        await live.pilot.press("colon")
        await live.pilot.press(*"M1")
        commands = live.app.screen.query_one(CommandList)
        await live.until(lambda: commands.option_count > 0, "the palette's hits")
        prompts = [
            str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)
        ]
        assert any(f"Job {BOGUS_ID}" in prompt for prompt in prompts), prompts
        assert live.app.is_running and not live.app.leaving


async def test_a_planted_click_action_does_nothing(emulator: EmulatorFactory) -> None:
    async with live_app(emulator, jobs=10) as live:
        state = live.states[0]
        job = newest(state, state.order[0])
        plant(state, job, claimed_by=CLICK, code="x", message="y")
        detail = await select(live, job.id)
        await live.pilot.pause()
        lines = detail_lines(live)
        row, line = next((i, text) for i, text in enumerate(lines) if "CLICK-ME" in text)
        column = line.index("CLICK-ME")
        region, content = detail.region, detail.content_region
        x = content.x - region.x + column
        y = content.y - region.y + row - int(detail.scroll_y)
        assert await live.pilot.click(JobDetail, offset=(x, y))
        await live.pilot.pause()
        assert not live.app.leaving  # app.quit was not run
        assert live.app.is_running
        assert CLICK in line  # shown as sent


async def test_a_toast_shows_markup_as_sent(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, jobs=10)
    job = rename(state, running_job(state), f"L1 {LINK}")
    service = BsubService("bsub-1", running.url, token_of(running))
    app = JobtuiApp([service], refresh=60.0, clock=ManualClock())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        tab = app.screen.query_one(ServiceTab)
        await until(pilot, lambda: tab.health.polls > 0, "the first poll")
        fail_job(state, job)
        tab.poll_now()
        await until(pilot, lambda: bool(app.screen.query(Toast)), "a toast")
        (toast,) = app.screen.query(Toast)
        assert f"L1 {LINK} failed" in toast.render().plain
        assert app.is_running and not app.leaving


async def test_a_service_name_with_brackets_is_shown_as_written_in_dialog_titles(
    emulator: EmulatorFactory,
) -> None:
    """A config's service name is text too: `[b]ops[/` in a dialog title is shown as written."""
    running, _ = start(emulator, jobs=4)
    service = BsubService("[b]ops[/", running.url, token_of(running))
    app = JobtuiApp([service], refresh=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        tab = app.screen.query_one(ServiceTab)
        for _ in range(500):
            if tab.health.polls:
                break
            await pilot.pause(0.02)
        await pilot.press("n")
        for _ in range(500):
            if isinstance(app.screen, NewBsubJobScreen):
                break
            await pilot.pause(0.02)
        assert isinstance(app.screen, NewBsubJobScreen)
        title = app.screen.query_one(".dialog-title", Label)
        assert str(title.render()) == "New job on [b]ops[/"
