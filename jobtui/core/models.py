"""Job, JobState, Action and JobsDelta: the common model every service maps into."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from jobtui.core.pacing import Pacer


class JobState(StrEnum):
    """The small category set every service's raw states map into."""

    QUEUED = "queued"
    RUNNING = "running"
    NEEDS_INPUT = "needs_input"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        """True when the job will not change state by itself any more."""
        return self in _TERMINAL

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Action(StrEnum):
    """Everything a user can ask of a job or of a service tab."""

    NEW = "new"
    SUBMIT = "submit"
    CANCEL = "cancel"
    DELETE = "delete"
    RESTART = "restart"
    ANSWER = "answer"
    START = "start"
    LOGS = "logs"
    DOWNLOAD = "download"
    CONDITIONAL = "conditional"
    UPLOAD = "upload"
    INGEST = "ingest"
    MAPPING = "mapping"
    FINALIZE = "finalize"


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """How an action is presented: its label, whether it changes anything, whether it destroys."""

    label: str
    mutating: bool
    destructive: bool
    needs_job: bool = True


ACTION_INFO: Mapping[Action, ActionInfo] = {
    Action.NEW: ActionInfo("New job", mutating=True, destructive=False, needs_job=False),
    Action.SUBMIT: ActionInfo("Submit", mutating=True, destructive=False),
    Action.CANCEL: ActionInfo("Cancel", mutating=True, destructive=True),
    Action.DELETE: ActionInfo("Delete", mutating=True, destructive=True),
    Action.RESTART: ActionInfo("Restart", mutating=True, destructive=False),
    Action.ANSWER: ActionInfo("Answer", mutating=True, destructive=False),
    Action.START: ActionInfo("Start", mutating=True, destructive=False),
    Action.LOGS: ActionInfo("Logs", mutating=False, destructive=False),
    Action.DOWNLOAD: ActionInfo("Save output", mutating=False, destructive=False),
    Action.CONDITIONAL: ActionInfo("Conditional job", mutating=True, destructive=False),
    Action.UPLOAD: ActionInfo("Upload folder", mutating=True, destructive=False),
    Action.INGEST: ActionInfo("Start ingest", mutating=True, destructive=False),
    Action.MAPPING: ActionInfo("Mapping", mutating=False, destructive=False),
    Action.FINALIZE: ActionInfo("Finalize", mutating=True, destructive=True),
}


_ACTION_SETS: dict[frozenset[Action], frozenset[Action]] = {}


def action_set(actions: Iterable[Action]) -> frozenset[Action]:
    """The one shared frozenset of `actions`: every job allowing the same actions holds the same
    set (at most one per combination, however many jobs there are)."""
    key = frozenset(actions)
    return _ACTION_SETS.setdefault(key, key)


class Fields(Mapping[str, str]):
    """A job's service-specific values (`Job.extra`), held compactly: the names come from a
    `FieldNames` that every job of a kind shares, the values are one tuple."""

    __slots__ = ("_names", "_values")
    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __init__(self, names: FieldNames, values: tuple[str, ...]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[self._names.index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.index)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Fields) and other._names is self._names:
            return self._values == other._values
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Fields({dict(self)!r})"


class FieldNames:
    """The names of a kind's `Job.extra` values, in order: `names(a, b)` makes the `Fields`."""

    __slots__ = ("index",)

    def __init__(self, *names: str) -> None:
        self.index: dict[str, int] = {name: i for i, name in enumerate(names)}

    def __call__(self, *values: str) -> Fields:
        if len(values) != len(self.index):
            raise ValueError(f"{len(self.index)} values expected, not {len(values)}")
        return Fields(self, values)


@dataclass(frozen=True, slots=True)
class Column:
    """A service-specific column of the job table, read from `Job.extra[key]`."""

    key: str
    title: str
    width: int = 12


@dataclass(frozen=True, slots=True)
class Job:
    """One job of one service, normalized.

    `raw_state` is the state exactly as the service sent it; `raw` is the wire record, kept whole for
    the detail pane. `extra` holds the values of the service's own columns, already as text.
    """

    service: str
    id: str
    state: JobState
    raw_state: str
    type: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    progress: float | None = None
    message: str = ""
    actions: frozenset[Action] = frozenset()
    extra: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    revision: str = ""
    """A cheap fingerprint of the wire record: two jobs with the same revision render the same."""

    @property
    def key(self) -> tuple[str, str]:
        """Identity across services: (service name, job id)."""
        return (self.service, self.id)

    def allows(self, action: Action) -> bool:
        return action in self.actions


@dataclass(frozen=True, slots=True)
class JobsDelta:
    """What changed between two snapshots of one service's jobs."""

    added: tuple[Job, ...] = ()
    changed: tuple[Job, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def size(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def diff_jobs(old: Mapping[str, Job], new: Iterable[Job]) -> tuple[dict[str, Job], JobsDelta]:
    """Compare a previous snapshot with a fresh list of jobs.

    Returns the new snapshot (keyed by job id, in the order received) and the delta. Jobs compare by
    value (every field but `raw`), so a job whose wire record did not change is not reported, and the
    snapshot keeps the previous object for it: an unchanged job is the same object in both snapshots.
    """
    snapshot: dict[str, Job] = {}
    added: list[Job] = []
    changed: list[Job] = []
    _compare(old, new, snapshot, added, changed)
    removed = tuple(job_id for job_id in old if job_id not in snapshot)
    return snapshot, JobsDelta(tuple(added), tuple(changed), removed)


DIFF_SLICE = 1000
"""Jobs `diff_jobs_paced` compares between two looks at its `Pacer`."""


async def diff_jobs_paced(
    old: Mapping[str, Job], new: Sequence[Job], pacer: Pacer
) -> tuple[dict[str, Job], JobsDelta]:
    """`diff_jobs` on the event loop, letting the loop run after each turn of work (a list of
    100,000 jobs: keys go on meanwhile). `old` must not change until it returns."""
    snapshot: dict[str, Job] = {}
    added: list[Job] = []
    changed: list[Job] = []
    for start in range(0, len(new), DIFF_SLICE):
        _compare(old, new[start : start + DIFF_SLICE], snapshot, added, changed)
        await pacer.tick()
    removed = tuple(job_id for job_id in old if job_id not in snapshot)
    return snapshot, JobsDelta(tuple(added), tuple(changed), removed)


def _compare(
    old: Mapping[str, Job],
    new: Iterable[Job],
    snapshot: dict[str, Job],
    added: list[Job],
    changed: list[Job],
) -> None:
    for job in new:
        snapshot[job.id] = job
        before = old.get(job.id)
        if before is None:
            added.append(job)
        elif before is job:
            continue
        elif before != job:
            changed.append(job)
        else:
            snapshot[job.id] = before
