"""PollSchedule and the interval steps: when the next poll is due, and that changes made in the
middle of a wait take effect at once."""

from __future__ import annotations

import asyncio

import pytest

from jobtui.core.polling import INTERVAL_STEPS, MIN_GAP, Backoff, PollSchedule, step_interval


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("interval", "step", "expected"),
    [
        (2.0, 1, 5.0),
        (2.0, -1, 1.0),
        (3.0, 1, 5.0),  # between two steps: the neighbouring one
        (3.0, -1, 2.0),
        (60.0, 1, 60.0),  # the ends stay
        (0.5, -1, 0.5),
        (120.0, 1, 120.0),  # a longer interval from the config is kept, not shortened by +
        (120.0, -1, 60.0),
        (0.2, -1, 0.2),
        (0.2, 1, 0.5),
    ],
)
def test_step_interval(interval: float, step: int, expected: float) -> None:
    assert step_interval(interval, step) == expected


def test_steps_are_sorted() -> None:
    assert list(INTERVAL_STEPS) == sorted(INTERVAL_STEPS)


def test_due_follows_the_interval_pause_and_backoff() -> None:
    clock = FakeTime()
    schedule = PollSchedule(Backoff(2.0, jitter=0.0), clock)
    assert schedule.due is None and schedule.delay is None
    schedule.polled(0, None)
    assert schedule.due == 102.0
    clock.now = 101.0
    schedule.interval = 10.0  # counted from the end of the last poll, not from now
    assert schedule.due == 110.0 and schedule.delay == 10.0
    schedule.pause()
    assert schedule.due is None and schedule.paused
    schedule.resume()
    assert not schedule.paused and schedule.due == 110.0
    schedule.polled(2, None)  # two failures: 10 * 2**2
    assert schedule.delay == 40.0
    schedule.polled(1, 90.0)  # Retry-After wins when longer
    assert schedule.delay == 90.0


async def test_wait_returns_at_once_for_the_first_poll_and_for_poll_now() -> None:
    clock = FakeTime()
    schedule = PollSchedule(Backoff(60.0), clock)
    assert await asyncio.wait_for(schedule.wait(), 1.0) is False  # the first poll
    schedule.polled(0, None)
    waiter = asyncio.ensure_future(schedule.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    schedule.poll_now()
    assert await asyncio.wait_for(waiter, 1.0) is True


async def test_a_shorter_interval_ends_a_wait_under_way() -> None:
    clock = FakeTime()
    schedule = PollSchedule(Backoff(60.0), clock)
    schedule.polled(0, None)
    waiter = asyncio.ensure_future(schedule.wait())
    await asyncio.sleep(0)
    clock.now = 105.0
    schedule.interval = 5.0  # due at 105: now
    assert await asyncio.wait_for(waiter, 1.0) is False


async def test_a_paused_wait_waits_until_resumed() -> None:
    clock = FakeTime()
    schedule = PollSchedule(Backoff(0.5), clock)
    schedule.polled(0, None)
    schedule.pause()
    clock.now = 1000.0  # long past due
    waiter = asyncio.ensure_future(schedule.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    schedule.resume()
    assert await asyncio.wait_for(waiter, 1.0) is True


def test_every_n_seconds_counts_from_one_polls_start_to_the_next() -> None:
    now = [100.0]
    schedule = PollSchedule(Backoff(2.0, jitter=0), lambda: now[0])
    now[0] = 100.5  # a poll that took half a second
    schedule.polled(0, None, started=100.0)
    assert schedule.due == 102.0 and schedule.delay == 2.0
    now[0] = 104.5  # one that took longer than the interval: the next follows at once
    schedule.polled(0, None, started=102.0)
    assert schedule.due == 104.5 + MIN_GAP
    now[0] = 105.0  # a Retry-After counts from the answer
    schedule.polled(1, 10.0, started=104.6)
    assert schedule.due == 115.0
