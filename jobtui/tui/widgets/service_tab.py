"""One service's tab: its poll worker, job table, detail pane, status line and actions.

The poll worker only does I/O and posts `Polled`; the handler owns the state and pushes it into the
table, the detail pane, the status line and the history sparklines. A `PollSchedule` says when the
next poll is due: `+` and `-` change the interval and `p` pauses, at once, also mid-wait. The
status line says how old the data is; only the visible tab repaints it (once a second). Actions
capture the jobs as they are when the key is pressed, so a confirmation acts on exactly the jobs
it names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from jobtui.core.errors import ServiceError
from jobtui.core.models import ACTION_INFO, Action, Job, JobsDelta
from jobtui.core.polling import (
    Backoff,
    Clock,
    Health,
    PollOutcome,
    PollSchedule,
    ServiceMonitor,
    compared,
    step_interval,
    utc_now,
)
from jobtui.core.service import Service
from jobtui.services._wire import give_back_memory
from jobtui.tui.flows import FLOWS, SELECT_FLOWS, TAB_KEYS, register_kind
from jobtui.tui.journal import journal_of, journal_off, record_action
from jobtui.tui.messages import Polled
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.history import HistoryBar, StateHistory
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


def bind_action_key(node: DOMNode, action: Action, label: str) -> None:
    """Bind an action's key on `node`: `act` when it can run, else `explain` why not. Both
    carry the binding id `<name>` (the action's value), which the `[keys]` config table rebinds."""
    key = ACTION_KEYS[action]
    bindings = node._bindings.key_to_bindings.setdefault(key, [])
    binding_id = action.value
    bindings.append(Binding(key, f"act('{action.value}')", label, id=binding_id))
    bindings.append(Binding(key, f"explain('{action.value}')", show=False, id=binding_id))


log = logging.getLogger("jobtui.actions")

TLS_WARNING = "⚠ TLS unverified"
"""Shown on the tab of a service whose config says `verify = false`."""

DEBOUNCE_SECONDS = 0.4
AGE_REFRESH_SECONDS = 15.0
SEEN_AFTER_SECONDS = 0.25
"""How long a tab must stay shown for the job under its cursor to count as looked at."""


def relative_age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


POLLED_FLASH_SECONDS = 1.5
"""How long the status line says "polled just now" after a poll asked for with `r` (a sign
that it polled, where "updated just now" would not change)."""

GIVE_BACK_AFTER = 10_000
"""Jobs of a delta after which the memory the C allocator holds free goes back to the system
(`give_back_memory`): a first load of 50,000 jobs leaves tens of MB free but held."""

FRESH_SECONDS = 5.0
"""Data younger than this reads "just now": a tab polled every few seconds keeps a still status
line (an idle terminal gets no writes); older data counts up by the second."""


def data_age(seconds: float) -> str:
    """How old the shown data is, for the status line ("just now", "12s ago", "3m05s ago")."""
    return "just now" if seconds < FRESH_SECONDS else f"{relative_age(seconds)} ago"


def result_line(job: Job, line: str) -> str:
    """An action's result line as a notification shows it: the service first, and the job once
    (most results already name it)."""
    line = line.removeprefix(f"{job.service}: ")
    return f"{job.service}: {line}" if job.id in line else f"{job.service} {job.id}: {line}"


class ServiceTab(Vertical):
    """Everything about one service. Keys are bound per service, for the actions it offers.

    | Key | Action |
    | :- | :- |
    | `r` | Poll now (also while paused: one poll). |
    | `p` | Pause polling (rows stop moving); again to resume, polling at once. |
    | `+`, `-` | Poll less / more often (steps of `INTERVAL_STEPS`). |
    | (per service) | See `ACTION_KEYS`. |
    """

    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("plus,equals_sign", "interval(1)", "Slower", show=False, id="slower"),
        Binding("minus", "interval(-1)", "Faster", show=False, id="faster"),
    ]

    DEFAULT_CSS = """
    ServiceTab { height: 1fr; }
    ServiceTab > JobTable { height: 3fr; }
    ServiceTab > JobDetail { height: 2fr; }
    ServiceTab > .status-row { height: 1; background: $panel; }
    ServiceTab > .status-row > .status { width: 1fr; height: 1; padding: 0 1; }
    ServiceTab > .status-row > .status.-stale { background: $error 30%; }
    ServiceTab > .status-row > .status.-paused { background: $warning 25%; }
    """

    health: reactive[Health] = reactive(Health, init=False, repaint=False)

    class HealthChanged(Message):
        """The service went stale, recovered, or failed otherwise (the tab label shows it)."""

        def __init__(self, tab: ServiceTab, health: Health) -> None:
            self.tab = tab
            self.health = health
            super().__init__()

    class AskedPollDone(Message):
        """The poll asked for with `r` has landed (whatever it brought)."""

        def __init__(self, tab: ServiceTab) -> None:
            self.tab = tab
            super().__init__()

    class JobsUpdated(Message):
        """The table took a poll's changes (the first poll: every job, as added); a view of
        several services follows these instead of polling again."""

        def __init__(self, tab: ServiceTab, delta: JobsDelta) -> None:
            self.tab = tab
            self.delta = delta
            super().__init__()

    class JobsChanged(Message):
        """New or changed jobs arrived (for counters and notifications).

        `previous` holds the jobs as they were before this poll; `initial` is True for the first
        load (nothing "changed" then, it is only what was there); `removed` names jobs gone.
        """

        def __init__(
            self,
            tab: ServiceTab,
            changed: Sequence[Job],
            previous: dict[str, Job],
            *,
            initial: bool = False,
            removed: Sequence[str] = (),
        ) -> None:
            self.tab = tab
            self.changed = changed
            self.previous = previous
            self.initial = initial
            self.removed = removed
            super().__init__()

    class JobSeen(Message):
        """The user looked at a job: the cursor arrived on it in the visible tab."""

        def __init__(self, tab: ServiceTab, job: Job) -> None:
            self.tab = tab
            self.job = job
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
        register_kind(service.kind)
        self.service = service
        self.read_only = read_only
        self.clock = clock
        self.monitor = ServiceMonitor(service, clock)
        self.backoff = Backoff(interval)
        self.schedule = PollSchedule(self.backoff, time.monotonic)
        self.history = StateHistory()
        self._generation = 0
        self._select_next: str | None = None
        """A job to put the cursor on once a poll lists it (one just created)."""
        self._refresh_asked = False
        """`r` was pressed and its poll has not landed yet: the status line says "polling…"."""
        self._polled_flash_until = 0.0
        self._partial = False
        """The rows shown are the first part of a long list; the rest is being loaded."""
        self._scope = 0
        """Counts the changes of what the service lists (its filters): see `rescope`."""
        self._shown_scope = 0
        """The scope of the last poll shown."""
        self._shown: dict[str, Job] = {}
        self._total: int | None = None
        self._note = ""
        self.last_destructive = 0.0
        """When (by the event loop's clock) a destructive key was last taken or answered: the
        same key again within `DEBOUNCE_SECONDS` is a bounce."""
        self._status_text = ""
        self._history_text = ""
        self._cursor_id: str | None = None
        self.looking = False
        """Whether the tab, just shown, is about to count the job under its cursor as looked at."""
        self._offered: tuple[bool, ...] = ()
        for action in service.actions:
            bind_action_key(self, action, service.action_label(action))
        for extra in TAB_KEYS.get(service.kind, ()):
            self._bindings.bind(
                extra.key, f"tab_key('{extra.name}')", extra.description, show=extra.show
            )

    def compose(self) -> ComposeResult:
        yield JobTable(self.service.columns, clock=self.clock, id="jobs")
        yield JobDetail(self.service, id="detail")
        with Horizontal(classes="status-row"):
            yield Static("connecting…", classes="status", id="status", markup=False)
            yield HistoryBar(self.history, id="history")

    def on_mount(self) -> None:
        self.query_one(JobTable).empty_text = "Loading…"
        # The first poll starts with the tab. (Started after the first refresh instead, against
        # a Leia server paging for ever, a key pressed in the first seconds waited 4 to 5 s.)
        self._start_polling()
        # Ages tick once a second on the tab shown, and repaint only when their text changes.
        self.set_interval(1.0, self._tick_status)
        # Ages ("2m") move slowly: repainting them rarely keeps an idle terminal quiet.
        self.set_interval(AGE_REFRESH_SECONDS, self.query_one(JobTable).refresh_ages)

    def _start_polling(self) -> None:
        self.run_worker(
            self._poll_loop(),
            group=f"poll-{self.service.name}",
            exclusive=True,
            exit_on_error=False,
            description=f"poll {self.service.name}",
        )

    @property
    def interval(self) -> float:
        """Seconds between two good polls (`+` and `-` change it)."""
        return self.schedule.interval

    @property
    def paused(self) -> bool:
        return self.schedule.paused

    # -- polling ----------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        again = False
        while True:
            # The first part of a long list is followed at once by the whole of it.
            asked = False if again else await self.schedule.wait()
            started = self.schedule.time()
            scope = self._scope
            outcome = await self.monitor.poll_once()
            self.schedule.polled(outcome.health.failures, outcome.retry_after, started=started)
            if outcome.health.ok and outcome.delta:
                self._journal_poll(outcome)
            # A poll that was under way when the tab paused is not shown: rows stay still.
            if asked or not self.schedule.paused:
                self.post_message(Polled(outcome, scope=scope, asked=asked))
            again = outcome.partial and outcome.health.ok and not self.schedule.paused

    def _journal_poll(self, outcome: PollOutcome) -> None:
        """Hand the poll's delta to the journal's writer thread (it only enqueues). A list the
        service cut, or filtered on the server, is not complete: a job missing from it has not
        necessarily left the server."""
        link = journal_of(self)
        if link is None:
            return
        complete = (
            self.service.lists_everything
            and not outcome.partial
            and (outcome.total is None or outcome.total <= len(outcome.snapshot))
        )
        link.journal.record_poll(
            link.ref(self.service.name), outcome.delta, outcome.snapshot, complete=complete
        )

    @on(Polled)
    async def _polled(self, message: Polled) -> None:
        message.stop()
        outcome = message.outcome
        table = self.query_one(JobTable)
        previous = self._shown
        if outcome.generation == self._generation + 1 and self._generation > 0:
            delta = outcome.delta
            self._shown = outcome.snapshot
        elif outcome.generation != self._generation:
            # polls were skipped: compared with what is shown (in turns, for a long list)
            self._shown, delta = await compared(self._shown, list(outcome.snapshot.values()))
        else:
            delta = None
        if self._generation == 0 and outcome.generation > 0:
            table.set_jobs(list(outcome.snapshot.values()))
            table.empty_text = "No jobs"
            self.post_message(self.JobsUpdated(self, JobsDelta(tuple(self._shown.values()))))
        elif delta:
            # The rest of a long list whose first part was shown: a cursor left on the first
            # row stays there (EcoTaxa's first part is its oldest jobs: the newer ones come above).
            top = table.cursor_job if self._partial and table.cursor_row == 0 else None
            await table.apply_in_slices(delta)
            if top is not None and table.cursor_job is top and table.cursor_row != 0:
                table.action_first()  # (unless a key moved the cursor meanwhile)
            self.post_message(self.JobsUpdated(self, delta))
            if delta.size >= GIVE_BACK_AFTER:
                # taking tens of thousands of jobs freed much more than they hold
                await asyncio.to_thread(give_back_memory)
        self._select_pending()
        first = self._generation == 0
        self._generation = outcome.generation
        self._total = outcome.total
        # After a change of filters, the jobs that come into view were there before: not news,
        # as on a first load, until a poll started under the new filters is shown (its note,
        # the filters, is on the status line).
        # Likewise for the rest of a long list whose first part was shown first.
        rescoped = (
            message.scope != self._scope or message.scope != self._shown_scope or self._partial
        )
        if outcome.health.ok:
            self._partial = outcome.partial
        if outcome.health.ok:
            self._tell_new_notes(outcome.note, first=first or rescoped)
            self._note = outcome.note
            self._shown_scope = message.scope
        if outcome.health != self.health:
            self.health = outcome.health
        if message.asked and self._refresh_asked:
            self._refresh_asked = False
            self.post_message(self.AskedPollDone(self))
            if outcome.health.ok:
                self._polled_flash_until = time.monotonic() + POLLED_FLASH_SECONDS
                self.set_timer(POLLED_FLASH_SECONDS, self._update_status)
        if delta and (delta.changed or delta.added or delta.removed):
            news = delta.added + delta.changed
            if rescoped and delta.added and not first:
                self.post_message(self.JobsChanged(self, delta.added, previous, initial=True))
                news = delta.changed
            self.post_message(
                self.JobsChanged(self, news, previous, initial=first, removed=list(delta.removed))
            )
        if outcome.health.ok:
            if delta or first:
                self.history.add(self._shown.values())
            else:  # the same jobs: the same counts (not counted again over a long list)
                self.history.repeat(self._shown.values())
            self._repaint(self.query_one(HistoryBar))
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

    def watch_health(self, before: Health, health: Health) -> None:
        # Each poll makes a new Health (its count and time); the tab label changes only when
        # the service goes stale or its error changes, so that an idle screen stays still.
        if (before.ok, before.error) != (health.ok, health.error):
            self.post_message(self.HealthChanged(self, health))

    def _tick_status(self) -> None:
        self._update_status()

    def on_show(self) -> None:
        """The tab became visible: catch up on what was not painted while hidden."""
        self._update_status()
        self._repaint(self.query_one(HistoryBar), force=True)
        # Showing the tab shows the job under the cursor (as it is now), if the tab stays shown
        # a moment: while tabs switch, Textual may show the one being left once more.
        job = self.cursor_job
        if job is not None:
            self.looking = True
            self.set_timer(SEEN_AFTER_SECONDS, partial(self._seen_under_cursor, job))

    def _seen_under_cursor(self, job: Job) -> None:
        self.looking = False
        if self._visible() and self.cursor_job is not None and self.cursor_job.id == job.id:
            self.post_message(self.JobSeen(self, job))

    def _visible(self) -> bool:
        """Whether this tab is the one shown (its pane and every container above it displayed)."""
        return self.is_on_screen and all(node.display for node in self.ancestors_with_self)

    def on_resize(self) -> None:
        self._status_text = ""
        self._update_status()

    def _repaint(self, bar: HistoryBar, *, force: bool = False) -> None:
        """Repaint the sparklines if on screen and their text changed (a steady series looks the
        same after a new sample); lay out again only when their width changed."""
        if self.is_on_screen:
            text = bar.text().plain
            if force or text != self._history_text:
                bar.refresh(layout=len(text) != len(self._history_text))
                self._history_text = text

    def status_text(self) -> str:
        """The status line: health, job count, the data's age, the interval, pause and notes."""
        health = self.health
        count = len(self._shown)
        jobs = (
            f"{count} of {self._total} jobs"
            if self._total and self._total > count
            else f"{count} jobs"
        )
        now = self.clock()
        every = f"every {self.interval:g}s"
        parts: list[str] = []
        if self.paused:
            parts.append("⏸ paused")
        if health.ok:
            if not self.paused:
                parts.append("● live")
            parts.append(jobs)
            if self._partial:
                parts.append("loading the rest…")
            elif self._refresh_asked:
                parts.append("polling…")
            elif time.monotonic() < self._polled_flash_until:
                parts.append("polled just now")
            elif health.last_success is not None:
                age = max(0.0, (now - health.last_success).total_seconds())
                parts.append(f"updated {data_age(age)}")
            parts.append(every)
            if self._note:
                parts.append(self._note)
        else:
            stale = health.stale_for(now)
            parts.append(
                f"▲ stale for {relative_age(stale)}" if stale is not None else "▲ no data yet"
            )
            parts.append(health.error or "")
            due = self.schedule.due
            if self._refresh_asked:
                parts.append("polling…")
            elif due is not None:
                parts.append(f"retrying in {max(0.0, due - time.monotonic()):.0f}s")
            parts.append(jobs)
            parts.append(every)
        if self.paused:
            parts.append("p resumes")
        if off := journal_off(self):
            parts.append(off)
        if not self.service.tls_verified:
            parts.insert(0, TLS_WARNING)
        return " · ".join(part for part in parts if part)

    def refresh_status(self) -> None:
        """Repaint the status line now, if it is shown and says something new."""
        self._update_status()

    def _update_status(self) -> None:
        """Repaint the status line if it is on screen and its text changed (hidden tabs wait
        for `on_show`)."""
        if not self.is_on_screen:
            return
        text = self.status_text()
        status = self.query_one("#status", Static)
        status.set_class(not self.health.ok, "-stale")
        status.set_class(self.paused, "-paused")
        if text != self._status_text:
            self._status_text = text
            status.update(text, layout=False)
            # The sparklines take the room the status line leaves, and give it up when needed.
            bar = self.query_one(HistoryBar)
            fits = self.size.width - cell_len(text) - 4 >= bar.text().cell_len + 2
            if bar.display != fits:
                bar.display = fits

    # -- selection --------------------------------------------------------------------------

    @on(JobTable.CursorMoved)
    def _cursor_moved(self, message: JobTable.CursorMoved) -> None:
        self._show_detail(message.job)
        self._refresh_offered_actions()
        # The cursor arriving on a job in the visible tab is a look at it; a job changing
        # under the cursor was not looked at again.
        # The cursor put on the first rows when they arrive is not the user's doing: no look.
        job = message.job
        arrived = job is not None and self._cursor_id is not None and job.id != self._cursor_id
        self._cursor_id = job.id if job is not None else None
        if arrived and job is not None and self._visible():
            self.post_message(self.JobSeen(self, job))

    def _refresh_offered_actions(self) -> None:
        """Refresh the key bar when the actions offered for the cursor's job changed in the shown
        tab (working the keys out again checks every binding: not on every key or poll)."""
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
    def table(self) -> JobTable:
        return self.query_one(JobTable)

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
        return self.key_state(action, Action(str(parameters[0])), self.cursor_job)

    def key_state(self, binding: str, what: Action, job: Job | None) -> bool | None:
        """`check_action` of an action's key (`act`, or `explain` why not) for `job`."""
        if self.read_only and ACTION_INFO[what].mutating:
            return False
        reason = self.service.disabled_reason(what, job)
        if binding == "act":
            return True if reason is None else None
        return reason is not None

    def action_refresh(self) -> None:
        """Poll now; the status line says "polling…", then "polled just now" (a moment)."""
        self._refresh_asked = True
        self._update_status()
        self.schedule.poll_now()

    def action_pause(self) -> None:
        self.set_paused(not self.paused)

    def set_paused(self, paused: bool) -> None:
        """Pause polling (no requests; the rows stay as they are) or resume, polling at once."""
        if paused == self.paused:
            return
        if paused:
            self.schedule.pause()
        else:
            self.schedule.resume()
        self._update_status()

    def action_interval(self, step: int) -> None:
        before = self.interval
        self.schedule.interval = step_interval(before, step)
        if self.interval == before:
            which = "longest" if step > 0 else "shortest"
            self.notify(f"{self.service.name}: {before:g}s is the {which} interval", timeout=3)
        self._update_status()

    def action_explain(self, name: str) -> None:
        self.explain(Action(name), self.cursor_job)

    def explain(self, action: Action, job: Job | None) -> None:
        """Say why `action` cannot run on `job` now."""
        reason = self.service.disabled_reason(action, job)
        self.notify(
            f"{self.service.name}: cannot {self.service.action_label(action).lower()}: {reason}",
            severity="warning",
        )

    def action_act(self, name: str) -> None:
        action = Action(name)
        if self.read_only and ACTION_INFO[action].mutating:
            self.notify("read-only: changes are disabled", severity="warning")
            return
        self.act_on(action, self.cursor_job, self.target_jobs())

    def act_on(self, action: Action, job: Job | None, targets: list[Job]) -> None:
        """Run `action` as its key does: on `job` (flows, logs, save) or on `targets`."""
        flow = FLOWS.get((self.service.kind, action))
        if flow is not None:
            flow(self, job)
            return
        if action is Action.LOGS and job is not None:
            self._open_log(job)
        elif action is Action.DOWNLOAD and job is not None:
            from jobtui.tui.modals.save_file import SaveFileScreen

            self.app.push_screen(SaveFileScreen(self.service, job), self._saved)
        elif ACTION_INFO[action].destructive:
            self._confirm_and_run(action, targets)
        else:
            jobs = [j for j in targets if action in j.actions]
            if jobs:
                self.perform(action, jobs)

    def action_tab_key(self, name: str) -> None:
        for extra in TAB_KEYS.get(self.service.kind, ()):
            if extra.name == name:
                extra.run(self)

    def _open_log(self, job: Job) -> None:
        # The log view's text area is costly to import and not needed for the first frame.
        from jobtui.tui.modals.text_view import TextViewScreen

        service = self.service

        async def load() -> str:
            return await service.read_log(job)

        title = f"{ACTION_INFO[Action.LOGS].label} of {job.id} · {service.name}"
        self.app.push_screen(TextViewScreen(title, load, follow=not job.state.terminal))

    def _saved(self, path: object) -> None:
        if path is not None:
            self.notify(f"{self.service.name}: saved {path}")

    def _confirm_and_run(self, action: Action, targets: list[Job]) -> None:
        now = asyncio.get_running_loop().time()
        if now - self.last_destructive < DEBOUNCE_SECONDS:
            return
        self.last_destructive = now
        jobs = [j for j in targets if action in j.actions]
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
            self.last_destructive = asyncio.get_running_loop().time()
            if yes:
                self.perform(action, jobs)

        from jobtui.tui.modals.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(title, body, confirm_label=label), done)

    @work(group="actions", exit_on_error=False, description="run an action")
    async def perform(self, action: Action, jobs: list[Job]) -> None:
        """Run `action` on exactly these jobs, one after the other; report each result."""
        failures: list[str] = []
        done: list[str] = []
        label = self.service.action_label(action)
        for job in jobs:
            try:
                done.append(await self.service.run_action(action, job))
                log.info("%s %s %s: %s", self.service.name, action.value, job.id, done[-1])
                outcome = "ok"
            except ServiceError as error:
                failures.append(error.line)
                log.warning("%s %s %s failed: %s", self.service.name, action.value, job.id, error)
                outcome = error.line
            record_action(self, self.service.name, action, label, [job.id], outcome)
        if len(jobs) == 1:
            if failures:
                self.notify(failures[0], severity="error", timeout=8)
            else:
                self.notify(result_line(jobs[0], done[0]))
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
        self.schedule.poll_now()

    def poll_now(self) -> None:
        """Ask the poll worker to poll at once (after an action, or on `r`)."""
        self.schedule.poll_now()

    def select_when_listed(self, job_id: str) -> None:
        """Put the cursor on `job_id`, scrolled into view, as soon as the table lists it (a job
        just created: the next poll brings it)."""
        self._select_next = job_id
        self._select_pending()

    def _select_pending(self) -> None:
        job_id = self._select_next
        if job_id is not None and self.table.get_job(job_id) is not None:
            self._select_next = None
            self.table.move_cursor(job_id)

    def rescope(self) -> None:
        """What the service lists changed (its filters): the jobs the next polls bring into
        view were there before, so they notify nothing, as on the first load."""
        self._scope += 1

    def last_update(self) -> datetime | None:
        return self.health.last_success
