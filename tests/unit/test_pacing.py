"""`Pacer`: long work on the event loop in turns measured in time, with a rest after each in which
everything else that is ready gets to run, not just one step of it."""

from __future__ import annotations

import asyncio

from jobtui.core.pacing import REST, TURN, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_turn_is_over_once_its_time_has_passed_and_a_rest_starts_a_new_one() -> None:
    clock = Clock()
    pacer = Pacer(turn=0.5, rest=0.0, clock=clock)
    assert not pacer.due()
    clock.now += 0.25
    assert not pacer.due()
    clock.now += 0.25
    assert pacer.due()
    asyncio.run(pacer.rest())
    assert not pacer.due() and pacer.rests == 1
    clock.now += 0.5
    asyncio.run(pacer.tick())
    assert pacer.rests == 2
    asyncio.run(pacer.tick())  # a turn just begun: no rest
    assert pacer.rests == 2


def test_the_defaults_are_short_turns_and_shorter_rests() -> None:
    assert 0 < REST < TURN <= 0.01


async def test_a_rest_lets_a_chain_of_many_small_steps_run_to_its_end() -> None:
    """What a key needs to reach the screen is many short steps, each a turn of the loop. A rest
    of some time (not `sleep(0)`, which would let one step run per turn of the work) lets the
    whole chain run before the work's next turn."""
    turns = 0
    pacer = Pacer(turn=0.0, rest=1.0)  # a rest far longer than the chain takes

    async def work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await pacer.tick()

    async def key() -> int:
        for _ in range(50):
            await asyncio.sleep(0)
        return turns

    worker = asyncio.create_task(work())
    await asyncio.sleep(0)  # the work has begun its first rest
    try:
        assert await key() == 1
    finally:
        worker.cancel()
