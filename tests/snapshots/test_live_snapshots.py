"""SVG snapshots of the live parts: the history sparklines after some polls, the paused status
line, the theme chooser and the 16-colour jobtui-ansi theme.

Deterministic: the demo's seeded bsub.io emulator, frozen (speed 0) and moved on by hand between
polls; the app's clock fixed; the tab polls only when asked; no toasts (they time out).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from textual.pilot import Pilot

from jobtui.config import NotificationsConfig, config_from_data
from jobtui.emulate_cli import DEMO_JOBS, service_entries
from jobtui.emulators.base import DEMO_EPOCH
from jobtui.emulators.bsub.state import BsubState
from jobtui.services import build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.theme import ThemeScreen
from jobtui.tui.themes import ANSI_THEME
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.tui.live_support import until

SnapCompare = Callable[..., bool]

NOW = DEMO_EPOCH + timedelta(minutes=5)
SIZE = (160, 48)
POLLS = 8


def fixed_clock() -> datetime:
    return NOW


def demo_app(
    emulator: EmulatorFactory, *, theme: str = "textual-dark"
) -> tuple[JobtuiApp, BsubState]:
    running = emulator("bsub", seed=1, speed=0, jobs=DEMO_JOBS, arrivals=20)
    state = running.state
    assert isinstance(state, BsubState)
    config = config_from_data({"services": service_entries([running])}, source="demo")
    services = [build_service(entry) for entry in config.services]
    app = JobtuiApp(
        services,
        title="jobtui demo",
        refresh=60.0,
        clock=fixed_clock,
        theme=theme,
        notifications=NotificationsConfig(events=[]),
    )
    return app, state


async def polls_with_history(pilot: Pilot[int], state: BsubState) -> None:
    """The first poll, then `POLLS - 1` more, each after 15 simulated seconds (a new job
    arrives every 20)."""
    tab = pilot.app.screen.query_one(ServiceTab)
    await until(pilot, lambda: tab.health.polls == 1, "the first poll")
    for done in range(1, POLLS):
        with state.lock:
            state.advance(15)
        tab.poll_now()
        await until(pilot, lambda: tab.health.polls > done, "a poll")  # noqa: B023
    await until(pilot, lambda: len(tab.history.samples) == POLLS, "every sample")


def test_history_sparklines_and_the_paused_status(
    snap_compare: SnapCompare, emulator: EmulatorFactory
) -> None:
    """After eight polls 15 simulated seconds apart, paused: the sparklines and "⏸ paused"."""
    app, state = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        await polls_with_history(pilot, state)
        await pilot.press("p")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_theme_chooser(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """`T`: the themes, jobtui's own first, the current one highlighted."""
    app, _ = demo_app(emulator)

    async def run_before(pilot: Pilot[int]) -> None:
        tab = pilot.app.screen.query_one(ServiceTab)
        await until(pilot, lambda: tab.health.polls == 1, "the first poll")
        await pilot.press("T")
        await until(pilot, lambda: isinstance(pilot.app.screen, ThemeScreen), "the chooser")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_the_16_colour_theme(snap_compare: SnapCompare, emulator: EmulatorFactory) -> None:
    """jobtui-ansi: the dashboard drawn with the 16 ANSI colours (the SVG shows Textual's
    default palette for them)."""
    app, state = demo_app(emulator, theme=ANSI_THEME)

    async def run_before(pilot: Pilot[int]) -> None:
        await polls_with_history(pilot, state)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
