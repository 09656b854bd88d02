"""Refresh control: the status line's interval and age, `+` / `-`, `p` / `P` and `r`, against
seeded bsub.io emulators over loopback (requests counted at the emulator)."""

from __future__ import annotations

from textual.widgets import Static

from jobtui.core.polling import INTERVAL_STEPS
from jobtui.tui.widgets.service_tab import FRESH_SECONDS
from tests.conftest import EmulatorFactory
from tests.tui.live_support import live_app, running_job


async def test_the_status_line_shows_the_interval_and_the_age_which_ticks(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, refresh=60.0) as live:
        assert live.status() == "● live · 20 jobs · updated just now · every 60s"
        live.clock.advance(FRESH_SECONDS - 0.5)  # fresh data keeps the line still
        await live.pilot.pause(1.1)
        assert "updated just now" in live.status()
        live.clock.advance(0.5)
        await live.until(lambda: "updated 5s ago" in live.status(), "the age to count")
        live.clock.advance(42 - FRESH_SECONDS)
        await live.until(lambda: "updated 42s ago" in live.status(), "the age to tick")
        live.clock.advance(60)
        await live.until(lambda: "updated 1m42s ago" in live.status(), "minutes")
        await live.poll()
        await live.until(lambda: "updated just now" in live.status(), "a fresh age")


async def test_a_hidden_tab_does_not_repaint_its_status_line(emulator: EmulatorFactory) -> None:
    async with live_app(emulator, tabs=2, refresh=60.0) as live:
        hidden = live.tab(1).query_one("#status", Static)
        before = str(hidden.content)
        live.clock.advance(30)
        await live.until(lambda: "updated 30s ago" in live.status(0), "the visible tab's age")
        await live.poll(1)
        live.clock.advance(5)
        await live.until(lambda: "updated 35s ago" in live.status(0), "another tick")
        assert str(hidden.content) == before  # neither the tick nor its own poll repainted it

        await live.show(1)
        await live.until(lambda: "updated 5s ago" in live.status(1), "the shown tab's age")


async def test_plus_and_minus_step_the_interval_and_re_arm_the_wait(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, refresh=2.0) as live:
        schedule = live.tab().schedule
        assert schedule.delay == 2.0
        await live.pilot.press("plus")
        assert live.tab().interval == 5.0
        assert schedule.delay == 5.0  # the wait under way now ends 5 s after the last poll
        assert "every 5s" in live.status()
        for _ in range(10):
            await live.pilot.press("plus")
        assert schedule.delay == INTERVAL_STEPS[-1] == 60.0
        assert any("60s is the longest interval" in message for _, message in live.toasts())

        # The 60 s wait is under way; going down to 0.5 s polls within moments, not a minute.
        requests = live.requests()
        await live.pilot.press("minus", "minus", "minus")
        assert live.tab().interval == 5.0
        await live.pilot.press("minus", "minus", "minus")
        assert live.tab().interval == 0.5
        await live.until(lambda: live.requests() > requests, "a poll at the new interval", 5.0)
        polls = live.polls()
        await live.until(lambda: live.polls() >= polls + 3, "polls every half second", 5.0)
        assert "every 0.5s" in live.status()


async def test_p_pauses_polling_and_the_rows_then_resumes_at_once(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, refresh=0.5) as live:
        polls = live.polls()
        await live.until(lambda: live.polls() >= polls + 2, "polls every half second")
        await live.pilot.press("p")
        assert live.tab().paused
        assert live.status().startswith("⏸ paused · 20 jobs · updated")
        assert live.status().endswith("every 0.5s · p resumes")
        assert live.tab().query_one("#status").has_class("-paused")

        state = live.states[0]
        job = running_job(state)
        shown = live.table().get_job(job.id)
        assert shown is not None
        with state.lock:
            state.touch(job, "finished", state.now())
        requests = live.requests()
        # Nothing to wait for: absence is only seen over time (six intervals).
        await live.pilot.pause(3.0)
        assert live.requests() == requests
        assert live.table().get_job(job.id) == shown

        await live.pilot.press("r")  # one poll, still paused
        await live.until(lambda: live.table().get_job(job.id) != shown, "the row to change")
        assert live.tab().paused
        after_r = live.requests()
        await live.pilot.pause(1.5)
        assert live.requests() == after_r

        await live.pilot.press("p")
        assert not live.tab().paused
        await live.until(lambda: live.requests() > after_r, "a poll at once on resume", 0.4)
        assert live.status().startswith("● live")


async def test_shift_p_pauses_and_resumes_every_tab(emulator: EmulatorFactory) -> None:
    async with live_app(emulator, tabs=2, refresh=60.0) as live:
        await live.pilot.press("p")  # the first tab only
        assert live.tab(0).paused and not live.tab(1).paused
        await live.pilot.press("P")
        assert live.tab(0).paused and live.tab(1).paused
        requests = [live.requests(0), live.requests(1)]
        await live.pilot.press("P")
        assert not live.tab(0).paused and not live.tab(1).paused
        await live.until(
            lambda: live.requests(0) > requests[0] and live.requests(1) > requests[1],
            "both tabs to poll on resume",
        )
