"""The detail pane: every field of the selected job, its timestamps, and what can be done with it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from jobtui.core.models import ACTION_INFO, Job, JobState
from jobtui.core.service import Service
from jobtui.tui.flows import register_kind

STATE_STYLES: Mapping[JobState, str] = {
    JobState.QUEUED: "bold cyan",
    JobState.RUNNING: "bold yellow",
    JobState.NEEDS_INPUT: "bold magenta",
    JobState.SUCCEEDED: "bold green",
    JobState.FAILED: "bold red",
    JobState.CANCELLED: "bold bright_black",
    JobState.UNKNOWN: "bold",
}

SectionRenderer = Callable[[Job, Service], RenderableType | None]
SECTIONS: dict[str, SectionRenderer] = {}
"""Per service kind: an extra section rendered above the raw record (a question, a chain...).
It is given the service too, for what the job alone does not say (the jobs linked to it)."""


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return str(value)


def render_job(job: Job, service: Service) -> RenderableType:
    """The whole detail pane for one job."""
    head = Text.assemble(
        (job.id, "bold"),
        "  ",
        (job.raw_state or job.state.label, STATE_STYLES[job.state]),
        f"  ({job.state.label})" if job.raw_state != job.state.value else "",
        f"  {job.type}" if job.type else "",
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    if job.message:
        facts.add_row("message", job.message)
    if job.progress is not None:
        facts.add_row("progress", f"{job.progress:.0f}%")
    facts.add_row("created", format_time(job.created))
    facts.add_row("updated", format_time(job.updated))
    if job.started:
        facts.add_row("started", format_time(job.started))
    if job.finished:
        facts.add_row("finished", format_time(job.finished))
    allowed = [service.action_label(a).lower() for a in service.actions if a in job.actions]
    facts.add_row("can", ", ".join(allowed) or "nothing now")
    blocked = [
        f"{service.action_label(a).lower()}: {reason}"
        for a in service.actions
        if ACTION_INFO[a].needs_job and (reason := service.disabled_reason(a, job))
    ]
    if blocked:
        facts.add_row("cannot", Text("\n".join(blocked), style="dim"))
    parts: list[RenderableType] = [head, facts]
    section = SECTIONS.get(service.kind)
    extra = section(job, service) if section else None
    if extra is not None:
        parts.append(extra)
    record = Table.grid(padding=(0, 2))
    record.add_column(style="dim", no_wrap=True)
    record.add_column(overflow="fold")
    for key, value in job.raw.items():
        record.add_row(str(key), format_value(value))
    parts.append(Text("record", style="bold dim"))
    parts.append(record)
    return Group(*parts)


class JobDetail(VerticalScroll):
    """Scrollable detail of one job; `show(job)` replaces its content."""

    DEFAULT_CSS = """
    JobDetail {
        height: 1fr;
        border-top: solid $panel-lighten-2;
        padding: 0 1;
    }
    JobDetail > Static { width: 1fr; }
    """

    def __init__(self, service: Service, *, id: str | None = None) -> None:
        super().__init__(id=id)
        register_kind(service.kind)
        self.service = service
        self._body = Static("Select a job to see its details.", markup=False)
        self._job: Job | None = None

    def compose(self) -> ComposeResult:
        yield self._body

    @property
    def job(self) -> Job | None:
        return self._job

    def show(self, job: Job | None, *, others_changed: bool = False) -> None:
        """Show `job`. With `others_changed` (other jobs of the service changed), a job already
        shown is rendered again when its kind has a section, which may show those jobs."""
        if job is self._job and not (others_changed and self.service.kind in SECTIONS):
            return
        self._job = job
        if job is None:
            self._body.update("Select a job to see its details.")
        else:
            self._body.update(render_job(job, self.service))
