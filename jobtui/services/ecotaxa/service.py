"""`EcoTaxaService`: an EcoTaxa account as a list of `Job`s, and its actions.

States. Each state letter maps to a common state; an unknown letter is shown as sent and maps to
UNKNOWN:

    P pending  -> QUEUED        R running -> RUNNING      A asking -> NEEDS_INPUT
    E error    -> FAILED        F finished -> SUCCEEDED

Actions and the server's silence. A wrong-state answer or restart is a silent 200 `null` on the
server, so the service checks the state just before (refusing with `ConflictError` when the job
moved on) and just after the call, and then watches the next polls (`expect_change`): a job still
unchanged after `confirm_polls` polls yields a note such as "EcoTaxa: job 12 is still in E after
restart". Erase is two-step: on P/R/A it kills the job (which stays listed, as error), on F/E it
archives it (the job leaves the list).

Polling. EcoTaxa sends its whole job list in one answer (no paging: 50,000 jobs are 23 MB), so:

* the first poll of a long list shows the jobs of its first `FIRST_PART` bytes at once (a partial
  result) and the next poll, at once, validates the whole answer already read;
* every `full_every`-th poll (default 10) lists every job: `GET /jobs/`;
* the other polls ask for the jobs in P, R and A (`GET /jobs/?job_status=P`, then R, then A:
  three short answers), plus `GET /jobs/{id}/` for each job that left those states since the
  last poll or was sent an action (an archived job answers 404: it left the list). A job in E
  or F changes only through an action (restart, erase) or the nightly archiving, which the next
  listing of every job shows. More than `REFETCH_AT_MOST` jobs gone from the active states, or
  a server that ignores `job_status` (before v3.0.7), and every job is listed instead.

An answer identical to the last one is not parsed again, and while no job changes a poll returns
the very same list of jobs (nothing to compare).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from jobtui.core.errors import ConflictError, InputError, NotFoundError, ServiceError
from jobtui.core.models import Action, Column, FieldNames, Job, JobState, action_set
from jobtui.core.secret import Revealable, Secret
from jobtui.core.service import PollResult, Progress, UnsupportedActionError
from jobtui.services._http import FirstBytes, text_pieces
from jobtui.services._service import ClientService, ServiceConfigLike, StateMap
from jobtui.services._wire import JobsOfRecords, LazyRecord
from jobtui.services.ecotaxa.answer import AnswerForm, checked_ids
from jobtui.services.ecotaxa.client import EcoTaxaClient
from jobtui.services.ecotaxa.wire import (
    EXPORT_TYPES,
    KILLABLE,
    EcoTaxaJob,
    EcoTaxaRecord,
    EcoTaxaUser,
    safe_file_name,
    state_word,
)
from jobtui.services.ecotaxa.wire import project_of as project_of  # also importable here
from jobtui.services.paging import capped

STATE_OF = StateMap(
    {
        "P": JobState.QUEUED,
        "R": JobState.RUNNING,
        "A": JobState.NEEDS_INPUT,
        "E": JobState.FAILED,
        "F": JobState.SUCCEEDED,
    }
)
state_of = STATE_OF.state_of
"""The common state of an EcoTaxa state letter; anything unknown is UNKNOWN."""


# -- the adapter --------------------------------------------------------------------------------


class EcoTaxaConfigLike(ServiceConfigLike, Protocol):
    """What `from_config` reads of `jobtui.config.EcoTaxaConfig`."""

    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> Revealable | None: ...
    @property
    def token(self) -> Revealable | None: ...
    @property
    def for_admin(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Expectation:
    """An action whose effect the next polls should show: the job's state, message or question
    must change (or the job leave the list) within `polls_left` polls."""

    job_id: str
    from_state: str
    action: str
    fingerprint: tuple[str, str, str] | None
    polls_left: int


class _Fingerprinted(Protocol):
    @property
    def state_letter(self) -> str: ...

    def fingerprint(self) -> tuple[str, str, str]: ...


def settle_expectations(
    expectations: Mapping[str, Expectation],
    current: Mapping[str, _Fingerprinted],
    service: str,
) -> tuple[dict[str, Expectation], list[str]]:
    """Check expectations against one poll: the ones still waiting, and a note for each one that
    ran out of polls. A job gone from the list, or whose fingerprint changed, settles it."""
    waiting: dict[str, Expectation] = {}
    notes: list[str] = []
    for job_id, expectation in expectations.items():
        record = current.get(job_id)
        if record is None:
            continue
        if expectation.fingerprint is not None:
            if record.fingerprint() != expectation.fingerprint:
                continue
        elif record.state_letter != expectation.from_state:
            continue
        left = expectation.polls_left - 1
        if left > 0:
            waiting[job_id] = replace(expectation, polls_left=left)
        else:
            notes.append(
                f"{service}: job {job_id} is still in {record.state_letter or '?'} "
                f"after {expectation.action}"
            )
    return waiting, notes


EXTRA = FieldNames("owner", "project")
"""The names of an EcoTaxa job's `Job.extra` values."""

FIRST_PART = 256 << 10
"""Bytes of a long job list whose jobs are shown first, while the whole list is validated (the
list is one answer: some 400 jobs, at once, of 50,000 that take seconds)."""


ACTIVE = ("P", "R", "A")
"""The states a job leaves by itself: between two listings of every job, only these are asked
for (`EcoTaxaService.poll`)."""

REFETCH_AT_MOST = 20
"""Jobs that left the active states since the last poll fetched one by one: more, and the whole
list is asked for instead."""

INDEX_IN_THREAD = 5000
"""Jobs from which a listing is sorted and indexed in a thread (the event loop answers keys)."""


def _indexed(
    listed: list[EcoTaxaRecord],
) -> tuple[list[EcoTaxaRecord], int | None, dict[str, EcoTaxaRecord], set[str]]:
    """A listing newest first (cut at `Limits.max_jobs`, with the total then), by job id, and
    the ids of its jobs in an active state."""
    ordered, total = capped(sorted(listed, key=lambda job: job.id, reverse=True), None)
    records = {str(job.id): job for job in ordered}
    return ordered, total, records, _active_ids(records)


def _active_ids(records: Mapping[str, EcoTaxaRecord]) -> set[str]:
    return {job_id for job_id, record in records.items() if record.state_letter in ACTIVE}


def _by_id(jobs: list[Job]) -> dict[str, Job]:
    return {job.id: job for job in jobs}


class EcoTaxaService(ClientService[EcoTaxaClient]):
    """One EcoTaxa account as a job list (see the module docstring for states and actions)."""

    kind = "ecotaxa"
    columns = (
        Column("owner", "Owner", 7),
        Column("project", "Project", 11),
    )
    actions = (Action.ANSWER, Action.RESTART, Action.DELETE, Action.LOGS, Action.DOWNLOAD)

    def __init__(
        self,
        name: str,
        url: str,
        *,
        username: str | None = None,
        password: Secret | str | None = None,
        token: Secret | str | None = None,
        for_admin: bool = False,
        verify: bool = True,
        confirm_polls: int = 3,
        full_every: int = 10,
        client: EcoTaxaClient | None = None,
    ) -> None:
        super().__init__(name)
        self.client = client or EcoTaxaClient(
            url,
            username=username,
            password=password,
            token=token,
            service=name,
            verify=verify,
        )
        self.for_admin = for_admin
        self.confirm_polls = max(1, confirm_polls)
        self.full_every = max(1, full_every)
        """Every job is listed every `full_every` polls; the others ask for the active ones."""
        self._cycle = 0
        """Polls since the last listing of every job."""
        self._listed_all = False
        """Whether every job was listed once (the first part of a long list is not all)."""
        self._filters_work = True
        """False once the server sent other states than the one asked for (before v3.0.7)."""
        self._by_id: dict[str, EcoTaxaRecord] = {}
        """The records of the last listing by job id (`_records` also holds single fetches)."""
        self._active: set[str] = set()
        """The jobs listed in an active state (`ACTIVE`)."""
        self.me: EcoTaxaUser | None = None
        self._asked_me = False
        self._made: JobsOfRecords[EcoTaxaRecord] = JobsOfRecords()
        self._listed: list[EcoTaxaRecord] | None = None
        """The list answer of the last poll (the same object while its body is)."""
        self._ordered: list[EcoTaxaRecord] = []
        self._total: int | None = None
        """How many jobs the server listed, when more than jobtui keeps (`Limits.max_jobs`)."""
        self._jobs_listed: list[Job] | None = None
        self._records: dict[str, EcoTaxaRecord] = {}
        self._jobs: dict[str, Job] = {}
        self._expect: dict[str, Expectation] = {}
        self._headed = False
        """Whether the first listing began (the first part of a long list is shown first)."""
        self._rest: asyncio.Future[bytes] | None = None
        """The body of a list whose first part alone was shown, read on meanwhile: the next
        poll parses it."""

    def _shown(self) -> str:
        return f", for_admin={self.for_admin}"

    @classmethod
    def from_config(cls, cfg: EcoTaxaConfigLike) -> EcoTaxaService:
        return cls(
            cfg.name,
            cfg.url,
            username=cfg.username,
            password=None if cfg.password is None else Secret.of(cfg.password),
            token=None if cfg.token is None else Secret.of(cfg.token),
            for_admin=cfg.for_admin,
            verify=cfg.verify,
        )

    def action_label(self, action: Action) -> str:
        if action is Action.DELETE:
            return "Erase"
        return super().action_label(action)

    # -- polling --------------------------------------------------------------------------------

    @property
    def records(self) -> Mapping[str, EcoTaxaRecord]:
        """The wire records of the last poll, by job id."""
        return self._records

    @property
    def jobs(self) -> Mapping[str, Job]:
        """The jobs of the last poll (and of single fetches since), by job id, newest first."""
        return self._jobs

    @property
    def expectations(self) -> Mapping[str, Expectation]:
        return self._expect

    async def poll(self) -> PollResult:
        """The whole job list. The first time, when the list is long, the jobs of its first
        part (`FIRST_PART`) come first, as a partial result, while the next poll validates the
        whole answer already read (EcoTaxa sends its list in one answer, without paging)."""
        if not self._asked_me:
            self._asked_me = True
            try:
                self.me = await self.client.me()
            except ServiceError:
                self.me = None  # only used to show "me" in the owner column
        if self._rest is not None:
            reading, self._rest = self._rest, None
            listed = await self.client.parse_list(await reading)
        elif not self._headed:
            self._headed = True
            first = await self._first_part()
            if first is not None:
                return first
            listed = await self.client.parse_list(await self._rest_of_list())
        else:
            self._cycle += 1
            if self._listed_all and self._filters_work and self._cycle % self.full_every:
                result = await self._poll_active()
                if result is not None:
                    return result
            listed = await self.client.list_jobs(for_admin=self.for_admin)
        result = await self._result(listed)
        self._cycle = 0
        self._listed_all = True
        return result

    async def _first_part(self) -> PollResult | None:
        """The first listing of a long list: the jobs of its first `FIRST_PART` bytes as soon as
        they have come, as a partial result, while the rest is read on (`_rest`) and then
        validated by the next poll (seconds for 100,000 jobs, even when the rest came at once);
        None for an answer no longer than that, or an error (left in `_rest`)."""
        first = FirstBytes(FIRST_PART)
        self._rest = reading = asyncio.ensure_future(
            self.client.list_body(for_admin=self.for_admin, first=first)
        )
        await asyncio.wait((reading, first.bytes), return_when=asyncio.FIRST_COMPLETED)
        if not first.bytes.done():  # the whole answer came first: a short list, or an error
            return None
        jobs = await self.client.first_part(first.bytes.result())
        if not jobs:
            return None
        return await self._result(jobs, partial=True)

    async def _rest_of_list(self) -> bytes:
        reading, self._rest = self._rest, None
        assert reading is not None
        return await reading

    async def aclose(self) -> None:
        if self._rest is not None:  # a list still being read
            self._rest.cancel()
            with contextlib.suppress(BaseException):
                await self._rest
            self._rest = None
        await super().aclose()

    async def _poll_active(self) -> PollResult | None:
        """A poll of the jobs in the active states alone, one small list per state: a job in
        E or F stays as it is until erased or restarted (a restart makes it P). A job no longer
        in an active state, or sent an action, is fetched (`GET /jobs/{id}/`; gone when
        archived). None when only
        a listing of every job can tell: too many jobs left, or the server ignores the filter.

        With 50,000 jobs, an unchanged poll reads three short answers instead of 23 MB."""
        now: dict[str, EcoTaxaRecord] = {}
        for letter in ACTIVE:
            records, filtered = await self.client.list_in_state(letter, for_admin=self.for_admin)
            if not filtered:
                self._filters_work = False
                return None
            now.update((str(record.id), record) for record in records)
        # and the jobs an action was sent to (an erased F or E job is archived: gone)
        left = [job_id for job_id in self._active | self._expect.keys() if job_id not in now]
        if len(left) > REFETCH_AT_MOST:
            return None
        gone: set[str] = set()
        for job_id in left:
            try:
                now[job_id] = EcoTaxaRecord(await self.client.get_job(int(job_id)))
            except NotFoundError:
                gone.add(job_id)  # archived
        changed: dict[str, EcoTaxaRecord] = {}
        for job_id, record in now.items():
            before = self._by_id.get(job_id)
            if before is None or (before is not record and not before.same_as(record)):
                changed[job_id] = record
        listed = self._listed or []
        if changed or gone:
            listed = [
                changed.pop(str(record.id), record)
                for record in listed
                if str(record.id) not in gone
            ]
            listed += changed.values()  # new jobs
        return await self._result(listed)

    async def poll_whole(self) -> PollResult:
        """One poll of the whole list (no first part first: nobody looks at it meanwhile)."""
        self._headed = True
        return await super().poll_whole()

    async def _result(self, listed: list[EcoTaxaRecord], *, partial: bool = False) -> PollResult:
        if listed is not self._listed:  # not the very same answer as the last poll's
            if len(listed) > INDEX_IN_THREAD:
                ordered, total, records, active = await asyncio.to_thread(_indexed, listed)
            else:
                ordered, total, records, active = _indexed(listed)
            self._ordered, self._total, self._by_id = ordered, total, records
            self._records = records.copy()  # single fetches update it, not the listing
            self._active = active
            self._listed = listed
        self._expect, notes = settle_expectations(self._expect, self._records, self.name)
        if self.for_admin:
            notes.insert(0, "all users' jobs")
        jobs = await self._made.jobs_in_slices(self._ordered, self.to_job)
        if jobs is not self._jobs_listed:
            self._jobs_listed = jobs
            if len(jobs) > INDEX_IN_THREAD:
                self._jobs = await asyncio.to_thread(_by_id, jobs)
            else:
                self._jobs = _by_id(jobs)
        total = None if partial else self._total
        return PollResult(jobs, total, note="; ".join(notes), partial=partial)

    def expect_change(
        self,
        job_id: str,
        from_state: str,
        action: str = "the last action",
        *,
        polls: int | None = None,
    ) -> None:
        """Watch the next polls for the effect of `action` on a job that was in `from_state`
        (a letter); if nothing changed after `polls` polls, a poll note says so."""
        record = self._records.get(str(job_id))
        fingerprint = record.fingerprint() if record is not None else None
        if fingerprint is not None and fingerprint[0] != from_state:
            fingerprint = None
        self._expect[str(job_id)] = Expectation(
            str(job_id), from_state, action, fingerprint, polls or self.confirm_polls
        )

    def _remember(self, sent: EcoTaxaJob) -> Job:
        record = self._records[str(sent.id)] = EcoTaxaRecord(sent)
        job = self.to_job(record)
        if job.id in self._jobs:
            self._jobs[job.id] = job
        return job

    async def refresh(self, job: Job | str) -> Job:
        """Fetch one job again (`GET /jobs/{id}/`)."""
        job_id = job.id if isinstance(job, Job) else job
        return self._remember(await self.client.get_job(int(job_id)))

    # -- mapping --------------------------------------------------------------------------------

    def to_job(self, sent: EcoTaxaJob | EcoTaxaRecord) -> Job:
        record = EcoTaxaRecord.of(sent)
        letter = record.state_letter
        actions = {Action.DELETE, Action.LOGS}
        if letter == "A":
            actions.add(Action.ANSWER)
        if letter == "E":
            actions.add(Action.RESTART)
        if record.has_file:
            actions.add(Action.DOWNLOAD)
        message = record.progress_msg or ""
        if not message.strip():
            # a crash on a bare `assert` leaves the message empty: its reason is in the errors
            message = record.last_error
        if letter == "A":
            users, taxa = record.asked
            message = f"to map: {users} user(s), {taxa} taxon name(s)"
        elif letter == "E" and message in ("'users'", "'taxa'"):
            # the import read a reply without that map (a KeyError): a restart asks again
            message = f"the reply had no {message} map: restart to be asked again"
        progress = record.progress_pct
        if progress is None and letter == "F":
            progress = 100.0
        owner = record.owner_id
        if owner is None:
            owner_text = ""
        elif self.me is not None and owner == self.me.id:
            owner_text = "me"
        else:
            owner_text = f"#{owner}"
        return Job(
            service=self.name,
            id=str(record.id),
            state=state_of(letter),
            raw_state=state_word(letter),
            type=record.type,
            created=record.created_at,
            updated=record.updated_at,
            progress=None if progress is None else float(progress),
            message=message,
            actions=action_set(actions),
            extra=EXTRA(owner_text, record.project),
            raw=LazyRecord(record),
            revision="|".join((letter, record.updated_on or "", str(record.progress_pct), message)),
        )

    # -- actions --------------------------------------------------------------------------------

    def disabled_reason(self, action: Action, job: Job | None) -> str | None:
        if job is not None and action in self.actions and action not in job.actions:
            state = job.raw_state or "unknown"
            if action is Action.ANSWER:
                return f"only asking jobs take an answer (this one is {state})"
            if action is Action.RESTART:
                return f"only jobs in error can be restarted (this one is {state})"
            if action is Action.DOWNLOAD:
                if job.type not in EXPORT_TYPES:
                    return f"{job.type or 'this'} jobs produce no file"
                return f"the file exists once the job has finished (this one is {state})"
        return super().disabled_reason(action, job)

    def confirm_text(self, action: Action, job: Job) -> str:
        letter = str(job.raw.get("state") or "")
        if action is Action.DELETE:
            head = f"Erase EcoTaxa job {job.id} ({job.type}, {job.raw_state})?"
            if letter in KILLABLE:
                return (
                    f"{head} The job is killed and stays listed as error; "
                    "erase it again to archive it."
                )
            return f"{head} It is archived and leaves the list."
        if action is Action.RESTART:
            return (
                f"Restart EcoTaxa job {job.id} ({job.type})? It runs again from the start; "
                "its errors and result stay until it ends."
            )
        return super().confirm_text(action, job)

    async def _current(self, job: Job) -> EcoTaxaJob:
        record = await self.client.get_job(int(job.id))
        self._records[str(record.id)] = EcoTaxaRecord(record)
        return record

    async def run_action(self, action: Action, job: Job) -> str:
        if action is Action.RESTART:
            return await self.restart(job)
        if action is Action.DELETE:
            return await self.erase(job)
        raise UnsupportedActionError(self.name, action)

    async def restart(self, job: Job) -> str:
        """Restart a job in E. Refused (`ConflictError`, nothing sent) when it left E."""
        before = await self._current(job)
        if before.state_letter != "E":
            raise ConflictError(
                self.name,
                f"job {job.id} is {state_word(before.state_letter)} now, not in error: "
                "nothing to restart",
            )
        await self.client.restart_job(before.id)
        self.expect_change(job.id, "E", "restart")
        after = await self._current(job)
        if after.fingerprint() == before.fingerprint():
            return f"{self.name}: job {job.id} restart sent, but it is still in E"
        return f"{self.name}: job {job.id} restarting ({state_word(after.state_letter)})"

    async def erase(self, job: Job) -> str:
        """Erase a job: kill it (P/R/A: it stays listed as error) or archive it (F/E)."""
        record = self._records.get(job.id)
        letter = record.state_letter if record is not None else str(job.raw.get("state") or "")
        await self.client.erase_job(int(job.id))
        self.expect_change(job.id, letter, "erase")
        if letter in KILLABLE:
            return (
                f"{self.name}: job {job.id} killed; it stays listed as error "
                "(erase it again to archive it)"
            )
        return f"{self.name}: job {job.id} archived"

    def answer_form(self, job: Job) -> AnswerForm:
        """The form for `job`'s question (its missing users and taxa)."""
        record = self._records.get(job.id)
        if record is not None:
            return AnswerForm.from_question(job.id, record.question)
        return AnswerForm.for_job(job)

    async def answer(self, job: Job, users: Mapping[str, int], taxa: Mapping[str, int]) -> str:
        """Answer an asking FileImport job: `users` maps user names to user ids, `taxa` taxon
        names to taxon ids. Both maps are sent (the job fails on a reply without one of them).
        Refused (`ConflictError`, nothing sent) when the job is not asking any more."""
        reply_users = checked_ids("users", users)
        reply_taxa = {name.lower(): value for name, value in checked_ids("taxa", taxa).items()}
        if not reply_users and not reply_taxa:
            raise InputError("answer", "give the id of at least one user or taxon name")
        before = await self._current(job)
        if before.state_letter != "A":
            raise ConflictError(
                self.name,
                f"job {job.id} is {state_word(before.state_letter)} now, not asking: "
                "the answer was not sent",
            )
        await self.client.answer_job(before.id, {"users": reply_users, "taxa": reply_taxa})
        self.expect_change(job.id, "A", "answer")
        after = await self._current(job)
        left = [u for u in before.missing_users if u not in reply_users] + [
            t for t in before.missing_taxa if t.lower() not in reply_taxa
        ]
        sent = f"{len(reply_users)} user(s), {len(reply_taxa)} taxon name(s)"
        if after.fingerprint() == before.fingerprint():
            return f"{self.name}: job {job.id} answer sent ({sent}), but it is still asking"
        tail = f"; {len(left)} name(s) left unmapped, it will ask again" if left else ""
        return f"{self.name}: job {job.id} answered ({sent}), now {state_word(after.state_letter)}{tail}"

    async def read_log(self, job: Job) -> str:
        return await self.client.job_log(int(job.id))

    async def stream_log(self, job: Job) -> AsyncIterator[str]:
        async for text in text_pieces(self.client.log_chunks(int(job.id))):
            yield text

    def output_name(self, job: Job) -> str:
        record = self._records.get(job.id)
        name = record.file_name if record is not None else None
        if name is None:
            result = job.raw.get("result")
            out = result.get("out_file") if isinstance(result, Mapping) else None
            name = safe_file_name(out) if isinstance(out, str) else None
            if job.type == "DarwinCoreExport":
                name = "dwca.zip"
        return name or f"ecotaxa_job_{job.id}"

    async def download(
        self, job: Job, dest: Path, progress: Progress | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save the job's file to `dest` (a file path, or a folder: the server's file name is
        used). An existing file raises `JobFileExistsError` unless `overwrite`."""
        return await self.client.download_file(int(job.id), dest, progress, overwrite=overwrite)
