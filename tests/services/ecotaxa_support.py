"""Helpers shared by the EcoTaxa tests: start the emulator, reach its state, move its clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from jobtui.emulators.ecotaxa.state import EcoTaxaState, SimJob
from jobtui.emulators.ecotaxa.world import User
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory


def start(
    emulator: EmulatorFactory, jobs: int = 40, seed: int = 1, **options: Any
) -> tuple[RunningEmulator, EcoTaxaState]:
    """A frozen (speed 0) EcoTaxa emulator on loopback, and its state."""
    running = emulator("ecotaxa", seed=seed, speed=0, jobs=jobs, **options)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    return running, state


def credentials(running: RunningEmulator) -> tuple[str, str]:
    """The config's username and password (the normal user)."""
    config = running.emulator.config
    return str(config["username"]), str(config["password"])


def advance_until(
    state: EcoTaxaState, done: Callable[[], bool], *, step: float = 1.0, limit: float = 3600.0
) -> float:
    """Move simulated time forward until `done()` holds; returns the seconds it took."""
    moved = 0.0
    while True:
        state.tick()
        if done():
            return moved
        if moved >= limit:
            raise AssertionError(f"condition not reached after {limit} simulated seconds")
        state.clock.advance(step)
        moved += step


def seeded(state: EcoTaxaState, letter: str, type_: str | None = None, *, owner: int = 2) -> SimJob:
    """The newest listed job of `owner` in state `letter` (and of `type_`)."""
    jobs = state.owned_by(owner, letter, type_)
    assert jobs, f"the seed has no {type_ or 'job'} in {letter} for user {owner}"
    return jobs[0]


class Recorder:
    """An httpx request hook that keeps every request sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def lines(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]


def bearer(state: EcoTaxaState, user: User | None = None) -> dict[str, str]:
    """An Authorization header with a fresh token for `user` (the config's user by default)."""
    return {"Authorization": f"Bearer {state.token_for(user or state.user)}"}
