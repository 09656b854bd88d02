"""`BsubService`: one bsub.io account as a job list, with the new-job flow (create, upload,
submit).

A job's life: create (`created`, holding an upload token) -> upload (`loaded`) -> submit
(`pending`) -> a worker claims it (`claimed`, `preparing`, `processing`) -> `finished` or `failed`.
A cancelled job ends `failed` with `error_code` "cancelled". Any state the server may add later is
kept as text and shown as sent.

One poll is one `GET /v1/jobs?limit=N` (newest first; N = `list_limit`, default 1000), plus
`GET /v1/types` until it has answered once (the types name each job's output file extension; when
they cannot be read, the poll still succeeds and its note says why). The list has no
offset, so when the server has more jobs than it sent, the poll also asks for each unfinished state
(`created` to `processing`: six more requests, sent together) so that no job still waiting or
running is hidden behind newer ones, and it says how many jobs it shows of how many ("N of TOTAL").
Those six are sent on the first cut poll, whenever the cut list shows a change of its shape (its
total, or which jobs it holds: a job pushed out of it, a new one), and otherwise every
`unfinished_every`-th poll (default 5); in between, the last answers for the unfinished states are
shown again. A job in the cut list is always shown as the list has it; a job older than the cut list
whose state changes shows its new state at most `unfinished_every` polls later. On a server whose
jobs do not move, a poll then costs 1 request, and 6 more every `unfinished_every`-th, instead of 7.
The published client allows a `limit` of 1 to 100: a server that refuses a larger one (400) is
asked again with 100, and from then on.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobtui.core.errors import RefusedError, ServiceError
from jobtui.core.format import human_size
from jobtui.core.models import Action, Column, FieldNames, Job, JobState, action_set
from jobtui.core.secret import Secret
from jobtui.core.service import PollResult, Progress, UnsupportedActionError
from jobtui.services._http import text_pieces
from jobtui.services._service import ClientService, StateMap
from jobtui.services._wire import JobsOfRecords, LazyRecord
from jobtui.services.bsub.client import BsubClient
from jobtui.services.bsub.upload import create_upload_submit
from jobtui.services.bsub.wire import (
    CANCELLED_CODE,
    TERMINAL_STATUSES,
    UNFINISHED_STATUSES,
    BsubJob,
    JobList,
    ProcessingType,
)
from jobtui.services.download import exists, safe_name
from jobtui.services.paging import capped

if TYPE_CHECKING:
    from jobtui.config import BsubConfig

SPEC_MAX_LIMIT = 100
"""The largest `limit` of `GET /v1/jobs` the published client sends."""

STATE_OF = StateMap(
    {
        "created": JobState.NEEDS_INPUT,
        "loaded": JobState.NEEDS_INPUT,
        "pending": JobState.QUEUED,
        "claimed": JobState.RUNNING,
        "preparing": JobState.RUNNING,
        "processing": JobState.RUNNING,
        "finished": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
    }
)


def state_of(status: str, error_code: str | None = None) -> JobState:
    """The common state of a bsub.io status: `created` and `loaded` wait for the user (upload,
    then submit); a `failed` job whose error code is "cancelled" was cancelled; anything unknown
    is UNKNOWN (and shown as sent)."""
    if status == "failed" and error_code == CANCELLED_CODE:
        return JobState.CANCELLED
    return STATE_OF.state_of(status)


_PHRASES = {
    "created": "waiting for its input upload",
    "loaded": "input uploaded, not submitted",
    "pending": "queued for a worker",
    "finished": "finished",
}


def message_of(record: BsubJob) -> str:
    """A short line for the table: the error when the job failed, else what it is doing."""
    status = record.status_text
    if record.cancelled:
        return "cancelled" + (f": {record.error_message}" if record.error_message else "")
    if status == "failed":
        if record.error_message and record.error_code:
            return f"{record.error_message} ({record.error_code})"
        return record.error_message or record.error_code or "failed"
    worker = record.claimed_by or "a worker"
    if status == "claimed":
        return f"claimed by {worker}"
    if status == "preparing":
        return f"preparing on {worker}"
    if status == "processing":
        return f"processing on {worker}"
    if status in _PHRASES:
        return _PHRASES[status]
    return f"state {status!r}" if status else "no state"


def actions_of(record: BsubJob) -> frozenset[Action]:
    """What may be done with a job now (the server's rules): submit a loaded job; cancel anything
    that has not ended; delete what has ended; read the log once a worker had it; save the output of
    a finished job."""
    status = record.status_text
    allowed: set[Action] = set()
    if status == "loaded":
        allowed.add(Action.SUBMIT)
    if status not in TERMINAL_STATUSES:
        allowed.add(Action.CANCEL)
    if status in TERMINAL_STATUSES:
        allowed.add(Action.DELETE)
    if record.started:
        allowed.add(Action.LOGS)
    if status == "finished":
        allowed.add(Action.DOWNLOAD)
    return action_set(allowed)


EXTRA = FieldNames("size", "worker")
"""The names of a bsub.io job's `Job.extra` values."""


def _created_key(record: BsubJob) -> datetime:
    return record.created_at or datetime.min.replace(tzinfo=UTC)


def _what(job: Job) -> str:
    if job.state is JobState.CANCELLED:
        return "cancelled"
    return job.raw_state or job.state.label


class BsubService(ClientService[BsubClient]):
    """One bsub.io account as a job list, with the new-job flow (create, upload, submit)."""

    kind = "bsub"
    columns = (
        Column("size", "Data", 10),
        Column("worker", "Worker", 14),
    )
    actions = (
        Action.NEW,
        Action.SUBMIT,
        Action.CANCEL,
        Action.DELETE,
        Action.LOGS,
        Action.DOWNLOAD,
    )

    def __init__(
        self,
        name: str,
        url: str,
        token: Secret | str,
        *,
        verify: bool = True,
        list_limit: int = 1000,
        unfinished_every: int = 5,
        client: BsubClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or BsubClient(url, token, service=name, verify=verify)
        self.list_limit = max(1, list_limit)
        self._types: list[ProcessingType] | None = None
        self._max_limit: int | None = None
        self._made: JobsOfRecords[BsubJob] = JobsOfRecords()
        self._answers: list[JobList] = []
        """The list answers of the last poll (the same objects while their bodies are)."""
        self._listed: list[BsubJob] = []
        self.unfinished_every = max(1, unfinished_every)
        self._unfinished: list[JobList] = []
        """The last answers for the unfinished states (empty until a cut list needed them)."""
        self._unfinished_shape: tuple[int | None, frozenset[str]] | None = None
        """The cut list's total and ids when `_unfinished` was fetched."""
        self._unfinished_age = 0
        """Polls since `_unfinished` was fetched."""

    @classmethod
    def from_config(cls, cfg: BsubConfig) -> BsubService:
        return cls(cfg.name, cfg.url, Secret.of(cfg.token), verify=cfg.verify)

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        listing = await self._list(None)
        total = listing.total
        answers = [listing]
        if total is not None and total > len(listing.jobs):
            # Cut: every unfinished job too, however old (fetched again when due).
            answers += await self._unfinished_answers(listing)
        else:
            self._unfinished, self._unfinished_shape = [], None
        if len(answers) != len(self._answers) or any(map(operator.is_not, answers, self._answers)):
            self._answers = answers  # not the very same answers as the last poll's
            records = {record.id: record for record in listing.jobs}
            extra = [r for part in answers[1:] for r in part.jobs if r.id not in records]
            if extra:
                records.update((record.id, record) for record in extra)
                ordered = sorted(records.values(), key=_created_key, reverse=True)
                records = {record.id: record for record in ordered}
            self._listed = list(records.values())
        jobs, total = capped(self._made.jobs(self._listed, self.to_job), total)
        shown = total if total is not None and total > len(jobs) else None
        note = ""
        if self._types is None:
            try:
                await self.types()
            except ServiceError as error:  # only output file names need them: say so, go on
                note = f"processing types not available: {error.message}"
        return PollResult(jobs, shown, note)

    async def _unfinished_answers(self, listing: JobList) -> list[JobList]:
        """The answers for each unfinished state: fetched again when the cut list changed shape
        or `unfinished_every` polls went by, else the last ones."""
        shape = (listing.total, frozenset(record.id for record in listing.jobs))
        self._unfinished_age += 1
        if (
            not self._unfinished
            or shape != self._unfinished_shape
            or self._unfinished_age >= self.unfinished_every
        ):
            self._unfinished = list(
                await asyncio.gather(*(self._list(s) for s in UNFINISHED_STATUSES))
            )
            self._unfinished_shape = shape
            self._unfinished_age = 0
        return self._unfinished

    async def _list(self, status: str | None) -> JobList:
        limit = (
            self.list_limit if self._max_limit is None else min(self.list_limit, self._max_limit)
        )
        try:
            return await self.client.list_jobs(status=status, limit=limit)
        except RefusedError as error:
            if error.status != 400 or limit <= SPEC_MAX_LIMIT:
                raise
        self._max_limit = SPEC_MAX_LIMIT
        return await self.client.list_jobs(status=status, limit=SPEC_MAX_LIMIT)

    def to_job(self, record: BsubJob) -> Job:
        status = record.status_text
        return Job(
            service=self.name,
            id=record.id,
            state=state_of(status, record.error_code),
            raw_state=status,
            type=record.type or "",
            created=record.created_at,
            updated=record.updated_at,
            started=record.claimed_at,
            finished=record.finished_at,
            message=message_of(record),
            actions=actions_of(record),
            extra=EXTRA(
                human_size(record.data_size) if record.data_size else "", record.claimed_by or ""
            ),
            raw=LazyRecord(record),
            revision="|".join(
                (
                    record.updated_at.isoformat() if record.updated_at else "",
                    status,
                    str(record.data_size or 0),
                    record.claimed_by or "",
                    record.error_code or "",
                )
            ),
        )

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        if job is None or action not in self.actions or action in job.actions:
            return super().disabled_reason(action, job)
        what = _what(job)
        status = job.raw_state
        if action is Action.SUBMIT:
            if status == "created":
                return "upload the input first: only loaded jobs can be submitted"
            return f"only loaded jobs can be submitted; this one is {what}"
        if action is Action.CANCEL:
            if job.state is JobState.CANCELLED:
                return "the job is already cancelled"
            return f"{what} jobs cannot be cancelled"
        if action is Action.DELETE:
            return f"only finished or failed jobs can be deleted; this one is {what}"
        if action is Action.LOGS:
            return f"no log yet: no worker has claimed the job ({what})"
        if action is Action.DOWNLOAD:
            return f"only finished jobs have an output; this one is {what}"
        return super().disabled_reason(action, job)

    def confirm_text(self, action: Action, job: Job) -> str:
        label = f"job {job.id}" + (f" ({job.type})" if job.type else "")
        if action is Action.CANCEL:
            return f"Cancel {label}, now {job.raw_state}? It will end as failed (cancelled)."
        if action is Action.DELETE:
            return f"Delete {label} with its input and output? This cannot be undone."
        return super().confirm_text(action, job)

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.SUBMIT:
            await self.client.submit(job.id)
            return f"job {job.id} submitted"
        if action is Action.CANCEL:
            await self.client.cancel(job.id)
            return f"job {job.id} cancelled"
        if action is Action.DELETE:
            await self.client.delete(job.id)
            return f"job {job.id} deleted"
        raise UnsupportedActionError(self.name, action)

    async def read_log(self, job: Job) -> str:
        return await self.client.logs(job.id)

    async def stream_log(self, job: Job) -> AsyncIterator[str]:
        async for text in text_pieces(self.client.log_chunks(job.id)):
            yield text

    def output_name(self, job: Job) -> str:
        """`<job id>.<the type's extension>`, both from the server: one cleaned file name."""
        ext = self.extension_of(job.type)
        return safe_name(f"{job.id}.{ext}" if ext else f"{job.id}.out", "output.out")

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        if not overwrite and exists(dest):
            raise FileExistsError(f"{dest} exists")
        return await self.client.output(job.id, dest, progress, overwrite=overwrite)

    # -- the new-job flow -----------------------------------------------------------------------

    async def types(self) -> list[ProcessingType]:
        """The processing types that can be used (fetched each time, and remembered)."""
        found = [t for t in await self.client.get_types() if t.type]
        self._types = found
        return found

    def extension_of(self, type_id: str) -> str | None:
        for kind in self._types or ():
            if kind.type == type_id:
                return kind.extension
        return None

    async def new_job(self, type_id: str, path: Path, progress: Progress | None = None) -> Job:
        """Create a job of `type_id`, upload `path` to it (streamed, reporting progress), submit it.

        When the upload or the submission fails, the error says so and names the job that was
        created, which stays on the server (`created` or `loaded`) for the user to deal with.
        """
        record = await create_upload_submit(self.client, self.name, type_id, path, progress)
        return self.to_job(record)
