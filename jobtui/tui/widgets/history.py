"""History at a glance: how many jobs of a service were queued, running and failed, poll by poll.

`StateHistory` is a ring buffer with one sample per successful poll (bounded: the oldest samples
drop out). `HistoryBar` draws its last samples as three compact text sparklines on one line:

    queued ▁▂▃▅▆ 12  running ▆▆▅▃ 4  failed ▁▁▂▂ 2

Each sparkline is scaled from 0 to its own largest value on screen; the number is the latest
count. The colours are the job table's colours of those states.
"""

from __future__ import annotations

import operator
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from jobtui.core.models import Job, JobState

_STATE = operator.attrgetter("state")

SAMPLES = 240
"""How many samples a service keeps (at one poll every 2 s, the last 8 minutes)."""

SPARK_WIDTH = 10
"""How many of the latest samples each sparkline shows, one character each."""

BLOCKS = "▁▂▃▄▅▆▇█"

SERIES: tuple[tuple[str, JobState], ...] = (
    ("queued", JobState.QUEUED),
    ("running", JobState.RUNNING),
    ("failed", JobState.FAILED),
)
"""The states that get a sparkline, with their labels, in the order shown."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The counts of one poll."""

    queued: int
    running: int
    failed: int

    @classmethod
    def of(cls, jobs: Iterable[Job]) -> Sample:
        counts = Counter(map(_STATE, jobs))  # in C: 100,000 jobs at the end of a long load
        return cls(counts[JobState.QUEUED], counts[JobState.RUNNING], counts[JobState.FAILED])

    def count(self, state: JobState) -> int:
        return int(getattr(self, state.value))


class StateHistory:
    """The last `size` samples of one service, oldest first."""

    def __init__(self, size: int = SAMPLES) -> None:
        self.samples: deque[Sample] = deque(maxlen=size)

    def add(self, jobs: Iterable[Job]) -> Sample:
        sample = Sample.of(jobs)
        self.samples.append(sample)
        return sample

    def repeat(self, jobs: Iterable[Job]) -> Sample:
        """Add a sample of jobs that did not change since the last one: the same counts, without
        counting 100,000 jobs again on every poll."""
        if not self.samples:
            return self.add(jobs)
        sample = self.samples[-1]
        self.samples.append(sample)
        return sample

    def series(self, state: JobState, width: int = SPARK_WIDTH) -> list[int]:
        """The counts of `state` in the last `width` samples, oldest first."""
        start = max(0, len(self.samples) - width)
        return [self.samples[i].count(state) for i in range(start, len(self.samples))]


def sparkline(values: list[int], width: int = SPARK_WIDTH) -> str:
    """`values` as block characters scaled to their maximum, right-aligned in `width` columns."""
    values = values[-width:]
    top = max(values, default=0)
    if top <= 0:
        bars = BLOCKS[0] * len(values)
    else:
        bars = "".join(BLOCKS[round(v / top * (len(BLOCKS) - 1))] for v in values)
    return bars.rjust(width)


class HistoryBar(Widget):
    """Three sparklines (queued, running, failed) of one service's `StateHistory`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "history--label",
        "history--queued",
        "history--running",
        "history--failed",
    }

    DEFAULT_CSS = """
    HistoryBar { width: auto; height: 1; padding: 0 1; }
    HistoryBar > .history--label { text-style: dim; }
    HistoryBar > .history--queued { color: $text-secondary; }
    HistoryBar > .history--running { color: $text-warning; }
    HistoryBar > .history--failed { color: $text-error; }
    """

    def __init__(self, history: StateHistory, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history

    def text(self) -> Text:
        label = self.get_component_rich_style("history--label")
        text = Text(no_wrap=True)
        for index, (name, state) in enumerate(SERIES):
            values = self.history.series(state)
            latest = str(values[-1]) if values else "-"
            if index:
                text.append("  ")
            text.append(f"{name} ", label)
            text.append(sparkline(values), self.get_component_rich_style(f"history--{name}"))
            text.append(f" {latest:>3}", label)
        return text

    def render(self) -> RenderResult:
        return self.text()
