"""The detail pane: every field of the selected job, its timestamps, and what can be done with it."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import ConsoleOptions, Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import work
from textual.geometry import Region, Size
from textual.strip import Strip

from jobtui.core.format import span
from jobtui.core.models import ACTION_INFO, Job, JobState
from jobtui.core.service import Service
from jobtui.tui.flows import register_kind
from jobtui.tui.journal import JournalLink, journal_of
from jobtui.tui.updates import SteadyScrollView

if TYPE_CHECKING:
    from jobtui.journal import Timeline

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


SERVER_MARK = "*"
"""After a time of the timeline that is the server's own (else: when jobtui saw the change)."""


def render_timeline(timeline: Timeline) -> Text:
    """`created 09:03 → queued 2 min → running* 14 min → succeeded* 09:21`: each state with how
    long it lasted (the last one: for how long it has been, unless the job has ended), times in
    UTC; `*` marks the states whose start is the server's own time."""
    text = Text()
    steps = timeline.steps
    if not steps:
        return text
    text.append(f"created {steps[0].at:%m-%d %H:%M}", style="dim")
    for step in steps:
        text.append(" → ")
        text.append(step.state.label, style=STATE_STYLES[step.state])
        if step.server:
            text.append(SERVER_MARK)
        if step.duration is not None:
            text.append(f" {span(step.duration)}")
        elif step is steps[-1]:
            text.append(f" {step.at:%H:%M}", style="dim")
    if any(step.server for step in steps):
        text.append(f"\n{SERVER_MARK} the server's time; else when jobtui saw it", style="dim")
    if timeline.job.gone is not None:
        text.append(f"\nleft the server's list {timeline.job.gone:%m-%d %H:%M}", style="dim")
    return text


class DetailParts(Group):
    """The detail of one job as three parts, rendered one after the other: its head and facts,
    its service's section (None when it has none) and its raw record. When other jobs of the
    service change, only the first two are made again: the record, often the longest part, is
    the job's own."""

    def __init__(
        self, top: RenderableType, section: RenderableType | None, record: RenderableType
    ) -> None:
        super().__init__(*(part for part in (top, section, record) if part is not None))
        self.parts = (top, section, record)


def render_job(job: Job, service: Service, timeline: Timeline | None = None) -> DetailParts:
    """The whole detail pane for one job (with its timeline from the journal, when known)."""
    return DetailParts(
        render_top(job, service, timeline), render_section(job, service), render_record(job)
    )


def render_top(job: Job, service: Service, timeline: Timeline | None = None) -> RenderableType:
    """The job's head line and its facts: times, timeline, what can and cannot be done."""
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
        facts.add_row("message", Text(job.message))
    if job.progress is not None:
        facts.add_row("progress", f"{job.progress:.0f}%")
    facts.add_row("created", format_time(job.created))
    facts.add_row("updated", format_time(job.updated))
    if job.started:
        facts.add_row("started", format_time(job.started))
    if job.finished:
        facts.add_row("finished", format_time(job.finished))
    if timeline is not None and timeline.steps:
        facts.add_row("timeline", render_timeline(timeline))
    allowed = [service.action_label(a).lower() for a in service.actions if a in job.actions]
    facts.add_row("can", Text(", ".join(allowed) or "nothing now"))
    blocked = [
        f"{service.action_label(a).lower()}: {reason}"
        for a in service.actions
        if ACTION_INFO[a].needs_job and (reason := service.disabled_reason(a, job))
    ]
    if blocked:
        facts.add_row("cannot", Text("\n".join(blocked), style="dim"))
    return Group(head, facts)


def render_section(job: Job, service: Service) -> RenderableType | None:
    """The section of the job's service kind (`SECTIONS`), None when it has none."""
    section = SECTIONS.get(service.kind)
    return section(job, service) if section else None


def render_record(job: Job) -> RenderableType:
    """The job's raw record, every field as the server sent it (cleaned)."""
    record = Table.grid(padding=(0, 2))
    record.add_column(style="dim", no_wrap=True)
    record.add_column(overflow="fold")
    for key, value in job.raw.items():
        record.add_row(Text(str(key)), Text(format_value(value)))
    return Group(Text("record", style="bold dim"), record)


PLACEHOLDER = "Select a job to see its details."


@dataclass
class _Rendered:
    """One job's detail: its renderable, and its lines for one width and base style."""

    job: Job | None
    content: RenderableType
    lines: list[Strip] = field(default_factory=list)
    rendered_for: tuple[int, Style] | None = None
    record_lines: tuple[tuple[int, Style], list[Strip]] | None = None
    """The lines of the record part (`DetailParts`), rendered apart, and what for (width and
    base style): a detail made again for its section only takes them over."""


KEPT_DETAILS = 32
"""Jobs whose rendered detail is kept, so that going back to one (up, down, up) shows it at
once; a job changed by a poll is a new object and is rendered again."""


class JobDetail(SteadyScrollView):
    """Scrollable detail of one job of the given services; `show(job)` replaces its content.

    The content is rendered to lines once per job shown (and again when the width or the
    styles change), and painted line by line: showing another job repaints this pane only,
    where a Static would lay the whole screen out again to measure its new height, on every
    cursor move. The lines of the last jobs shown are kept. The vertical scrollbar is always
    there: one that came and went with the length of a job would lay the screen out again.
    """

    DEFAULT_CSS = """
    JobDetail {
        height: 1fr;
        border-top: solid $panel-lighten-2;
        padding: 0 1;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *services: Service, id: str | None = None) -> None:
        super().__init__(id=id)
        if not services:
            raise ValueError("a detail pane shows the jobs of one service or more")
        for service in services:
            register_kind(service.kind)
        self.services = {service.name: service for service in services}
        self._job: Job | None = None
        self._placeholder = _Rendered(None, Text(PLACEHOLDER))
        self._shown = self._placeholder
        self._kept: OrderedDict[tuple[str, str], _Rendered] = OrderedDict()
        self._timelines: OrderedDict[tuple[str, str], tuple[Job, Timeline]] = OrderedDict()
        """The journal's timeline of the last jobs shown, with the job as it was when asked."""

    @property
    def job(self) -> Job | None:
        return self._job

    @property
    def content(self) -> RenderableType:
        """What the pane shows (a Rich renderable)."""
        return self._shown.content

    def show(self, job: Job | None, *, others_changed: bool = False) -> None:
        """Show `job`. With `others_changed` (other jobs of the service changed), a job already
        shown is rendered again when its kind has a section, which may show those jobs."""
        sections_stale = others_changed and job is not None and self._service(job).kind in SECTIONS
        if job is self._job and not sections_stale:
            if job is not None and job.key not in self._timelines:
                self._ask_timeline(job)  # the journal may know it by now
            return
        if sections_stale:
            self._kept.clear()  # every kept section may show one of the jobs that changed
        another = (job and job.key) != (self._job and self._job.key)
        before = self._shown
        self._job = job
        stale = before if sections_stale and job is before.job else None
        self._shown = self._placeholder if job is None else self._rendered(job, stale)
        if job is not None:
            self._ask_timeline(job)
        if self.is_mounted and not self.is_on_screen:
            # A hidden tab's pane (its service polled): its lines are rendered when it is
            # shown again (`render_lines`), not at every poll meanwhile.
            if another:
                self.scroll_to(0, 0, animate=False)
            self.refresh()
        elif self.is_mounted:
            self._render_content()
            if another or before.rendered_for != self._shown.rendered_for:
                if another:
                    self.scroll_to(0, 0, animate=False)
                self.refresh()
            else:
                self._refresh_changed(before.lines, self._shown.lines)

    def _refresh_changed(self, before: list[Strip], after: list[Strip]) -> None:
        """Repaint the lines on screen that differ (the same job, moved on: a few lines)."""
        top = int(self.scroll_y)
        width = self.size.width
        for y in range(self.scrollable_content_region.height):
            index = top + y
            old = before[index] if index < len(before) else None
            new = after[index] if index < len(after) else None
            if old != new:
                self.refresh(Region(0, y, width, 1))

    def _rendered(self, job: Job, stale: _Rendered | None = None) -> _Rendered:
        """The detail of `job`: kept, or made. With `stale` (the same job's detail, whose
        section may show other jobs that changed), its record is taken over as it was."""
        kept = self._kept.get(job.key)
        if kept is not None and kept.job is job:
            self._kept.move_to_end(job.key)
            return kept
        known = self._timelines.get(job.key)
        timeline = known[1] if known is not None else None
        service = self._service(job)
        if stale is not None and isinstance(stale.content, DetailParts):
            content = DetailParts(
                render_top(job, service, timeline),
                render_section(job, service),
                stale.content.parts[2],
            )
            rendered = _Rendered(job, content, record_lines=stale.record_lines)
        else:
            rendered = _Rendered(job, render_job(job, service, timeline))
        self._kept[job.key] = rendered
        self._kept.move_to_end(job.key)
        while len(self._kept) > KEPT_DETAILS:
            self._kept.popitem(last=False)
        return rendered

    def _ask_timeline(self, job: Job) -> None:
        """Ask the journal for the job's timeline (in a worker thread) unless it is known for
        the job's present state; the pane shows it once it comes."""
        known = self._timelines.get(job.key)
        if known is not None and (known[0].state, known[0].raw_state) == (
            job.state,
            job.raw_state,
        ):
            return
        link = journal_of(self)
        if link is None or link.reader is None or not self.is_mounted:
            return
        self._fetch_timeline(job, link)

    @work(group="timeline", exclusive=True, exit_on_error=False, description="read a timeline")
    async def _fetch_timeline(self, job: Job, link: JournalLink) -> None:
        now = link.clock()
        # The poll that brought this job queued its changes before the job was shown: once
        # they are written, the timeline has them.
        await asyncio.to_thread(link.journal.flush)
        timeline = await link.query(lambda reader: reader.timeline(job.service, job.id, now))
        if timeline is None:
            return  # not in the journal (yet): asked again when the job is shown again
        self._timelines[job.key] = (job, timeline)
        self._timelines.move_to_end(job.key)
        while len(self._timelines) > KEPT_DETAILS:
            self._timelines.popitem(last=False)
        self._kept.pop(job.key, None)
        if self._job is not None and self._job.key == job.key:
            self._shown = self._rendered(self._job)
            self._render_content()
            self.refresh()

    def _service(self, job: Job) -> Service:
        return self.services[job.service]

    def _render_content(self) -> None:
        """Render the content for the current width and styles, when they changed."""
        width = self.scrollable_content_region.width  # less the vertical scrollbar
        base = self.rich_style
        shown = self._shown
        if shown.rendered_for != (width, base):
            shown.rendered_for = (width, base)
            if width <= 0:
                shown.lines = []
            else:
                console = self.app.console
                options = console.options.update(
                    width=width, height=None, highlight=False, markup=False
                )
                shown.lines = self._lines_of(shown, options, (width, base))
        size = Size(width, len(shown.lines))
        if size != self.virtual_size:
            # The pane's size is set by its parent, not by its content: a new virtual size
            # changes the scrollbars, not the screen's layout (which assigning it would redo).
            self.set_reactive(JobDetail.virtual_size, size)
            self._scroll_update(size)

    def _lines_of(
        self, shown: _Rendered, options: ConsoleOptions, key: tuple[int, Style]
    ) -> list[Strip]:
        """`shown`'s lines for `options`: a `DetailParts`' record is rendered apart (its lines
        kept, or taken over), the rest before it."""
        console = self.app.console
        width, base = key
        content = shown.content
        if not isinstance(content, DetailParts):
            lines = console.render_lines(content, options, style=base, pad=True)
            return [Strip(line, width) for line in lines]
        top, section, record = content.parts
        upper = top if section is None else Group(top, section)
        lines = console.render_lines(upper, options, style=base, pad=True)
        if shown.record_lines is None or shown.record_lines[0] != key:
            below = console.render_lines(record, options, style=base, pad=True)
            shown.record_lines = (key, [Strip(line, width) for line in below])
        return [Strip(line, width) for line in lines] + shown.record_lines[1]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        for rendered in (self._placeholder, *self._kept.values()):
            rendered.rendered_for = None

    def on_resize(self) -> None:
        self._render_content()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._render_content()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_y)
        width = self.scrollable_content_region.width
        lines = self._shown.lines
        if 0 <= index < len(lines):
            return lines[index].crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
