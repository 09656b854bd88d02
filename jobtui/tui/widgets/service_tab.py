"""One service's tab: its poll worker, job table, detail pane, status line and actions.

The poll worker only does I/O and posts `Polled`; the handler owns the state and pushes it into the
table, the detail pane and the status line. Actions capture the jobs as they are when the key is
pressed, so a confirmation acts on exactly the jobs it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from jobtui.core.errors import ServiceError
from jobtui.core.models import ACTION_INFO, Action, Job, diff_jobs
from jobtui.core.polling import Backoff, Clock, Health, ServiceMonitor, utc_now
from jobtui.core.service import Service
from jobtui.tui.flows import FLOWS, SELECT_FLOWS, TAB_KEYS
from jobtui.tui.messages import Polled
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from jobtui.tui.modals.text_view import TextViewScreen
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable

ACTION_KEYS: dict[Action, str] = {
    Action.NEW: "n",
    Action.SUBMIT: "s",
    Action.START: "s",
    Action.CANCEL: "c",
    Action.DELETE: "d",
    Action.RESTART: "R",
    Action.ANSWER: "a",
    Action.LOGS: "l",
    Action.DOWNLOAD: "o",
    Action.CONDITIONAL: "k",
    Action.UPLOAD: "u",
    Action.INGEST: "i",
    Action.MAPPING: "m",
    Action.FINALIZE: "F",
}
"""The key of each action; a service never offers two actions with the same key."""

log = logging.getLogger("jobtui.actions")

TLS_WARNING = "⚠ TLS unverified"
"""Shown on the tab of a service whose config says `verify = false`."""

DEBOUNCE_SECONDS = 0.4
AGE_REFRESH_SECONDS = 15.0


def relative_age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


class ServiceTab(Vertical):
    """Everything about one service. Keys are bound per service, for the actions it offers.

    | Key | Action |
    | :- | :- |
    | `r` | Poll now. |
    | (per service) | See `ACTION_KEYS`. |
    """

    BINDINGS = [Binding("r", "refresh", "Refresh")]

    DEFAULT_CSS = """
    ServiceTab { height: 1fr; }
    ServiceTab > JobTable { height: 3fr; }
    ServiceTab > JobDetail { height: 2fr; }
    ServiceTab > .status { height: 1; padding: 0 1; background: $panel; }
    ServiceTab > .status.-stale { background: $error 30%; }
    """

    health: reactive[Health] = reactive(Health, init=False)

    class HealthChanged(Message):
        """The service's health changed (the tab label shows it)."""

        def __init__(self, tab: ServiceTab, health: Health) -> None:
            self.tab = tab
            self.health = health
            super().__init__()

    class JobsChanged(Message):
        """New or changed jobs arrived (for counters and notifications)."""

        def __init__(
            self, tab: ServiceTab, changed: Sequence[Job], previous: dict[str, Job]
        ) -> None:
            self.tab = tab
            self.changed = changed
            self.previous = previous
            super().__init__()

    def __init__(
        self,
        service: Service,
        *,
        interval: float,
        read_only: bool = False,
        clock: Clock = utc_now,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.service = service
        self.interval = interval
        self.read_only = read_only
        self.clock = clock
        self.monitor = ServiceMonitor(service, clock)
        self.backoff = Backoff(interval)
        self._wake = asyncio.Event()
        self._generation = 0
        self._shown: dict[str, Job] = {}
        self._total: int | None = None
        self._note = ""
        self._last_destructive = 0.0
        self._next_poll_in: float | None = None
        self._offered: tuple[bool, ...] = ()
        for action in service.actions:
            key = ACTION_KEYS[action]
            self._bindings.bind(key, f"act('{action.value}')", service.action_label(action))
            self._bindings.bind(key, f"explain('{action.value}')", show=False)
        for extra in TAB_KEYS.get(service.kind, ()):
            self._bindings.bind(extra.key, f"tab_key('{extra.name}')", extra.description)

    def compose(self) -> ComposeResult:
        yield JobTable(self.service.columns, clock=self.clock, id="jobs")
        yield JobDetail(self.service, id="detail")
        yield Static("connecting…", classes="status", id="status")

    def on_mount(self) -> None:
        self.query_one(JobTable).empty_text = "Loading…"
        self.run_worker(
            self._poll_loop(),
            group=f"poll-{self.service.name}",
            exclusive=True,
            exit_on_error=False,
            description=f"poll {self.service.name}",
        )
        self.set_interval(1.0, self._tick_status)
        # Ages ("2m") move slowly: repainting them rarely keeps an idle terminal quiet.
        self.set_interval(AGE_REFRESH_SECONDS, self.query_one(JobTable).refresh_ages)

    # -- polling ----------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            outcome = await self.monitor.poll_once()
            self.post_message(Polled(outcome))
            delay = self.backoff.delay(outcome.health.failures, outcome.retry_after)
            # "every N s" counts from the start of one poll to the next; never overlapping
            delay = max(0.05, delay - (loop.time() - started), outcome.retry_after or 0)
            self._next_poll_in = delay
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        message.stop()
        outcome = message.outcome
        table = self.query_one(JobTable)
        previous = self._shown
        if outcome.generation == self._generation + 1 and self._generation > 0:
            delta = outcome.delta
            self._shown = outcome.snapshot
        elif outcome.generation != self._generation:
            self._shown, delta = diff_jobs(self._shown, outcome.snapshot.values())
        else:
            delta = None
        if self._generation == 0 and outcome.generation > 0:
            table.set_jobs(list(outcome.snapshot.values()))
            table.empty_text = "No jobs"
        elif delta:
            table.apply(delta)
        first = self._generation == 0
        self._generation = outcome.generation
        self._total = outcome.total
        if outcome.health.ok:
            self._tell_new_notes(outcome.note, first=first)
            self._note = outcome.note
        if outcome.health != self.health:
            self.health = outcome.health
        if delta and (delta.changed or delta.added):
            self.post_message(self.JobsChanged(self, delta.added + delta.changed, previous))
        self.query_one(JobDetail).show(table.cursor_job, others_changed=bool(delta))
        self._update_status()
        if delta:
            self._refresh_offered_actions()

    def _tell_new_notes(self, note: str, *, first: bool) -> None:
        """Notify each part of a poll note ("; "-separated) that the previous good poll did not
        have, such as an action the server silently ignored. The first poll's notes describe the
        setup (filters, scope): the status line shows them, no notification."""
        before = {part for part in self._note.split("; ") if part}
        fresh = [part for part in note.split("; ") if part and part not in before]
        if fresh and not first:
            self.notify("\n".join(fresh), severity="warning", timeout=8)

    def watch_health(self, health: Health) -> None:
        self.post_message(self.HealthChanged(self, health))

    def _tick_status(self) -> None:
        if not self.health.ok:
            self._update_status()

    def _update_status(self) -> None:
        status = self.query_one("#status", Static)
        health = self.health
        count = len(self._shown)
        jobs = (
            f"{count} of {self._total} jobs"
            if self._total and self._total > count
            else f"{count} jobs"
        )
        every = f"every {self.interval:g}s"
        if health.ok:
            when = health.last_success.strftime("%H:%M:%S") if health.last_success else "—"
            text = f"● live · {jobs} · updated {when} · {every}"
            if self._note:
                text += f" · {self._note}"
            status.remove_class("-stale")
        else:
            age = health.stale_for(self.clock())
            stale = f"stale for {relative_age(age)}" if age is not None else "no data yet"
            retry = f" · retrying in {self._next_poll_in:.0f}s" if self._next_poll_in else ""
            text = f"▲ {stale} · {health.error}{retry} · {jobs}"
            status.add_class("-stale")
        if not self.service.tls_verified:
            text = f"{TLS_WARNING} · {text}"
        status.update(text, layout=False)  # one line, whatever its text

    # -- selection --------------------------------------------------------------------------

    @on(JobTable.CursorMoved)
    def _cursor_moved(self, message: JobTable.CursorMoved) -> None:
        self._show_detail(message.job)
        self._refresh_offered_actions()

    def _refresh_offered_actions(self) -> None:
        """Refresh the footer's keys when the actions offered for the cursor's job changed in the
        shown tab (a footer refresh lays the screen out again: not on every key or poll)."""
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors_with_self:
            self._offered = ()  # a hidden tab: its keys are not in the footer
            return
        job = self.cursor_job
        offered = tuple(self.service.disabled_reason(a, job) is None for a in self.service.actions)
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    @on(JobTable.Selected)
    def _selected(self, message: JobTable.Selected) -> None:
        flow = SELECT_FLOWS.get(self.service.kind)
        if flow is not None:
            message.stop()
            flow(self, message.job)

    def _show_detail(self, job: Job | None) -> None:
        self.query_one(JobDetail).show(job)

    @property
    def cursor_job(self) -> Job | None:
        return self.query_one(JobTable).cursor_job

    def target_jobs(self) -> list[Job]:
        """The jobs an action applies to: the marked ones, else the one under the cursor."""
        table = self.query_one(JobTable)
        marked = list(table.marked_jobs)
        if marked:
            return marked
        job = table.cursor_job
        return [job] if job else []

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("act", "explain"):
            return True
        what = Action(str(parameters[0]))
        if self.read_only and ACTION_INFO[what].mutating:
            return False
        reason = self.service.disabled_reason(what, self.cursor_job)
        if action == "act":
            return True if reason is None else None
        return reason is not None

    def action_refresh(self) -> None:
        self._wake.set()

    def action_explain(self, name: str) -> None:
        action = Action(name)
        reason = self.service.disabled_reason(action, self.cursor_job)
        self.notify(
            f"{self.service.name}: cannot {self.service.action_label(action).lower()}: {reason}",
            severity="warning",
        )

    def action_act(self, name: str) -> None:
        action = Action(name)
        if self.read_only and ACTION_INFO[action].mutating:
            self.notify("read-only: changes are disabled", severity="warning")
            return
        job = self.cursor_job
        flow = FLOWS.get((self.service.kind, action))
        if flow is not None:
            flow(self, job)
            return
        if action is Action.LOGS and job is not None:
            self._open_log(job)
        elif action is Action.DOWNLOAD and job is not None:
            self.app.push_screen(SaveFileScreen(self.service, job), self._saved)
        elif ACTION_INFO[action].destructive:
            self._confirm_and_run(action)
        else:
            jobs = [j for j in self.target_jobs() if action in j.actions]
            if jobs:
                self.perform(action, jobs)

    def action_tab_key(self, name: str) -> None:
        for extra in TAB_KEYS.get(self.service.kind, ()):
            if extra.name == name:
                extra.run(self)

    def _open_log(self, job: Job) -> None:
        service = self.service

        async def load() -> str:
            return await service.read_log(job)

        title = f"{ACTION_INFO[Action.LOGS].label} of {job.id} · {service.name}"
        self.app.push_screen(TextViewScreen(title, load, follow=not job.state.terminal))

    def _saved(self, path: object) -> None:
        if path is not None:
            self.notify(f"{self.service.name}: saved {path}")

    def _confirm_and_run(self, action: Action) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_destructive < DEBOUNCE_SECONDS:
            return
        self._last_destructive = now
        jobs = [j for j in self.target_jobs() if action in j.actions]
        if not jobs:
            return
        label = self.service.action_label(action)
        if len(jobs) == 1:
            body = self.service.confirm_text(action, jobs[0])
        else:
            names = "\n".join(f"  {j.id}  ({j.raw_state})" for j in jobs)
            body = f"{label} these {len(jobs)} jobs on {self.service.name}?\n{names}"
        title = f"{label} · {self.service.name}"

        def done(yes: bool | None) -> None:
            self._last_destructive = asyncio.get_running_loop().time()
            if yes:
                self.perform(action, jobs)

        self.app.push_screen(ConfirmScreen(title, body, confirm_label=label), done)

    @work(group="actions", exit_on_error=False, description="run an action")
    async def perform(self, action: Action, jobs: list[Job]) -> None:
        """Run `action` on exactly these jobs, one after the other; report each result."""
        failures: list[str] = []
        done: list[str] = []
        for job in jobs:
            try:
                done.append(await self.service.run_action(action, job))
                log.info("%s %s %s: %s", self.service.name, action.value, job.id, done[-1])
            except ServiceError as error:
                failures.append(error.line)
                log.warning("%s %s %s failed: %s", self.service.name, action.value, job.id, error)
        if len(jobs) == 1:
            if failures:
                self.notify(failures[0], severity="error", timeout=8)
            else:
                line = done[0]
                prefix = f"{self.service.name}: "
                self.notify(line if line.startswith(prefix) else prefix + line)
        else:
            summary = f"{self.service.name}: {self.service.action_label(action).lower()}: "
            summary += f"{len(done)} done, {len(failures)} failed"
            detail = "\n".join(failures[:5])
            self.notify(
                f"{summary}\n{detail}" if detail else summary,
                severity="error" if failures else "information",
                timeout=8,
            )
        self.query_one(JobTable).clear_marks()
        self._wake.set()

    def poll_now(self) -> None:
        """Ask the poll worker to poll at once (after an action, or on `r`)."""
        self._wake.set()

    def last_update(self) -> datetime | None:
        return self.health.last_success
