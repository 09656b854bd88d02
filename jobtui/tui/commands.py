"""The command palette's jobtui commands: go to a tab, go to a job of any service, run an action
on the job under the cursor, filter by state, sort by a column."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from functools import partial
from typing import Protocol, runtime_checkable

from textual import events
from textual.app import ComposeResult
from textual.command import (
    CommandInput,
    CommandPalette,
    DiscoveryHit,
    Hit,
    Hits,
    Provider,
    SearchIcon,
)
from textual.content import Content
from textual.fuzzy import Matcher

from jobtui.core.models import ACTION_INFO, Action, JobState
from jobtui.journal import Summary
from jobtui.tui.journal import JournalLink
from jobtui.tui.screens.dashboard import ALL_PANE, DashboardScreen, pane_id
from jobtui.tui.text import literal
from jobtui.tui.widgets.key_bar import KeyBar
from jobtui.tui.widgets.service_tab import ServiceTab

JOB_HITS = 50
"""Jobs offered at most for one query (the best matches)."""

SEARCH_ICON = ">"
"""The palette's prompt, before what is typed."""

Command = tuple[str, Callable[[], object], str]
"""(text, callback, help) of one command."""


@runtime_checkable
class JournalApp(Protocol):
    """What the palette asks of the app about its journal (the app imports this module)."""

    journal: JournalLink | None
    since_last: Summary | None
    tz: tzinfo | None

    def clock(self) -> datetime: ...

    def action_statistics(self) -> None: ...

    def show_gone_job(self, service: str, job_id: str) -> None: ...


def _highlighted(matcher: Matcher, text: str) -> Content:
    """`text` as plain text (a job id or message is never markup), its matched letters styled."""
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if not score:
        return content
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class Palette(CommandPalette):
    """The command palette, keeping what is typed right after the key that opens it.

    Keys that arrive with that key (`:po` typed quickly, or pasted) are handed out before the
    palette has focused its input: they reach the palette itself, which would drop them. It types
    them into the input, so that `:` and a name typed at once search for that name.
    """

    def compose(self) -> ComposeResult:
        yield KeyBar()  # the palette's keys, over the dashboard's
        yield from super().compose()

    def on_mount(self) -> None:
        # Textual's 🔎 is two cells wide in some terminals and one in others, which shifts the
        # input: a plain prompt has one width everywhere.
        self.query_one(SearchIcon).icon = SEARCH_ICON

    async def _on_key(self, event: events.Key) -> None:
        # The input takes every printable key it receives: one that arrives here missed it.
        if event.is_printable and event.character is not None:
            field = self.query(CommandInput).first()
            if field is not None:
                event.stop()
                event.prevent_default()
                field.insert_text_at_cursor(event.character)


class JobtuiCommands(Provider):
    """Commands of the dashboard; nothing on other screens."""

    def _dashboard(self) -> DashboardScreen | None:
        screen = self.screen
        return screen if isinstance(screen, DashboardScreen) else None

    def _commands(self, dashboard: DashboardScreen) -> Iterator[Command]:
        """Every command but the jobs: tabs, actions on the selected job, state filters, sorts."""
        if dashboard.has_all:
            yield "Go to All jobs", partial(dashboard.show_pane, ALL_PANE), "every service's jobs"
        for index, service in enumerate(dashboard.services):
            yield f"Go to {service.name}", partial(dashboard.show_pane, pane_id(index)), "tab"
        tab = dashboard.active_tab()
        table = dashboard.active_table()
        job = None if table is None else table.cursor_job
        if job is not None and tab is not None:
            owner = tab if isinstance(tab, ServiceTab) else tab.tabs.get(job.service)
            actions = () if owner is None else owner.service.actions
            for action in actions:
                assert owner is not None
                if ACTION_INFO[action].needs_job and owner.key_state("act", action, job):
                    label = owner.service.action_label(action)
                    yield (
                        f"{label} {job.id}",
                        partial(dashboard.act_here, action),
                        f"action on {job.service}",
                    )
        for action in Action:
            info = ACTION_INFO[action]
            if not info.needs_job and tab is not None and tab.check_action("act", (action.value,)):
                yield ACTION_INFO[action].label, partial(dashboard.act_here, action), "action"
        app = self.app
        if isinstance(app, JournalApp):
            since = app.since_last
            if since is not None and since.jobs:
                line = since.line(app.clock(), app.tz)
                yield "Since you were last here", partial(dashboard.show_jobs, since.jobs), line
            if app.journal is not None:
                yield "Statistics", app.action_statistics, "jobs that ended, per service and type"
        for state in JobState:
            if state is not JobState.UNKNOWN:
                yield f"Show only {state.label}", partial(dashboard.filter_states, state), "filter"
        yield "Show every state", partial(dashboard.filter_states, None), "filter"
        if table is not None:
            for key in table.sort_keys:
                sort = partial(table.sort_by, key, reverse=table.sort_reverse)
                yield f"Sort by {key}", sort, "sort"

    async def discover(self) -> Hits:
        dashboard = self._dashboard()
        if dashboard is None:
            return
        for text, callback, help in self._commands(dashboard):
            yield DiscoveryHit(Content(text), callback, text=text, help=literal(help))

    async def search(self, query: str) -> Hits:
        dashboard = self._dashboard()
        if dashboard is None:
            return
        matcher = self.matcher(query)
        for text, callback, help in self._commands(dashboard):
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score, _highlighted(matcher, text), callback, text=text, help=literal(help)
                )
        needle = query.strip().lower()
        if not needle:
            return
        found = 0
        for tab in dashboard.query(ServiceTab):
            for job in tab.table.held_jobs():
                if needle not in job.id.lower():
                    continue
                text = f"Job {job.id}"
                jump = partial(dashboard.jump_to_job, job.service, job.id)
                help = f"{job.service} · {job.raw_state or job.state.label} · {job.message}"
                score = 1.0 if job.id.lower() == needle else matcher.match(text) or 0.5
                yield Hit(score, _highlighted(matcher, text), jump, text=text, help=literal(help))
                found += 1
                if found >= JOB_HITS:
                    return
        app = self.app
        link = app.journal if isinstance(app, JournalApp) else None
        if link is None or link.reader is None or not isinstance(app, JournalApp):
            return
        gone = await link.query(lambda reader: reader.gone_ids(needle, JOB_HITS - found))
        for service, job_id in gone or ():
            text = f"Gone job {job_id}"
            show = partial(app.show_gone_job, service, job_id)
            help = f"{service} · left the server's list (from the journal)"
            score = 0.9 if job_id.lower() == needle else matcher.match(text) or 0.4
            yield Hit(score, _highlighted(matcher, text), show, text=text, help=literal(help))
