"""`LeiaService`: one Leia application as a job list, and its polling strategy.

Polling strategy, and what one poll cycle costs in requests. T = jobs matching the filters,
L = page size (100), A = jobs not yet PROCESSED, FAILED or CANCELED, C = job ids per status request
(the URL is kept under 2,000 bytes: about 75 ids of 24 characters), S = jobs whose status changed:

* the very first poll, when the list is longer than a page: its first page alone (one `GET /job`),
  shown at once as a partial result (`PollResult.partial`) while the next poll, at once, does
  cycle 0 (with 100,000 jobs, first rows within a second instead of after a thousand requests);
* cycle 0 (the first load, and the first cycle after `set_filters`): the whole list,
  ceil(T / L) `GET /job` requests (at least one; a 404 "No jobs found" is an empty list);
* every K-th cycle after it (K = `full_every`, default 10), a check for jobs the other requests
  cannot see (created by somebody else, or gone): one `GET /job?sort=-creation_time&limit=L`,
  the newest jobs and the total. Its new jobs are added; when the total is the last listing's
  plus those new jobs, nothing else changed (a job that ended stays as it ended on Leia). Only
  when the total says otherwise (jobs gone, a whole page of new ones, no total sent) or the
  `status` filter is set (jobs move in and out of it) is the whole list fetched again;
* every other cycle: ceil(A / C) `GET /job/{ids}/status` requests, then one `GET /job/{id}` per job
  whose status changed (S; when S is more than a page, the next poll lists everything instead),
  plus one `GET /job?parent_job_id=` per conditional job that changed or is PROCESSING with none
  of its jobs known yet (to pick up the jobs its rules create). No request at all when A = 0;
* plus one `GET /whoami` when nothing was sent for `keepalive_after` seconds (default 240), one
  `POST /login` the first time, and one more after a 401.

For 1,000 jobs of which 20 are active and 3 change per cycle, listing everything costs 10 requests
every cycle; this strategy costs 10 on the first cycle, then 1 + 3 = 4, and 1 more every K-th.
With 100,000 jobs and none active, a cycle costs nothing, and one request every K-th (instead of
1,000). Both counts are measured by the tests (`LeiaClient.requests` counts each operation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from jobtui.core.errors import NotFoundError
from jobtui.core.format import count_text
from jobtui.core.models import Action, Column, FieldNames, Job, JobState, action_set
from jobtui.core.pacing import Pacer
from jobtui.core.secret import Revealable, Secret
from jobtui.core.service import PollResult, UnsupportedActionError
from jobtui.services._http import limits
from jobtui.services._service import ClientService, ServiceConfigLike, StateMap
from jobtui.services._wire import LazyRecord
from jobtui.services.leia.chain import (
    LeiaChain,
    Links,
    add_links,
    chain_in,
    dependents_that_fail,
    link_indexes,
    unfinished_children,
)
from jobtui.services.leia.client import LeiaClient
from jobtui.services.leia.conditions import check_conditional_body, validate_rules
from jobtui.services.leia.filters import LeiaFilters
from jobtui.services.leia.wire import LeiaJob, LeiaRecord

STATE_OF = StateMap(
    {
        "BLOCKED": JobState.QUEUED,
        "WAITING": JobState.QUEUED,
        "READY": JobState.QUEUED,
        "STARTING": JobState.RUNNING,
        "LOADING_MODEL": JobState.RUNNING,
        "PROCESSING": JobState.RUNNING,
        "PROCESSED": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
        "CANCELED": JobState.CANCELLED,
    }
)
state_of = STATE_OF.state_of
"""The common state of a Leia status; anything unknown is UNKNOWN (and shown as sent)."""


def actions_of(status: str) -> frozenset[Action]:
    """What a job in `status` allows: a conditional job after it always; cancel until it ended;
    start when BLOCKED (one shared set per combination)."""
    actions = {Action.CONDITIONAL}
    if not state_of(status).terminal:
        actions.add(Action.CANCEL)
    if status == "BLOCKED":
        actions.add(Action.START)
    return action_set(actions)


EXTRA = FieldNames("job_type", "model", "documents")
"""The names of a Leia job's `Job.extra` values."""


class LeiaConfigLike(ServiceConfigLike, Protocol):
    """What `from_config` reads of `jobtui.config.LeiaConfig`."""

    @property
    def api_key(self) -> Revealable: ...


class LeiaService(ClientService[LeiaClient]):
    """One Leia application as a job list (see the module docstring for the polling strategy)."""

    kind = "leia"
    columns = (
        Column("model", "Model", 24),
        Column("documents", "Docs", 5),
    )
    actions = (Action.CANCEL, Action.START, Action.CONDITIONAL)

    def __init__(
        self,
        name: str,
        url: str,
        api_key: Secret | str,
        *,
        verify: bool = True,
        full_every: int = 10,
        page_size: int = 100,
        keepalive_after: float = 240.0,
        max_url: int = 2000,
        filters: LeiaFilters | None = None,
        client: LeiaClient | None = None,
        first_page_first: bool = True,
    ) -> None:
        super().__init__(name)
        self.client = client or LeiaClient(
            url,
            api_key,
            service=name,
            verify=verify,
            keepalive_after=keepalive_after,
            max_url=max_url,
        )
        self.full_every = max(1, full_every)
        self.page_size = max(1, page_size)
        self._filters = filters or LeiaFilters()
        self._records: dict[str, LeiaRecord] = {}
        self._jobs: dict[str, Job] = {}
        self._listed: list[Job] | None = None
        """`_jobs` as the list a poll returns; None once `_jobs` changed. While nothing changes,
        each poll returns the very same list (which `ServiceMonitor` takes as no change)."""
        self._active: list[str] | None = None
        """The ids of the unfinished jobs of `_records`; None once `_records` changed."""
        self._cycle = 0
        self._needs_full = True
        self._headed = not first_page_first
        """Whether the first listing began (its first page alone is shown first: `poll`)."""
        self._total: int | None = None
        self._index: tuple[Links, Links] | None = None
        self.last_poll_requests = 0
        """Requests the last poll made (its keep-alive ping included)."""
        self.last_poll_full = False

    @classmethod
    def from_config(cls, cfg: LeiaConfigLike) -> LeiaService:
        return cls(cfg.name, cfg.url, Secret.of(cfg.api_key), verify=cfg.verify)

    # -- filters and snapshot -------------------------------------------------------------------

    @property
    def filters(self) -> LeiaFilters:
        return self._filters

    @property
    def lists_everything(self) -> bool:
        return not self._filters

    def set_filters(self, filters: LeiaFilters) -> None:
        """Apply server-side filters: the next poll lists everything again with them."""
        if filters != self._filters:
            self._filters = filters
            self._needs_full = True

    def relist(self) -> None:
        """List every job again at the next poll."""
        self._needs_full = True

    @property
    def jobs(self) -> Mapping[str, Job]:
        """The current snapshot, in listing order."""
        return self._jobs

    @property
    def cycle(self) -> int:
        """Polls done since the last full listing was due (0 = the next poll lists everything)."""
        return 0 if self._needs_full else self._cycle

    # -- polling --------------------------------------------------------------------------------

    async def poll(self) -> PollResult:
        before = self.client.request_count
        full = self._needs_full
        if not full and self._cycle % self.full_every == 0:
            full = not await self._check_unseen()
        if full:
            head = None
            if not self._jobs and not self._headed:
                # The first listing: its first page is shown at once when more pages follow
                # (`PollResult.partial`); the next poll lists everything.
                self._headed = True
                page = await self.client.list_jobs(self._filters, limit=self.page_size)
                if page.jobs and page.total is not None and page.total > len(page.jobs):
                    await self._relisted(page.jobs)
                    self._total = page.total
                    self.last_poll_requests = self.client.request_count - before
                    self.last_poll_full = False
                    return PollResult(
                        list(self._jobs.values()), page.total, note=self._note(), partial=True
                    )
                head = page  # the first page of the listing that follows
            records, total = await self.client.list_all_jobs(
                self._filters, page_size=self.page_size, first=head
            )
            await self._relisted(records)
            self._total = total
            self._needs_full = False
            self._cycle = 0
        else:
            await self._refresh_active()
        self._cycle += 1
        await self.client.keep_alive()
        self.last_poll_requests = self.client.request_count - before
        self.last_poll_full = full
        if self._listed is None:
            self._listed = list(self._jobs.values())
        total = self._total if self._total is not None and self._total > len(self._listed) else None
        return PollResult(self._listed, total, note=self._note())

    async def poll_whole(self) -> PollResult:
        """One poll of the whole list (no first page first: nobody looks at it meanwhile)."""
        self._headed = True
        return await super().poll_whole()

    def _note(self) -> str:
        """The status line's note: the filters, and the cap when the list reached it."""
        described = self._filters.describe()
        notes = [f"filter {described}"] if described else []
        if len(self._jobs) >= limits().max_jobs:
            notes.append(f"first {len(self._jobs):,} jobs (jobtui lists at most that many)")
        return "; ".join(notes)

    async def _check_unseen(self) -> bool:
        """Look for jobs created or gone since the last listing with one page of the newest jobs
        and its total; add the new ones. False when only a full listing can tell."""
        if self._filters.status is not None or self._total is None:
            return False
        probe = replace(self._filters, sort=("-creation_time",))
        page = await self.client.list_jobs(probe, limit=self.page_size)
        if page.total is None or page.total < self._total:
            return False  # jobs gone (or no total): only a full listing tells which
        if len(self._records) >= limits().max_jobs:
            # The list is at the cap: what lies beyond it stays out ("N of TOTAL"); the newest
            # page shows jobs beyond it, which are not news, and a listing would cut them again.
            self._total = page.total
            return True
        new = [record for record in page.jobs if record.id not in self._records]
        if page.total != self._total + len(new):
            return False
        if new and len(new) >= self.page_size:
            return False  # more new jobs than a page: list them all
        for record in new:
            self._put(record)
        return True

    async def _relisted(self, records: list[LeiaRecord]) -> None:
        """Take a full listing: a record that is the very same object as before (an unchanged
        page, which the client does not parse again) keeps its job; while every job is kept in
        the same order, the list a poll returns stays the very same. Lets the event loop run
        between turns of work (`Pacer`: a list of 100,000 takes a second or two)."""
        old_records, old_jobs = self._records, self._jobs
        new_records: dict[str, LeiaRecord] = {}
        new_jobs: dict[str, Job] = {}
        same = len(records) == len(old_jobs)
        for record, before in zip(records, old_jobs, strict=False):
            if record.id != before:
                same = False
                break
        # The links of chains and the unfinished jobs are found in the same pass.
        dependents: Links = {}
        children: Links = {}
        active: list[str] = []
        pacer = Pacer()
        for record in records:
            job_id = record.id
            job = old_jobs.get(job_id) if old_records.get(job_id) is record else None
            if job is None:
                job = self.to_job(record)
                same = False
            if pacer.due():
                await pacer.rest()  # the old snapshot stays whole meanwhile
            new_records[job_id] = record
            new_jobs[job_id] = job
            add_links(record, dependents, children)
            if not record.terminal:
                active.append(job_id)
        self._records, self._jobs = new_records, new_jobs
        self._index = dependents, children
        self._active = active
        if not same:
            self._listed = None

    async def _refresh_active(self) -> None:
        if self._active is None:
            self._active = [job_id for job_id, job in self._records.items() if not job.terminal]
        active = self._active
        if not active:
            return
        statuses = await self.client.get_statuses(active)
        stale = [i for i in active if statuses.get(i) != self._records[i].status_text]
        if len(stale) > self.page_size:
            # More changed jobs than a page holds: listing them all costs fewer requests than
            # fetching each (and a server that changes every job cannot make it ask 100,000).
            self._needs_full = True
            return
        fetched = await self._fetch(stale)
        _, children = self._indexes()
        look = [
            job_id
            for job_id in active
            if (record := fetched.get(job_id, self._records[job_id])) is not None
            and record.is_conditional
            and (
                job_id in fetched or (record.status_text == "PROCESSING" and job_id not in children)
            )
        ]
        added: dict[str, LeiaRecord] = {}
        for job_id in look:
            found, _ = await self.client.list_all_jobs(
                LeiaFilters(parent_job_id=job_id), page_size=self.page_size
            )
            added.update((c.id, c) for c in found if c.id not in self._records)
        for job_id, job in fetched.items():
            if job is None:
                self._records.pop(job_id, None)
                self._jobs.pop(job_id, None)
                self._listed = self._active = None
                self._index = None
            else:
                self._put(job)
        for job in added.values():
            self._put(job)

    async def _fetch(self, job_ids: Sequence[str]) -> dict[str, LeiaRecord | None]:
        """Fetch jobs in full, four at a time; None for a job the server no longer knows."""
        gate = asyncio.Semaphore(4)
        out: dict[str, LeiaRecord | None] = {}

        async def one(job_id: str) -> None:
            async with gate:
                try:
                    out[job_id] = LeiaRecord(await self.client.get_job(job_id))
                except NotFoundError:
                    out[job_id] = None

        await asyncio.gather(*(one(job_id) for job_id in job_ids))
        return {job_id: out[job_id] for job_id in job_ids}

    def _put(self, sent: LeiaJob | LeiaRecord) -> Job:
        record = LeiaRecord.of(sent)
        if record.id not in self._records:
            self._index = None
            if self._total is not None:
                self._total += 1  # one more job on the server than the last listing counted
        self._records[record.id] = record
        job = self.to_job(record)
        self._jobs[record.id] = job
        self._listed = self._active = None
        return job

    async def keep_alive(self) -> bool:
        """Ping the server if nothing was sent for `keepalive_after` seconds (for a UI timer)."""
        return await self.client.keep_alive()

    # -- mapping --------------------------------------------------------------------------------

    def to_job(self, sent: LeiaJob | LeiaRecord) -> Job:
        record = LeiaRecord.of(sent)
        status = record.status_text
        state = state_of(status)
        if record.reason:
            message = record.reason
            code = record.http_code
            if state is JobState.FAILED and code not in (None, "", 200):
                message = f"{message} (code {code})"
        elif status == "WAITING" and record.execute_after_id:
            message = f"waits on {record.execute_after_id}"
        elif status == "BLOCKED":
            message = "blocked until started"
        else:
            message = ""
        times = (record.starting_time, record.finished_time, record.reason, record.result_type)
        return Job(
            service=self.name,
            id=record.id,
            state=state,
            raw_state=status,
            type=record.job_type or "",
            created=record.creation_time,
            updated=record.finished_time or record.starting_time or record.creation_time,
            started=record.starting_time,
            finished=record.finished_time,
            message=message,
            actions=actions_of(status),
            extra=EXTRA(record.job_type or "", record.model_id or "", count_text(record.documents)),
            raw=LazyRecord(record),
            revision="|".join([status, *(str(t) for t in times)]),
        )

    # -- chains ---------------------------------------------------------------------------------

    def _indexes(self) -> tuple[Links, Links]:
        if self._index is None:
            self._index = link_indexes(self._records.values())
        return self._index

    def chain(self, job_id: str) -> LeiaChain:
        """`chain_of` over the service's own snapshot, from indexes kept between polls."""
        dependents, children = self._indexes()
        return chain_in(job_id, self._records, self._jobs, dependents, children)

    def dependents_that_fail(self, job_id: str) -> list[Job]:
        """Jobs not yet ended whose `execute_after_id` chain leads to `job_id`: cancelling it
        fails them."""
        dependents, _ = self._indexes()
        return dependents_that_fail(job_id, dependents, self._jobs)

    def _running_children(self, job_id: str) -> list[Job]:
        _, children = self._indexes()
        return unfinished_children(job_id, children, self._jobs)

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        if job is not None and action in self.actions and action not in job.actions:
            if action is Action.CANCEL:
                if job.raw_state == "CANCELED":
                    return "the job is already canceled"
                return "finished jobs cannot be cancelled"
            if action is Action.START:
                return f"only BLOCKED jobs can be started (this one is {job.raw_state or '?'})"
        return super().disabled_reason(action, job)

    def confirm_text(self, action: Action, job: Job) -> str:
        if action is not Action.CANCEL:
            return super().confirm_text(action, job)
        text = f"Cancel Leia job {job.id} ({job.raw_state})?"
        failing = self.dependents_that_fail(job.id)
        if failing:
            noun = "job waits" if len(failing) == 1 else "jobs wait"
            text += f"\n\n{len(failing)} dependent {noun} on it and will fail:"
            text += "".join(f"\n  {d.id}  {d.raw_state}  {d.type}".rstrip() for d in failing[:8])
            if len(failing) > 8:
                text += f"\n  … and {len(failing) - 8} more"
        children = self._running_children(job.id)
        if children:
            text += f"\n\nIts {len(children)} unfinished sub-job(s) will be canceled."
        return text

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.CANCEL:
            failing = len(self.dependents_that_fail(job.id))
            await self.client.cancel_job(job.id)
            tail = f"; {failing} dependent job(s) will fail" if failing else ""
            return f"{self.name}: job {job.id} canceled{tail}"
        if action is Action.START:
            record = await self.client.start_job(job.id)
            self._put(record)
            return f"{self.name}: job {job.id} started ({record.status_text})"
        raise UnsupportedActionError(self.name, action)

    async def create_conditional(self, execute_after_id: str, body: Mapping[str, Any] | str) -> Job:
        """Create a conditional job that runs after `execute_after_id`. `body` is a ConditionalBody
        (or its JSON text, or a bare rules map as text); it is validated before anything is sent."""
        checked = (
            validate_rules(body) if isinstance(body, str) else check_conditional_body(dict(body))
        )
        record = await self.client.create_conditional(execute_after_id, checked)
        return self._put(record)

    def with_filters(self, **changes: Any) -> LeiaFilters:
        """The current filters with some fields changed (a convenience for the UI)."""
        return replace(self._filters, **changes)


__all__ = ["EXTRA", "STATE_OF", "LeiaConfigLike", "LeiaService", "actions_of", "state_of"]
