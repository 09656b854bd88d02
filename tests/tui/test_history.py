"""History at a glance: one sample of queued / running / failed counts per successful poll, kept
in a bounded ring, drawn as three sparklines beside the status line."""

from __future__ import annotations

from jobtui.core.models import JobState
from jobtui.tui.widgets.history import HistoryBar, Sample, StateHistory, sparkline
from tests.conftest import EmulatorFactory
from tests.tui.live_support import Live, fail_job, live_app, running_job


def counts_shown(live: Live) -> Sample:
    table = live.table()
    return Sample.of(job for i in table.row_ids() if (job := table.get_job(i)) is not None)


def test_sparkline_scales_to_its_largest_value_and_keeps_the_newest_on_the_right() -> None:
    assert sparkline([0, 1, 2, 4], width=4) == "▁▃▅█"
    assert sparkline([3, 3], width=4) == "  ██"
    assert sparkline([0, 0, 0], width=3) == "▁▁▁"
    assert sparkline(list(range(20)), width=5) == "▇▇▇██"  # the last five (15..19), from 0
    assert sparkline([], width=2) == "  "


def test_the_ring_keeps_the_last_samples_only() -> None:
    history = StateHistory(size=3)
    for count in range(5):
        history.samples.append(Sample(queued=count, running=0, failed=0))
    assert len(history.samples) == 3
    assert history.series(JobState.QUEUED, width=10) == [2, 3, 4]
    assert history.series(JobState.QUEUED, width=2) == [3, 4]


def test_jobs_that_did_not_change_repeat_the_last_sample_without_being_counted() -> None:
    from jobtui.core.models import Job

    history = StateHistory()
    jobs = [Job("s", str(n), JobState.RUNNING, "running") for n in range(3)]
    first = history.add(jobs)
    again = history.repeat(iter(()))  # an empty iterable: counting it would give zeros
    assert again is first and first.running == 3 and len(history.samples) == 2
    assert StateHistory().repeat(jobs).running == 3  # no sample yet: counted


async def test_one_sample_per_good_poll_with_the_counts_of_the_table(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator) as live:
        history = live.tab().history
        assert list(history.samples) == [counts_shown(live)]
        first = history.samples[0]
        assert first.running > 0 and first.queued > 0 and first.failed > 0

        job = running_job(live.states[0])
        fail_job(live.states[0], job)
        await live.poll()
        assert len(history.samples) == 2
        assert history.samples[1] == Sample(first.queued, first.running - 1, first.failed + 1)

        # A failed poll adds nothing: the history is of what the service said.
        live.states[0].faults.fail_status = 500
        polls = live.polls()
        live.tab().poll_now()
        await live.until(lambda: live.polls() > polls and not live.tab().health.ok, "a failure")
        assert len(history.samples) == 2
        live.states[0].faults.fail_status = None
        await live.poll()
        assert len(history.samples) == 3

        text = live.tab().query_one(HistoryBar).text().plain
        assert text.startswith("queued ")
        running = sparkline(history.series(JobState.RUNNING))
        assert f"running {running} {first.running - 1:>3}" in text
        assert f"failed {sparkline(history.series(JobState.FAILED))} {first.failed + 1:>3}" in text
