"""What every service client shares: one httpx client per service, the bounds every answer is
read within, and errors mapped to types.

Redirects are never followed (a redirect could carry credentials to another host). Transport
failures become `TransportError`; HTTP failures become the typed error of their status, carrying the
server's own reason, which each service extracts from its error body with `reason_of`.

Every request goes through httpx's own transport (httpcore and h11), which refuses malformed
framing (negative or odd chunk sizes, conflicting Content-Length, status 9999, a 101 as the final
answer...) as `RemoteProtocolError`. Nothing a server sends is trusted to end or to be small:

* `fetch` reads an answer within a total deadline (httpx's timeouts are per read, so a server
  sending a byte a second would otherwise hold a request for ever) and at most the size of its
  kind, counted after decompression, so that a gzip bomb stops at the limit too;
* `MinimumRate` ends a transfer (download, upload, log) that moves fewer than `min_rate` bytes a
  second over a window, instead of a deadline;
* `json_depth_ok` bounds nesting before Python's own JSON parser recurses.

Each bound that is hit is one `TooLargeError` or `TooSlowError` line naming the service and the
limit. The limits are `LIMITS`, replaced as a whole with `set_limits`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import math
import re
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from jobtui.core.errors import (
    AuthError,
    BadPayloadError,
    ConflictError,
    NotAnsweredError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    ServerError,
    ServiceError,
    TooLargeError,
    TooSlowError,
    TransportError,
)
from jobtui.core.format import human_size
from jobtui.core.pacing import Pacer

if TYPE_CHECKING:
    from jobtui.config import LimitsConfig

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "jobtui"

MiB = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of every answer a service client reads (sizes in bytes, after decompression)."""

    deadline: float = 20.0
    """Seconds for a whole request: connecting, sending, the answer's headers and its body (polls,
    answers, logins). Transfers have `min_rate` instead."""
    list_page: int = 32 * MiB
    """A job list, or one page of it."""
    record: int = 4 * MiB
    """One record: a job, a login answer, a status map, any other small answer."""
    error_body: int = 64 * 1024
    """The body of an error status: the rest is not read (the reason is taken from its start)."""
    mapping: int = 64 * MiB
    """A dsp-ingest mapping.csv."""
    log: int = 8 * MiB
    """The end of a log that the log view keeps (`jobtui logs` streams the whole log)."""
    log_stream: int = 4 << 30
    """A log read as a stream (`jobtui logs`, or the log view keeping its end): past this, it
    is stopped (a server sending an endless log)."""
    min_rate: int = 1024
    """Transfers (downloads, uploads, logs): bytes a second at least, over `rate_window`."""
    rate_window: float = 30.0
    json_depth: int = 200
    """Nesting of arrays and objects in a JSON body."""
    max_jobs: int = 100_000
    """Jobs listed per service: a longer list is cut there ("N of TOTAL")."""


LIMITS = Limits()


def limits() -> Limits:
    """The limits in force (read at each request: `set_limits` changes them for every client)."""
    return LIMITS


def set_limits(new: Limits) -> None:
    """Replace the limits of every client."""
    global LIMITS
    LIMITS = new


def limits_of(table: LimitsConfig) -> Limits:
    """The limits a config file's `[limits]` table sets (the others keep their defaults)."""
    return Limits(
        deadline=table.deadline,
        list_page=round(table.list_mib * MiB),
        record=round(table.record_mib * MiB),
        mapping=round(table.mapping_mib * MiB),
        log=round(table.log_mib * MiB),
        log_stream=round(table.log_stream_gib * 1024 * MiB),
        min_rate=max(1, round(table.min_rate_kib * 1024)),
        max_jobs=table.max_jobs,
    )


KEEPALIVE = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=5.0)


@functools.cache
def ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per setting for every service, made at the first TLS connection:
    loading the trusted certificates takes some 20 ms, which each client would otherwise spend
    before the first frame."""
    return httpx.create_ssl_context(verify=verify)


class LazyTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, built at the first request of each scheme: httpcore is imported and
    the TLS context (with its trusted certificates) made only when a request needs them, not at
    start-up."""

    def __init__(self, verify: bool = True) -> None:
        self.verify = verify
        self.transports: dict[str, httpx.AsyncBaseTransport] = {}

    def transport(self, scheme: str) -> httpx.AsyncBaseTransport:
        made = self.transports.get(scheme)
        if made is None:
            made = self.transports[scheme] = httpcore_transport(self.verify, tls=scheme == "https")
        return made

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.transports.values():
            await transport.aclose()


def make_transport(verify: bool = True) -> LazyTransport:
    """httpx's own transport for every request, built at the first (see `LazyTransport`)."""
    return LazyTransport(verify)


def httpcore_transport(verify: bool = True, *, tls: bool = True) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (httpcore's connection pool, h11 for HTTP/1.1). A transport for
    plain HTTP gets a TLS context without certificates: it never uses it."""
    context = ssl_context(verify) if tls else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return httpx.AsyncHTTPTransport(verify=context, limits=KEEPALIVE)


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
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
        transport=make_transport(verify),
    )


# -- bounded answers ------------------------------------------------------------------------------


async def fetch(
    client: httpx.AsyncClient,
    service: str,
    request: httpx.Request,
    *,
    limit: int,
    what: str,
    deadline: float | None = None,
    transfer: bool = False,
    head: float | None = None,
    same: bytes | None = None,
    first: FirstBytes | None = None,
) -> httpx.Response:
    """Send `request` and read its whole answer, bounded: a success's body at most `limit`
    bytes (`TooLargeError` past it), an error status's body cut at `LIMITS.error_body`, all
    within `deadline` seconds (`LIMITS.deadline`; `TooSlowError` past it). With `transfer` (an
    upload, whose body has a `MinimumRate` of its own), the deadline starts with the answer.
    With `head`, an answer whose status line has not come within `head` seconds is given up
    (`NotAnsweredError`). Transport failures are `TransportError`s. The answer's `content` is
    the body read: `same` itself when the body is identical to it (see `read_bounded`), whose
    first bytes `first` is given as soon as they come."""
    seconds = LIMITS.deadline if deadline is None else deadline
    try:
        if transfer:
            # The deadline starts once the body is sent: at least the read timeout, which the
            # server may need for a large upload (a checksum, say), but in all, not per read.
            read = (request.extensions.get("timeout") or {}).get("read") or 0.0
            seconds = max(seconds, read)
            async with asyncio.timeout(None) as answer:
                request.stream = _ThenDeadline(request.stream, answer, seconds)
                response = await client.send(request, stream=True)
                if answer.when() is None:  # a body httpx sent by other means
                    answer.reschedule(asyncio.get_running_loop().time() + seconds)
                await read_answer(service, response, limit, what)
        else:
            async with asyncio.timeout(seconds):
                response = await _send_within(client, service, request, head, what)
                await read_answer(service, response, limit, what, same=same, first=first)
    except TimeoutError:
        raise TooSlowError(
            service, f"{what}: no complete answer within {seconds:g} s (the deadline)"
        ) from None
    except httpx.HTTPError as error:
        raise transport_error(service, error) from None
    return response


async def _send_within(
    client: httpx.AsyncClient,
    service: str,
    request: httpx.Request,
    head: float | None,
    what: str,
) -> httpx.Response:
    """`client.send(request, stream=True)`, given up after `head` seconds when it is set."""
    if head is None:
        return await client.send(request, stream=True)
    try:
        async with asyncio.timeout(head):
            return await client.send(request, stream=True)
    except TimeoutError:
        raise NotAnsweredError(service, f"{what}: no answer within {head:g} s") from None


class _ThenDeadline(httpx.AsyncByteStream):
    """A request body that, once sent in full, starts the deadline of its answer."""

    def __init__(self, body: Any, answer: asyncio.Timeout, seconds: float) -> None:
        self.body = body
        self.answer = answer
        self.seconds = seconds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.body:
            yield chunk
        self.answer.reschedule(asyncio.get_running_loop().time() + self.seconds)

    async def aclose(self) -> None:
        if isinstance(self.body, httpx.AsyncByteStream):
            await self.body.aclose()


async def read_answer(
    service: str,
    response: httpx.Response,
    limit: int,
    what: str,
    *,
    same: bytes | None = None,
    first: FirstBytes | None = None,
) -> bytes:
    """Read a streamed answer's body into `response.content` and close it: at most `limit`
    bytes for a success (`same` itself when identical to it; its first bytes to `first` as they
    come), the first `LIMITS.error_body` of an error status."""
    try:
        if response.is_success:
            body = await read_bounded(service, response, limit, what, same=same, first=first)
        else:
            body = await read_bounded(service, response, LIMITS.error_body, what, cut=True)
    finally:
        await response.aclose()
    response._content = body  # as `Response.aread` keeps it: `content`, `text`, `json()`
    return body


ACCEPT_ENCODING = "gzip, deflate"
"""What jobtui asks for (whatever decoders httpx has): the encodings `decoded` inflates."""
INFLATE_STEP = 256 * 1024
"""Bytes inflated at most per step: a small compressed chunk cannot become a large one at once."""


async def decoded(service: str, response: httpx.Response, what: str) -> AsyncGenerator[bytes, None]:
    """A streamed answer's body without its Content-Encoding, inflated by zlib at most
    `INFLATE_STEP` bytes at a time, so that the caller counts decoded bytes as they grow (a gzip
    bomb stops at the caller's limit, not after inflating a whole chunk). gzip and deflate only,
    as asked; any other encoding is one `BadPayloadError`.

    The steps of one chunk read from the socket are paced (`Pacer`): 64 KB of a gzip bomb
    inflate to 64 MB, which in one go held the event loop for 100 ms and more (up to the limit of
    a job list, 32 MB, at each poll of each service), and every key pressed meanwhile with it."""
    import zlib

    if response.is_stream_consumed:  # read already, by an event hook: httpx has decoded it
        yield response.content
        return
    codings = [
        coding.strip().lower()
        for coding in response.headers.get_list("content-encoding", split_commas=True)
    ]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings:
        async for chunk in response.aiter_raw():
            yield chunk
        return
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        named = ", ".join(codings)
        raise BadPayloadError(
            service, f"{what} encoded as {named[:40]!r}, which jobtui did not ask for"
        )
    gzip = codings[0] != "deflate"
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
    started = False
    pacer = Pacer()
    async for chunk in response.aiter_raw():
        data = chunk
        while data and not inflate.eof:
            try:
                out = inflate.decompress(data, INFLATE_STEP)
            except zlib.error:
                if gzip or started:
                    raise BadPayloadError(
                        service, f"{what} is not valid {codings[0]} data"
                    ) from None
                inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without its zlib wrapper
                started = True
                continue
            started = True
            data = inflate.unconsumed_tail
            if out:
                yield out
            await pacer.tick()  # the caller's handling of `out` is counted in the turn
        if inflate.eof:
            return  # what follows the compressed data is not read (as httpx ignores it)


class FirstBytes:
    """The first `size` bytes of a success's body, given (`bytes`) as soon as they have come,
    while the rest is still read: a long list's first part is shown without waiting for the whole
    answer (66 MB for 100,000 EcoTaxa jobs, seconds away over a slow link). Never given for an
    error status or a body that ends sooner."""

    __slots__ = ("bytes", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.bytes: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def give(self, head: bytes) -> None:
        if not self.bytes.done():
            self.bytes.set_result(head[: self.size])


async def read_bounded(
    service: str,
    response: httpx.Response,
    limit: int,
    what: str,
    *,
    cut: bool = False,
    same: bytes | None = None,
    first: FirstBytes | None = None,
) -> bytes:
    """A streamed body, decoded, of at most `limit` bytes: past it, `TooLargeError` (or, with
    `cut`, the first `limit` bytes). Counting decoded bytes bounds decompression too.

    A body identical to `same` (an earlier answer to the same request) is `same` itself: each
    piece is compared with it as it comes and let go (an unpaged list of 50,000 EcoTaxa jobs is
    23 MB: its pieces kept, then joined into a copy, which was hashed to find its parse, held
    23 MB more at every poll). `first` is given the body's first bytes as soon as they come."""
    chunks: list[bytes] = []
    size = 0
    equal = same is not None
    async with contextlib.aclosing(decoded(service, response, what)) as body:
        async for chunk in body:
            if equal and same is not None:
                if same.startswith(chunk, size):
                    size += len(chunk)  # not kept: `same` holds it
                    if first is not None and size >= first.size:
                        first.give(same)
                    if size > limit:
                        raise TooLargeError(
                            service, f"{what} larger than {human_size(limit)}: not read further"
                        )
                    continue
                equal = False
                chunks.append(same[:size])  # what came so far
            size += len(chunk)
            if first is not None and size >= first.size and not first.bytes.done():
                first.give(b"".join([*chunks, chunk]))  # before the bound: its first part shows
            if size > limit:
                if cut:
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    break
                raise TooLargeError(
                    service, f"{what} larger than {human_size(limit)}: not read further"
                )
            chunks.append(chunk)
    if equal and same is not None:  # every piece was the start of `same`
        return same if size == len(same) else same[:size]
    return b"".join(chunks)


async def open_stream(
    client: httpx.AsyncClient,
    service: str,
    request: httpx.Request,
    *,
    what: str,
    deadline: float | None = None,
) -> httpx.Response:
    """Send `request` and wait for its answer's headers within `deadline` (`LIMITS.deadline`):
    the body is left to the caller (`rated`), which closes the answer."""
    seconds = LIMITS.deadline if deadline is None else deadline
    try:
        async with asyncio.timeout(seconds):
            return await client.send(request, stream=True)
    except TimeoutError:
        raise TooSlowError(
            service, f"{what}: no answer within {seconds:g} s (the deadline)"
        ) from None
    except httpx.HTTPError as error:
        raise transport_error(service, error) from None


class MinimumRate:
    """The floor of a transfer's speed: `moved` raises `TooSlowError` once fewer than `rate`
    bytes a second moved over a window of `window` seconds. (A transfer that stalls altogether is
    ended by httpx's read or write timeout.)"""

    def __init__(
        self,
        service: str,
        what: str,
        *,
        rate: int | None = None,
        window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.what = what
        self.rate = LIMITS.min_rate if rate is None else rate
        self.window = LIMITS.rate_window if window is None else window
        self.clock = clock
        self._since = clock()
        self._moved = 0

    def moved(self, count: int) -> None:
        self._moved += count
        now = self.clock()
        elapsed = now - self._since
        if elapsed < self.window:
            return
        if self._moved < self.rate * elapsed:
            raise TooSlowError(
                self.service,
                f"{self.what} slower than {human_size(self.rate)}/s over {self.window:g} s "
                f"({self._moved:,} bytes in {elapsed:.0f} s): stopped",
            )
        self._since, self._moved = now, 0


async def rated(chunks: AsyncIterable[bytes], rate: MinimumRate) -> AsyncIterator[bytes]:
    """`chunks`, each counted by `rate` (which raises when the transfer is too slow)."""
    async for chunk in chunks:
        rate.moved(len(chunk))
        yield chunk


async def stream_body(
    client: httpx.AsyncClient,
    service: str,
    request: httpx.Request,
    *,
    what: str,
    error: Callable[[httpx.Response], ServiceError],
) -> AsyncIterator[bytes]:
    """The decoded body of a successful answer, chunk by chunk, held to `MinimumRate` (its
    headers within the deadline); an error status raises `error(response)` with the start of its
    body read. For logs: nothing of the body is kept here."""
    response = await open_stream(client, service, request, what=what)
    try:
        if not response.is_success:
            await read_answer(service, response, 0, what)
            raise error(response)
        rate = MinimumRate(service, what)
        size = 0
        async with contextlib.aclosing(decoded(service, response, what)) as body:
            async for chunk in body:
                rate.moved(len(chunk))
                size += len(chunk)
                if size > LIMITS.log_stream:
                    raise TooLargeError(
                        service,
                        f"{what} larger than {human_size(LIMITS.log_stream)}: stopped there",
                    )
                yield chunk
    except httpx.HTTPError as failure:
        raise transport_error(service, failure) from None
    finally:
        await response.aclose()


async def text_pieces(chunks: AsyncIterable[bytes], encoding: str = "utf-8") -> AsyncIterator[str]:
    """`chunks` decoded as they come (a character split between two chunks is kept whole)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    async for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text
    if text := decoder.decode(b"", final=True):
        yield text


async def tail(chunks: AsyncIterable[bytes], keep: int) -> tuple[bytes, int]:
    """The last `keep` bytes of `chunks` (at most twice that held at once) and the total."""
    kept = bytearray()
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        kept += chunk
        if len(kept) > 2 * keep:
            del kept[: len(kept) - keep]
    if len(kept) > keep:
        del kept[: len(kept) - keep]
    return bytes(kept), total


def log_text(kept: bytes, total: int, encoding: str = "utf-8") -> str:
    """A log's text from its last bytes (`tail`): when the start was cut, it begins at a whole
    line after a line that says so."""
    if len(kept) >= total:
        return kept.decode(encoding, errors="replace")
    newline = kept.find(b"\n")
    body = kept[newline + 1 :] if 0 <= newline < len(kept) - 1 else kept
    note = (
        f"… the first {human_size(total - len(body))} of this log are not shown "
        f"(only its last {human_size(LIMITS.log)} are kept)\n"
    )
    return note + body.decode(encoding, errors="replace")


_DIGITS = re.compile(r"\s*(\d{1,18})\s*")


def content_length(response: httpx.Response) -> int | None:
    """The answer's Content-Length when it is a plain number of at most 18 digits (h11 has
    checked it frames the body), else None."""
    match = _DIGITS.fullmatch(response.headers.get("content-length", ""))
    return int(match.group(1)) if match else None


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def json_depth_ok(content: bytes, limit: int | None = None) -> bool:
    """Whether a JSON body nests arrays and objects at most `limit` (`LIMITS.json_depth`) deep,
    checked before a recursive parser (Python's json) reads it. Free for a body with
    fewer brackets than the limit; else linear in the brackets outside strings."""
    depth_limit = LIMITS.json_depth if limit is None else limit
    if content.count(b"[") + content.count(b"{") <= depth_limit:
        return True
    depth = deepest = 0
    for byte in _STRING.sub(b"", content).translate(None, _BRACKETS):
        depth += 1 if byte in (0x5B, 0x7B) else -1
        deepest = max(deepest, depth)
        if deepest > depth_limit:
            return False
    return True


def loads(service: str, content: bytes | str, what: str) -> Any:
    """Python's JSON parser on a body whose depth was checked first; a body that is not JSON
    raises ValueError, one nested too deep `BadPayloadError`."""
    import json

    raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    if not json_depth_ok(raw):
        raise BadPayloadError(service, f"{what} nested deeper than {LIMITS.json_depth} levels")
    return json.loads(raw)


def transport_error(service: str, error: httpx.HTTPError) -> TransportError:
    """One line for a connection-level failure, without the URL's query (it may hold a token)."""
    if isinstance(error, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(error, httpx.ConnectError):
        what = "cannot connect"
    elif isinstance(error, httpx.RemoteProtocolError):
        said = str(error)
        if "complete message body" in said:
            what = "answer cut short (connection closed)"
        elif "disconnected" in said:
            what = "connection closed before an answer"
        else:  # h11 refused the framing: status line, headers, chunks, trailer
            what = "malformed HTTP answer"
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
    if what == "malformed HTTP answer":
        return TransportError(service, f"{what}{url.replace(' to ', ' from ')}, refused")
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


MAX_RETRY_AFTER = 86_400.0
"""The longest Retry-After taken from a server, in seconds."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf", "nan" or a year: no date a server gives is worth waiting more than a day for
        return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER)


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
