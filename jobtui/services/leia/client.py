"""`LeiaClient`: Leia's endpoints (LeiaWS 1.0.0) over one httpx client, its errors and its paging.

The client speaks raw HTTP (the vendor's generated client cannot parse a finished job, sends enum
filters as `Statuses.PROCESSED` and does not URL-encode query values). It logs in with
`POST /login` (falling back to the deprecated `GET /login/{api_key}` when the server answers 404 or
405), sends the `token` header on every call, logs in again once on a 401, and pings `/whoami` when
it has been idle for `keepalive_after` seconds so the token does not time out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Unpack

import httpx

from jobtui.core.errors import BadPayloadError
from jobtui.core.secret import Secret
from jobtui.services._client import (
    JSON,
    ClientOptions,
    LoginClient,
    Send,
    redact_httpx_log,
    secret_of,
    segment,
)
from jobtui.services._http import (
    json_depth_ok,
    limits,
)
from jobtui.services._wire import SameBody
from jobtui.services.leia.filters import LeiaFilters
from jobtui.services.leia.wire import (
    LeiaApplication,
    LeiaJob,
    LeiaRecord,
    parse_application,
    parse_job,
    parse_jobs,
    parse_login,
    parse_statuses,
)
from jobtui.services.paging import every_page, parse_content_range

_NO_JOBS = re.compile(r"no\s+jobs?\b", re.IGNORECASE)


redact_httpx_log("/login/", re.compile(r"/login/[^\s/\"?]+"), "/login/***")
"""httpx logs request URLs; the deprecated login carries the API key in its path."""


def _segments(values: Iterable[str]) -> str:
    """A comma-separated list of ids as one path segment (`/job/{ids}/status` and the like)."""
    return ",".join(segment(value) for value in values)


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    """A request body of the options that were given (None is left out)."""
    return {k: v for k, v in options.items() if v is not None}


def _reason(response: httpx.Response) -> str:
    """The server's message: problem+json `detail` (or `title`), else the start of the text."""
    if not json_depth_ok(response.content):
        return "an error body nested too deep to read"
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        for key in ("detail", "title", "message", "error"):
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key])
    return ""


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[LeiaRecord]
    offset: int
    total: int | None


class LeiaClient(LoginClient):
    """An async client for one Leia application (one API key) over one httpx client.

    `requests` counts the requests sent per operation (`get_jobs`, `get_job_statuses`...).
    """

    kind = "leia"
    reason = staticmethod(_reason)

    def __init__(
        self,
        url: str,
        api_key: Secret | str,
        *,
        keepalive_after: float = 240.0,
        max_url: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(url, **options)
        self._api_key = secret_of(api_key)
        self._pages: SameBody[list[LeiaRecord]] = SameBody()
        self._login_get = False
        self.keepalive_after = keepalive_after
        self.max_url = max_url
        self.clock = clock
        self.last_request: float | None = None
        self.application: LeiaApplication | None = None

    def _shown(self) -> str:
        return f", logged_in={self.logged_in}"

    # -- transport ------------------------------------------------------------------------------

    def _auth(self, token: Secret) -> dict[str, str]:
        return {"token": token.get_secret_value()}

    async def _send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        token: Secret | None = None,
        accept: str = JSON,
        **send: Unpack[Send],
    ) -> httpx.Response:
        self.last_request = self.clock()
        return await super()._send(op, method, path, token=token, accept=accept, **send)

    async def _job_call(self, op: str, method: str, path: str, **send: Unpack[Send]) -> LeiaJob:
        """An authenticated call whose answer is one job."""
        response = await self._call(op, method, path, **send)
        return parse_job(self.service, response.content)

    # -- session --------------------------------------------------------------------------------

    async def login(self) -> LeiaApplication | None:
        """Log in now (calls made without a token log in by themselves)."""
        async with self._login_lock:
            await self._login()
        return self.application

    async def _login(self) -> None:
        self._token = None
        key = self._api_key.get_secret_value()
        response: httpx.Response | None = None
        if not self._login_get:
            response = await self._send(
                "login_application_post", "POST", "/login", json_body={"api_key": key}
            )
            if response.status_code in (404, 405):
                self._login_get = True
                response = None
        if response is None:
            response = await self._send("login_application", "GET", f"/login/{segment(key)}")
        if response.status_code != 200:
            raise self._error(response)
        login = parse_login(self.service, response.content)
        sent = login.token.get_secret_value()
        if not (sent.isascii() and sent.isprintable()):
            # it goes back in a header, which holds visible ASCII only
            raise BadPayloadError(self.service, "login answer: a token that cannot be sent back")
        self._token = login.token
        self.application = login.application

    async def logout(self) -> None:
        if self._token is None:
            return
        token, self._token = self._token, None
        response = await self._send("logout_application", "GET", "/logout", token=token)
        if response.status_code not in (200, 204, 401):
            raise self._error(response)

    async def whoami(self) -> LeiaApplication:
        """The logged-in application; also resets the token's inactivity timer."""
        response = await self._call("who_am_i", "GET", "/whoami")
        application = parse_application(self.service, response.content)
        self.application = application
        return application

    def idle_for(self) -> float | None:
        return None if self.last_request is None else self.clock() - self.last_request

    async def keep_alive(self) -> bool:
        """Ping `/whoami` when logged in and idle for `keepalive_after` seconds; True if it did."""
        idle = self.idle_for()
        if self._token is None or idle is None or idle < self.keepalive_after:
            return False
        await self.whoami()
        return True

    # -- jobs -----------------------------------------------------------------------------------

    async def list_jobs(
        self, filters: LeiaFilters | None = None, *, offset: int = 0, limit: int | None = 100
    ) -> JobPage:
        """One page of `GET /job`. A 404 "No jobs found" is an empty page."""
        params = (filters or LeiaFilters()).params()
        if offset:
            params["offset"] = str(offset)
        if limit is not None:
            params["limit"] = str(limit)
        response = await self._call(
            "get_jobs",
            "GET",
            "/job",
            params=params,
            ok=(200, 404),
            limit=limits().list_page,
            what="job list",
        )
        if response.status_code == 404:
            if response.content.strip() and not _NO_JOBS.search(_reason(response)):
                raise self._error(response)  # not the empty-list answer: a wrong URL, say
            return JobPage([], offset, None if offset else 0)
        parsed = await self._pages.parse_off_loop(
            response.content,
            lambda content: parse_jobs(self.service, content),
            key=tuple(sorted(params.items())),
        )
        jobs: list[LeiaRecord] = list(parsed)
        return JobPage(jobs, offset, parse_content_range(response.headers.get("Content-Range")))

    async def list_all_jobs(
        self,
        filters: LeiaFilters | None = None,
        *,
        page_size: int = 100,
        first: JobPage | None = None,
    ) -> tuple[list[LeiaRecord], int | None]:
        """Every job matching `filters`, page by page (from `first`, its first page, when it was
        read already). Relies only on the total of Content-Range and on how many jobs each page
        holds (the server may send fewer than asked). Ends at a page that adds no new job, and
        at `Limits.max_jobs` jobs (a server paging for ever)."""

        async def page(offset: int) -> tuple[list[LeiaRecord], int | None]:
            found = await self.list_jobs(filters, offset=offset, limit=page_size)
            return found.jobs, found.total

        read = None if first is None else (first.jobs, first.total)
        return await every_page(page, lambda job: job.id, read)

    async def get_job(self, job_id: str) -> LeiaJob:
        return await self._job_call("get_job", "GET", f"/job/{segment(job_id)}")

    def status_chunks(self, job_ids: Sequence[str]) -> list[list[str]]:
        """Split ids so each `GET /job/{ids}/status` URL stays within `max_url` bytes."""
        return list(self._status_chunks(job_ids))

    def _status_chunks(self, job_ids: Iterable[str]) -> Iterator[list[str]]:
        """`status_chunks` one at a time (100,000 ids are split as their requests go)."""
        fixed = len(self.base_url) + len("/job/") + len("/status")
        current: list[str] = []
        size = fixed
        for job_id in job_ids:
            cost = len(segment(job_id)) + (1 if current else 0)
            if current and size + cost > self.max_url:
                yield current
                current, size = [], fixed
                cost -= 1
            current.append(job_id)
            size += cost
        if current:
            yield current

    async def get_statuses(self, job_ids: Sequence[str]) -> dict[str, str]:
        """{id: status} for the ids the server knows (unknown ids are left out)."""
        result: dict[str, str] = {}
        for chunk in self._status_chunks(dict.fromkeys(job_ids)):
            path = f"/job/{_segments(chunk)}/status"
            response = await self._call("get_job_statuses", "GET", path, ok=(200, 404))
            if response.status_code == 404:
                continue
            statuses = parse_statuses(self.service, response.content)
            result.update({k: v or "" for k, v in statuses.items()})
        return result

    async def cancel_job(self, job_id: str) -> None:
        await self._call("cancel_job", "DELETE", f"/job/{segment(job_id)}", ok=(200, 204))

    async def start_job(self, job_id: str) -> LeiaJob:
        return await self._job_call("start_job", "POST", f"/job/{segment(job_id)}/start")

    async def create_conditional(
        self,
        execute_after_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        callback_url: str | None = None,
        block_processing: bool | None = None,
    ) -> LeiaJob:
        """`POST /job/conditional/{execute_after_id}` with a ConditionalBody."""
        params: dict[str, str] = {}
        if callback_url:
            params["callback_url"] = callback_url
        if block_processing is not None:
            params["block_processing"] = "true" if block_processing else "false"
        return await self._job_call(
            "create_conditional_job",
            "POST",
            f"/job/conditional/{segment(execute_after_id)}",
            params=params,
            json_body=dict(body or {}),
        )

    async def apply_model(
        self, model_id: str, document_ids: Sequence[str], **options: Any
    ) -> LeiaJob:
        """`POST /model/{model_id}/apply/{document_ids}`; options go in the ApplyBody."""
        return await self._job_call(
            "apply_model_async",
            "POST",
            f"/model/{segment(model_id)}/apply/{_segments(document_ids)}",
            json_body=_given(options),
        )

    async def transform(
        self, document_ids: Sequence[str], output_type: str, **options: Any
    ) -> LeiaJob:
        """`POST /document/{document_ids}/transform/{output_type}`; options go in the body."""
        return await self._job_call(
            "transform_document_async",
            "POST",
            f"/document/{_segments(document_ids)}/transform/{segment(output_type)}",
            json_body=_given(options),
        )


__all__ = ["JobPage", "LeiaClient"]
