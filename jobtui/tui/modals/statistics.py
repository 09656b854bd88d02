"""The statistics screen: per service and job type, the jobs that ended in the last 7 and 30 days
(count, success rate, median and 95th percentile of queue wait and run time) and a histogram of
their run times, from the journal. Service and type names come from servers: plain text only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from jobtui.core.format import span
from jobtui.journal import Reader, TypeStats
from jobtui.journal.queries import RUN_EDGES
from jobtui.tui.journal import JournalLink
from jobtui.tui.widgets.history import sparkline

WINDOWS = (7, 30)
"""The windows shown, in days."""


def _edge(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_LEFT, _RIGHT = f"<={_edge(RUN_EDGES[0])}", f">{_edge(RUN_EDGES[-1])}"  # ASCII: any terminal
HISTOGRAM_SCALE = f"{_LEFT}{' ' * (len(RUN_EDGES) + 1 - len(_LEFT) - len(_RIGHT))}{_RIGHT}"
"""The labels under a histogram: its first bucket's edge at the left, the last one's at the right
(one column per bucket)."""


def _time(value: float | None) -> str:
    return "—" if value is None else span(value)


HEADER = "           jobs   ok  wait med  p95       run med   p95"
"""The columns of each window's line."""


def stats_text(service: str, kind: str, windows: Sequence[tuple[int, TypeStats | None]]) -> Text:
    """One service and type: its name and the run-time histogram of the widest window, then a
    line per window."""
    text = Text()
    text.append(service, style="bold")
    text.append(" · ")
    text.append(kind or "(no type)", style="bold")
    widest = windows[-1][1] if windows else None
    if widest is not None and any(widest.histogram):
        text.append("  run time ", style="dim")
        text.append(sparkline(list(widest.histogram), width=len(widest.histogram)))
        text.append(f" {HISTOGRAM_SCALE}", style="dim")
    for days, stats in windows:
        text.append("\n")
        if stats is None:
            text.append(f"  {days:>2} days     0")
            continue
        text.append(
            f"  {days:>2} days {stats.count:>5} {stats.success_rate:>4.0%}  "
            f"{_time(stats.wait_median):<9} {_time(stats.wait_p95):<9} "
            f"{_time(stats.run_median):<9} {_time(stats.run_p95)}"
        )
    return text


def statistics_text(per_window: dict[int, list[TypeStats]]) -> Text:
    """Every service and type that has jobs in the widest window, by service and type."""
    keys = sorted(
        {(s.service, s.type) for stats in per_window.values() for s in stats},
        key=lambda key: (key[0].casefold(), key[1].casefold()),
    )
    if not keys:
        return Text("no job ended in the last 30 days", style="dim")
    found = {(days, s.service, s.type): s for days, stats in per_window.items() for s in stats}
    text = Text(HEADER, style="dim")
    for service, kind in keys:
        text.append("\n\n")
        windows = [(days, found.get((days, service, kind))) for days in sorted(per_window)]
        text.append_text(stats_text(service, kind, windows))
    return text


def _stats(reader: Reader, *, now: datetime, days: int) -> list[TypeStats]:
    return reader.stats(now, days)


class StatisticsScreen(ModalScreen[None]):
    """Statistics of the jobs that ended, from the journal.

    | Key | Action |
    | :- | :- |
    | `escape`, `q`, `G` | Close. |
    """

    BINDINGS = [Binding("escape,q,G", "close", "Close")]
    HELP_SCOPE = "statistics"

    def __init__(self, link: JournalLink, now: datetime) -> None:
        super().__init__()
        self.link = link
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Statistics of the jobs that ended", classes="dialog-title")
            with VerticalScroll():
                yield Static("reading the journal…", id="stats", markup=False)
            yield Label("median, 95th percentile · escape closes", classes="dim")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="statistics", exit_on_error=False, description="read statistics")
    async def load(self) -> None:
        now = self.now
        per_window: dict[int, list[TypeStats]] = {}
        for days in WINDOWS:
            found = await self.link.query(partial(_stats, now=now, days=days))
            if found is None:
                self.query_one("#stats", Static).update(
                    Text(self.link.off or "the journal cannot be read", style="dim")
                )
                return
            per_window[days] = found
        self.query_one("#stats", Static).update(statistics_text(per_window))

    def action_close(self) -> None:
        self.dismiss(None)
