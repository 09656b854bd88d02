"""`DspIngestService`: a dsp-ingest server (the DaSCH ingest service) as rows of `Job`.

The service has no job list: each project has at most one bulk ingest, and the only signals are
the status of `GET /projects/{sc}/bulk-ingest/mapping.csv` (404 none, 409 locked, 200 done) and the
409 of the other bulk routes. So the adapter shows one row per project (id = shortcode) and
combines what the server says with what this client did itself (its uploads, its ingest trigger,
its finalize):

==========================  ============================  =========  =====================
mapping.csv                 what this client knows        JobState   raw_state
==========================  ============================  =========  =====================
(not asked: own upload)     it is uploading now           RUNNING    uploading
409                         it started an ingest          RUNNING    ingesting
409                         it finalized                  RUNNING    finalizing
409                         nothing                       RUNNING    locked
404                         it finalized                  SUCCEEDED  finalized
404 / 200                   files uploaded, not ingested  QUEUED     uploaded
404                         nothing                       UNKNOWN    no mapping
200                         its files left unmapped       FAILED     done, files unmapped
200                         otherwise                     SUCCEEDED  done
error                                                     UNKNOWN    error
==========================  ============================  =========  =====================

Why: 409 means only that the project lock is held (an ingest, an upload, a finalize or another
client's mapping read), so it is RUNNING but named by cause only when the cause is ours. A 404
with nothing of ours pending is UNKNOWN ("no mapping"), not QUEUED: the server cannot say whether
somebody else's files are waiting. A finished ingest that left files uploaded by this client
without a mapping row (the service only logs such failures) is FAILED, since those files need
attention; the rows that were mapped are still there. Finalized is SUCCEEDED: the bulk ingest is
over and cleaned up.

Polling is gentle with the project lock: one mapping.csv GET per project per poll at most (none
for a project this client is uploading to, as that could make the upload fail with 409), at most
`max_checks` projects per poll (8, the longest-unchecked first: an idle dashboard of thousands of
projects costs little), and after a 409 the project is asked again only after `busy_backoff`
seconds, doubling up to `busy_backoff_max`; a project whose mapping.csv answered as at its read
before, with nothing of this client's under way there, is asked again only `settled_recheck`
seconds later (6: with a few projects polled every 2 s, one read in three polls each instead of
one a poll; a change another client makes there shows within those seconds). The server
answers 409 only after trying the lock for 400 ms; with `lock_wait` set (the headless commands),
a mapping.csv read whose answer has not begun within `lock_wait` seconds plus twice the health
check's round trip is given up and the project shown as locked at once (a free lock answers within
a round trip). The health check and the server's version are asked together. `GET /projects`
(admin only) is asked every `list_every` polls when no projects are configured and the token has
the `admin` scope. What this client uploaded is remembered for this process only.

Many projects (the server has no list of ingests, nor a time of last change: each project is one
mapping.csv read): the first poll shows the projects it looked at (`max_checks`, a partial
result with the total), the polls that follow at once look at `sweep_checks` more each until
every project was looked at once; meanwhile a locked project is taken as locked after
`SWEEP_LOCK_WAIT` (it is asked again after its backoff). After that, each poll looks at the
`max_checks` projects due longest, so a change another client makes (an upload, an ingest, a
finalize) shows within one turn of the projects, and a locked project's end within its backoff.
A poll makes again only the jobs of the projects it looked at or that this client acted on; when
none differs from the job before, it hands out the very same list, which the poll loop does not
compare again. A project keeps the count of its mapping's rows, not the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol

from jobtui.core.errors import (
    AuthError,
    ConflictError,
    NotAnsweredError,
    NotFoundError,
    ServiceError,
)
from jobtui.core.format import count_text
from jobtui.core.models import Action, Column, FieldNames, Job, JobState, action_set
from jobtui.core.polling import Clock, utc_now
from jobtui.core.secret import Revealable, Secret
from jobtui.core.service import PollResult, Progress, UnsupportedActionError
from jobtui.services._service import ClientService, ServiceConfigLike
from jobtui.services._wire import LazyRecord, SharedText
from jobtui.services.download import exists, safe_name
from jobtui.services.dsp_ingest.client import DspIngestClient
from jobtui.services.dsp_ingest.ingest import (
    ProjectTrack,
    UploadPlan,
    UploadProgressCallback,
    UploadReport,
    UploadRun,
    plan_upload,
)
from jobtui.services.dsp_ingest.mapping import parse_mapping, write_mapping
from jobtui.services.dsp_ingest.names import SHORTCODE, validate_shortcode


class DspIngestConfigLike(ServiceConfigLike, Protocol):
    """What `from_config` reads of `jobtui.config.DspIngestConfig`."""

    @property
    def token(self) -> Revealable: ...
    @property
    def projects(self) -> list[str]: ...


_LIST_CAP = 200
"""How many file names a job's raw record lists per kind (the counts are always complete)."""
EXTRA = FieldNames("uploaded", "mapped", "unmapped")
"""The names of a project's `Job.extra` values."""
_NEXT_CHECK = attrgetter("next_check")
CHECKS_AT_ONCE = 8
"""mapping.csv reads in flight at once (as many as the shared connection pool holds)."""
SWEEP_LOCK_WAIT = 0.05
"""Seconds (beyond twice the health check's round trip) the first look at a project waits for
its mapping.csv to answer before taking it as locked: the first rows of thousands of projects do
not wait 400 ms on each locked one (it is asked again after `busy_backoff`)."""
_SHARED = SharedText(entries=1024, longest=120)
"""Messages and revisions that repeat across projects ("done (6 files mapped)"), one object each."""


class ProjectRecord:
    """What a project's `Job.raw` shows, as taken when its `Job` was made: a few slots (the lists
    only when this client uploaded something), the mapping made only when it is looked at (the
    detail pane, `jobtui show`, the journal) through `LazyRecord`."""

    __slots__ = (
        "checked",
        "configured",
        "error",
        "finished",
        "last_upload",
        "rows",
        "shortcode",
        "started",
        "status",
        "upload",
        "uploaded",
    )

    def __init__(self, p: ProjectTrack) -> None:
        self.shortcode = p.shortcode
        self.status = p.status
        self.rows = p.mapped
        self.checked: datetime | None = p.checked_at
        self.started: datetime | None = p.ingest_started
        self.finished: datetime | None = p.ingest_finished
        self.configured = p.configured
        self.error = p.error
        self.uploaded: tuple[Any, ...] = (
            (
                len(p.uploaded),
                tuple(sorted(p.uploaded)[:_LIST_CAP]),
                tuple(p.pending[:_LIST_CAP]),
                tuple(p.unmapped[:_LIST_CAP]),
                tuple(p.partial[:_LIST_CAP]),
            )
            if p.uploaded or p.pending or p.unmapped or p.partial
            else ()
        )
        upload = p.upload
        self.upload: dict[str, Any] | None = (
            None
            if upload is None
            else {
                "file": upload.file,
                "files_done": upload.files_done,
                "files_total": upload.files_total,
                "bytes_done": upload.bytes_done,
                "bytes_total": upload.bytes_total,
            }
        )
        report = p.last_report
        self.last_upload: dict[str, Any] | None = (
            None
            if report is None
            else {
                "summary": report.summary(),
                "uploaded": len(report.uploaded),
                "failed": [f"{f.rel}: {f.reason}" for f in report.failed][:_LIST_CAP],
                "not_uploaded": list(report.not_uploaded[:_LIST_CAP]),
                "rejected": [f"{r.rel}: {r.reason}" for r in report.rejected][:_LIST_CAP],
            }
        )

    def wire(self) -> dict[str, Any]:
        """The record as a mapping (a new one each time)."""
        count, uploaded, pending, unmapped, partial = self.uploaded or (0, (), (), (), ())
        raw: dict[str, Any] = {
            "shortcode": self.shortcode,
            "mapping_status": self.status,
            "mapping_rows": self.rows,
            "files_uploaded": count,
            "uploaded": list(uploaded),
            "not_ingested": list(pending),
            "unmapped": list(unmapped),
            "partial": list(partial),
            "ingest_started": self.started.isoformat() if self.started else None,
            "ingest_finished": self.finished.isoformat() if self.finished else None,
            "checked": self.checked.isoformat() if self.checked else None,
            "configured": self.configured,
        }
        if self.error:
            raw["error"] = self.error
        if self.upload is not None:
            raw["upload"] = dict(self.upload)
        if self.last_upload is not None:
            raw["last_upload"] = dict(self.last_upload)
        return raw


class DspIngestService(ClientService[DspIngestClient]):
    """One dsp-ingest server and token, shown as one row per project (see the module docstring
    for the states and the polling)."""

    kind = "dsp-ingest"
    columns = (
        Column("uploaded", "Uploaded", 9),
        Column("mapped", "Mapped", 7),
        Column("unmapped", "Unmapped", 9),
    )
    actions = (Action.UPLOAD, Action.INGEST, Action.MAPPING, Action.FINALIZE)

    def __init__(
        self,
        name: str,
        url: str,
        token: Secret | str,
        *,
        projects: Sequence[str] = (),
        verify: bool = True,
        list_projects: bool | None = None,
        list_every: int = 10,
        max_checks: int = 8,
        sweep_checks: int = 250,
        busy_backoff: float = 5.0,
        busy_backoff_max: float = 30.0,
        settled_recheck: float = 6.0,
        conflict_retries: int = 5,
        retry_delay: float = 1.0,
        retry_delay_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Clock = utc_now,
        lock_wait: float | None = None,
        client: DspIngestClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or DspIngestClient(url, token, service=name, verify=verify)
        self.token = self.client.token_info
        self.list_every = max(1, list_every)
        self.max_checks = max(1, max_checks)
        self.sweep_checks = max(self.max_checks, sweep_checks)
        """Projects the polls after the first look at, while some were never looked at."""
        self.busy_backoff = busy_backoff
        self.busy_backoff_max = busy_backoff_max
        self.settled_recheck = max(0.0, settled_recheck)
        """Seconds before a project whose mapping.csv answered as at its read before is asked
        again (one whose answer changed, or that this client acted on, is due at once)."""
        self.conflict_retries = max(0, conflict_retries)
        self.retry_delay = retry_delay
        self.retry_delay_max = retry_delay_max
        self.clock = clock
        self.lock_wait = lock_wait
        """Seconds (beyond twice the health check's round trip) to wait for a mapping.csv answer
        before taking the project as locked; None waits for the server's 409."""
        self._round_trip = 0.0
        self.now = now
        """The wall clock: when changes are stamped and whether the token has expired."""
        self._projects: dict[str, ProjectTrack] = {}
        self._jobs: dict[str, Job] = {}
        """The last `Job` made of each project, by shortcode (one is made again only when its
        project was looked at or acted on)."""
        self._touched: set[str] = set()
        """Projects changed outside a poll (an action, an upload) since the last poll."""
        self._listed: list[Job] = []
        """What the last poll returned: the very same list while no job changed."""
        self._swept = False
        """Whether every project was looked at once (until then, polls show their first part)."""
        self._unlooked: dict[str, None] = {}
        """Projects never looked at nor acted on, in order (the keys)."""
        self._uploading: set[str] = set()
        for code in projects:
            self._ensure(validate_shortcode(code)).configured = True
        if not self._projects:
            for code in self.token.write:
                self._ensure(code)
        self.list_projects = (
            (not projects and self.token.admin) if list_projects is None else list_projects
        )
        self._polls = 0
        self._server_version: str | None = None
        self.last_poll_requests = 0
        """Requests the last poll sent."""

    @classmethod
    def from_config(cls, cfg: DspIngestConfigLike) -> DspIngestService:
        return cls(
            cfg.name, cfg.url, Secret.of(cfg.token), projects=cfg.projects, verify=cfg.verify
        )

    # -- projects -------------------------------------------------------------------------------

    @staticmethod
    def validate_shortcode(text: str) -> str:
        """Exactly 4 hex digits, returned upper-cased; `InputError` otherwise."""
        return validate_shortcode(text)

    def _ensure(self, code: str) -> ProjectTrack:
        project = self._projects.get(code)
        if project is None:
            project = self._projects[code] = ProjectTrack(code)
            self._unlooked[code] = None
        return project

    def _acted(self, code: str) -> None:
        """The project changed outside a poll's look at it (an action, a mapping read)."""
        self._touched.add(code)
        self._unlooked.pop(code, None)

    def add_project(self, shortcode: str) -> str:
        """Show a project (typed by the user) from the next poll on; returns its shortcode."""
        return self._ensure(validate_shortcode(shortcode)).shortcode

    def track(self, shortcode: str) -> ProjectTrack | None:
        """What the service knows about a project (None when it shows no such row)."""
        return self._projects.get(shortcode.upper())

    @property
    def shortcodes(self) -> list[str]:
        return list(self._projects)

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        before = sum(self.client.requests.values())
        # The tab's health badge: a DOWN service (503 naming its components) fails the poll.
        health, _ = await asyncio.gather(self._health(), self._version(), return_exceptions=True)
        if health is not None:
            raise health
        if self.list_projects and self._polls % self.list_every == 0:
            await self._list()
        first = self._polls == 0
        self._polls += 1
        budget = self.max_checks if first or self._swept else self.sweep_checks
        due = self._due(budget)
        # Thousands never looked at: a locked one is taken as locked without the server's wait.
        quick = not self._swept and len(self._unlooked) > budget
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)
        errors = await asyncio.gather(*(self._check(p, quick=quick, slots=slots) for p in due))
        self.last_poll_requests = sum(self.client.requests.values()) - before
        failed = [e for e in errors if e is not None]
        if due and len(failed) == len(due):
            raise failed[0]
        if not self._swept:
            self._swept = not self._unlooked
        partial = not self._swept
        if self._refresh_jobs(due) or partial:
            jobs = self._jobs
            self._listed = [jobs[code] for code in self._projects if code in jobs]
        note = self.token.describe(self.now())
        if self._server_version:
            note = f"dsp-ingest {self._server_version} · {note}"
        total = len(self._projects) if partial else None
        return PollResult(self._listed, total=total, note=note, partial=partial)

    def _due(self, budget: int) -> list[ProjectTrack]:
        """The projects to look at now, at most `budget`: those never looked at first, then
        those due longest (none that this client is uploading to)."""
        projects = self._projects
        due = [projects[code] for code in itertools.islice(self._unlooked, budget)]
        if len(due) < budget:
            now = self.clock()
            picked = {p.shortcode for p in due}
            due += heapq.nsmallest(
                budget - len(due),
                (
                    p
                    for p in projects.values()
                    if p.next_check <= now and p.upload is None and p.shortcode not in picked
                ),
                key=_NEXT_CHECK,
            )
        return due

    def _refresh_jobs(self, checked: Sequence[ProjectTrack]) -> bool:
        """Make again the jobs of the projects looked at or acted on since the last poll (and of
        those uploading); True when one of them differs from the job it replaces (a job equal
        to the one before is not replaced: the poll hands out the same list)."""
        codes = self._touched
        self._touched = set()
        codes.update(p.shortcode for p in checked)
        codes.update(self._uploading)
        jobs = self._jobs
        if self._swept:  # projects added since, shown "not checked yet" until looked at
            codes.update(code for code in self._unlooked if code not in jobs)
        fresh = False
        for code in codes:
            p = self._projects.get(code)
            if p is None:
                continue
            job = self.to_job(p)
            before = jobs.get(code)
            if before is None or before != job:
                jobs[code] = job
                fresh = True
        return fresh

    async def _health(self) -> None:
        started = time.monotonic()
        await self.client.health()
        self._round_trip = time.monotonic() - started

    async def _version(self) -> None:
        if self._server_version is None:
            with contextlib.suppress(ServiceError):
                self._server_version = (await self.client.info()).version or "?"

    async def _list(self) -> None:
        try:
            ids, _total = await self.client.list_projects()
        except AuthError:
            self.list_projects = False
            return
        for code in ids:
            if SHORTCODE.fullmatch(code):
                self._ensure(code.upper()).listed = True

    async def _check(
        self, p: ProjectTrack, *, quick: bool = False, slots: asyncio.Semaphore | None = None
    ) -> ServiceError | None:
        """Ask mapping.csv once and update `p`; returns the error instead of raising it. `quick`:
        a project never looked at is taken as locked after `SWEEP_LOCK_WAIT`."""
        wait = self.lock_wait
        if wait is None and quick and p.shortcode in self._unlooked:
            wait = SWEEP_LOCK_WAIT
        self._unlooked.pop(p.shortcode, None)
        head = None if wait is None else wait + 2 * self._round_trip
        try:
            async with slots or contextlib.nullcontext():
                rows = await self.client.mapping(p.shortcode, head=head)
        except (ConflictError, NotAnsweredError):
            p.status = 409
            p.error = None
            p.busy += 1
            delay = min(self.busy_backoff * 2 ** (p.busy - 1), self.busy_backoff_max)
            p.next_check = self.clock() + delay
            p.checked_at = self.now()
            return None
        except NotFoundError:
            self._settled(p, 404, None)
            return None
        except ServiceError as error:
            # asked again next poll: the poll loop's own backoff spaces out failing polls
            p.status = None
            p.error = error.line
            p.next_check = self.clock()
            return error
        self._settled(p, 200, rows)
        return None

    def _settled(self, p: ProjectTrack, status: int, rows: list[tuple[str, str]] | None) -> None:
        """The lock was free: an ingest or finalize of ours is over. A project that answered
        as at its read before, with nothing of ours under way, is due `settled_recheck` later."""
        same = (
            p.status == status
            and p.mapped == (None if rows is None else len(rows))
            and not (p.ingesting or p.finalizing or p.upload)
        )
        p.record_settled(status, rows, clock=self.clock, now=self.now)
        if same:
            p.next_check += self.settled_recheck
        self._acted(p.shortcode)

    # -- jobs -----------------------------------------------------------------------------------

    def describe(self, p: ProjectTrack) -> tuple[JobState, str, str]:
        """(state, raw state, message) of a project; see the module docstring."""
        if p.upload is not None:
            return JobState.RUNNING, "uploading", p.upload.line()
        partial = (
            f"; {len(p.partial)} cut-off upload(s) on the server: upload again or finalize"
            if p.partial
            else ""
        )
        if p.status == 409:
            if p.ingesting:
                return (
                    JobState.RUNNING,
                    "ingesting",
                    f"ingesting ({len(p.batch)} files uploaded here)",
                )
            if p.finalizing:
                return JobState.RUNNING, "finalizing", "deleting the import folder and the mapping"
            return (
                JobState.RUNNING,
                "locked",
                "the project is locked by another ingest, upload or finalize",
            )
        if p.status is None:
            if p.error:
                return JobState.UNKNOWN, "error", p.error
            return JobState.UNKNOWN, "unchecked", "not checked yet"
        mapped = p.mapped or 0
        if p.status == 404 and p.finalized:
            return JobState.SUCCEEDED, "finalized", "import folder and mapping deleted"
        if p.pending:
            extra = f"; {mapped} mapped so far" if mapped else ""
            return (
                JobState.QUEUED,
                "uploaded",
                f"{len(p.pending)} files uploaded, not ingested yet{extra}{partial}",
            )
        if p.status == 404:
            return (
                JobState.UNKNOWN,
                "no mapping",
                "nothing ingested since the last finalize (files may be waiting)" + partial,
            )
        if p.unmapped:
            return (
                JobState.FAILED,
                "done, files unmapped",
                f"{len(p.unmapped)} of {len(p.batch)} files uploaded here got no mapping; "
                f"{mapped} mapped{partial}",
            )
        return JobState.SUCCEEDED, "done", f"done ({mapped} files mapped){partial}"

    def allowed(self, p: ProjectTrack, state: JobState) -> frozenset[Action]:
        """The actions possible on a project now."""
        if p.upload is not None or state is JobState.RUNNING:
            return action_set(())
        allowed = {Action.UPLOAD}
        if not p.partial and not p.finalized:
            allowed.add(Action.INGEST)
        if p.status == 200:
            allowed.add(Action.MAPPING)
        if not p.finalized:
            allowed.add(Action.FINALIZE)
        return action_set(allowed)

    def to_job(self, p: ProjectTrack) -> Job:
        state, raw_state, message = self.describe(p)
        view = (state.value, raw_state, message)
        if view != p.last_view:
            p.last_view = view
            p.changed_at = self.now()
        rows = p.mapped or 0
        upload = p.upload
        revision = _SHARED(
            f"{p.status}:{raw_state}:{rows}:{len(p.uploaded)}:{len(p.pending)}:"
            f"{len(p.unmapped)}:{upload.bytes_done if upload else ''}"
        )
        return Job(
            service=self.name,
            id=p.shortcode,
            state=state,
            raw_state=raw_state,
            type="bulk ingest",
            updated=p.changed_at,
            started=p.ingest_started,
            finished=p.ingest_finished if not p.ingesting else None,
            progress=upload.fraction * 100 if upload is not None else None,
            message=_SHARED(message),
            actions=self.allowed(p, state),
            extra=EXTRA(
                count_text(len(p.uploaded)) if p.uploaded else "",
                count_text(rows) if p.mapped is not None else "",
                count_text(len(p.unmapped)) if p.unmapped else "",
            ),
            raw=LazyRecord(ProjectRecord(p)),
            revision=revision,
        )

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        reason = super().disabled_reason(action, job)
        if reason is None or job is None or action not in self.actions:
            return reason
        p = self._projects.get(job.id)
        if p is None:
            return reason
        if p.upload is not None:
            return f"an upload to project {p.shortcode} is running"
        if p.status == 409:
            return f"project {p.shortcode} is locked ({job.raw_state}): wait until it is free"
        if action is Action.INGEST and p.partial:
            return (
                f"{len(p.partial)} file(s) were cut off while uploading and the server may hold "
                "partial copies: upload them again or finalize first"
            )
        if action is Action.INGEST and p.finalized:
            return "the project was finalized: upload files first"
        if action is Action.MAPPING:
            if p.status == 404:
                return "no mapping yet: nothing was ingested since the last finalize"
            return "the project's mapping has not been read yet"
        if action is Action.FINALIZE and p.finalized:
            return "the project is already finalized"
        return reason

    def confirm_text(self, action: Action, job: Job) -> str:
        if action is not Action.FINALIZE:
            return super().confirm_text(action, job)
        p = self._projects.get(job.id)
        rows = p.mapped if p is not None else None
        mapping = f"its mapping-{job.id}.csv" + (f" ({rows} rows)" if rows is not None else "")
        waiting = f", {len(p.pending)} of them uploaded here" if p is not None and p.pending else ""
        return (
            f"Finalize project {job.id}? The server deletes its import folder import/{job.id} "
            f"(every file not ingested yet included{waiting}) and {mapping}. "
            "Save the mapping first if you still need it."
        )

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.INGEST:
            return await self.start_ingest(job.id)
        if action is Action.FINALIZE:
            return await self.finalize(job.id)
        if action is Action.MAPPING:
            rows = await self.mapping(job.id)
            return f"{len(rows)} rows in the mapping of project {job.id}"
        raise UnsupportedActionError(self.name, action)

    def output_name(self, job: Job) -> str:
        return safe_name(f"mapping-{job.id}.csv", "mapping.csv")

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save the project's mapping.csv to `dest`."""
        if not overwrite and exists(dest):
            raise FileExistsError(f"{dest} exists")
        return await self.save_mapping(job.id, dest, overwrite=overwrite)

    def _not_uploading(self, shortcode: str) -> ProjectTrack:
        """The project's track; `ConflictError` while this client uploads to it."""
        code = validate_shortcode(shortcode)
        p = self._ensure(code)
        if p.upload is not None:
            raise ConflictError(self.name, f"an upload to project {code} is running")
        return p

    def _mapping_read(self, code: str, rows: list[tuple[str, str]]) -> None:
        """The mapping answered 200 outside a poll: the lock was free."""
        p = self._projects.get(code)
        if p is not None:
            self._settled(p, 200, rows)

    async def start_ingest(self, shortcode: str) -> str:
        """Start the bulk ingest of everything uploaded to the project; returns a short line."""
        p = self._not_uploading(shortcode)
        code = p.shortcode
        await self.client.start_ingest(code)
        p.record_ingest(self.now(), self.clock())
        self._acted(code)
        return f"ingest of project {code} started"

    async def mapping(self, shortcode: str) -> list[tuple[str, str]]:
        """The project's mapping rows (original, derivative). `ConflictError` while locked,
        `NotFoundError` when there is none."""
        code = validate_shortcode(shortcode)
        rows = await self.client.mapping(code)
        self._mapping_read(code, rows)
        return rows

    async def save_mapping(self, shortcode: str, dest: Path, *, overwrite: bool = True) -> Path:
        """Write the project's mapping.csv, as the server sent it, to `dest` (through a temporary
        file renamed into place; a file already there is replaced only with `overwrite`). A local
        file that cannot be written is a `LocalFileError`."""
        code = validate_shortcode(shortcode)
        text = await self.client.mapping_csv(code)
        self._mapping_read(code, parse_mapping(self.name, text))
        return await asyncio.to_thread(write_mapping, dest, text.encode("utf-8"), overwrite)

    async def finalize(self, shortcode: str) -> str:
        """Ask the server to delete the project's import folder and mapping (it does so in the
        background); returns a short line."""
        p = self._not_uploading(shortcode)
        code = p.shortcode
        await self.client.finalize(code)
        p.record_finalize(self.clock())
        self._acted(code)
        return (
            f"finalize of project {code} started: the server deletes its import folder and mapping"
        )

    # -- upload ---------------------------------------------------------------------------------

    def plan_upload(self, folder: Path | str) -> UploadPlan:
        """The files of `folder` to upload and those left out, with reasons (`plan_upload`)."""
        return plan_upload(folder)

    async def upload(
        self,
        shortcode: str,
        plan: UploadPlan,
        progress: UploadProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> UploadReport:
        """Upload the plan's files one after the other to the project's import folder.

        `progress` gets an `UploadProgress` at each file's start and end, after each piece sent
        and while waiting to retry. A 409 (the project is locked) is retried `conflict_retries`
        times with a doubling delay, a 5xx or a broken connection twice; a refused file is
        recorded and the upload goes on; a refused token, or a project that stays locked, stops
        it. Setting `cancel` stops it between pieces: the report lists exactly what was uploaded
        and what not, and the file cut off midway (`interrupted`).
        """
        code = validate_shortcode(shortcode)
        p = self._ensure(code)
        if p.upload is not None:
            raise ConflictError(self.name, f"an upload to project {code} is already running")
        run = UploadRun(self, p, plan, progress, cancel)
        p.upload = run.state
        self._uploading.add(code)
        self._acted(code)
        try:
            report = await run.run()
        finally:
            p.upload = None
            p.next_check = self.clock()
            p.last_report = run.report()
            self._uploading.discard(code)
            self._acted(code)
        return report
