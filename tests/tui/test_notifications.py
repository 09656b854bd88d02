"""Notifications and the needs-attention count, against seeded emulators over loopback: a job
changes state on the emulator, the next poll shows it."""

from __future__ import annotations

from collections.abc import Callable

from jobtui.config import NotificationsConfig
from jobtui.core.models import Job, JobState
from jobtui.services.bsub.service import BsubService
from jobtui.services.ecotaxa.service import EcoTaxaService
from jobtui.tui.app import JobtuiApp
from jobtui.tui.notify import GATHER_SECONDS, Attention, Notifier, PollJobs, osc_sequence
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.widgets.header import AttentionCount
from jobtui.tui.widgets.job_table import JobTable, row_key_of
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import start, token_of
from tests.settle import settle
from tests.tui.live_support import (
    Live,
    ManualClock,
    fail_job,
    finish_job,
    live_app,
    running_job,
    show_tab,
    until,
)


def header_count(live: Live) -> str:
    return str(live.app.screen.query_one(AttentionCount).content)


async def test_a_job_that_fails_gives_one_toast_a_bell_and_an_osc_777_notification(
    emulator: EmulatorFactory,
) -> None:
    settings = NotificationsConfig(bell=True, osc="777")
    async with live_app(emulator, notifications=settings) as live:
        live.capture_terminal()
        state = live.states[0]
        await live.poll()  # unchanged

        job = running_job(state)
        fail_job(state, job)
        await live.poll()
        await live.until(lambda: bool(live.toasts()), "a toast")
        # Only this one: neither the first load nor the unchanged poll before it notified.
        assert live.toasts() == [("bsub-1", f"{job.id} failed")]
        assert [n.severity for n in live.app.notices] == ["error"]
        assert live.writes.count("\x07") == 1
        osc = [w for w in live.writes if w.startswith("\x1b]777;")]
        assert osc == [f"\x1b]777;notify;jobtui: bsub-1;{job.id} failed\x07"]

        await live.poll()  # still failed: nothing new
        other = running_job(state)
        finish_job(state, other)
        await live.poll()
        await live.until(lambda: len(live.toasts()) > 1, "the next toast")
        assert live.toasts()[1:] == [("bsub-1", f"{other.id} succeeded")]
        assert live.writes.count("\x07") == 2


async def test_osc_9_and_the_chosen_events_only(emulator: EmulatorFactory) -> None:
    settings = NotificationsConfig(events=["succeeded"], osc="9")
    async with live_app(emulator, notifications=settings) as live:
        live.capture_terminal()
        state = live.states[0]
        failing = running_job(state)
        fail_job(state, failing)
        await live.poll()  # failures were not asked for
        finishing = running_job(state)
        finish_job(state, finishing)
        await live.poll()
        await live.until(lambda: bool(live.toasts()), "a toast")
        assert live.toasts() == [("bsub-1", f"{finishing.id} succeeded")]
        assert [w for w in live.writes if w.startswith("\x1b]")] == [
            f"\x1b]9;jobtui: bsub-1: {finishing.id} succeeded\x07"
        ]
        assert "\x07" not in live.writes  # no bell unless asked


async def test_off_by_default_no_bell_no_osc(emulator: EmulatorFactory) -> None:
    async with live_app(emulator) as live:
        live.capture_terminal()
        job = running_job(live.states[0])
        fail_job(live.states[0], job)
        await live.poll()
        await live.until(lambda: bool(live.toasts()), "a toast")
        assert live.toasts() == [("bsub-1", f"{job.id} failed")]
        assert not [w for w in live.writes if w == "\x07" or w.startswith("\x1b]9;")]
        assert not [w for w in live.writes if w.startswith("\x1b]777;")]


async def test_a_failed_job_needs_attention_until_the_cursor_is_on_it(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, tabs=2) as live:
        # bsub.io jobs waiting for their input (created, loaded) ask the user: they count from
        # the first load, except the one under the cursor of the visible tab. Old failures are
        # not news: they do not count.
        asking = {
            (f"bsub-{index + 1}", job.id)
            for index in (0, 1)
            for job_id in live.table(index).row_ids()
            if (job := live.table(index).get_job(job_id)) is not None
            and job.state is JobState.NEEDS_INPUT
        }
        cursor = live.table(0).cursor_job
        assert cursor is not None
        asking.discard(("bsub-1", cursor.id))
        # All jobs, shown first, had its cursor on one job while the first loads came in: a
        # look at it if the cursor arrived on it from another job (the order the two services
        # answered in decides), not if it was put there with the first rows.
        dashboard = live.app.screen
        assert isinstance(dashboard, DashboardScreen)
        all_cursor = dashboard.all_tab.table.cursor_job
        assert all_cursor is not None
        maybe_seen = {all_cursor.key}

        def first_loads() -> bool:
            return asking - maybe_seen <= live.app.notifier.attention.keys <= asking

        await live.until(first_loads, "the first loads")
        await settle(live.pilot)
        assert first_loads(), live.app.notifier.attention.keys ^ asking
        waiting = live.app.attention
        assert waiting >= len(asking - maybe_seen) > 0
        for index in (0, 1):
            table = live.table(index)
            jobs = [table.get_job(job_id) for job_id in table.row_ids()]
            assert any(job is not None and job.state is JobState.FAILED for job in jobs)

        def header_says(count: int) -> bool:
            word = "needs" if count == 1 else "need"
            return header_count(live) == (f"⚑ {count} {word} attention" if count else "")

        first, second = running_job(live.states[0]), running_job(live.states[1])
        fail_job(live.states[0], first)
        fail_job(live.states[1], second)
        await live.poll(0)
        await live.poll(1)
        await live.until(lambda: live.app.attention == waiting + 2, "two more jobs")
        assert header_says(waiting + 2)

        assert live.table(0).move_cursor(first.id)
        await live.until(lambda: live.app.attention == waiting + 1, "the first one looked at")
        assert header_says(waiting + 1)

        # The hidden tab's cursor moves without being looked at ...
        assert live.table(1).move_cursor(second.id)
        await live.pilot.pause()
        assert live.app.attention == waiting + 1
        # ... until its tab is shown with the cursor on the job.
        await live.show(1)
        await live.until(lambda: live.app.attention == waiting, "the second one looked at")
        assert header_says(waiting)

        # A job that fails again later needs attention again.
        with live.states[0].lock:
            live.states[0].touch(first, "processing", live.states[0].now())
        await live.poll(0)
        fail_job(live.states[0], first)
        await live.poll(0)
        await live.until(lambda: live.app.attention == waiting + 1, "the new failure")


async def test_a_question_needs_attention_from_the_first_load_without_a_toast(
    emulator: EmulatorFactory,
) -> None:
    """EcoTaxa in the second (hidden) tab: its asking job counts until the user looks at it."""
    running = emulator("ecotaxa", seed=1, speed=0, jobs=30)
    config = running.emulator.config
    eco = EcoTaxaService(
        "EcoTaxa", running.url, username=str(config["username"]), password=str(config["password"])
    )
    bsub_running, _ = start(emulator, jobs=5)
    bsub = BsubService("bsub", bsub_running.url, token_of(bsub_running))
    app = JobtuiApp([bsub, eco], refresh=60.0, clock=ManualClock())
    async with app.run_test(size=(120, 44)) as pilot:
        tab = app.screen.query_one("#tab-1", ServiceTab)
        table = tab.query_one(JobTable)
        await until(pilot, lambda: tab.health.polls > 0 and table.row_count > 0, "a first poll")
        jobs = [table.get_job(job_id) for job_id in table.row_ids()]
        asking = [job.id for job in jobs if job is not None and job.state is JobState.NEEDS_INPUT]
        assert asking, "the seed has an asking job"

        def keys() -> set[tuple[str, str]]:
            return app.notifier.attention.keys

        await until(pilot, lambda: all(("EcoTaxa", i) in keys() for i in asking), "counted")
        assert list(app.notices) == []  # a first load notifies nothing

        others = [job_id for job_id in table.row_ids() if job_id not in asking]
        assert table.move_cursor(others[-1])
        # All jobs is shown first, and may be shown again for a moment by the start-up focus:
        # its cursor rests on a bsub job, not on the question.
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        all_jobs = dashboard.all_tab.table
        bsub_job = next(j for j in all_jobs.held_jobs() if j.service == "bsub")
        assert all_jobs.move_cursor(row_key_of("bsub", bsub_job.id))
        await show_tab(pilot, 1)
        assert all(("EcoTaxa", i) in keys() for i in asking)  # not looked at yet
        for job_id in asking:
            assert table.move_cursor(job_id)
        await until(pilot, lambda: not any(key[0] == "EcoTaxa" for key in keys()), "looked at")


# -- the pieces -----------------------------------------------------------------------------------


def test_osc_sequences_drop_control_characters_and_wrap_for_tmux() -> None:
    assert osc_sequence("9", "jobtui: a", "b\x07c\x1b]") == "\x1b]9;jobtui: a: bc]\x07"
    assert osc_sequence("777", "x;y", "1 failed; 2 failed") == (
        "\x1b]777;notify;x,y;1 failed; 2 failed\x07"
    )
    assert osc_sequence("off", "x", "y") == ""
    assert osc_sequence("9", "t", "b", tmux=True) == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"


def test_attention_counts_questions_and_new_failures_until_seen_or_gone() -> None:
    def job(job_id: str, state: JobState) -> Job:
        return Job(service="s", id=job_id, state=state, raw_state=state.value)

    attention = Attention({})
    first = [job("a", JobState.NEEDS_INPUT), job("b", JobState.FAILED), job("c", JobState.RUNNING)]
    attention.update(PollJobs("s", first, {}, initial=True))
    assert attention.keys == {("s", "a")}  # an old failure is not news
    previous = {j.id: j for j in first}
    attention.update(PollJobs("s", [job("c", JobState.FAILED)], previous, initial=False))
    assert attention.keys == {("s", "a"), ("s", "c")}
    # answered:
    attention.update(PollJobs("s", [job("a", JobState.RUNNING)], previous, initial=False))
    assert attention.keys == {("s", "c")}
    attention.update(PollJobs("s", [], previous, initial=False, removed=["c"]))
    assert len(attention) == 0
    # new and failed:
    attention.update(PollJobs("s", [job("d", JobState.FAILED)], previous, initial=False))
    attention.seen("s", job("d", JobState.RUNNING))  # a look from before it failed
    assert attention.keys == {("s", "d")}
    attention.seen("s", job("d", JobState.FAILED))
    assert len(attention) == 0


def test_one_toast_names_at_most_five_jobs() -> None:
    toasts: list[tuple[str, str, str]] = []
    notifier = Notifier(
        NotificationsConfig(),
        toast=lambda message, title, severity: toasts.append((message, title, severity)),
        write=lambda text: None,
        environ={},
    )
    jobs = [Job(service="s", id=str(n), state=JobState.SUCCEEDED, raw_state="ok") for n in range(7)]
    jobs.append(Job(service="s", id="q", state=JobState.NEEDS_INPUT, raw_state="asking"))
    notifier.jobs_changed(PollJobs("s", jobs, {}, initial=False))
    assert toasts == [
        (
            "0 succeeded\n1 succeeded\n2 succeeded\n3 succeeded\n4 succeeded\nand 3 more",
            "s",
            "warning",
        )
    ]


def test_jobs_of_several_polls_and_services_gathered_into_one_toast() -> None:
    toasts: list[tuple[str, str, str]] = []
    writes: list[str] = []
    timers: list[tuple[float, Callable[[], None]]] = []
    notifier = Notifier(
        NotificationsConfig(bell=True, osc="9"),
        toast=lambda message, title, severity: toasts.append((message, title, severity)),
        write=writes.append,
        environ={},
        later=lambda delay, call: timers.append((delay, call)),
    )

    def job(service: str, job_id: str, state: JobState) -> Job:
        return Job(service=service, id=job_id, state=state, raw_state=state.value)

    notifier.jobs_changed(PollJobs("a", [job("a", "1", JobState.SUCCEEDED)], {}, initial=False))
    notifier.jobs_changed(PollJobs("b", [job("b", "2", JobState.FAILED)], {}, initial=False))
    notifier.jobs_changed(PollJobs("a", [job("a", "3", JobState.SUCCEEDED)], {}, initial=False))
    assert toasts == [] and writes == []
    assert [delay for delay, _ in timers] == [GATHER_SECONDS]  # one timer for the three polls
    timers[0][1]()
    assert toasts == [("a: 1 succeeded\na: 3 succeeded\nb: 2 failed", "2 services", "error")]
    assert writes.count("\x07") == 1
    assert [w for w in writes if w.startswith("\x1b]9;")] == [
        "\x1b]9;jobtui: 2 services: a: 1 succeeded; a: 3 succeeded; b: 2 failed\x07"
    ]

    # The next announcement starts a new gathering; one service keeps its name as the title.
    notifier.jobs_changed(PollJobs("b", [job("b", "4", JobState.SUCCEEDED)], {}, initial=False))
    assert len(timers) == 2
    timers[1][1]()
    assert toasts[1] == ("4 succeeded", "b", "information")


async def test_toasts_of_two_services_polled_together_show_as_one(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, tabs=2) as live:
        timers: list[Callable[[], None]] = []
        live.app.notifier.later = lambda delay, call: timers.append(call)
        before = live.app.attention
        first, second = running_job(live.states[0]), running_job(live.states[1])
        fail_job(live.states[0], first)
        fail_job(live.states[1], second)
        await live.poll(0)
        await live.poll(1)
        await live.until(lambda: live.app.attention == before + 2, "both failures taken")
        assert live.toasts() == [] and len(timers) == 1
        timers[0]()  # the gathering time is over
        await live.until(lambda: bool(live.toasts()), "a toast")
        assert live.toasts() == [
            ("2 services", f"bsub-1: {first.id} failed\nbsub-2: {second.id} failed")
        ]


async def test_showing_a_tab_again_clears_the_job_under_its_cursor(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, tabs=2) as live:

        def keys() -> set[tuple[str, str]]:
            return live.app.notifier.attention.keys

        # A job waiting for its input, looked at: the cursor goes onto it.
        job_id = next(i for service, i in sorted(keys()) if service == "bsub-1")
        assert live.table(0).move_cursor(job_id)
        await live.until(lambda: ("bsub-1", job_id) not in keys(), "the job looked at")
        await live.show(1)
        state = live.states[0]
        with state.lock:
            state.fail(state.jobs[job_id], state.now(), "worker_lost", "gone")
        await live.poll(0)
        # It failed, under the cursor of a hidden tab: news until the user comes to look.
        await live.until(lambda: ("bsub-1", job_id) in keys(), "the failure counted")
        await live.show(0)
        await live.until(lambda: ("bsub-1", job_id) not in keys(), "the failure looked at")
        assert live.app.attention == len(keys())


async def test_the_cursor_on_a_failed_job_in_all_jobs_counts_as_looking_at_it(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator, tabs=2) as live:
        failing = running_job(live.states[1])
        fail_job(live.states[1], failing)
        await live.poll(1)
        key = ("bsub-2", failing.id)
        await live.until(lambda: key in live.app.notifier.attention.keys, "the new failure")
        dashboard = live.app.screen
        assert isinstance(dashboard, DashboardScreen)
        all_table = dashboard.all_tab.table
        # Moving the cursor of the hidden All jobs tab is no look at the job ...
        assert all_table.move_cursor(row_key_of(*key))
        await live.pilot.pause()
        assert key in live.app.notifier.attention.keys
        # ... moving it there while the tab is shown is.
        assert all_table.move_cursor(all_table.row_ids()[0])
        await live.pilot.press("0")
        await live.until(lambda: all_table.has_focus, "the All jobs tab")
        assert all_table.move_cursor(row_key_of(*key))
        await live.until(lambda: key not in live.app.notifier.attention.keys, "the look")
