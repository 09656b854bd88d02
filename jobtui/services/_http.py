"""What every service client shares: one httpx client per service, and errors mapped to types.

Redirects are never followed (a redirect could carry credentials to another host). Transport
failures become `TransportError`; HTTP failures become the typed error of their status, carrying the
server's own reason, which each service extracts from its error body with `reason_of`.

Requests without a body (every poll, downloads, and actions such as cancel) go through
`Http1Transport` (`_http1.py`), a lean HTTP/1.1 keep-alive transport on asyncio streams. The
others (uploads, JSON bodies) go through httpx's own transport on asyncio (`_httpcore.py`), built
at the first of them.
"""

from __future__ import annotations

import email.utils
import functools
import math
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import httpx

from jobtui.core.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    ServerError,
    ServiceError,
    TransportError,
)
from jobtui.services._http1 import Http1Transport

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "jobtui"


KEEPALIVE = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=5.0)


@functools.cache
def ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per setting for every service, made at the first TLS connection:
    loading the trusted certificates takes some 20 ms, which each client would otherwise spend
    before the first frame."""
    return httpx.create_ssl_context(verify=verify)


def make_transport(verify: bool = True) -> Http1Transport:
    """`Http1Transport` for requests without a body, before httpx's transport, its connection
    pool on `AsyncioBackend`, for the others."""
    return Http1Transport(
        partial(httpcore_transport, verify), partial(ssl_context, verify), KEEPALIVE
    )


def httpcore_transport(verify: bool = True) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connection pool on `AsyncioBackend`, built at the first request
    with a body (httpcore is imported then, not at start-up)."""
    from jobtui.services._httpcore import asyncio_transport

    return asyncio_transport(ssl_context(verify), KEEPALIVE)


def make_client(
    base_url: str,
    *,
    verify: bool = True,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A keep-alive client for one service that never follows redirects."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        verify=verify,  # for proxy transports only: the services' own get `ssl_context` lazily
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        transport=make_transport(verify),
    )


def transport_error(service: str, error: httpx.HTTPError) -> TransportError:
    """One line for a connection-level failure, without the URL's query (it may hold a token)."""
    if isinstance(error, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(error, httpx.ConnectError):
        what = "cannot connect"
    elif isinstance(error, httpx.RemoteProtocolError):
        cut = "complete message body" in str(error)
        what = "answer cut short (connection closed)" if cut else "connection broken"
    elif isinstance(error, httpx.ReadError):
        what = "connection reset while reading the answer"
    elif isinstance(error, httpx.WriteError):
        what = "connection reset while sending"
    else:
        what = type(error).__name__
    url = ""
    try:
        request = error.request
        url = f" to {request.url.host}:{request.url.port}" if request.url.port else ""
    except RuntimeError:
        pass
    tls = tls_failure(error) if isinstance(error, httpx.ConnectError) else None
    return TransportError(service, f"{what}{url}" + (f": {tls}" if tls else ""))


def tls_failure(error: BaseException) -> str | None:
    """What TLS refused, when a connection failed in its handshake (the error's causes say)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({cause.verify_message or cause.reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or type(cause).__name__})"
        cause = cause.__cause__ or cause.__context__
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redirect_line(response: httpx.Response) -> str:
    """A redirect, which jobtui never follows: where it pointed (host only: the rest of the
    address may hold a token), and what to do."""
    location = response.headers.get("Location", "")
    try:
        target = response.url.join(location)
        where = f"{target.host}:{target.port}" if target.port else target.host
    except (httpx.InvalidURL, ValueError):
        where = "elsewhere"
    same = where == response.url.host or where.startswith(f"{response.url.host}:")
    hint = "check the url (a trailing slash or http/https)" if same else "check the url"
    return (
        f"redirected to {where or 'elsewhere'} (HTTP {response.status_code}), not followed: {hint}"
    )


def error_for_status(
    service: str, response: httpx.Response, reason_of: Callable[[httpx.Response], str]
) -> ServiceError:
    """The typed error for a failed response. `reason_of` reads the server's message."""
    status = response.status_code
    if 300 <= status < 400:
        return RefusedError(service, redirect_line(response), status=status)
    try:
        reason = reason_of(response)
    except Exception:
        reason = ""
    reason = " ".join(reason.split())[:300] or response.reason_phrase or f"HTTP {status}"
    message = f"{reason} (HTTP {status})"
    if status in (401, 403):
        return AuthError(service, message, status=status)
    if status == 404:
        return NotFoundError(service, message, status=status)
    if status == 409:
        return ConflictError(service, message, status=status)
    if status == 429:
        retry = parse_retry_after(response.headers.get("Retry-After"))
        if retry is not None:
            message += f", retry after {math.ceil(retry)}s"
        return RateLimitedError(service, message, retry_after=retry, status=status)
    if status >= 500:
        return ServerError(service, message, status=status)
    return RefusedError(service, message, status=status)
