"""The jobtui App: wiring only (CSS, global keys, services, the dashboard screen)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from jobtui.core.polling import Clock, utc_now
from jobtui.core.service import Service
from jobtui.tui.screens.dashboard import DashboardScreen

if TYPE_CHECKING:
    from jobtui.config import Config

DEFAULT_THEME = "textual-dark"

log = logging.getLogger("jobtui")

SHUTDOWN_GRACE = 5.0
"""Seconds a signalled shutdown may take before the process ends anyway."""


class JobtuiApp(App[int]):
    """The dashboard. Services are injected, so tests and the demo build the same app."""

    CSS_PATH = "app.tcss"
    TITLE = "jobtui"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        services: Sequence[Service],
        *,
        refresh: float = 2.0,
        intervals: dict[str, float] | None = None,
        read_only: bool = False,
        theme: str = DEFAULT_THEME,
        title: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__()
        self.services = list(services)
        self.refresh_interval = refresh
        self.intervals = intervals or {}
        self.read_only = read_only
        self.clock = clock
        self._theme_name = theme
        self._signals: list[int] = []
        if title:
            self.title = title
        if read_only:
            self.sub_title = "read-only"

    def on_mount(self) -> None:
        self._handle_signals()
        if self._theme_name in self.available_themes:
            self.theme = self._theme_name
        else:
            self.notify(f"config: unknown theme {self._theme_name!r}", severity="warning")
        self.push_screen(
            DashboardScreen(
                self.services,
                interval=self.refresh_interval,
                intervals=self.intervals,
                read_only=self.read_only,
                clock=self.clock,
            )
        )

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)
        for service in self.services:
            await service.aclose()

    def _handle_signals(self) -> None:
        """SIGTERM and SIGHUP (a lost SSH connection) end the app the normal way, so the
        terminal is restored (alternate screen left, cursor shown, mouse and keyboard modes
        off); the exit code is 128 + the signal's number, as a shell reports it."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._signalled, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no such signal here
            self._signals.append(signum)

    def _signalled(self, signum: int) -> None:
        log.warning("ending on %s", signal.Signals(signum).name)
        if not terminal_alive():
            # The terminal hung up (a lost connection): nothing to restore, and writing to it
            # would block the shutdown. End at once.
            logging.shutdown()
            os._exit(128 + signum)
        # A safety net: if the shutdown cannot finish, the process still ends.
        watchdog = threading.Timer(SHUTDOWN_GRACE, os._exit, (128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(128 + signum)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a message instead of ending the app."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            what = event.worker.description or event.worker.name or "background task"
            log.error("%s failed", what, exc_info=error)
            self.notify(f"{what}: {type(error).__name__}: {error}", severity="error", timeout=10)

    async def action_quit(self) -> None:
        self.exit(0)


def terminal_alive() -> bool:
    """Whether the terminal jobtui draws on is still there (not hung up)."""
    try:
        import termios
    except ImportError:  # not a POSIX system: no hang-ups to detect
        return True
    try:
        termios.tcgetattr(sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (termios.error, OSError, ValueError):
        return False
    return True


def build_app(config: Config, *, read_only: bool = False, title: str | None = None) -> JobtuiApp:
    """The app for a loaded config: one service per `[[services]]` entry."""
    from jobtui.services import build_service

    services = [build_service(entry) for entry in config.services]
    intervals = {e.name: e.refresh for e in config.services if e.refresh is not None}
    return JobtuiApp(
        services,
        refresh=config.ui.refresh,
        intervals=intervals,
        read_only=read_only or config.ui.read_only,
        theme=config.ui.theme,
        title=title,
    )


def run_app(config: Config, *, read_only: bool = False, title: str | None = None) -> int:
    app = build_app(config, read_only=read_only, title=title)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
