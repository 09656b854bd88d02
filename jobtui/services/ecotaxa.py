"""EcoTaxa (API 0.0.45): wire models, `EcoTaxaClient`, and `EcoTaxaService`.

The client speaks the job routes exactly as the server routes them (the trailing slash matters):
`GET /jobs/` (always with `for_admin`, as servers up to v3.0.6 require it), `GET /jobs/{id}/`,
`POST /jobs/{id}/answer`, `GET /jobs/{id}/restart` (a GET), `DELETE /jobs/{id}` (no slash),
`GET /jobs/{id}/log` and `GET /jobs/{id}/file`. It logs in with `POST /login` when it has a username
and password and no token, sends `Authorization: Bearer`, and logs in once more on a 401 when a
password is configured. Redirects are never followed: EcoTaxa's 307s point at its front end.

Errors become one line each. The server's `detail` is kept (a 422 list rendered as "loc: msg"); a
403 on `for_admin=true` says that it needs the application administrator right; the plain-text 500
tracebacks of `/file` and `/log` read "no result file for this job" and, as a job has its log from
its creation on, "no log for an archived job" or "log file missing on the server (its task folder
is gone)" (the traceback stays on the error, `EcoTaxaServerError.traceback`, for a detail view).
The client never sends HEAD (the server answers 405 to it on every route), and never erases a
negative id: `DELETE /jobs/-N` restores an archived job.

A download is written to `<dest>.part` and renamed when complete (`services/download.py`: the
server's file name becomes one cleaned name inside the folder; a `.part` is created new, or
resumed only when it is a regular file of the user's, never through a link). It never replaces
an existing file unless asked (`JobFileExistsError`, a `FileExistsError` carrying the path, lets
a UI ask), and an interrupted download resumes from the `.part` file with `Range: bytes=N-` (a
206 appends; a 200 starts over), both within one call (`resume_attempts`) and on the next call.
A `.part` that is already complete is renamed: EcoTaxa answers its `bytes=<size>-` with an empty
206; a server that answers 416 instead is asked for the whole file, and the `.part` is kept when
that file's Content-Length is its size (the body is not read).

States. EcoTaxa sends one letter. `Job.raw_state` holds the readable word the table shows
(pending, running, asking, error, finished); the letter stays in `Job.raw["state"]`. An unknown
letter is shown as sent and maps to UNKNOWN:

    P pending  -> QUEUED        R running -> RUNNING      A asking -> NEEDS_INPUT
    E error    -> FAILED        F finished -> SUCCEEDED

Actions and the server's silence. A wrong-state answer or restart is a silent 200 `null` on the
server, so the service checks the state just before (refusing with `ConflictError` when the job
moved on) and just after the call, and then watches the next polls (`expect_change`): a job still
unchanged after `confirm_polls` polls yields a note such as "EcoTaxa: job 12 is still in E after
restart". Erase is two-step: on P/R/A it kills the job (which stays listed, as error), on F/E it
archives it (the job leaves the list).
"""

from __future__ import annotations

import asyncio
import errno
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import unquote

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    InputError,
    RefusedError,
    ServerError,
    ServiceError,
    TransportError,
)
from jobtui.core.format import shown_value
from jobtui.core.models import Action, Column, Job, JobState
from jobtui.core.secret import Secret
from jobtui.core.service import PollResult, Progress, Service, UnsupportedActionError
from jobtui.core.text import clean_lines
from jobtui.services._http import (
    DEFAULT_TIMEOUT,
    MinimumRate,
    capped,
    content_length,
    error_for_status,
    fetch,
    json_depth_ok,
    limits,
    log_text,
    make_client,
    open_stream,
    read_answer,
    stream_body,
    tail,
    text_pieces,
    transport_error,
)
from jobtui.services._wire import DEFERRED, JobsOfRecords, LazyRecord, SameBody, parse_body
from jobtui.services._wire import text as _text
from jobtui.services.download import (
    LocalFileError,
    PartFile,
    component,
    exists,
    folder_problem,
    inside,
    local_error,
    part_of,
)

# -- states and types ---------------------------------------------------------------------------

STATE_WORDS: Mapping[str, str] = {
    "P": "pending",
    "R": "running",
    "A": "asking",
    "E": "error",
    "F": "finished",
}
"""The word shown for each state letter."""

STATE_OF: Mapping[str, JobState] = {
    "P": JobState.QUEUED,
    "R": JobState.RUNNING,
    "A": JobState.NEEDS_INPUT,
    "E": JobState.FAILED,
    "F": JobState.SUCCEEDED,
}

EXPORT_TYPES = frozenset(
    {"GeneralExport", "SummaryExport", "BackupExport", "GenExport", "DarwinCoreExport"}
)
"""The job types that produce a file (`GET /jobs/{id}/file`) once finished."""

KILLABLE = frozenset({"P", "R", "A"})
"""States in which erase kills the job (it stays listed, as E); in F and E it archives it."""


def state_of(letter: str) -> JobState:
    """The common state of an EcoTaxa state letter; anything unknown is UNKNOWN."""
    return STATE_OF.get(letter, JobState.UNKNOWN)


_WORDS = frozenset(STATE_WORDS.values())


def state_word(letter: str) -> str:
    """The word shown for a state letter: pending, running... or the state itself if unknown,
    marked with "?" when it reads like one of those words (a server sending "asking" instead of
    "A" must not look like a job that is asking)."""
    word = STATE_WORDS.get(letter)
    if word is not None:
        return word
    return f"{letter}?" if letter in _WORDS else letter


# -- wire models --------------------------------------------------------------------------------


def _object(value: Any) -> Any:
    """A JSON object field: null is `{}`, anything that is not an object is kept under "value"."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


def _texts(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, list):
        return [item if isinstance(item, str) else json.dumps(item) for item in value]
    return [str(value)]


def _number(value: Any) -> Any:
    """A percentage: numbers as they are (an integer stays one), numeric text as its number,
    anything else as None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return None


def _job_id(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return value


WireText = Annotated[str | None, BeforeValidator(_text)]
WireObject = Annotated[dict[str, Any], BeforeValidator(_object)]


def parse_time(text: str | None) -> datetime | None:
    """A JobModel date-time: naive ISO 8601 in UTC (an offset, or `Z`, is honoured too)."""
    if not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class EcoTaxaJob(_Wire):
    """A JobModel as the server sends it. Only `id` and `type` are required; every other field
    may be missing or null, and unknown fields are kept. Timestamps stay text, as sent."""

    params: WireObject = {}
    result: WireObject = {}
    errors: Annotated[list[str], BeforeValidator(_texts)] = []
    question: WireObject = {}
    reply: WireObject = {}
    inside: WireObject = {}
    id: Annotated[int, BeforeValidator(_job_id)]
    owner_id: Annotated[int | None, BeforeValidator(_job_id)] = None
    type: Annotated[str, BeforeValidator(_text)]
    state: WireText = None
    step: Any = None
    progress_pct: Annotated[int | float | None, BeforeValidator(_number)] = None
    progress_msg: WireText = None
    creation_date: WireText = None
    updated_on: WireText = None

    @property
    def state_letter(self) -> str:
        return self.state or ""

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self.creation_date)

    @property
    def updated_at(self) -> datetime | None:
        return parse_time(self.updated_on)

    @property
    def missing_users(self) -> list[str]:
        return _names(self.question.get("missing_users"))

    @property
    def missing_taxa(self) -> list[str]:
        return _names(self.question.get("missing_taxa"))

    @property
    def has_file(self) -> bool:
        """A finished export: `GET /jobs/{id}/file` has something to send."""
        return self.state_letter == "F" and self.type in EXPORT_TYPES

    @property
    def file_name(self) -> str | None:
        """The produced file's name as the server will call it, when it is known."""
        if self.type == "DarwinCoreExport":
            return "dwca.zip"
        out = self.result.get("out_file")
        return safe_file_name(out) if isinstance(out, str) else None

    @property
    def last_error(self) -> str:
        """The last line of `errors` that is not blank: a crash's exception (the errors of a
        crashed job are traceback pieces of several lines each), or the last import error."""
        for item in reversed(self.errors):
            for line in reversed(item.splitlines()):
                if line.strip():
                    return line.strip()
        return ""

    def fingerprint(self) -> tuple[str, str, str]:
        """What an action is expected to change: state, message and question."""
        question = json.dumps(self.question, sort_keys=True, default=str)
        return (self.state_letter, self.progress_msg or "", question)

    def wire(self) -> dict[str, Any]:
        """The record as received (declared fields that were sent, plus every undeclared one)."""
        return self.model_dump(mode="json", exclude_unset=True)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if item is not None and str(item).strip()]


class EcoTaxaUser(_Wire):
    """The caller, from `GET /users/me`. `can_do` 2 means application administrator."""

    id: Annotated[int, BeforeValidator(_job_id)]
    email: WireText = None
    name: WireText = None
    organisation: WireText = None
    can_do: list[int] = []

    @property
    def is_admin(self) -> bool:
        return 2 in self.can_do


_LINES = ("errors",)
"""The fields of several lines (a crash's traceback): they keep their newlines when cleaned."""
_JOB = TypeAdapter(EcoTaxaJob)
_JOBS = TypeAdapter(list[EcoTaxaJob], config=DEFERRED)
_USER = TypeAdapter(EcoTaxaUser)
_TOKEN = TypeAdapter(str)


# -- errors -------------------------------------------------------------------------------------


class EcoTaxaServerError(ServerError):
    """A 500 of the back-end. `traceback` holds the text it sent (not part of the line)."""

    def __init__(self, service: str, message: str, *, traceback: str, status: int = 500) -> None:
        self.traceback = traceback
        super().__init__(service, message, status=status)


class JobFileExistsError(FileExistsError):
    """The download's destination exists and overwriting was not allowed. A UI asks the user,
    then downloads again with `overwrite=True`. `path` is the file that exists."""

    def __init__(self, service: str, path: Path) -> None:
        super().__init__(errno.EEXIST, "file exists", str(path))
        self.service = service
        self.path = path

    @property
    def line(self) -> str:
        return f"{self.service}: {self.path} exists (not overwritten)"

    def __str__(self) -> str:
        return self.line


def _detail_text(detail: Any, status: int) -> str:
    """The server's `detail`: a string, or a pydantic error list rendered as "loc: msg; ..."."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts: list[str] = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            elif status == 401:
                return "the account is waiting for validation by an administrator"
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return "" if detail is None else str(detail)


def _reason(response: httpx.Response) -> str:
    if not json_depth_ok(response.content):
        return "an error body nested too deep to read"
    try:
        data = json.loads(response.content)
    except ValueError:
        return _last_line(response.text)
    if isinstance(data, dict) and "detail" in data:
        return _detail_text(data["detail"], response.status_code)
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "").lower()


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)', re.IGNORECASE)


def safe_file_name(name: str) -> str | None:
    """The last part of a name from the server, as one cleaned file name (no controls, no
    leading dot, within the file system's length); None when nothing usable is left."""
    return component(name.replace("\\", "/").rsplit("/", 1)[-1])


def filename_from(disposition: str | None) -> str | None:
    """The file name of a Content-Disposition header (`filename*=` first, then `filename=`)."""
    if not disposition:
        return None
    star = _FILENAME_STAR.search(disposition)
    if star:
        value = star.group(1).strip().strip('"')
        _, _, encoded = value.partition("''")
        name = safe_file_name(unquote(encoded or value))
        if name:
            return name
    plain = _FILENAME.search(disposition)
    if plain:
        value = plain.group(1).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return safe_file_name(value)
    return None


_CONTENT_RANGE = re.compile(r"bytes\s+(\d{1,18})-(\d{1,18})/(\d{1,18}(?!\d)|\*)")


# -- client -------------------------------------------------------------------------------------

DOWNLOAD_CHUNK = 64 * 1024
TRANSFER_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class _Broken(Exception):
    """A download cut in the middle: what was written so far is in the `.part` file."""

    def __init__(self, error: ServiceError, target: Path, wrote: int) -> None:
        super().__init__(error.line)
        self.error = error
        self.target = target
        self.wrote = wrote


class EcoTaxaClient:
    """An async client for one EcoTaxa account over one httpx client.

    Give a `token`, or a `username` and `password` (or all three: the token is used until the
    server refuses it, then the client logs in). `requests` counts requests per operation id.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: Secret | str | None = None,
        token: Secret | str | None = None,
        service: str = "ecotaxa",
        verify: bool = True,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transfer_timeout: httpx.Timeout | float = TRANSFER_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.service = service
        self.username = username
        self._password = _secret(password)
        self._token = _secret(token)
        self._http = http or make_client(url, verify=verify, timeout=timeout)
        self.transfer_timeout = transfer_timeout
        self._login_lock = asyncio.Lock()
        self._lists: SameBody[list[EcoTaxaJob]] = SameBody()
        self.requests: Counter[str] = Counter()
        self.logins = 0

    def __repr__(self) -> str:
        return (
            f"EcoTaxaClient({self.service!r}, {self.base_url!r}, "
            f"username={self.username!r}, logged_in={self.logged_in})"
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def logged_in(self) -> bool:
        """Whether the client holds a token (given, or from a login)."""
        return self._token is not None

    @property
    def can_login(self) -> bool:
        return bool(self.username) and self._password is not None

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    def _headers(self, token: Secret | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        return headers

    async def _raw(
        self,
        op: str,
        method: str,
        path: str,
        *,
        token: Secret | None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        accept: str = "application/json",
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        self.requests[op] += 1
        request = self._http.build_request(
            method, path, params=params, json=json_body, headers=self._headers(token, accept)
        )
        return await fetch(
            self._http, self.service, request, limit=limit or limits().record, what=what
        )

    async def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        accept: str = "application/json",
        job_id: int | None = None,
        context: Mapping[str, Any] | None = None,
        limit: int | None = None,
        what: str = "answer",
    ) -> httpx.Response:
        """An authenticated call: logs in first if it has no token, and again once on a 401.
        Anything but a 200 raises the typed error."""
        if self._token is None and self.can_login:
            await self._relogin(None)
        token = self._token
        response = await self._raw(
            op,
            method,
            path,
            token=token,
            params=params,
            json_body=json_body,
            accept=accept,
            limit=limit,
            what=what,
        )
        if response.status_code == 401 and self.can_login:
            await self._relogin(token)
            response = await self._raw(
                op,
                method,
                path,
                token=self._token,
                params=params,
                json_body=json_body,
                accept=accept,
                limit=limit,
                what=what,
            )
        if response.status_code != 200:
            raise self._error(response, op=op, job_id=job_id, context=context)
        return response

    async def _relogin(self, stale: Secret | None) -> None:
        async with self._login_lock:
            if self._token is not None and self._token is not stale:
                return  # another call logged in meanwhile
            await self._login()

    def _parse(self, adapter: TypeAdapter[Any], response: httpx.Response, what: str) -> Any:
        return parse_body(self.service, adapter, response.content, what, lines=_LINES)

    def _error(
        self,
        response: httpx.Response,
        *,
        op: str = "",
        job_id: int | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> ServiceError:
        status = response.status_code
        what = f"job {job_id}: " if job_id is not None else ""
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            where = f" to {location}" if location else ""
            return RefusedError(
                self.service,
                f"{what}the server redirected{where} (HTTP {status}), not followed: "
                "check that the URL is the API root (it ends in /api)",
                status=status,
            )
        if status >= 500 and not _is_json(response):
            text = response.text
            if op == "get_job_file":
                message = "no result file for this job"
            elif op == "get_job_log_file":
                # a job has its log from its creation on: the file is missing only when the
                # job is archived (its log sits under the positive id) or its folder was lost
                message = (
                    "no log for an archived job"
                    if job_id is not None and job_id < 0
                    else "log file missing on the server (its task folder is gone)"
                )
            else:
                message = f"server error: {_last_line(text) or response.reason_phrase}"
            return EcoTaxaServerError(
                self.service, f"{what}{message} (HTTP {status})", traceback=text, status=status
            )
        reason = _reason(response)
        if status == 403 and op == "list_jobs" and (context or {}).get("for_admin"):
            reason = (
                "listing every user's jobs (for_admin) needs the application administrator "
                f"right: {reason or 'refused'}"
            )
        elif status == 403 and op == "login":
            reason = f"login refused: {reason or 'wrong username or password'}"
        elif status == 403 and reason == "Not authenticated":
            reason = "Not authenticated (configure a token, or a username and password)"
        elif status == 401 and not self.can_login:
            reason = f"{reason or 'token refused'} (configure a username and password to log in)"
        elif status == 404 and reason == "Not Found":
            reason = "Not Found: no such route (is the URL the API root, ending in /api?)"
        text = f"{what}{reason}"
        return error_for_status(self.service, response, lambda _response: text)

    # -- session --------------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in now with the username and password (calls log in by themselves when needed)."""
        async with self._login_lock:
            await self._login()

    async def _login(self) -> None:
        if not self.can_login:
            raise AuthError(self.service, "no username and password to log in with")
        assert self._password is not None
        self._token = None
        response = await self._raw(
            "login",
            "POST",
            "/login",
            token=None,
            json_body={"username": self.username, "password": self._password.get_secret_value()},
        )
        self.logins += 1
        if response.status_code != 200:
            raise self._error(response, op="login")
        token: str = self._parse(_TOKEN, response, "login answer (expected a token)")
        if not token.strip():
            raise BadPayloadError(self.service, "the login answered an empty token")
        if not (token.strip().isascii() and token.strip().isprintable()):
            # it goes back in a header, which holds visible ASCII only
            raise BadPayloadError(self.service, "login answer: a token that cannot be sent back")
        self._token = Secret(token.strip())

    async def me(self) -> EcoTaxaUser:
        """`GET /users/me`: the caller and its rights."""
        response = await self._call("show_current_user", "GET", "/users/me")
        user: EcoTaxaUser = self._parse(_USER, response, "user")
        return user

    # -- jobs -----------------------------------------------------------------------------------

    async def list_jobs(
        self,
        *,
        for_admin: bool = False,
        job_type: str | None = None,
        job_status: str | None = None,
    ) -> list[EcoTaxaJob]:
        """`GET /jobs/`: the caller's jobs, or everyone's with `for_admin` (administrators
        only). The filters are sent, and applied here too (servers before v3.0.7 ignore them).

        Without filters, an answer identical to an earlier one gives the very same list again
        (the parse is kept): treat it as read-only."""
        params = {"for_admin": "true" if for_admin else "false"}
        if job_type:
            params["job_type"] = job_type
        if job_status:
            params["job_status"] = job_status
        response = await self._call(
            "list_jobs",
            "GET",
            "/jobs/",
            params=params,
            context={"for_admin": for_admin},
            limit=limits().list_page,
            what="job list",
        )
        parsed = self._lists.parse(
            response.content, lambda content: self._parse(_JOBS, response, "job list")
        )
        if not (job_type or job_status):
            return parsed
        return [
            job
            for job in parsed
            if (not job_type or job.type == job_type)
            and (not job_status or job.state_letter == job_status)
        ]

    async def get_job(self, job_id: int) -> EcoTaxaJob:
        """`GET /jobs/{id}/` (with the slash)."""
        job_id = int(job_id)
        response = await self._call("get_job", "GET", f"/jobs/{job_id}/", job_id=job_id)
        job: EcoTaxaJob = self._parse(_JOB, response, "job")
        return job

    async def answer_job(self, job_id: int, reply: Mapping[str, Any]) -> None:
        """`POST /jobs/{id}/answer` with a JSON object. The server answers `null` whatever the
        job's state: only a job in A takes the reply."""
        job_id = int(job_id)
        await self._call(
            "reply_job_question",
            "POST",
            f"/jobs/{job_id}/answer",
            json_body=dict(reply),
            job_id=job_id,
        )

    async def restart_job(self, job_id: int) -> None:
        """`GET /jobs/{id}/restart`. Only a job in E restarts; otherwise nothing happens."""
        job_id = int(job_id)
        await self._call("restart_job", "GET", f"/jobs/{job_id}/restart", job_id=job_id)

    async def erase_job(self, job_id: int) -> None:
        """`DELETE /jobs/{id}` (no slash): kills a P/R/A job, archives an F/E one. Refused for
        an archived job's negated id (`ConflictError`, nothing sent): the server would restore
        the job, without its files."""
        job_id = int(job_id)
        if job_id <= 0:
            raise ConflictError(
                self.service,
                f"job {job_id}: an archived job (erasing it would restore it); nothing sent",
            )
        await self._call("erase_job", "DELETE", f"/jobs/{job_id}", job_id=job_id)

    async def job_log(self, job_id: int) -> str:
        """`GET /jobs/{id}/log`: the job's log as text, its last `Limits.log` bytes at most (a
        line then says the start was cut)."""
        kept, total = await tail(self.log_chunks(job_id), limits().log)
        return clean_lines(log_text(kept, total))

    async def log_chunks(self, job_id: int) -> AsyncIterator[bytes]:
        """`GET /jobs/{id}/log` as it arrives, held by nothing here; logs in again once on a
        401 before anything was read."""
        job_id = int(job_id)
        if self._token is None and self.can_login:
            await self._relogin(None)
        for attempt in (0, 1):
            token = self._token
            self.requests["get_job_log_file"] += 1
            request = self._http.build_request(
                "GET", f"/jobs/{job_id}/log", headers=self._headers(token, "text/plain, */*")
            )

            def error(response: httpx.Response) -> ServiceError:
                return self._error(response, op="get_job_log_file", job_id=job_id)

            chunks = stream_body(self._http, self.service, request, what="log", error=error)
            try:
                async for chunk in chunks:
                    yield chunk
                return
            except AuthError as refused:
                if refused.status != 401 or not self.can_login or attempt:
                    raise
            await self._relogin(token)

    # -- download -------------------------------------------------------------------------------

    async def _open_file(self, job_id: int, offset: int) -> httpx.Response:
        """`GET /jobs/{id}/file` as a stream, from `offset` (a Range) when it is not 0; logs in
        again once on a 401. The caller closes the response."""
        path = f"/jobs/{job_id}/file"
        if self._token is None and self.can_login:
            await self._relogin(None)
        for attempt in (0, 1):
            token = self._token
            headers = self._headers(token, "*/*")
            headers["Accept-Encoding"] = "identity"
            if offset:
                headers["Range"] = f"bytes={offset}-"
            self.requests["get_job_file"] += 1
            request = self._http.build_request(
                "GET", path, headers=headers, timeout=self.transfer_timeout
            )
            response = await open_stream(self._http, self.service, request, what="file")
            if response.status_code == 401 and self.can_login and attempt == 0:
                await response.aclose()
                await self._relogin(token)
                continue
            return response
        raise AssertionError("unreachable")

    async def download_file(
        self,
        job_id: int,
        dest: Path | str,
        progress: Progress | None = None,
        *,
        overwrite: bool = False,
        resume_attempts: int = 2,
    ) -> Path:
        """Save the job's file. `dest` is a file path, or a folder (the file then takes the name
        the server gives in Content-Disposition). The bytes go to `<file>.part`, renamed when
        complete. An existing file is not replaced unless `overwrite` (`JobFileExistsError`).
        A connection that breaks is resumed from the `.part` file with a Range, up to
        `resume_attempts` times; after that the error is raised and the `.part` file kept, and
        the next call resumes it (only when it is a regular file of the user's: a link there is
        never followed). A local file that cannot be written is a `LocalFileError`. Returns the
        file's path."""
        job_id = int(job_id)
        folder, target = _destination(dest)
        if target is not None:
            self._check_target(target, overwrite)
        resumed = 0
        fresh = whole = False
        while True:
            try:
                return await self._download_once(
                    job_id, folder, target, progress, overwrite=overwrite, fresh=fresh, whole=whole
                )
            except _Broken as broken:
                target = broken.target
                fresh = whole = False
                if resumed >= resume_attempts or broken.wrote <= 0:
                    raise broken.error from None
                resumed += 1
            except _StartOver as again:
                target = again.target
                fresh, whole = again.fresh, again.whole

    def _check_target(self, target: Path, overwrite: bool) -> None:
        if not overwrite and exists(target):
            raise JobFileExistsError(self.service, target)
        if (problem := folder_problem(target.parent)) is not None:
            raise LocalFileError(target, problem)

    async def _download_once(
        self,
        job_id: int,
        folder: Path | None,
        target: Path | None,
        progress: Progress | None,
        *,
        overwrite: bool,
        fresh: bool,
        whole: bool = False,
    ) -> Path:
        handle = _resumable(target, fresh) if target is not None else None
        try:
            offset = handle.size if handle is not None else 0
            response = await self._open_file(job_id, 0 if whole else offset)
            try:
                status = response.status_code
                if status == 416 and offset and not whole:
                    # the partial file does not fit (longer than the file), or it is complete and
                    # the server refuses an empty range (EcoTaxa sends an empty 206): ask for the
                    # whole file, keeping the partial one until the answer says its size
                    raise _StartOver(target, fresh=False, whole=True)
                complete = whole and status == 200 and offset and _total_of(response, 0) == offset
                if complete and target is not None and handle is not None:
                    # the .part is the whole file: keep it, and leave the body unread
                    if progress is not None:
                        progress(offset, offset)
                    self._check_target(target, overwrite)
                    handle.commit(target, overwrite=overwrite)
                    return target
                if status not in (200, 206):
                    await read_answer(self.service, response, 0, "file")
                    raise self._error(response, op="get_job_file", job_id=job_id)
                if target is None:
                    assert folder is not None
                    name = filename_from(response.headers.get("content-disposition"))
                    target = inside(folder, name or "", f"ecotaxa_job_{job_id}")
                    self._check_target(target, overwrite)
                    handle = _resumable(target, fresh=False)
                    if handle is not None and handle.size > 0 and status == 200:
                        raise _StartOver(target, fresh=False)  # resume it with a Range
                if handle is None:
                    handle = PartFile.create(part_of(target))
                total = _total_of(response, offset if status == 206 else 0)
                if status == 206:
                    match = _CONTENT_RANGE.search(response.headers.get("content-range", ""))
                    if match is None or int(match.group(1)) != offset:
                        raise _StartOver(target, fresh=True)
                else:
                    offset = 0
                    if handle.size:
                        handle.truncate()
                return await self._write(
                    response, job_id, target, handle, offset, total, progress, overwrite
                )
            finally:
                await response.aclose()
        finally:
            if handle is not None:
                handle.close()

    async def _write(
        self,
        response: httpx.Response,
        job_id: int,
        target: Path,
        part: PartFile,
        offset: int,
        total: int | None,
        progress: Progress | None,
        overwrite: bool,
    ) -> Path:
        done = offset
        if progress is not None:
            progress(done, total)
        rate = MinimumRate(self.service, f"job {job_id}: download")
        try:
            async for chunk in response.aiter_raw(DOWNLOAD_CHUNK):
                rate.moved(len(chunk))
                part.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        except httpx.HTTPError as error:
            cause = transport_error(self.service, error)
            of = f" of {total}" if total is not None else ""
            raise _Broken(
                TransportError(
                    self.service,
                    f"job {job_id}: download interrupted at {done}{of} bytes "
                    f"({cause.message}); {part.path.name} is kept and the next download "
                    "resumes it",
                ),
                target,
                done - offset,
            ) from None
        if total is not None and done != total:
            raise _Broken(
                TransportError(
                    self.service, f"job {job_id}: download ended at {done} of {total} bytes"
                ),
                target,
                done - offset,
            )
        self._check_target(target, overwrite)  # unless a file appeared there meanwhile
        part.commit(target, overwrite=overwrite)
        return target


class _StartOver(Exception):
    """Ask the download loop for another request: resuming (`fresh` False) or from byte 0."""

    def __init__(self, target: Path | None, *, fresh: bool, whole: bool = False) -> None:
        super().__init__("again")
        self.target = target
        self.fresh = fresh
        self.whole = whole
        """Ask for the whole file but keep the `.part` until the answer says its size."""


def _destination(dest: Path | str) -> tuple[Path | None, Path | None]:
    """(folder, None) when `dest` is a folder, else (None, the file path)."""
    path = Path(dest).expanduser()
    return (path, None) if path.is_dir() else (None, path)


def _resumable(target: Path, fresh: bool) -> PartFile | None:
    """The `.part` file of `target` to resume: a regular file of the user's, opened without
    following a link; None when there is none (or with `fresh`: one there is removed)."""
    part = part_of(target)
    if fresh:
        try:
            part.unlink(missing_ok=True)  # a link there is removed, not followed
        except OSError as error:
            raise local_error(part, error) from None
        return None
    return PartFile.resume(part)


def _total_of(response: httpx.Response, offset: int) -> int | None:
    match = _CONTENT_RANGE.search(response.headers.get("content-range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = content_length(response)
    return offset + length if length is not None else None


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None:
        return None
    secret = value if isinstance(value, Secret) else Secret(value)
    return secret if secret.get_secret_value() else None


# -- the answer form ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerField:
    """One line of the answer form: a name from the question and the id it maps to."""

    group: str
    """"users" or "taxa"."""
    name: str
    """The name as the job's file spells it (taxon names are lower case)."""

    @property
    def key(self) -> str:
        """The field's name in `InputError`s: `users[marie dupont]`, `taxa[ozzeur]`."""
        return f"{self.group}[{self.name}]"

    @property
    def label(self) -> str:
        return f"user {self.name!r}" if self.group == "users" else f"taxon {self.name!r}"


MAX_ID = 2**31 - 1
"""The largest id EcoTaxa stores (its ids are 32-bit integers)."""


def parse_id(field: str, text: str) -> int | None:
    """An id typed in a form: None when blank, else a positive whole number (`InputError`)."""
    value = text.strip()
    if not value:
        return None
    if not value.isdigit() or not value.isascii():
        raise InputError(field, f"{shown_value(value)} is not a whole number")
    if len(value) > len(str(MAX_ID)) or int(value) > MAX_ID:
        raise InputError(field, f"is too large (ids go up to {MAX_ID})")
    number = int(value)
    if number <= 0:
        raise InputError(field, "must be a positive number")
    return number


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """The question of an asking FileImport job, as a form: one id per missing user and taxon.

    `parse` turns the typed text into the reply's two maps (blank fields are left out: the job
    then asks again for those names)."""

    job_id: str
    missing_users: tuple[str, ...] = ()
    missing_taxa: tuple[str, ...] = ()

    @classmethod
    def from_question(cls, job_id: str, question: Mapping[str, Any]) -> AnswerForm:
        return cls(
            job_id,
            tuple(_names(question.get("missing_users"))),
            tuple(_names(question.get("missing_taxa"))),
        )

    @classmethod
    def for_job(cls, job: Job) -> AnswerForm:
        question = job.raw.get("question")
        return cls.from_question(job.id, question if isinstance(question, Mapping) else {})

    @property
    def fields(self) -> tuple[AnswerField, ...]:
        return tuple(AnswerField("users", n) for n in self.missing_users) + tuple(
            AnswerField("taxa", n) for n in self.missing_taxa
        )

    @property
    def empty(self) -> bool:
        """No question to answer (the job is not asking, or asks for nothing)."""
        return not (self.missing_users or self.missing_taxa)

    def parse(
        self,
        users: Mapping[str, str],
        taxa: Mapping[str, str],
        *,
        require_all: bool = False,
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The reply's `users` and `taxa` maps from the typed text, keyed by the names of the
        question. `InputError` names the field (`users[name]`) of the first bad value."""
        out: dict[str, dict[str, int]] = {"users": {}, "taxa": {}}
        for group, typed, asked in (
            ("users", users, self.missing_users),
            ("taxa", taxa, self.missing_taxa),
        ):
            for name in typed:
                if name not in asked:
                    raise InputError(f"{group}[{name}]", "this name is not in the question")
            for name in asked:
                field = AnswerField(group, name)
                value = parse_id(field.key, typed.get(name, ""))
                if value is None:
                    if require_all:
                        raise InputError(field.key, "an id is required")
                    continue
                out[group][name.lower() if group == "taxa" else name] = value
        if not out["users"] and not out["taxa"] and not self.empty:
            first = self.fields[0]
            raise InputError(first.key, "give the id of at least one name")
        return out["users"], out["taxa"]


# -- the adapter --------------------------------------------------------------------------------


class EcoTaxaConfigLike(Protocol):
    """What `from_config` reads of `jobtui.config.EcoTaxaConfig`."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def verify(self) -> bool: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> Secret | None: ...
    @property
    def token(self) -> Secret | None: ...
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


def settle_expectations(
    expectations: Mapping[str, Expectation],
    current: Mapping[str, EcoTaxaJob],
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


def project_of(params: Mapping[str, Any]) -> str:
    """The project (or collection) a job works on, from its params."""
    req = params.get("req")
    req = req if isinstance(req, Mapping) else {}
    for value in (params.get("prj_id"), req.get("project_id")):
        if value not in (None, ""):
            return f"prj {value}"
    for value in (params.get("collection_id"), req.get("collection_id")):
        if value not in (None, ""):
            return f"coll {value}"
    return ""


class EcoTaxaService(Service):
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
        self.me: EcoTaxaUser | None = None
        self._asked_me = False
        self._made: JobsOfRecords[EcoTaxaJob] = JobsOfRecords()
        self._listed: list[EcoTaxaJob] | None = None
        """The list answer of the last poll (the same object while its body is)."""
        self._ordered: list[EcoTaxaJob] = []
        self._total: int | None = None
        """How many jobs the server listed, when more than jobtui keeps (`Limits.max_jobs`)."""
        self._jobs_listed: list[Job] | None = None
        self._records: dict[str, EcoTaxaJob] = {}
        self._jobs: dict[str, Job] = {}
        self._expect: dict[str, Expectation] = {}

    def __repr__(self) -> str:
        return (
            f"EcoTaxaService({self.name!r}, {self.client.base_url!r}, for_admin={self.for_admin})"
        )

    @classmethod
    def from_config(cls, cfg: EcoTaxaConfigLike) -> EcoTaxaService:
        return cls(
            cfg.name,
            cfg.url,
            username=cfg.username,
            password=None if cfg.password is None else Secret(cfg.password.get_secret_value()),
            token=None if cfg.token is None else Secret(cfg.token.get_secret_value()),
            for_admin=cfg.for_admin,
            verify=cfg.verify,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def action_label(self, action: Action) -> str:
        if action is Action.DELETE:
            return "Erase"
        return super().action_label(action)

    # -- polling --------------------------------------------------------------------------------

    @property
    def records(self) -> Mapping[str, EcoTaxaJob]:
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
        if not self._asked_me:
            self._asked_me = True
            try:
                self.me = await self.client.me()
            except ServiceError:
                self.me = None  # only used to show "me" in the owner column
        listed = await self.client.list_jobs(for_admin=self.for_admin)
        if listed is not self._listed:  # not the very same answer as the last poll's
            self._listed = listed
            ordered = sorted(listed, key=lambda job: job.id, reverse=True)
            self._ordered, self._total = capped(ordered, None)
            self._records = {str(job.id): job for job in self._ordered}
        self._expect, notes = settle_expectations(self._expect, self._records, self.name)
        if self.for_admin:
            notes.insert(0, "all users' jobs")
        jobs = self._made.jobs(self._ordered, self.to_job)
        if jobs is not self._jobs_listed:
            self._jobs_listed = jobs
            self._jobs = {job.id: job for job in jobs}
        return PollResult(jobs, self._total, note="; ".join(notes))

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

    def _remember(self, record: EcoTaxaJob) -> Job:
        self._records[str(record.id)] = record
        job = self.to_job(record)
        if job.id in self._jobs:
            self._jobs[job.id] = job
        return job

    async def refresh(self, job: Job | str) -> Job:
        """Fetch one job again (`GET /jobs/{id}/`)."""
        job_id = job.id if isinstance(job, Job) else job
        return self._remember(await self.client.get_job(int(job_id)))

    # -- mapping --------------------------------------------------------------------------------

    def to_job(self, record: EcoTaxaJob) -> Job:
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
            users, taxa = len(record.missing_users), len(record.missing_taxa)
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
            actions=frozenset(actions),
            extra={"owner": owner_text, "project": project_of(record.params)},
            raw=LazyRecord(record.wire),
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
        self._records[str(record.id)] = record
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
        reply_users = _checked_ids("users", users)
        reply_taxa = {name.lower(): value for name, value in _checked_ids("taxa", taxa).items()}
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
        self,
        job: Job,
        dest: Path,
        progress: Progress | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Save the job's file to `dest` (a file path, or a folder: the server's file name is
        used). An existing file raises `JobFileExistsError` unless `overwrite`."""
        return await self.client.download_file(int(job.id), dest, progress, overwrite=overwrite)


def _checked_ids(group: str, ids: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(f"{group}[{name}]", "must be a positive whole number")
        out[str(name)] = value
    return out


__all__ = [
    "EXPORT_TYPES",
    "KILLABLE",
    "STATE_OF",
    "STATE_WORDS",
    "AnswerField",
    "AnswerForm",
    "EcoTaxaClient",
    "EcoTaxaJob",
    "EcoTaxaServerError",
    "EcoTaxaService",
    "EcoTaxaUser",
    "Expectation",
    "JobFileExistsError",
    "filename_from",
    "parse_id",
    "parse_time",
    "project_of",
    "safe_file_name",
    "settle_expectations",
    "state_of",
    "state_word",
]
