"""What every service client is built on: one httpx client, the requests counted per operation,
one bounded send, the server's error as a typed `ServiceError`, and (for the services that log in)
the token taken again once when the server refuses it.

A client subclasses `HttpClient` (or `LoginClient`) and says how its server authenticates
(`_auth`) and where its error bodies keep their reason (`reason`). Every request goes through
`_send`, which reads the answer within the bounds of `services/_http.py` (`fetch`). Secrets never
appear in `repr`, and `redact_httpx_log` keeps one out of httpx's request log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx

from jobtui.core.errors import ServiceError
from jobtui.core.secret import Secret
from jobtui.services._http import (
    DEFAULT_TIMEOUT,
    FirstBytes,
    error_for_status,
    fetch,
    limits,
    make_client,
)
from jobtui.services._wire import parse_body

if TYPE_CHECKING:
    from pydantic import TypeAdapter

T = TypeVar("T")

JSON = "application/json"


def segment(value: str) -> str:
    """One path segment: `value` percent-encoded whole (a `/` or `,` in it stays inside it)."""
    return quote(value, safe="")


def secret_of(value: Secret | str) -> Secret:
    """`value` as a `Secret` (a plain string is wrapped)."""
    return value if isinstance(value, Secret) else Secret(value)


class RedactInLog(logging.Filter):
    """httpx logs each request's URL: in the arguments holding `marker`, what `pattern` matches
    is replaced by `replacement` (a token or a key in the URL)."""

    def __init__(self, marker: str, pattern: re.Pattern[str], replacement: str) -> None:
        super().__init__()
        self.marker = marker
        self.pattern = pattern
        self.replacement = replacement

    def filter(self, record: logging.LogRecord) -> bool:
        marker = self.marker
        if isinstance(record.args, tuple) and any(marker in str(a) for a in record.args):
            record.args = tuple(
                self.pattern.sub(self.replacement, str(a)) if marker in str(a) else a
                for a in record.args
            )
        return True


def redact_httpx_log(marker: str, pattern: re.Pattern[str], replacement: str) -> None:
    """Hide what `pattern` matches in httpx's request log (installed once per `marker`)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactInLog) and f.marker == marker for f in logger.filters):
        logger.addFilter(RedactInLog(marker, pattern, replacement))


class ClientOptions(TypedDict, total=False):
    """What every client takes besides its URL and credentials."""

    service: str
    """The service's name in every error (the client's `kind` when not given)."""
    verify: bool
    timeout: httpx.Timeout | float
    transfer_timeout: httpx.Timeout | float
    """The timeouts of an upload's or a download's reads and writes (`TRANSFER_TIMEOUT`)."""
    http: httpx.AsyncClient | None
    """An httpx client to use instead of one made for the URL."""


class Send(TypedDict, total=False):
    """What a request carries besides its method and path, and how its answer is bounded."""

    params: Mapping[str, str] | None
    json_body: Any
    content: bytes | AsyncIterable[bytes] | None
    headers: Mapping[str, str]
    """Headers besides Accept and the credentials."""
    timeout: httpx.Timeout | float
    """The request's timeouts, when not the client's."""
    limit: int | None
    """The most bytes of the answer read (`Limits.record` when None)."""
    what: str
    """The answer's name in an error ("job list"); "answer" when not given."""
    transfer: bool
    """An upload: the deadline starts once the body is sent (see `fetch`)."""
    head: float | None
    """Give the request up (`NotAnsweredError`) when its answer has not begun within these
    seconds (see `fetch`)."""
    same: bytes | None
    """An earlier answer's body: an answer identical to it is given as that very object (see
    `read_bounded`)."""
    first: FirstBytes | None
    """Given the answer's first bytes as soon as they come (see `FirstBytes`)."""


class HttpClient:
    """One service's client over one httpx client. `requests` counts the requests sent per
    operation. Every method raises only `ServiceError`s, each one line naming the service."""

    kind: ClassVar[str] = "service"
    """The service's name when none is given."""
    TRANSFER_TIMEOUT: ClassVar[httpx.Timeout] = httpx.Timeout(60.0, connect=5.0)
    """Uploads and downloads: a minute for each read or write (a server may be slow to answer
    once the last byte of a large upload is in)."""

    def __init__(
        self, url: str, token: Secret | str | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        self.service = options.get("service", self.kind)
        self._token: Secret | None = None if token is None else secret_of(token)
        self.transfer_timeout = options.get("transfer_timeout", self.TRANSFER_TIMEOUT)
        self._http = options.get("http") or make_client(
            url, verify=options.get("verify", True), timeout=options.get("timeout", DEFAULT_TIMEOUT)
        )
        self.requests: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.service!r}, {self.base_url!r}{self._shown()})"

    def _shown(self) -> str:
        """What `repr` shows besides the service and the URL (never a secret)."""
        return ""

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests -------------------------------------------------------------------------------

    def _auth(self, token: Secret) -> dict[str, str]:
        """The headers that carry `token`."""
        return {"Authorization": f"Bearer {token.get_secret_value()}"}

    def _headers(self, accept: str = JSON, token: Secret | None = None) -> dict[str, str]:
        headers = {"Accept": accept}
        if token is not None:
            headers |= self._auth(token)
        return headers

    async def _send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        token: Secret | None,
        accept: str = JSON,
        **send: Unpack[Send],
    ) -> httpx.Response:
        """Send one request (counted as `op`) with `token`, its answer read within its bounds."""
        self.requests[op] += 1
        extra: dict[str, Any] = {} if "timeout" not in send else {"timeout": send["timeout"]}
        request = self._http.build_request(
            method,
            path,
            params=send.get("params"),
            json=send.get("json_body"),
            content=send.get("content"),
            headers=self._headers(accept, token) | dict(send.get("headers") or {}),
            **extra,
        )
        return await fetch(
            self._http,
            self.service,
            request,
            limit=send.get("limit") or limits().record,
            what=send.get("what", "answer"),
            transfer=send.get("transfer", False),
            head=send.get("head"),
            same=send.get("same"),
            first=send.get("first"),
        )

    async def _authed(
        self, send: Callable[[Secret | None], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """`send` with the client's credentials (`LoginClient` logs in when it must)."""
        return await send(self._token)

    async def _call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        ok: Iterable[int] = (200,),
        auth: bool = True,
        accept: str = JSON,
        error: Callable[[httpx.Response], ServiceError] | None = None,
        **send: Unpack[Send],
    ) -> httpx.Response:
        """A call with the credentials (none without `auth`): a status not in `ok` raises the
        typed error (`error(response)`, when given)."""
        response = await self._authed(
            lambda token: self._send(
                op, method, path, token=token if auth else None, accept=accept, **send
            )
        )
        if response.status_code not in tuple(ok):
            raise (error or self._error)(response)
        return response

    @staticmethod
    def reason(response: httpx.Response) -> str:
        """The server's own reason in an error answer (each service reads its error body)."""
        return ""

    def _error(self, response: httpx.Response) -> ServiceError:
        return error_for_status(self.service, response, self.reason)

    def _parse(self, adapter: TypeAdapter[T], response: httpx.Response, what: str) -> T:
        return parse_body(self.service, adapter, response.content, what)


class LoginClient(HttpClient):
    """A client that logs in for its token: before its first call, and once more when the server
    refuses the token (401). Calls waiting meanwhile take the new token."""

    def __init__(
        self, url: str, token: Secret | str | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(url, token, **options)
        self._login_lock = asyncio.Lock()

    @property
    def logged_in(self) -> bool:
        """Whether the client holds a token (given, or from a login)."""
        return self._token is not None

    @property
    def can_login(self) -> bool:
        return True

    async def _login(self) -> None:
        """Log in: set `_token` (or raise the error that says why not)."""
        raise NotImplementedError

    async def _relogin(self, stale: Secret | None) -> None:
        async with self._login_lock:
            if self._token is not None and self._token is not stale:
                return  # another call logged in meanwhile
            await self._login()

    async def _authed(
        self, send: Callable[[Secret | None], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """`send` with the token: logs in first when there is none, and once more on a 401 (a
        second 401 is the answer: the new token was refused too)."""
        if self._token is None and self.can_login:
            await self._relogin(None)
        token = self._token
        response = await send(token)
        if response.status_code == 401 and self.can_login:
            await response.aclose()  # a streamed answer's body is not read
            await self._relogin(token)
            response = await send(self._token)
        return response


__all__ = [
    "JSON",
    "ClientOptions",
    "HttpClient",
    "LoginClient",
    "RedactInLog",
    "Send",
    "redact_httpx_log",
    "secret_of",
    "segment",
]
