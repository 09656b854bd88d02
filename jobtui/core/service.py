"""The interface every service adapter implements.

A service turns its wire records into `Job`s (`poll`) and carries out `Action`s. Flows that need a
form of their own (a new bsub.io job, an EcoTaxa answer, a Leia conditional job, a dsp-ingest folder
upload) are methods of the concrete service; the generic ones live here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from jobtui.core.models import ACTION_INFO, Action, Column, Job

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, bytes in all or None when unknown)."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll of one service: every job it lists now."""

    jobs: list[Job]
    total: int | None = None
    """How many jobs the server has, when it sent fewer than that ("N of TOTAL")."""
    note: str = ""
    partial: bool = False
    """The first part of a long list, shown while the rest loads: the next poll follows at once
    and lists everything."""


class Service(ABC):
    """One configured service account: `name` is unique and is the tab title."""

    kind: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]] = ()
    """Service-specific columns, read from `Job.extra`."""
    actions: ClassVar[tuple[Action, ...]] = ()
    """Every action this kind of service offers, in the order the footer shows them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tls_verified = True
        """False when the config turned TLS verification off (`verify = false`): the tab warns."""

    @property
    def lists_everything(self) -> bool:
        """Whether a poll lists every job of the account (False while filters on the server
        narrow it): a job missing from a complete list has left the server's list."""
        return True

    @abstractmethod
    async def poll(self) -> PollResult:
        """Fetch the current jobs. Raises only `ServiceError`s."""

    async def poll_whole(self) -> PollResult:
        """`poll` until the result is the whole list (a command that prints the list once
        waits for the rest of a long one, where the dashboard shows its first part first)."""
        result = await self.poll()
        while result.partial:
            result = await self.poll()
        return result

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def action_label(self, action: Action) -> str:
        """The action's name as this service calls it (EcoTaxa erases where others delete)."""
        return ACTION_INFO[action].label

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        """Why `action` cannot be done on `job` now, or None when it can."""
        if action not in self.actions:
            return f"{self.kind} has no {ACTION_INFO[action].label.lower()} action"
        info = ACTION_INFO[action]
        if not info.needs_job:
            return None
        if job is None:
            return "no job selected"
        if action not in job.actions:
            return f"not possible while the job is {job.raw_state or job.state.label}"
        return None

    def confirm_text(self, action: Action, job: Job) -> str:
        """What a destructive action will do, shown in its confirmation."""
        return f"{ACTION_INFO[action].label} job {job.id} ({job.raw_state})?"

    async def run_action(self, action: Action, job: Job) -> str:
        """Carry out a one-shot action (cancel, delete, restart...); return a short confirmation."""
        raise UnsupportedActionError(self.name, action)

    async def read_log(self, job: Job) -> str:
        """The job's log as text (its end, when it is longer than the log view keeps)."""
        raise UnsupportedActionError(self.name, Action.LOGS)

    async def stream_log(self, job: Job) -> AsyncIterator[str]:
        """The job's whole log in pieces as they arrive, held by nothing (`jobtui logs`)."""
        yield await self.read_log(job)

    def output_name(self, job: Job) -> str:
        """A file name to suggest when saving the job's output."""
        return f"{job.id}.out"

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save the job's output to `dest` (written to a temporary file, then renamed).

        An existing `dest` is replaced only with `overwrite`; otherwise FileExistsError is raised.
        """
        raise UnsupportedActionError(self.name, Action.DOWNLOAD)


class UnsupportedActionError(Exception):
    def __init__(self, service: str, action: Action) -> None:
        super().__init__(f"{service}: {ACTION_INFO[action].label.lower()} is not supported")
