"""`EcoTaxaClient`: EcoTaxa's job routes (API 0.0.45), its login, and its errors as one line each.

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

Downloading the result file to a local file is `files.py`'s part.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Unpack

import httpx

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    RefusedError,
    ServerError,
    ServiceError,
)
from jobtui.core.secret import Secret
from jobtui.core.service import Progress
from jobtui.core.text import clean_lines
from jobtui.services._client import ClientOptions, LoginClient, Send
from jobtui.services._http import (
    FirstBytes,
    error_for_status,
    json_depth_ok,
    limits,
    log_text,
    open_stream,
    stream_body,
    tail,
)
from jobtui.services._wire import SameBody
from jobtui.services.ecotaxa import files
from jobtui.services.ecotaxa.wire import (
    EcoTaxaJob,
    EcoTaxaRecord,
    EcoTaxaUser,
    parse_job,
    parse_jobs,
    parse_token,
    parse_user,
)

# -- errors -------------------------------------------------------------------------------------


class EcoTaxaServerError(ServerError):
    """A 500 of the back-end. `traceback` holds the text it sent (not part of the line)."""

    def __init__(self, service: str, message: str, *, traceback: str, status: int = 500) -> None:
        self.traceback = traceback
        super().__init__(service, message, status=status)


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


# -- client -------------------------------------------------------------------------------------


class EcoTaxaClient(LoginClient):
    """An async client for one EcoTaxa account over one httpx client.

    Give a `token`, or a `username` and `password` (or all three: the token is used until the
    server refuses it, then the client logs in). `requests` counts requests per operation id.
    """

    kind = "ecotaxa"

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: Secret | str | None = None,
        token: Secret | str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(url, _secret(token), **options)
        self.username = username
        self._password = _secret(password)
        self._lists: SameBody[list[EcoTaxaRecord]] = SameBody()
        self._in_state: SameBody[list[EcoTaxaRecord]] = SameBody()
        """The parses of lists asked for one state (apart: the whole list's may be kept)."""
        self.logins = 0

    def _shown(self) -> str:
        return f", username={self.username!r}, logged_in={self.logged_in}"

    @property
    def can_login(self) -> bool:
        return bool(self.username) and self._password is not None

    # -- transport ------------------------------------------------------------------------------

    async def _request(
        self,
        op: str,
        method: str,
        path: str,
        *,
        job_id: int | None = None,
        context: Mapping[str, Any] | None = None,
        **send: Unpack[Send],
    ) -> httpx.Response:
        """An authenticated call: logs in first if it has no token, and again once on a 401.
        Anything but a 200 raises the typed error."""

        def error(response: httpx.Response) -> ServiceError:
            return self.error_of(response, op=op, job_id=job_id, context=context)

        return await self._call(op, method, path, error=error, **send)

    def error_of(
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
        response = await self._send(
            "login",
            "POST",
            "/login",
            token=None,
            json_body={"username": self.username, "password": self._password.get_secret_value()},
        )
        self.logins += 1
        if response.status_code != 200:
            raise self.error_of(response, op="login")
        token = parse_token(self.service, response.content)
        if not token.strip():
            raise BadPayloadError(self.service, "the login answered an empty token")
        if not (token.strip().isascii() and token.strip().isprintable()):
            # it goes back in a header, which holds visible ASCII only
            raise BadPayloadError(self.service, "login answer: a token that cannot be sent back")
        self._token = Secret(token.strip())

    async def me(self) -> EcoTaxaUser:
        """`GET /users/me`: the caller and its rights."""
        response = await self._request("show_current_user", "GET", "/users/me")
        return parse_user(self.service, response.content)

    # -- jobs -----------------------------------------------------------------------------------

    async def list_jobs(
        self,
        *,
        for_admin: bool = False,
        job_type: str | None = None,
        job_status: str | None = None,
    ) -> list[EcoTaxaRecord]:
        """`GET /jobs/`: the caller's jobs, or everyone's with `for_admin` (administrators
        only). The filters are sent, and applied here too (servers before v3.0.7 ignore them).

        Without filters, an answer identical to an earlier one gives the very same list again
        (the parse is kept): treat it as read-only."""
        content = await self.list_body(
            for_admin=for_admin, job_type=job_type, job_status=job_status
        )
        parsed = await self.parse_list(content)
        if not (job_type or job_status):
            return parsed
        return [
            job
            for job in parsed
            if (not job_type or job.type == job_type)
            and (not job_status or job.state_letter == job_status)
        ]

    async def list_body(
        self,
        *,
        for_admin: bool = False,
        job_type: str | None = None,
        job_status: str | None = None,
        first: FirstBytes | None = None,
    ) -> bytes:
        """The body of `GET /jobs/` as it came, not parsed yet (`parse_list`); its first bytes
        are given to `first` as soon as they come (`first_part`)."""
        params = {"for_admin": "true" if for_admin else "false"}
        if job_type:
            params["job_type"] = job_type
        if job_status:
            params["job_status"] = job_status
        response = await self._request(
            "list_jobs",
            "GET",
            "/jobs/",
            params=params,
            context={"for_admin": for_admin},
            limit=limits().list_page,
            what="job list",
            same=self._lists.newest,
            first=first,
        )
        return response.content

    async def list_in_state(
        self, letter: str, *, for_admin: bool = False
    ) -> tuple[list[EcoTaxaRecord], bool]:
        """`GET /jobs/?job_status=<letter>`: the jobs in that state, and whether the server
        filtered them (servers before v3.0.7 ignore the filter and send every job). An answer
        identical to an earlier one gives the very same list again."""
        params = {"for_admin": "true" if for_admin else "false", "job_status": letter}
        response = await self._request(
            "list_jobs",
            "GET",
            "/jobs/",
            params=params,
            context={"for_admin": for_admin},
            limit=limits().list_page,
            what="job list",
        )
        parsed = await self._in_state.parse_off_loop(
            response.content,
            lambda content: parse_jobs(self.service, content),
            key=(letter, for_admin),
        )
        return parsed, all(job.state_letter == letter for job in parsed)

    async def parse_list(self, content: bytes) -> list[EcoTaxaRecord]:
        """The jobs of a body of `GET /jobs/` (validated in a thread when it is large); the
        very same list as before for a body identical to an earlier one."""
        return await self._lists.parse_off_loop(
            content, lambda content: parse_jobs(self.service, content), key="jobs"
        )

    async def first_part(self, head: bytes) -> list[EcoTaxaRecord]:
        """The jobs held whole by `head`, the first bytes of a body of `GET /jobs/` (given by
        `list_body`'s `first` while the rest comes), to show before the whole list is read."""
        return await asyncio.to_thread(parse_jobs, self.service, head, first_part=True)

    async def get_job(self, job_id: int) -> EcoTaxaJob:
        """`GET /jobs/{id}/` (with the slash)."""
        job_id = int(job_id)
        response = await self._request("get_job", "GET", f"/jobs/{job_id}/", job_id=job_id)
        return parse_job(self.service, response.content)

    async def answer_job(self, job_id: int, reply: Mapping[str, Any]) -> None:
        """`POST /jobs/{id}/answer` with a JSON object. The server answers `null` whatever the
        job's state: only a job in A takes the reply."""
        job_id = int(job_id)
        await self._request(
            "reply_job_question",
            "POST",
            f"/jobs/{job_id}/answer",
            json_body=dict(reply),
            job_id=job_id,
        )

    async def restart_job(self, job_id: int) -> None:
        """`GET /jobs/{id}/restart`. Only a job in E restarts; otherwise nothing happens."""
        job_id = int(job_id)
        await self._request("restart_job", "GET", f"/jobs/{job_id}/restart", job_id=job_id)

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
        await self._request("erase_job", "DELETE", f"/jobs/{job_id}", job_id=job_id)

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
                "GET", f"/jobs/{job_id}/log", headers=self._headers("text/plain, */*", token)
            )

            def error(response: httpx.Response) -> ServiceError:
                return self.error_of(response, op="get_job_log_file", job_id=job_id)

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

    async def open_file(self, job_id: int, offset: int) -> httpx.Response:
        """`GET /jobs/{id}/file` as a stream, from `offset` (a Range) when it is not 0; logs in
        again once on a 401. The caller closes the response."""
        path = f"/jobs/{job_id}/file"

        async def send(token: Secret | None) -> httpx.Response:
            headers = self._headers("*/*", token)
            headers["Accept-Encoding"] = "identity"
            if offset:
                headers["Range"] = f"bytes={offset}-"
            self.requests["get_job_file"] += 1
            request = self._http.build_request(
                "GET", path, headers=headers, timeout=self.transfer_timeout
            )
            return await open_stream(self._http, self.service, request, what="file")

        return await self._authed(send)

    async def download_file(
        self,
        job_id: int,
        dest: Path | str,
        progress: Progress | None = None,
        *,
        overwrite: bool = False,
        resume_attempts: int = 2,
    ) -> Path:
        """Save the job's file to `dest` (a file path, or a folder): `files.download_file`."""
        return await files.download_file(
            self, job_id, dest, progress, overwrite=overwrite, resume_attempts=resume_attempts
        )


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None:
        return None
    secret = value if isinstance(value, Secret) else Secret(value)
    return secret if secret.get_secret_value() else None
