"""Fixtures shared by every test level: emulators served on real loopback sockets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import pytest

from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.runner import RunningEmulator, ServerThread, build

EmulatorFactory = Callable[..., RunningEmulator]

# The vendors' clients run in an environment of their own, which tests/test_vendor_clients.py
# builds and runs them in (with JOBTUI_VENDOR_TESTS=1).
collect_ignore = [] if os.environ.get("JOBTUI_VENDOR_TESTS") == "1" else ["vendor"]


@pytest.fixture(autouse=True)
def own_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test (and the processes it starts) keeps its job journal below its own temporary
    folder: the commands that act and the dashboard write one at $XDG_STATE_HOME/jobtui/."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def emulator() -> Iterator[EmulatorFactory]:
    """Start emulators on 127.0.0.1 for one test: `emulator("bsub", seed=3, speed=0, jobs=5)`.

    Keyword arguments are fields of `EmulatorSettings`; unknown ones go to `settings.options`.
    Every server started is stopped when the test ends.
    """
    with ExitStack() as stack:

        def start(kind: str, **overrides: Any) -> RunningEmulator:
            fields = set(EmulatorSettings.__dataclass_fields__)
            known = {k: v for k, v in overrides.items() if k in fields}
            options = {k: v for k, v in overrides.items() if k not in fields}
            settings = replace(EmulatorSettings(), **known)
            if options:
                settings = replace(settings, options={**settings.options, **options})
            thread = ServerThread(build(kind, settings))
            running = thread.start()
            stack.callback(thread.stop)
            return running

        yield start
