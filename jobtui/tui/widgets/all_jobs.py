"""The All jobs tab: every service's jobs in one table, each action routed to its job's service.

It does not poll: each service tab posts `ServiceTab.JobsUpdated` with what its poll changed, and
the dashboard hands that on to `take()`. Rows are keyed by (service, id), since ids repeat across
services. A key's action is checked, confirmed and run by the tab of the job's service, exactly as
in that tab; marked jobs of several services take one confirmation and one summary. Enter
(`JobTable.Selected`) is left to the dashboard, which opens the job in its service's tab.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from itertools import groupby

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from jobtui.core.errors import ServiceError
from jobtui.core.models import ACTION_INFO, Action, Job, JobsDelta
from jobtui.core.polling import Clock, Health, utc_now
from jobtui.core.service import Service
from jobtui.tui.flows import FLOWS
from jobtui.tui.journal import journal_off, record_action
from jobtui.tui.widgets.detail import JobDetail
from jobtui.tui.widgets.job_table import JobTable, row_key_of
from jobtui.tui.widgets.service_tab import (
    AGE_REFRESH_SECONDS,
    POLLED_FLASH_SECONDS,
    ServiceTab,
    bind_action_key,
    result_line,
)

SUMMARY_LINES = 12
"""Per-job result lines a bulk action's summary shows (the rest are counted)."""

ONE_JOB_ACTIONS = frozenset({Action.LOGS, Action.DOWNLOAD})
"""Actions on the job under the cursor only, marks or not."""


class AllJobsTab(Vertical):
    """Every service's jobs, with a Service column; actions go to the job's own service.

    | Key | Action |
    | :- | :- |
    | `r` | Poll every service now. |
    | (per action) | The key of the action, for the job under the cursor (see `ACTION_KEYS`). |
    """

    BINDINGS = [Binding("r", "refresh", "Refresh", id="refresh")]

    DEFAULT_CSS = """
    AllJobsTab { height: 1fr; }
    AllJobsTab > JobTable { height: 3fr; }
    AllJobsTab > JobDetail { height: 2fr; }
    AllJobsTab > .status { height: 1; padding: 0 1; background: $panel; }
    AllJobsTab > .status.-stale { background: $error 30%; }
    """

    def __init__(
        self, services: Sequence[Service], *, clock: Clock = utc_now, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.services = list(services)
        self.clock = clock
        self.tabs: Mapping[str, ServiceTab] = {}
        """The tab of each service, by name (set by the dashboard once they are composed)."""
        self._index = {service.name: index for index, service in enumerate(self.services)}
        self._health: dict[str, Health] = {}
        self._cursor_key: tuple[str, str] | None = None
        self._asked: set[str] = set()
        """The services whose poll asked for with `r` has not landed yet."""
        self._polled_flash_until = 0.0
        self._status_text = ""
        """What the status line says (it is repainted only when that changes)."""
        self._keys_for: Job | None = None
        """The job under the cursor as the key bar was last worked out for (jobs are never
        changed in place: a job that moved on is another object)."""
        labels: dict[Action, str] = {}
        for service in self.services:
            for action in service.actions:
                labels.setdefault(action, service.action_label(action))
        for action, label in labels.items():
            bind_action_key(self, action, label)

    def compose(self) -> ComposeResult:
        yield JobTable(clock=self.clock, show_service=True, empty_text="Loading…", id="jobs")
        yield JobDetail(*self.services, id="detail")
        yield Static("connecting…", classes="status", id="status", markup=False)

    def on_mount(self) -> None:
        self.set_interval(AGE_REFRESH_SECONDS, self.query_one(JobTable).refresh_ages)

    # -- public API ---------------------------------------------------------------------------

    @property
    def table(self) -> JobTable:
        return self.query_one(JobTable)

    @property
    def cursor_job(self) -> Job | None:
        return self.table.cursor_job

    async def take(self, service: Service, delta: JobsDelta) -> None:
        """Apply one service's poll changes (removed ids are that service's), a slice at a time
        when they are many (`JobTable.apply_in_slices`)."""
        table = self.table
        removed = tuple(row_key_of(service.name, job_id) for job_id in delta.removed)
        await table.apply_in_slices(JobsDelta(delta.added, delta.changed, removed))
        table.empty_text = "No jobs"
        job = table.cursor_job
        if job is not None and job.service == service.name:
            self.detail.show(job, others_changed=True)
        self._update_status()
        # The keys offered follow the job under the cursor and the marked ones: working them
        # out again checks every binding, so not after a poll that changed neither.
        marks = any(marked.service == service.name for marked in table.marked_jobs)
        if job is not self._keys_for or marks:
            self._refresh_keys(job)

    def health_changed(self, service: Service, health: Health) -> None:
        self._health[service.name] = health
        self._update_status()

    # -- internals ----------------------------------------------------------------------------

    @property
    def detail(self) -> JobDetail:
        """The detail pane, which shows a job of any of the services."""
        return self.query_one(JobDetail)

    def _flash_over(self) -> None:
        # a timer may fire a little before the monotonic clock reaches the end it was set for
        self._polled_flash_until = 0.0
        self._update_status()

    def refresh_status(self) -> None:
        """Say again on the status line what it says (the journal turned off, say)."""
        self._update_status()

    def _update_status(self) -> None:
        status = self.query_one("#status", Static)
        parts = [f"{self.table.total_count} jobs", f"{len(self.services)} services"]
        stale = [name for name, health in self._health.items() if not health.ok]
        if stale:
            parts.append("▲ stale: " + ", ".join(stale))
        else:
            parts[0] = "● live · " + parts[0]
        if self._asked:
            parts.append("polling…")
        elif time.monotonic() < self._polled_flash_until:
            parts.append("polled just now")
        if off := journal_off(self):
            parts.append(off)
        status.set_class(bool(stale), "-stale")
        text = " · ".join(parts)
        if text != self._status_text:  # each poll of each service comes here
            self._status_text = text
            status.update(text, layout=False)  # one line whatever it says

    def _tab_of(self, job: Job | None) -> ServiceTab | None:
        return None if job is None else self.tabs.get(job.service)

    @on(JobTable.CursorMoved)
    def _cursor_moved(self, message: JobTable.CursorMoved) -> None:
        job = message.job
        self.detail.show(job)
        if job is not None:
            # The cursor arriving on a job here is a look at it, as in the job's own tab (not
            # the cursor put on the first rows when they arrive).
            tab = self._tab_of(job)
            arrived = self._cursor_key is not None and job.key != self._cursor_key
            if arrived and tab is not None and self._visible():
                self.post_message(ServiceTab.JobSeen(tab, job))
        self._cursor_key = None if job is None else job.key
        self._refresh_keys(job)

    def _refresh_keys(self, job: Job | None) -> None:
        """Work out the keys the key bar offers again, for `job` under the cursor."""
        self._keys_for = job
        self.refresh_bindings()

    def _visible(self) -> bool:
        return self.is_on_screen and all(node.display for node in self.ancestors_with_self)

    @on(JobTable.MarksChanged)
    def _marks_changed(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("act", "explain"):
            return True
        what = Action(str(parameters[0]))
        if self._is_bulk(what):
            if any(tab.read_only for tab in self.tabs.values()) and ACTION_INFO[what].mutating:
                return False
            can = bool(self._bulk_targets(what))
            return (True if can else None) if action == "act" else not can
        job = self.cursor_job
        tab = self._tab_of(job)
        if tab is None or what not in tab.service.actions:
            return False
        return tab.key_state(action, what, job)

    def _is_bulk(self, action: Action) -> bool:
        """True when `action` applies to the marked jobs: there are some, and the service of
        one of them runs it without a dialog of its own (dialogs take the job under the cursor)."""
        if not ACTION_INFO[action].needs_job or action in ONE_JOB_ACTIONS:
            return False
        for name in {job.service for job in self.table.marked_jobs}:
            tab = self.tabs.get(name)
            if tab is not None and self._runs_in_bulk(tab, action):
                return True
        return False

    @staticmethod
    def _runs_in_bulk(tab: ServiceTab, action: Action) -> bool:
        return action in tab.service.actions and (tab.service.kind, action) not in FLOWS

    def _bulk_targets(self, action: Action) -> list[Job]:
        """The marked jobs this action applies to, each checked against its own service."""
        targets = []
        for job in self.table.marked_jobs:
            tab = self.tabs.get(job.service)
            if tab is None or not self._runs_in_bulk(tab, action) or not job.allows(action):
                continue
            if tab.service.disabled_reason(action, job) is None:
                targets.append(job)
        return targets

    def _confirm_bulk(self, action: Action, jobs: list[Job]) -> None:
        label = ACTION_INFO[action].label
        ordered = sorted(jobs, key=lambda j: self._index[j.service])
        lines = [f"{label} this job?" if len(jobs) == 1 else f"{label} these {len(jobs)} jobs?"]
        for name, group in groupby(ordered, key=lambda j: j.service):
            lines.append(f"{name}:")
            lines += [f"  {j.id}  ({j.raw_state})" for j in group]
        skipped = len(self.table.marked_jobs) - len(jobs)
        if skipped == 1:
            lines.append(f"(1 marked job cannot {label.lower()} now and is left out)")
        elif skipped:
            lines.append(f"({skipped} marked jobs cannot {label.lower()} now and are left out)")

        def done(yes: bool | None) -> None:
            if yes:
                self.perform(action, ordered)

        from jobtui.tui.modals.confirm import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(f"{label} · all jobs", "\n".join(lines), confirm_label=label), done
        )

    @work(group="actions", exit_on_error=False, description="run an action on marked jobs")
    async def perform(self, action: Action, jobs: list[Job]) -> None:
        """Run `action` on each job through its own service; one line per job in the summary."""
        results: list[str] = []
        failures = 0
        for job in jobs:
            tab = self.tabs[job.service]
            label = tab.service.action_label(action)
            try:
                line = await tab.service.run_action(action, job)
                results.append(f"✓ {result_line(job, line)}")
                record_action(self, job.service, action, label, [job.id])
            except ServiceError as error:
                failures += 1
                results.append(f"✗ {error.line}")
                record_action(self, job.service, action, label, [job.id], error.line)
        for name in dict.fromkeys(job.service for job in jobs):
            self.tabs[name].poll_now()
        label = ACTION_INFO[action].label.lower()
        summary = f"{label}: {len(jobs) - failures} done, {failures} failed"
        shown = results[:SUMMARY_LINES]
        if len(results) > SUMMARY_LINES:
            shown.append(f"… and {len(results) - SUMMARY_LINES} more")
        self.notify(
            "\n".join([summary, *shown]),
            severity="error" if failures else "information",
            timeout=10,
        )
        self.table.clear_marks()

    # -- actions ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """Every tab polls now; the status line says "polling…" until every such poll landed,
        then "polled just now" for a moment."""
        self._asked = set(self.tabs)
        for tab in self.tabs.values():
            tab.action_refresh()
        self._update_status()

    def asked_poll_done(self, service: Service) -> None:
        """The poll `r` asked of `service` landed."""
        if service.name not in self._asked:
            return
        self._asked.discard(service.name)
        if not self._asked:
            self._polled_flash_until = time.monotonic() + POLLED_FLASH_SECONDS
            self.set_timer(POLLED_FLASH_SECONDS, self._flash_over)
        self._update_status()

    def action_explain(self, name: str) -> None:
        action = Action(name)
        if self._is_bulk(action):
            label = ACTION_INFO[action].label.lower()
            self.notify(f"no marked job can {label} now", severity="warning")
            return
        job = self.cursor_job
        tab = self._tab_of(job)
        if tab is not None:
            tab.explain(action, job)

    def action_act(self, name: str) -> None:
        action = Action(name)
        job = self.cursor_job
        tab = self._tab_of(job)
        if tab is None or job is None:
            return
        if tab.read_only and ACTION_INFO[action].mutating:
            self.notify("read-only: changes are disabled", severity="warning")
            return
        if not self._is_bulk(action):
            tab.act_on(action, job, [job])
            return
        targets = self._bulk_targets(action)
        if targets:
            self._confirm_bulk(action, targets)
        else:
            self.action_explain(name)
