"""The All jobs tab, driven with Pilot against two bsub.io emulators whose job ids collide.

Both emulators start from one seed (frozen clock), so every id exists on both services: a row
keyed by id alone, an action sent to the wrong service, or a detail of the wrong job fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console

from jobtui.core.models import JobState
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.leia.state import LeiaState
from jobtui.services.bsub.service import BsubService
from jobtui.services.leia.service import LeiaService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.leia.chain import ChainScreen
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.screens.dashboard import ALL_PANE, pane_id
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import row_key_of
from jobtui.tui.widgets.key_bar import KeyBar
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import advance_until, seeded, start, token_of
from tests.settle import settle
from tests.tui.driver import count_calls
from tests.tui.two_services import NAMES, SIZE, Two, fixed_clock, two_services


def visible_detail(two: Two) -> JobDetail:
    """The detail pane of the All jobs tab (one for every service)."""
    [shown] = two.all_tab.query(JobDetail)
    return shown


def footer_key(two: Two, description: str) -> str:
    """How the key bar shows an action: "enabled", "disabled" or "absent"."""
    for key in two.dashboard.query_one(KeyBar).keys:
        if key.description == description:
            return "enabled" if key.enabled else "disabled"
    return "absent"


async def select(two: Two, service: str, job_id: str) -> None:
    assert two.all_table.move_cursor(row_key_of(service, job_id)), (service, job_id)
    await two.until(
        lambda: (job := visible_detail(two).job) is not None and job.key == (service, job_id),
        f"the detail of {service} {job_id}",
    )


async def test_all_jobs_is_the_first_tab_and_holds_every_services_jobs(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator, jobs=12) as two:
        assert two.dashboard.panes == [ALL_PANE, pane_id(0), pane_id(1)]
        assert two.table() is two.all_table and two.all_table.has_focus
        ids = set(two.states["bsub-a"].jobs)
        assert ids == set(two.states["bsub-b"].jobs)  # the same seed: the ids collide
        held = {job.key for job in two.all_table.held_jobs()}
        assert held == {(name, job_id) for name in NAMES for job_id in ids}
        for name in NAMES:
            for job_id in ids:
                job = two.all_table.get_job(row_key_of(name, job_id))
                assert job is not None and job.service == name
        assert two.all_table.row_count == 24
        assert "Service" in two.all_table.render_line(0).text


async def test_all_jobs_does_not_poll_on_its_own(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        polls = sorted(w.group for w in two.app.workers if w.group.startswith("poll"))
        assert polls == ["poll-bsub-a", "poll-bsub-b"]
        before = {name: two.tab(name).health.polls for name in NAMES}
        await two.pilot.press("r")  # on All jobs: asks each service tab to poll
        await two.until(
            lambda: all(two.tab(n).health.polls > before[n] for n in NAMES), "one poll each"
        )


async def test_a_change_on_one_service_moves_only_its_row(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        state = two.states["bsub-b"]
        job = seeded(state, "processing")
        before_a = two.all_table.get_job(row_key_of("bsub-a", job.id))
        assert before_a is not None
        advance_until(state, lambda: job.status != "processing")
        await two.poll_all()
        await two.until(
            lambda: (
                (j := two.all_table.get_job(row_key_of("bsub-b", job.id))) is not None
                and j.raw_state == job.status
            ),
            "the new state in All jobs",
        )
        assert two.all_table.get_job(row_key_of("bsub-a", job.id)) == before_a


async def test_keys_are_worked_out_again_only_when_the_job_under_the_cursor_moves_on(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        state = two.states["bsub-b"]
        finished = seeded(state, "finished")
        running = seeded(state, "processing")
        await select(two, "bsub-b", finished.id)
        await settle(two.pilot)
        refreshed = count_calls(two.all_tab, "refresh_bindings")
        advance_until(state, lambda: running.status != "processing")
        await two.poll_all()
        await two.until(
            lambda: (
                (j := two.all_table.get_job(row_key_of("bsub-b", running.id))) is not None
                and j.raw_state == running.status
            ),
            "the other job's new state in All jobs",
        )
        await settle(two.pilot)
        assert refreshed == [], "a poll that left the job under the cursor as it was"

        moving = seeded(state, "processing")
        await select(two, "bsub-b", moving.id)
        await settle(two.pilot)
        refreshed.clear()
        advance_until(state, lambda: moving.status != "processing")
        await two.poll_all()
        await two.until(lambda: len(refreshed) > 0, "the keys of the job that moved on")


async def test_a_job_deleted_on_one_service_leaves_the_other(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-a"], "finished")
        await select(two, "bsub-a", job.id)
        await two.pilot.press("d")
        confirm = await two.screen(ConfirmScreen, "the confirmation")
        assert "bsub-a" in confirm.title_text
        await two.pilot.press("y")
        await two.until(
            lambda: two.all_table.get_job(row_key_of("bsub-a", job.id)) is None,
            "the row gone from All jobs",
        )
        assert job.id not in two.states["bsub-a"].jobs
        assert job.id in two.states["bsub-b"].jobs
        assert two.all_table.get_job(row_key_of("bsub-b", job.id)) is not None
        assert two.tab("bsub-a").table.get_job(job.id) is None


async def test_an_action_goes_to_the_selected_jobs_service(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-b"], "processing")
        await select(two, "bsub-b", job.id)
        await two.pilot.press("c")
        confirm = await two.screen(ConfirmScreen, "the confirmation")
        assert confirm.title_text == "Cancel · bsub-b"
        assert job.id in confirm.body
        await two.pilot.press("y")
        await two.until(lambda: two.states["bsub-b"].jobs[job.id].cancelled, "the cancel")
        assert not two.states["bsub-a"].jobs[job.id].cancelled
        await two.until(
            lambda: (
                (j := two.all_table.get_job(row_key_of("bsub-b", job.id))) is not None
                and j.state is JobState.CANCELLED
            ),
            "the cancelled row",
        )


async def test_a_disabled_action_says_why_in_the_jobs_service(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-a"], "finished")
        await select(two, "bsub-a", job.id)
        assert two.all_tab.check_action("act", ("cancel",)) is None  # shown, disabled
        await two.pilot.press("c")
        note = await two.note(lambda n: "cannot cancel" in n.message, "the reason")
        assert note.message.startswith("bsub-a: cannot cancel:")
        assert not isinstance(two.app.screen, ConfirmScreen)


async def test_read_only_holds_in_all_jobs(emulator: EmulatorFactory) -> None:
    async with two_services(emulator, read_only=True) as two:
        job = seeded(two.states["bsub-a"], "processing")
        await select(two, "bsub-a", job.id)
        assert two.all_tab.check_action("act", ("cancel",)) is False
        await two.pilot.press("c")
        await two.pilot.pause()
        assert not isinstance(two.app.screen, ConfirmScreen)
        assert not two.states["bsub-a"].jobs[job.id].cancelled


async def test_marks_across_services_take_one_confirmation_and_one_summary(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        running = seeded(two.states["bsub-a"], "processing")
        finished = seeded(two.states["bsub-a"], "finished")
        table = two.all_table
        for key in (
            row_key_of("bsub-a", running.id),
            row_key_of("bsub-b", running.id),
            row_key_of("bsub-b", finished.id),
        ):
            table.toggle_mark(key)
        assert len(table.marked_jobs) == 3
        await two.pilot.press("c")
        confirm = await two.screen(ConfirmScreen, "one confirmation")
        assert "Cancel these 2 jobs?" in confirm.body
        assert "bsub-a:" in confirm.body and "bsub-b:" in confirm.body
        assert confirm.body.count(running.id) == 2
        assert finished.id not in confirm.body
        assert "(1 marked job cannot cancel now and is left out)" in confirm.body
        await two.pilot.press("y")
        note = await two.note(lambda n: n.message.startswith("cancel:"), "the summary")
        assert note.message.splitlines()[0] == "cancel: 2 done, 0 failed"
        lines = note.message.splitlines()[1:]
        assert len(lines) == 2
        for name in NAMES:  # each line names its service first and the job once
            assert sum(line.startswith(f"✓ {name}: ") for line in lines) == 1
        assert all(line.count(running.id) == 1 for line in lines)
        assert all(two.states[name].jobs[running.id].cancelled for name in NAMES)
        assert len(table.marked_jobs) == 0


async def test_the_detail_shows_the_selected_job_of_its_service(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-a"], "failed", cancelled=False)
        await select(two, "bsub-b", job.id)
        detail = visible_detail(two)
        assert detail.job is not None and detail.job.key == ("bsub-b", job.id)
        await select(two, "bsub-a", job.id)
        assert detail.job is not None and detail.job.key == ("bsub-a", job.id)


async def test_the_service_tabs_keep_their_numbers(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await two.pilot.press("2")
        await two.until(lambda: two.table() is two.tab("bsub-b").table, "tab 2")
        await two.pilot.press("0")
        await two.until(lambda: two.table() is two.all_table, "All jobs on 0")
        for expected in (pane_id(0), pane_id(1), ALL_PANE):
            await two.pilot.press("right_square_bracket")
            await two.pilot.pause()
            assert two.active() == expected


async def test_enter_opens_the_job_in_its_service_tab(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-b"], "finished")
        await select(two, "bsub-b", job.id)
        await two.pilot.press("enter")
        await two.until(lambda: two.active() == pane_id(1), "the bsub-b tab")
        cursor = two.tab("bsub-b").table.cursor_job
        assert cursor is not None and cursor.key == ("bsub-b", job.id)
        assert two.tab("bsub-b").table.has_focus


@asynccontextmanager
async def bsub_and_leia(
    emulator: EmulatorFactory,
) -> AsyncIterator[tuple[Two, BsubState, LeiaState]]:
    """A bsub.io tab (6 jobs) and a Leia tab (24), after both first polls."""
    bsub, bsub_state = start(emulator, jobs=6, seed=1)
    leia = emulator("leia", seed=1, speed=0, jobs=24)
    state = leia.state
    assert isinstance(state, LeiaState)
    services = [
        BsubService("bsub.io", bsub.url, token_of(bsub)),
        LeiaService("Leia", leia.url, str(leia.emulator.config["api_key"])),
    ]
    app = JobtuiApp(services, refresh=60.0, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        two = Two(app, pilot, {})
        await two.until(lambda: two.all_table.total_count == 30, "both first polls")
        yield two, bsub_state, state


async def test_a_leia_job_in_all_jobs_has_its_sections_and_its_chain(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_and_leia(emulator) as (two, _, state):
        app, pilot = two.app, two.pilot
        waiting = next(
            j for j in state.jobs.values() if j.execute_after_id and j.status == "WAITING"
        )
        await select(two, "Leia", waiting.id)
        detail = visible_detail(two)
        assert detail.job is not None and detail.job.service == "Leia"
        console = Console(width=110, record=True, color_system=None)
        console.print(detail.content)
        text = console.export_text()
        assert "waits on" in text and str(waiting.execute_after_id) in text
        # Enter does one thing: the job in its tab (as the README says), no dialog on top.
        await pilot.press("enter")
        await two.until(lambda: two.active() == pane_id(1), "the Leia tab")
        await settle(pilot)
        assert app.screen is two.dashboard
        cursor = two.tab("Leia").table.cursor_job
        assert cursor is not None and cursor.id == waiting.id
        await pilot.press("enter")  # enter in the Leia tab: the chain
        await two.until(lambda: isinstance(app.screen, ChainScreen), "the chain")
        await pilot.press("enter")  # what it waits on
        await two.back_on_dashboard()
        cursor = two.tab("Leia").table.cursor_job
        assert cursor is not None and cursor.id == waiting.execute_after_id


async def test_marking_updates_what_the_keys_offer(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        finished = seeded(two.states["bsub-a"], "finished")
        running = seeded(two.states["bsub-b"], "processing")
        await select(two, "bsub-a", finished.id)
        await two.until(lambda: footer_key(two, "Cancel") == "disabled", "cancel greyed")
        two.all_table.toggle_mark(row_key_of("bsub-b", running.id))  # the cursor stays
        await two.until(lambda: footer_key(two, "Cancel") == "enabled", "cancel in the footer")
        await two.pilot.press("c")
        confirm = await two.screen(ConfirmScreen, "the confirmation")
        assert running.id in confirm.body and "bsub-b:" in confirm.body
        assert finished.id not in confirm.body


async def test_all_jobs_shows_the_keys_of_the_service_of_the_job_under_the_cursor(
    emulator: EmulatorFactory,
) -> None:
    async with bsub_and_leia(emulator) as (two, bsub_state, leia_state):
        finished = seeded(bsub_state, "finished")
        blocked = next(j for j in leia_state.jobs.values() if j.status == "BLOCKED")
        await select(two, "bsub.io", finished.id)
        await two.until(lambda: footer_key(two, "Delete") == "enabled", "bsub.io's keys")
        assert footer_key(two, "Submit") == "disabled"
        assert footer_key(two, "Start") == footer_key(two, "Conditional job") == "absent"

        two.app.clear_notifications()  # a toast going away would lay the screen out
        await two.pilot.pause()
        layouts = count_calls(two.dashboard, "_refresh_layout")
        await select(two, "Leia", blocked.id)
        await two.until(lambda: footer_key(two, "Start") == "enabled", "Leia's keys")
        assert footer_key(two, "Delete") == footer_key(two, "Submit") == "absent"
        assert layouts == [], "the screen was laid out again for other keys"
        await two.pilot.press("s")  # Leia's Start, where bsub.io's Submit has the same key
        await two.until(lambda: leia_state.jobs[blocked.id].status != "BLOCKED", "started")


async def test_r_on_all_jobs_says_that_it_polls_every_service(emulator: EmulatorFactory) -> None:
    """`r` on All jobs polls every tab: its status line says "polling…" until every poll
    landed, then "polled just now" for a moment."""
    from textual.widgets import Static

    async with two_services(emulator) as two:
        status = two.all_tab.query_one("#status", Static)

        def said() -> str:
            return str(status.render())

        polls = {name: two.tab(name).health.polls for name in two.states}
        late = next(iter(two.states.values()))
        late.lock.acquire()  # one server waits: the polls are seen under way
        try:
            await two.pilot.press("r")
            await two.until(lambda: "polling…" in said(), "polling…")
        finally:
            late.lock.release()
        await two.until(lambda: "polled just now" in said(), "polled just now")
        assert all(two.tab(name).health.polls > polls[name] for name in two.states)
        await two.until(lambda: "polled" not in said() and "polling" not in said(), "quiet again")
