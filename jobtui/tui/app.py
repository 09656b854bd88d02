"""The jobtui App: wiring only (CSS, global keys, services, the dashboard screen)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from textual import events, on
from textual._compositor import ChopsUpdate
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.notifications import Notification, Notifications, SeverityLevel
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets._toast import ToastRack
from textual.worker import Worker, WorkerState

from jobtui.config import ConfigError, NotificationsConfig, save_theme
from jobtui.core.polling import Clock, utc_now
from jobtui.core.service import Service
from jobtui.tui.glyphs import install_ascii_frames, locale_is_utf8
from jobtui.tui.heap import HeapGuard, QuietCollector
from jobtui.tui.journal import JournalLink
from jobtui.tui.notify import MAX_TOASTS, NOTICES, Notice, Notifier, PollJobs, Severity, worst
from jobtui.tui.screens.dashboard import DashboardScreen
from jobtui.tui.themes import THEMES
from jobtui.tui.updates import SpanUpdate, install_steady_toasts
from jobtui.tui.widgets.service_tab import ServiceTab

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.command import Provider

    from jobtui.config import Config
    from jobtui.journal import Overdue, Summary

DEFAULT_THEME = "textual-dark"

log = logging.getLogger("jobtui")

OVERDUE_EVERY = 60.0
"""Seconds between two looks for overdue jobs in the journal."""

SHUTDOWN_GRACE = 5.0
"""Seconds a signalled shutdown may take before the process ends anyway."""


def jobtui_commands() -> type[Provider]:
    """jobtui's commands for the palette, imported when the palette first opens (Textual takes a
    callable for a provider that is loaded late)."""
    from jobtui.tui.commands import JobtuiCommands

    return JobtuiCommands


class JobtuiApp(App[int]):
    """The dashboard. Services are injected, so tests and the demo build the same app.

    The dialogs, the command palette's commands and the journal's queries are imported when first
    used: the first frame needs none of them."""

    CSS_PATH = "app.tcss"
    TITLE = "jobtui"
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True, id="palette"),
        Binding("T", "change_theme", "Theme", show=False, id="theme"),
        Binding("N", "notifications", "Notifications", show=False, id="notifications"),
        Binding("G", "statistics", "Statistics", show=False, id="statistics"),
        # The terminal's raw mode turns Ctrl+Z into a key: as in a shell, it stops the process.
        Binding("ctrl+z", "suspend_process", "Suspend to the shell", show=False, id="suspend"),
    ]
    COMMANDS = App.COMMANDS | {jobtui_commands}

    attention: reactive[int] = reactive(0, repaint=False)
    """How many jobs need attention (see `jobtui.tui.notify`); the header shows it (repainting
    its count alone: a reactive of the App that repaints repaints the whole screen)."""

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
        keys: Mapping[str, str] | None = None,
        notifications: NotificationsConfig | None = None,
        config_path: Path | None = None,
        ascii: bool = False,
        journal: JournalLink | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.journal = journal
        """The job journal this dashboard records to and reads (None: no journal)."""
        self.tz = tz
        """The time zone of the times shown from the journal (None: the machine's)."""
        self.since_last: Summary | None = None
        """What ended since the previous dashboard session ended, once the journal is open."""
        self._first_polls: set[str] = set()
        """The services whose first poll has landed (well or not)."""
        self._all_polled = asyncio.Event()
        self.overdue: dict[tuple[str, str], Overdue] = {}
        """The running jobs found overdue at the last look, by (service, job id)."""
        self.ascii = ascii
        """Draw in ASCII only (see `jobtui.tui.glyphs`): the terminal's locale is not UTF-8."""
        if ascii:
            install_ascii_frames()
        install_steady_toasts()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # No sliding tab underline or smooth scrolls: each would repaint for a third of a
            # second, over SSH, and hold keys meanwhile. TEXTUAL_ANIMATIONS=full brings them back.
            self.animation_level = "none"
        self.keys = dict(keys or {})
        """Binding id -> keys, from the config's `[keys]` table."""
        for own in THEMES:
            self.register_theme(own)
        self.config_path = config_path
        """The config file a chosen theme is saved in; None (`jobtui demo`): not saved."""
        self.notifier = Notifier(
            notifications or NotificationsConfig(),
            toast=self._toast,
            write=self.write_terminal,
            later=self.set_timer,
        )
        self.notices: deque[Notice] = deque(maxlen=NOTICES)
        """Every notification of the session, oldest first (`N` lists them)."""
        self._held: list[Notice] = []
        """Notifications that came while a dialog was open: shown once it closes."""
        self._more: Notification | None = None
        """The "and N more" toast, while it shows."""
        self._folded: list[Severity] = []
        """The severities of the notifications the "and N more" toast stands for."""
        self.services = list(services)
        self.refresh_interval = refresh
        self.intervals = intervals or {}
        self.read_only = read_only
        self.clock = clock
        self._theme_name = theme
        self._signals: list[int] = []
        self.leaving = False
        """Set once the app is exiting (see `on_event`)."""
        self.freeze_heap = False
        self._heap_guard: HeapGuard | None = None
        self._collector: QuietCollector | None = None
        """Move what exists once the first frame is shown out of the collector's reach (see
        `_freeze_heap`); the command line sets it, tests that build many apps leave it off."""
        if title:
            self.title = title
        if read_only:
            self.sub_title = "read-only"

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        """Write partial updates only over the spans that changed (see `SpanUpdate`)."""
        if type(renderable) is ChopsUpdate:
            renderable = SpanUpdate.of(renderable)
        super()._display(screen, renderable)

    def get_driver_class(self) -> type[Driver]:
        """`QuietLinuxDriver` where Textual would pick its Linux terminal driver (not for the web
        driver of `jobtui serve`, nor one named by TEXTUAL_DRIVER)."""
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver" and driver.__module__ == "textual.drivers.linux_driver":
            from jobtui.tui.driver import QuietLinuxDriver

            return QuietLinuxDriver
        return driver

    def on_mount(self) -> None:
        if self.keys:
            self.set_keymap(self.keys)
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
        if self.freeze_heap:
            self.call_after_refresh(self._freeze_heap)
        if self.journal is not None:
            # Opened once the dashboard is drawn: its thread would compete with the first frame.
            self.call_after_refresh(self._start_journal, self.journal)

    def _start_journal(self, link: JournalLink) -> None:
        self.run_worker(
            self._open_journal(link),
            group="journal",
            exit_on_error=False,
            description="open the journal",
        )

    async def _open_journal(self, link: JournalLink) -> None:
        """Open the journal (in its thread); say in one line why it is off (unless the config
        turned it off), then what happened since the last session ("since you were last here")."""
        line = await link.open()
        if line and link.journal.settings.enabled:
            self.notify(line, severity="warning", timeout=10)
        if link.off:
            for screen in self.screen_stack:
                if isinstance(screen, DashboardScreen):
                    screen.refresh_status()
            return
        # What ended while no dashboard ran shows in the first polls: once they are written.
        await self._all_polled.wait()
        await asyncio.to_thread(link.journal.flush)
        summary = await link.query(lambda reader: reader.summary(link.journal.last_seen))
        self._start_overdue_checks(link)
        if summary is None or summary.since is None:
            return
        self.since_last = summary
        self.notify(summary.line(self.clock(), self.tz), title="since you were last here")

    def _start_overdue_checks(self, link: JournalLink) -> None:
        self.set_interval(OVERDUE_EVERY, partial(self._check_overdue, link))
        self._check_overdue(link)

    def _check_overdue(self, link: JournalLink) -> None:
        if not link.off:
            self.run_worker(
                self._find_overdue(link),
                group="overdue",
                exclusive=True,
                exit_on_error=False,
                description="look for overdue jobs",
            )

    async def _find_overdue(self, link: JournalLink) -> None:
        """Running jobs past 1.5 times their type's 95th-percentile run time: marked slow in
        the tables; each one newly overdue notifies (the `overdue` event)."""
        now = self.clock()
        found = await link.query(lambda reader: reader.overdue(now))
        if found is None:
            return
        keys = {(o.service, o.id): o for o in found}
        fresh = [o for key, o in keys.items() if key not in self.overdue]
        self.overdue = keys
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.set_slow(set(keys))
        if fresh and self.notifier.overdue:
            for service in dict.fromkeys(o.service for o in fresh):
                self.notifier.announce_overdue(service, [o for o in fresh if o.service == service])

    def _freeze_heap(self) -> None:
        """Collect once, then freeze the survivors (modules, widgets, styles).

        Python's full collections scan every tracked object: with Textual's widget tree and
        styles that is a pause of 100 ms or more every few seconds of activity, a held key.
        Frozen objects are skipped by the collector (reference counting still frees them);
        `on_unmount` unfreezes them. From then on, a full collection made slow by a large list
        freezes its survivors too (`HeapGuard`). Full collections then wait for a pause in the
        keys (`QuietCollector`): started by the interpreter, most fell inside a key's frame.
        """
        gc.collect()
        gc.freeze()
        self._heap_guard = HeapGuard().install()
        self._collector = QuietCollector(asyncio.get_running_loop()).install()

    async def on_unmount(self) -> None:
        if self._heap_guard is not None:
            self._heap_guard.uninstall()
        if self._collector is not None:
            self._collector.uninstall()
        if self.freeze_heap:
            gc.unfreeze()
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)
        for service in self.services:
            await service.aclose()
        if self.journal is not None:
            await asyncio.to_thread(self.journal.close)

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

    def action_command_palette(self) -> None:
        """Open the command palette (one that keeps the keys typed at once after its key)."""
        from jobtui.tui.commands import Palette

        if self.use_command_palette and not isinstance(self.screen, Palette):
            self.push_screen(Palette(id="--command-palette"))

    async def action_quit(self) -> None:
        self.exit(0)

    def exit(
        self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        self.leaving = True
        super().exit(result, return_code, message)

    async def on_event(self, event: events.Event) -> None:
        # Keys typed right after `q` (a paste, a fast typist) would still act while the app
        # closes: a dialog opened then finds its screen half gone, and its traceback lands in the
        # shell. Once leaving, keys and clicks do nothing.
        if self.leaving and isinstance(event, events.Key | events.MouseEvent):
            return
        if self._collector is not None and isinstance(event, events.Key | events.MouseDown):
            self._collector.key()
        await super().on_event(event)

    def action_help(self) -> None:
        """The keys of the screen shown, as they are bound now."""
        from jobtui.tui.modals.help import HelpScreen, key_help

        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        active = screen.active_bindings
        display = {key: self.get_key_display(b.binding) for key, b in active.items()}
        self.push_screen(HelpScreen(key_help(active, display)))

    @on(ServiceTab.JobsChanged)
    def _jobs_changed(self, message: ServiceTab.JobsChanged) -> None:
        name = message.tab.service.name
        self.notifier.jobs_changed(
            PollJobs(
                name,
                message.changed,
                message.previous,
                initial=message.initial,
                removed=message.removed,
            )
        )
        self.attention = len(self.notifier.attention)

    @on(ServiceTab.JobsUpdated)
    @on(ServiceTab.HealthChanged)
    def _first_poll(self, message: ServiceTab.JobsUpdated | ServiceTab.HealthChanged) -> None:
        if not self._all_polled.is_set():
            self._first_polls.add(message.tab.service.name)
            if len(self._first_polls) >= len(self.services):
                self._all_polled.set()

    @on(ServiceTab.JobSeen)
    def _job_seen(self, message: ServiceTab.JobSeen) -> None:
        self.notifier.attention.seen(message.tab.service.name, message.job)
        self.attention = len(self.notifier.attention)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, always plain text: nearly every toast names a job or quotes a server, and
        neither may be read as markup (`[link=…]` or `[/x]` in a job id would break the toast,
        `[@click=…]` would plant an action). `markup` is ignored for that reason: widgets pass
        Textual's default (True) along.

        Toasts never cover a dialog: while one is open they wait, and show once it is closed.
        At most `MAX_TOASTS` show at once; the rest fold into one "and N more" toast. Each
        clears after its timeout, and `N` lists every notification of the session."""
        notice = Notice(self.clock(), title, message, severity, timeout)
        self.notices.append(notice)
        if self._dialog_open():
            self._held.append(notice)
            return
        self._show(notice)
        self._refresh_notifications()

    def _dialog_open(self) -> bool:
        try:
            return isinstance(self.screen, ModalScreen)
        except ScreenStackError:  # no screen yet
            return False

    def _show(self, notice: Notice) -> None:
        """Add `notice` to the toasts shown (or to the "and N more" toast): the caller refreshes
        the toast rack."""
        more = self._more
        if more is not None and (more.has_expired or more not in self._notifications):
            more = self._more = None
        if more is None:
            self._folded = []
        shown = [n for n in self._notifications if n is not more]
        if len(shown) < MAX_TOASTS:
            self._notifications.add(self._notification(notice))
            if more is not None:
                # "and N more" stays the last toast, for the time it has left.
                del self._notifications[more]
                self._more = self._folded_notification(more.time_left)
                self._notifications.add(self._more)
            return
        self._folded.append(notice.severity)
        if more is not None:
            del self._notifications[more]
        # As long as the longest of the toasts it stands for.
        timeout = self._notification(notice).timeout
        self._more = self._folded_notification(max(timeout, more.time_left if more else 0.0))
        self._notifications.add(self._more)

    def _folded_notification(self, timeout: float) -> Notification:
        """The "and N more" toast of the notifications in `_folded`."""
        where = self._key_display("notifications")
        text = f"and {len(self._folded)} more ({where} lists every notification)"
        return Notification(text, "", worst(self._folded), timeout, markup=False)

    def _notification(self, notice: Notice) -> Notification:
        timeout = self.NOTIFICATION_TIMEOUT if notice.timeout is None else notice.timeout
        return Notification(notice.message, notice.title, notice.severity, timeout, markup=False)

    def _key_display(self, binding_id: str) -> str:
        """The first key of the app's binding `binding_id` as the key bar shows it (rebound in
        the config's `[keys]`, if it is)."""
        binding = next(b for _key, b in self._bindings if b.id == binding_id)
        if keys := self.keys.get(binding_id):
            binding = replace(binding, key=keys.split(",")[0].strip())
        return self.get_key_display(binding)

    def _refresh_notifications(self) -> None:
        """Toasts on the screen shown, unless it is a dialog: then none (they wait for it to
        close). Back on the dashboard, the notifications held meanwhile are shown."""
        try:
            rack: ToastRack | None = self.screen.get_child_by_type(ToastRack)
        except (NoMatches, ScreenStackError):
            rack = None
        if rack is not None:
            remove_empty_holders(rack)
        if not self._dialog_open():
            held, self._held = self._held, []
            for notice in held:
                self._show(notice)
            super()._refresh_notifications()
            return
        if rack is not None:
            self.call_later(rack.show, Notifications())

    def action_notifications(self) -> None:
        """Every notification of the session, newest first."""
        from jobtui.tui.modals.notifications import NotificationsScreen

        if not isinstance(self.screen, NotificationsScreen):
            self.push_screen(NotificationsScreen(list(self.notices)))

    def action_statistics(self) -> None:
        """Per service and job type, the jobs that ended in 7 and 30 days (from the journal)."""
        from jobtui.tui.modals.statistics import StatisticsScreen

        if isinstance(self.screen, StatisticsScreen):
            return
        link = self.journal
        if link is None or link.reader is None:
            why = "no journal" if link is None else (link.off or "the journal is not open yet")
            self.notify(f"statistics: {why}", severity="warning")
            return
        self.push_screen(StatisticsScreen(link, self.clock()))

    def show_gone_job(self, service: str, job_id: str) -> None:
        """A job that left its server's list, as the journal last knew it."""
        link = self.journal
        if link is not None:
            self.run_worker(
                self._show_gone_job(link, service, job_id),
                group="journal-read",
                exclusive=True,
                exit_on_error=False,
                description="read a gone job",
            )

    async def _show_gone_job(self, link: JournalLink, service: str, job_id: str) -> None:
        from jobtui.tui.modals.gone_job import GoneJobScreen

        now = self.clock()
        found = await link.query(lambda reader: reader.jobs(job_id, service, gone=True))
        timeline = await link.query(lambda reader: reader.timeline(service, job_id, now))
        if not found:
            self.notify(f"{service}: no gone job {job_id} in the journal", severity="warning")
            return
        self.push_screen(GoneJobScreen(found[-1], timeline))

    def _toast(self, message: str, title: str, severity: Severity) -> None:
        self.notify(message, title=title, severity=severity, timeout=8)

    def action_change_theme(self) -> None:
        """Choose a theme (`T`, and the command palette's "Theme"), saved in the config file."""
        where = (
            f"saved in {self.config_path}"
            if self.config_path is not None
            else "not saved: there is no config file"
        )
        from jobtui.tui.modals.theme import ThemeScreen
        from jobtui.tui.themes import theme_choices

        choices = theme_choices(self.available_themes, self.theme)
        self.push_screen(ThemeScreen(choices, self.theme, where), self._theme_chosen)

    def _theme_chosen(self, name: str | None) -> None:
        if name is None:
            return
        if self.config_path is None:
            self.notify(f"theme {name} for this session (no config file to save it in)")
            return
        self.run_worker(
            self._save_theme(self.config_path, name),
            group="config",
            exit_on_error=False,
            description="save the theme",
        )

    async def _save_theme(self, path: Path, name: str) -> None:
        try:
            saved = await asyncio.to_thread(save_theme, path, name)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            self.notify(f"{path}: cannot save the theme: {reason}", severity="error", timeout=10)
        except (ConfigError, UnicodeDecodeError) as error:
            self.notify(f"cannot save the theme: {error}", severity="error", timeout=10)
        else:
            self.notify(f"theme {name} saved in {saved}")

    def write_terminal(self, text: str) -> None:
        """Write raw text (a bell, an escape sequence) to the terminal, between frames."""
        if self._driver is not None and text:
            self._driver.write(text)


def remove_empty_holders(rack: ToastRack) -> None:
    """Remove the holders whose toast is gone. A toast that clears after its timeout removes its
    holder, but one the rack takes away (a notification replaced, as the "and N more" toast is
    at each fold, or all of them while a dialog is open) leaves its holder mounted: one more
    widget in the rack, and in every layout of the screen, for the rest of the session."""
    empty = [holder for holder in rack.children if not holder.children]
    if empty:
        rack.remove_children(empty)


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


def build_app(
    config: Config,
    *,
    read_only: bool = False,
    title: str | None = None,
    config_path: Path | None = None,
    ascii: bool = False,
    journal_path: Path | None = None,
) -> JobtuiApp:
    """The app for a loaded config (read from `config_path`, if from a file): one service per
    `[[services]]` entry; in ASCII if `ascii` or the config's `[ui] ascii` says so; recording to
    the journal of the config's `[journal]` table (`journal_path` overrides its path)."""
    from jobtui.journal import Journal, ServiceRef, journal_settings
    from jobtui.services import build_service

    services = [build_service(entry) for entry in config.services]
    refs = {e.name: ServiceRef(e.name, str(e.url)) for e in config.services}
    settings = journal_settings(config.journal, path=journal_path)
    journal = JournalLink(Journal(settings, origin="dashboard"), refs)
    intervals = {e.name: e.refresh for e in config.services if e.refresh is not None}
    return JobtuiApp(
        services,
        refresh=config.ui.refresh,
        intervals=intervals,
        read_only=read_only or config.ui.read_only,
        theme=config.ui.theme,
        title=title,
        keys=config.keys,
        notifications=config.notifications,
        config_path=config_path,
        ascii=ascii or config.ui.ascii,
        journal=journal,
    )


class AppOptions(TypedDict, total=False):
    """The options of `build_app` besides the config."""

    read_only: bool
    title: str | None
    config_path: Path | None
    ascii: bool
    journal_path: Path | None


def run_app(config: Config, **options: Unpack[AppOptions]) -> int:
    """Run the dashboard (`build_app`'s options); in ASCII when asked, or when the terminal's
    locale is not UTF-8 (a browser, for `jobtui serve`, always takes UTF-8)."""
    web = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")
    if not options.get("ascii") and not web and not locale_is_utf8():
        options["ascii"] = True
    app = build_app(config, **options)
    app.freeze_heap = True
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
