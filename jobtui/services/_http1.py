"""`Http1Transport`: HTTP/1.1 with keep-alive on asyncio streams, for requests without a body.

An idle dashboard's cost is its polls: a dozen small GETs every two seconds. Through httpcore and
h11 each spent about a millisecond of CPU on this project's machines, most of it in layers of
per-event state machines and stream wrappers. This transport speaks the same HTTP/1.1 in one
coroutine per request: the request head is written in one piece, the response head is parsed
with `bytes.split`, and the body is framed as RFC 9112 section 6.3 says (no body for HEAD, 1xx, 204
and 304; chunked; Content-Length; else up to the end of the connection). Bodies stream, so a
download of any size never sits in memory.

Requests that carry a body (uploads, JSON posts) go to the `fallback` transport (httpx's, on
httpcore), which has the machinery for streaming them. Failures raise httpx's own exceptions, as
any httpx transport does, with the cause (an `ssl.SSLError`, say) chained.
"""

# ruff: noqa: ASYNC109 (timeouts come from the request, as httpx passes them)

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx

MAX_HEAD = 64 * 1024
"""Largest response head (status line and headers) accepted, as h11 does."""
READ_SIZE = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"DELETE"})


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default=0.0)

    def usable(self, now: float, expiry: float) -> bool:
        """Still open, and not idle for longer than `expiry` (the server may have dropped it)."""
        return (
            now - self.idle_since < expiry
            and not self.reader.at_eof()
            and not self.writer.transport.is_closing()
        )

    def close(self) -> None:
        self.writer.close()  # the transport closes the socket; nothing is awaited


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    timeout: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeout


class Http1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive for body-less requests; others go to `fallback` (module docstring)."""

    def __init__(
        self,
        fallback: Callable[[], httpx.AsyncBaseTransport],
        ssl_context: Callable[[], ssl.SSLContext],
        limits: httpx.Limits,
    ) -> None:
        self._make_fallback = fallback
        self._fallback: httpx.AsyncBaseTransport | None = None
        self._ssl = ssl_context
        self._keep = limits.max_keepalive_connections or 0
        self._expiry = limits.keepalive_expiry if limits.keepalive_expiry is not None else 5.0
        self._slots = asyncio.Semaphore(limits.max_connections or 100)
        self._idle: dict[tuple[bytes, bytes, int], list[_Connection]] = {}
        self.opened = 0
        """Connections opened so far (tests check that they are kept alive)."""

    @property
    def fallback(self) -> httpx.AsyncBaseTransport:
        """The transport for requests with a body, made when the first one is sent (a dashboard
        that only watches never builds httpcore's pool, nor imports anyio for its locks)."""
        if self._fallback is None:
            self._fallback = self._make_fallback()
        return self._fallback

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = request.headers
        has_body = "content-length" in headers or "transfer-encoding" in headers
        if has_body and headers.get("content-length") != "0":
            return await self.fallback.handle_async_request(request)
        url = request.url
        if url.scheme not in ("http", "https"):
            return await self.fallback.handle_async_request(request)
        timeouts = _timeouts(request)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a connection") from None
        try:
            return await self._send(request, timeouts)
        except BaseException:
            self._slots.release()
            raise

    async def _send(
        self, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        """The response once its head has arrived; its body streams from the connection."""
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        head = self._head(request)
        method = request.method.encode("ascii")
        while True:
            conn = self._checkout(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key, timeouts.get("connect"))
            try:
                await self._write(conn, head, timeouts.get("write"))
                version, status, reason, raw, rest = await self._read_head(
                    conn, timeouts.get("read")
                )
            except (_Unanswered, httpx.WriteError) as failure:
                conn.close()
                # A kept connection the server closed as the request went out: nothing was
                # answered, so a request that can be repeated is sent again on a new one.
                if reused and method in IDEMPOTENT:
                    continue
                if isinstance(failure, _Unanswered):
                    raise failure.error from failure.error.__cause__
                raise
            except BaseException:
                conn.close()
                raise
            break
        try:
            stream = _Body(self, key, conn, method, status, raw, rest, timeouts.get("read"))
        except BaseException:
            conn.close()
            raise
        stream.keep = stream.keep and version == b"HTTP/1.1"
        return httpx.Response(
            status,
            headers=raw,
            stream=stream,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    @staticmethod
    def _head(request: httpx.Request) -> bytes:
        url = request.url
        target = url.raw_path  # path and query, as sent
        lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
                raise httpx.LocalProtocolError("a header holds a line break")
            lines += (name, b": ", value, b"\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def _checkout(self, key: tuple[bytes, bytes, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    def _checkin(self, key: tuple[bytes, bytes, int], conn: _Connection | None) -> None:
        """The request on `conn` is over: keep the connection for the next, or close it."""
        self._slots.release()
        if conn is None:
            return
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self._keep:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(self, key: tuple[bytes, bytes, int], timeout: float | None) -> _Connection:
        scheme, raw_host, port = key
        host = raw_host.decode("ascii")
        tls = self._ssl() if scheme == b"https" else None  # loaded at the first TLS connection
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host.strip("[]"),
                    port,
                    ssl=tls,
                    server_hostname=host.strip("[]") if tls else None,
                    limit=MAX_HEAD,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, ssl.SSLError) as error:  # a certificate refused is an SSLError
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        self.opened += 1
        return _Connection(reader, writer)

    @staticmethod
    async def _write(conn: _Connection, data: bytes, timeout: float | None) -> None:
        try:
            conn.writer.write(data)
            if conn.writer.transport.get_write_buffer_size():
                async with asyncio.timeout(timeout):
                    await conn.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out writing") from None
        except OSError as error:
            raise httpx.WriteError(str(error) or type(error).__name__) from error

    @staticmethod
    async def _read_head(
        conn: _Connection, timeout: float | None
    ) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]], bytes]:
        """(version, status, reason, headers, bytes of the body read with the head), skipping
        1xx. Raises `_Unanswered` when the connection ends before any byte of an answer."""
        buffer = b""
        while True:
            try:
                async with asyncio.timeout(timeout):
                    while (end := buffer.find(b"\r\n\r\n")) < 0:
                        if len(buffer) > MAX_HEAD:
                            raise httpx.RemoteProtocolError("the answer's head is too large")
                        chunk = await conn.reader.read(READ_SIZE)
                        if not chunk:
                            if not buffer:
                                raise _Unanswered(
                                    httpx.RemoteProtocolError(
                                        "Server disconnected without sending a response."
                                    )
                                )
                            raise httpx.RemoteProtocolError(
                                "Server disconnected in the middle of the answer's head."
                            )
                        buffer += chunk
            except TimeoutError:
                raise httpx.ReadTimeout("timed out reading") from None
            except OSError as error:
                wrapped = httpx.ReadError(str(error) or type(error).__name__)
                wrapped.__cause__ = error
                if not buffer:
                    raise _Unanswered(wrapped) from error
                raise wrapped from error
            if end > MAX_HEAD:
                raise httpx.RemoteProtocolError("the answer's head is too large")
            version, status, reason, headers = _parse_head(buffer[:end])
            buffer = buffer[end + 4 :]
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue): the real one follows
            return version, status, reason, headers, buffer

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()


class _Unanswered(Exception):
    """The connection ended before any byte of an answer; `error` is what to raise."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    """(version, status, reason, headers) of a response head, without its blank line."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"not an HTTP/1.1 answer: {lines[0][:40]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else b""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"malformed header line: {line[:40]!r}")
        headers.append((name, value.strip()))
    return parts[0], status, reason, headers


class _Body(httpx.AsyncByteStream):
    """A response's body as it arrives; at its end the connection goes back to the pool."""

    def __init__(
        self,
        transport: Http1Transport,
        key: tuple[bytes, bytes, int],
        conn: _Connection,
        method: bytes,
        status: int,
        headers: list[tuple[bytes, bytes]],
        rest: bytes,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._key = key
        self._conn: _Connection | None = conn
        self._rest = rest
        self._timeout = timeout
        self._length: int | None = None
        self._chunked = False
        keep = True
        encoded = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit():
                    raise httpx.RemoteProtocolError(f"bad Content-Length: {value[:20]!r}")
                self._length = int(value)
            elif lower == b"transfer-encoding":
                encoded = True
                self._chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            elif lower == b"connection":
                keep = b"close" not in value.lower()
        if encoded:
            self._length = None  # a transfer coding overrides any Content-Length (RFC 9112 6.3)
        if method == b"HEAD" or status in NO_BODY_STATUSES or 100 <= status < 200:
            self._length, self._chunked = 0, False
        # Without a length or chunks, the body ends with the connection: it cannot be kept.
        self.keep = keep and (self._chunked or self._length is not None)
        self._done = False

    async def _read(self) -> bytes:
        assert self._conn is not None
        try:
            async with asyncio.timeout(self._timeout):
                return await self._conn.reader.read(READ_SIZE)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading") from None
        except OSError as error:
            raise httpx.ReadError(str(error) or type(error).__name__) from error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._conn is None:
            raise httpx.StreamClosed()
        try:
            if self._chunked:
                async for piece in self._chunks():
                    yield piece
            elif self._length is not None:
                left = self._length
                data, self._rest = self._rest, b""
                while True:
                    if data:
                        piece = data[:left]
                        left -= len(piece)
                        if len(data) > len(piece):
                            self.keep = False  # more than was announced: the framing is off
                        if piece:
                            yield piece
                    if left <= 0:
                        break
                    data = await self._read()
                    if not data:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body "
                            f"(received {self._length - left} bytes, expected {self._length})"
                        )
            else:
                data, self._rest = self._rest, b""
                while True:
                    if data:
                        yield data
                    data = await self._read()
                    if not data:
                        break
            self._done = True
        finally:
            await self.aclose()

    async def _chunks(self) -> AsyncIterator[bytes]:
        buffer, self._rest = self._rest, b""
        while True:
            while (end := buffer.find(b"\r\n")) < 0:
                if len(buffer) > MAX_HEAD:
                    raise httpx.RemoteProtocolError("a chunk size line is too long")
                buffer += await self._more()
            size_text = buffer[:end].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad chunk size: {size_text[:20]!r}") from None
            buffer = buffer[end + 2 :]
            if size == 0:
                # trailer fields, if any, then the blank line that ends the message
                while (end := buffer.find(b"\r\n")) != 0:
                    if end < 0:
                        buffer += await self._more()
                        continue
                    buffer = buffer[end + 2 :]
                return
            while size:
                if not buffer:
                    buffer = await self._more()
                piece = buffer[:size]
                buffer = buffer[len(piece) :]
                size -= len(piece)
                yield piece
            while len(buffer) < 2:
                buffer += await self._more()
            if buffer[:2] != b"\r\n":
                raise httpx.RemoteProtocolError("a chunk does not end with a line break")
            buffer = buffer[2:]

    async def _more(self) -> bytes:
        data = await self._read()
        if not data:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body (chunked)"
            )
        return data

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        keep = self._done and self.keep and not self._rest
        if not keep:
            conn.close()
        self._transport._checkin(self._key, conn if keep else None)
