"""The common model: deltas between snapshots, backoff, and the monitor's health bookkeeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobtui.core.errors import RateLimitedError, ServerError, ServiceError
from jobtui.core.models import Action, Job, JobState, diff_jobs
from jobtui.core.polling import Backoff, ServiceMonitor
from jobtui.core.service import PollResult, Service


def job(job_id: str, state: JobState = JobState.RUNNING, message: str = "") -> Job:
    return Job(service="s", id=job_id, state=state, raw_state=state.value, message=message)


def test_diff_reports_added_changed_removed_in_order() -> None:
    old = {"a": job("a"), "b": job("b"), "c": job("c")}
    new = [job("d"), job("a"), job("b", JobState.SUCCEEDED)]
    snapshot, delta = diff_jobs(old, new)
    assert list(snapshot) == ["d", "a", "b"]
    assert [j.id for j in delta.added] == ["d"]
    assert [j.id for j in delta.changed] == ["b"]
    assert delta.removed == ("c",)
    assert delta.size == 3


def test_diff_keeps_the_previous_object_for_unchanged_jobs() -> None:
    first = job("a")
    snapshot, delta = diff_jobs({"a": first}, [job("a")])
    assert not delta
    assert snapshot["a"] is first


def test_raw_record_does_not_count_as_a_change() -> None:
    a = Job("s", "a", JobState.QUEUED, "pending", raw={"x": 1})
    b = Job("s", "a", JobState.QUEUED, "pending", raw={"x": 2})
    assert a == b
    c = Job("s", "a", JobState.QUEUED, "pending", revision="2")
    assert a != c


def test_terminal_states() -> None:
    assert {s for s in JobState if s.terminal} == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
    }


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    backoff = Backoff(interval=2.0, maximum=60.0, rng=random.Random(1))
    assert backoff.delay(0) == 2.0
    delays = [backoff.delay(n) for n in range(1, 8)]
    assert delays[0] == pytest.approx(4.0, rel=0.21)
    assert delays[1] == pytest.approx(8.0, rel=0.21)
    assert max(delays) <= 60.0 * 1.2
    assert delays[-1] >= 60.0 * 0.8
    assert backoff.delay(1, retry_after=30.0) >= 30.0
    assert backoff.delay(0, retry_after=5.0) == 5.0


class ScriptedService(Service):
    """A service whose polls return or raise what the test lists, in order."""

    kind = "scripted"
    actions = (Action.CANCEL,)

    def __init__(self, script: list[PollResult | Exception]) -> None:
        super().__init__("scripted")
        self.script = script

    async def poll(self) -> PollResult:
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


async def test_monitor_keeps_last_good_data_and_marks_it_stale() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    service = ScriptedService(
        [
            PollResult([job("a"), job("b")], total=5),
            ServerError("scripted", "boom (HTTP 500)", status=500),
            RateLimitedError("scripted", "slow down", retry_after=12.0),
            ValueError("secret-free bug"),
            PollResult([job("a", JobState.SUCCEEDED)]),
        ]
    )
    monitor = ServiceMonitor(service, clock=lambda: now[0])

    first = await monitor.poll_once()
    assert first.health.ok and first.generation == 1
    assert [j.id for j in first.delta.added] == ["a", "b"]
    assert first.total == 5

    now[0] += timedelta(seconds=7)
    second = await monitor.poll_once()
    assert not second.health.ok
    assert second.health.error == "scripted: boom (HTTP 500)"
    assert second.health.stale_for(now[0]) == 7.0
    assert set(second.snapshot) == {"a", "b"}
    assert second.generation == 1 and not second.delta

    third = await monitor.poll_once()
    assert third.retry_after == 12.0
    assert third.health.failures == 2

    fourth = await monitor.poll_once()
    assert fourth.health.error == "scripted: unexpected ValueError"

    fifth = await monitor.poll_once()
    assert fifth.health.ok and fifth.health.failures == 0
    assert fifth.generation == 2
    assert [j.id for j in fifth.delta.changed] == ["a"]
    assert fifth.delta.removed == ("b",)


async def test_a_long_list_is_compared_in_turns_and_a_partial_one_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tens of thousands of jobs are compared in turns on the event loop, which runs in between
    (keys go on meanwhile); a short list is compared at once; a partial result stays partial in
    the outcome."""
    import asyncio

    from jobtui.core import models, polling
    from tests.pacing import turns_of

    monkeypatch.setattr(polling, "DIFF_PACED", 3)
    monkeypatch.setattr(models, "DIFF_SLICE", 1)
    monkeypatch.setattr(polling, "Pacer", turns_of(1))  # a turn is a slice
    jobs = [job(str(n)) for n in range(4)]
    service = ScriptedService([PollResult(jobs[:2], total=4, partial=True), PollResult(jobs)])
    monitor = ServiceMonitor(service)
    first = await monitor.poll_once()  # 2 jobs: at once
    assert first.partial and [j.id for j in first.delta.added] == ["0", "1"]
    polling_ = asyncio.ensure_future(monitor.poll_once())
    turns = 0
    while not polling_.done():
        turns += 1
        await asyncio.sleep(0)
    second = polling_.result()  # 2 + 4: in turns, the loop ran between the slices
    assert turns >= 4
    assert not second.partial and [j.id for j in second.delta.added] == ["2", "3"]
    assert list(monitor.snapshot) == ["0", "1", "2", "3"]
    assert first.snapshot["0"] is second.snapshot["0"]  # unchanged: the same object


async def test_comparing_in_turns_finds_what_comparing_at_once_finds() -> None:
    from jobtui.core.models import diff_jobs_paced
    from jobtui.core.pacing import Pacer

    old = {j.id: j for j in [job("a"), job("b", JobState.RUNNING), job("c")]}
    new = [old["a"], job("b", JobState.SUCCEEDED), job("d"), job("e")]
    at_once = diff_jobs(old, new)
    in_turns = await diff_jobs_paced(old, new, Pacer(turn=0.0, rest=0.0))
    assert at_once == in_turns
    assert [j.id for j in in_turns[1].changed] == ["b"] and in_turns[1].removed == ("c",)


def test_service_error_is_one_line_with_the_service() -> None:
    error = ServiceError("bsub.io", "bad\nthing\n  happened")
    assert str(error) == "bsub.io: bad thing happened"


def test_default_disabled_reason() -> None:
    service = ScriptedService([])
    finished = job("a", JobState.SUCCEEDED)
    assert service.disabled_reason(Action.CANCEL, None) == "no job selected"
    assert (
        service.disabled_reason(Action.CANCEL, finished)
        == "not possible while the job is succeeded"
    )
    assert service.disabled_reason(Action.DELETE, finished) == "scripted has no delete action"
