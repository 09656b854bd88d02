"""Notifications and the "needs attention" count.

When a poll shows a job that reached a notifying state since the previous poll (succeeded, failed,
needs_input: the `[notifications] events`), jobtui shows a toast naming each such job, and, as
configured, rings the terminal bell and sends a desktop notification as an OSC 9 or OSC 777
escape sequence. The first load of a service notifies nothing: it is only what was there.

The dashboard gathers what the polls of every service bring within `GATHER_SECONDS` of the first
into one toast (one bell, one desktop notification): each toast shown or gone lays the whole
screen out again, and four services polled every 2 s made one toast a second or two while jobs
moved.

A job **needs attention** while it asks a question (needs_input, also on the first load) or after
it failed between two polls, until the user looks at it: puts the cursor on it in its visible tab
(moving onto it, or showing its tab with the cursor on it). It also stops needing attention when
it leaves that state or is gone. The header shows how many jobs need attention, over all services.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from jobtui.config import NotificationsConfig
from jobtui.core.format import span
from jobtui.core.models import Job, JobState

if TYPE_CHECKING:
    from jobtui.journal import Overdue

Write = Callable[[str], None]
"""Writes raw text to the terminal."""

Severity = Literal["information", "warning", "error"]

Toast = Callable[[str, str, Severity], None]
"""Shows a toast: (message, title, severity)."""

Later = Callable[[float, Callable[[], None]], object]
"""Calls a function once, after a delay in seconds (the app's timer)."""

ATTENTION_STATES = frozenset({JobState.NEEDS_INPUT, JobState.FAILED})
TOAST_LINES = 5
"""A toast names at most this many jobs, then says how many more."""

MAX_TOASTS = 2
"""Toasts shown at once; more fold into one "and N more" toast (the history lists them all)."""

GATHER_SECONDS = 1.5
"""How long the dashboard gathers the jobs that reached a notifying state, from the first, before
it shows them in one toast (under a poll interval: four services polled every 2 s land apart)."""

NOTICES = 500
"""Notifications the session's history keeps (the oldest drop out)."""

_SEVERITY: dict[JobState, Severity] = {JobState.FAILED: "error", JobState.NEEDS_INPUT: "warning"}


def arrivals(
    changed: Sequence[Job], previous: Mapping[str, Job], states: frozenset[JobState]
) -> list[Job]:
    """The jobs of `changed` that are in one of `states` and were not in it before this poll
    (new jobs included)."""
    found: list[Job] = []
    for job in changed:
        before = previous.get(job.id)
        if job.state in states and (before is None or before.state is not job.state):
            found.append(job)
    return found


def _printable(text: str) -> str:
    """`text` without control characters, which would end or break an escape sequence."""
    return "".join(ch for ch in text if ch.isprintable())


def osc_sequence(mode: str, title: str, body: str, *, tmux: bool = False) -> str:
    """The escape sequence of a desktop notification: OSC 9 (body only) or OSC 777 (title and
    body); inside tmux wrapped for its passthrough (which needs `allow-passthrough on`)."""
    title, body = _printable(title), _printable(body)
    if mode == "9":
        sequence = f"\x1b]9;{title}: {body}\x07"
    elif mode == "777":
        sequence = f"\x1b]777;notify;{title.replace(';', ',')};{body}\x07"
    else:
        return ""
    if tmux:
        return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification of the session, as the history lists it."""

    at: datetime
    title: str
    message: str
    severity: Severity
    timeout: float | None = None


def worst(severities: Sequence[Severity]) -> Severity:
    """The most serious of `severities` (error, then warning, then information)."""
    if "error" in severities:
        return "error"
    if "warning" in severities:
        return "warning"
    return "information"


@dataclass(frozen=True)
class PollJobs:
    """What one poll of one service brought: the jobs new or changed since `previous` (the jobs
    as they were before it), and the ids of the jobs gone; `initial` for the first load."""

    service: str
    changed: Sequence[Job]
    previous: Mapping[str, Job]
    initial: bool
    removed: Sequence[str] = ()


@dataclass
class Gathered:
    """The jobs to announce, per service in the order they came, with the worst severity."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    severities: list[Severity] = field(default_factory=list)

    def add(self, service: str, lines: Sequence[str], severity: Severity) -> None:
        self.lines.setdefault(service, []).extend(lines)
        self.severities.append(severity)

    def toast(self) -> tuple[str, list[str]]:
        """(title, lines) of the one toast: a service's name when there is one, else the count
        of services and each line led by its service's name; at most `TOAST_LINES` lines, then
        how many more."""
        if len(self.lines) == 1:
            ((title, lines),) = self.lines.items()
        else:
            title = f"{len(self.lines)} services"
            lines = [f"{service}: {line}" for service, own in self.lines.items() for line in own]
        shown = lines[:TOAST_LINES]
        if len(lines) > TOAST_LINES:
            shown.append(f"and {len(lines) - TOAST_LINES} more")
        return title, shown


@dataclass
class Attention:
    """Every job that needs attention: (service, job id) -> the state it needs attention in."""

    needs: dict[tuple[str, str], JobState]

    def __len__(self) -> int:
        return len(self.needs)

    @property
    def keys(self) -> set[tuple[str, str]]:
        return set(self.needs)

    def update(self, poll: PollJobs) -> None:
        """Take in one poll's changes: one look at each job's state (the rest of a list of
        100,000 jobs comes as one poll, in one step of the event loop)."""
        service, initial, previous, needs = poll.service, poll.initial, poll.previous, self.needs
        asking, failed = JobState.NEEDS_INPUT, JobState.FAILED
        changed: Sequence[Job] = poll.changed
        if not any(key[0] == service for key in needs):  # nothing of this service to take back
            changed = [job for job in changed if job.state is asking or job.state is failed]
        for job in changed:
            state = job.state
            # A question always needs an answer; a failure only when it is news.
            if state is asking or (state is failed and not initial):
                before = previous.get(job.id)
                if before is None or before.state is not state:
                    needs[(service, job.id)] = state
            elif needs and state not in ATTENTION_STATES:
                needs.pop((service, job.id), None)
        for job_id in poll.removed:
            needs.pop((service, job_id), None)

    def seen(self, service: str, job: Job) -> None:
        """The user looked at `job` as it is: in the state it needs attention in, that is done;
        a look from before it got there (a message overtaken by a poll) is not."""
        key = (service, job.id)
        if self.needs.get(key) is job.state:
            del self.needs[key]


class Notifier:
    """Turns the jobs of each poll into toasts, bells and desktop notifications."""

    def __init__(
        self,
        settings: NotificationsConfig,
        *,
        toast: Toast,
        write: Write,
        environ: Mapping[str, str] | None = None,
        later: Later | None = None,
    ) -> None:
        """`later` gathers the jobs of `GATHER_SECONDS` into one toast (None: a toast per
        service and poll, at once)."""
        self.settings = settings
        self.states = frozenset(JobState(e) for e in settings.events if e != "overdue")
        self.overdue = "overdue" in settings.events
        """Whether a job becoming overdue notifies."""
        self.toast = toast
        self.write = write
        self.tmux = bool((os.environ if environ is None else environ).get("TMUX"))
        self.attention = Attention({})
        self.later = later
        self._gathered: Gathered | None = None

    def jobs_changed(self, poll: PollJobs) -> None:
        self.attention.update(poll)
        if not poll.initial:
            self.announce(poll.service, arrivals(poll.changed, poll.previous, self.states))

    def announce_overdue(self, service: str, jobs: Sequence[Overdue]) -> None:
        """One toast naming the running `jobs` of `service` that became overdue."""
        from jobtui.journal.queries import OVERDUE_FACTOR

        lines = [
            f"{o.id} overdue: running {span(o.running_for)}, usually within {span(o.limit / OVERDUE_FACTOR)}"
            for o in jobs[:TOAST_LINES]
        ]
        if len(jobs) > TOAST_LINES:
            lines.append(f"and {len(jobs) - TOAST_LINES} more")
        self._say(service, lines, "warning")

    def announce(self, service: str, jobs: Sequence[Job]) -> None:
        """One toast naming `jobs` (which reached a notifying state on `service`)."""
        if not jobs:
            return
        severity: Severity = "information"
        for state in (JobState.NEEDS_INPUT, JobState.FAILED):
            if any(job.state is state for job in jobs):
                severity = _SEVERITY[state]
        if self.later is None:
            lines = [f"{job.id} {job.state.label}" for job in jobs[:TOAST_LINES]]
            if len(jobs) > TOAST_LINES:
                lines.append(f"and {len(jobs) - TOAST_LINES} more")
            self._say(service, lines, severity)
            return
        if self._gathered is None:
            self._gathered = Gathered()
            self.later(GATHER_SECONDS, self.flush)
        self._gathered.add(service, [f"{job.id} {job.state.label}" for job in jobs], severity)

    def flush(self) -> None:
        """Show what was gathered since the first announcement, as one toast."""
        gathered, self._gathered = self._gathered, None
        if gathered is not None:
            title, lines = gathered.toast()
            self._say(title, lines, worst(gathered.severities))

    def _say(self, service: str, lines: list[str], severity: Severity) -> None:
        """A toast of `lines`, and the bell and the desktop notification the settings ask for."""
        self.toast("\n".join(lines), service, severity)
        if self.settings.bell:
            self.write("\x07")
        if self.settings.osc != "off":
            self.write(
                osc_sequence(
                    self.settings.osc, f"jobtui: {service}", "; ".join(lines), tmux=self.tmux
                )
            )
