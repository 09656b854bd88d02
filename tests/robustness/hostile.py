"""A hostile HTTP server on raw sockets: it answers each request with scripted bytes, broken where
the framing must be broken (which no real HTTP server library would send).

`HostileServer` runs on 127.0.0.1 (a free port) in a thread of its own, so that the test's own
client, or a `jobtui` command in a subprocess, talks to it over real sockets. Its `route` decides
each answer from the request's method and path: raw bytes (sent, then the connection is closed)
or a coroutine that writes what it likes (an endless body, a byte a second...). `CASES` holds
every hostile answer of the issue, by name.
"""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from functools import cache

Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]
Answer = bytes | Writer
Route = Callable[[str, str], Answer]


def raw(status: str, headers: dict[str, str] | list[tuple[str, str]], body: bytes = b"") -> bytes:
    """An answer as bytes: status line, headers in the order given, blank line, body."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return head.encode("latin-1") + body


def json_answer(body: object, status: str = "200 OK", **headers: str) -> bytes:
    """A well-formed JSON answer; the connection is closed after it, as it says."""
    data = json.dumps(body).encode()
    fixed = {"Content-Type": "application/json", "Content-Length": str(len(data))}
    return raw(status, {**fixed, "Connection": "close", **headers}, data)


class HostileServer:
    """A raw-socket HTTP server in a thread: `with HostileServer(route) as server: server.url`."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=1 << 20)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, _, rest = lines[0].partition(" ")
            path = rest.rpartition(" ")[0]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length" and value.strip().isdigit():
                    length = int(value)
            if length:
                await reader.readexactly(length)
            self.requests.append((method, path))
            answer = self.route(method, path)
            if isinstance(answer, bytes):
                writer.write(answer)
                await writer.drain()
            else:
                await answer(writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, as it should from most of these answers
        except asyncio.CancelledError:
            pass  # the server stops
        finally:
            writer.close()


def always(answer: Answer) -> Route:
    """The route that gives `answer` to every request."""
    return lambda method, path: answer


# -- the cases ------------------------------------------------------------------------------------


async def endless_body(writer: asyncio.StreamWriter) -> None:
    """A 200 with a chunked body that never ends (until the client goes away)."""
    writer.write(
        raw("200 OK", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    )
    block = b"[" + b"1," * 32_000 + b"\r\n"
    chunk = b"%x\r\n%s\r\n" % (len(block), block)
    while True:
        writer.write(chunk)
        await writer.drain()


async def one_byte_a_second(writer: asyncio.StreamWriter) -> None:
    """A valid answer, sent one byte a second (each read of the client gets something)."""
    for byte in json_answer({"detail": "slow"} | {"pad": "x" * 200}):
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


async def silent(writer: asyncio.StreamWriter) -> None:
    """Reads the request and never answers."""
    await asyncio.sleep(3600)


@cache
def gzip_bomb(size: int = 256 << 20) -> bytes:
    """`size` bytes of zeros, gzip-compressed (some 250 KB for 256 MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def bomb_answer() -> bytes:
    body = gzip_bomb()
    return raw(
        "200 OK",
        {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        },
        body,
    )


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def job_list_body(count: int) -> Iterator[bytes]:
    """A bsub.io-shaped list of `count` jobs, in pieces (never held whole)."""
    yield b'{"success":true,"data":{"total":%d,"jobs":[' % count
    for index in range(count):
        comma = b"," if index else b""
        yield comma + (
            b'{"id":"job-%d","status":"finished","type":"t","user_id":null,"data_size":1,'
            b'"claimed_by":null,"error_code":null,"error_message":null,'
            b'"created_at":null,"updated_at":null,"claimed_at":null,"finished_at":null}' % index
        )
    yield b"]}}"


def million_jobs(count: int = 1_000_000) -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(raw("200 OK", {"Content-Type": "application/json", "Connection": "close"}))
        pending: list[bytes] = []
        for piece in job_list_body(count):
            pending.append(piece)
            if len(pending) >= 500:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
        writer.write(b"".join(pending))
        await writer.drain()

    return write


def leia_paging_forever(method: str, path: str) -> bytes:
    """Leia: a login, then job pages of new ids for every offset, with a huge total."""
    if path.startswith("/login"):
        return json_answer({"token": "t0k3n-hostile", "application": {"id": "app", "name": "x"}})
    if path.startswith("/job?") or path == "/job":
        offset = 0
        for part in path.partition("?")[2].split("&"):
            key, _, value = part.partition("=")
            if key == "offset" and value.isdigit():
                offset = int(value)
        jobs = [
            {"id": f"j{offset + i}", "status": "SUCCEEDED", "name": "x", "image": "i"}
            for i in range(100)
        ]
        return json_answer(jobs, **{"Content-Range": f"items {offset}-{offset + 99}/999999999"})
    return json_answer({"detail": "no"}, "404 Not Found")


CASES: dict[str, Callable[[], Answer]] = {
    "negative chunk size": lambda: raw(
        "200 OK", {"Transfer-Encoding": "chunked"}, b"-2\r\nxx\r\n0\r\n\r\n"
    ),
    "endless body": lambda: endless_body,
    "gzip bomb": bomb_answer,
    "one byte a second": lambda: one_byte_a_second,
    "Content-Length of 5,000 digits": lambda: raw("200 OK", {"Content-Length": "9" * 5000}, b"{}"),
    "conflicting Content-Length": lambda: raw(
        "200 OK", [("Content-Length", "2"), ("Content-Length", "7")], b"{}"
    ),
    "101 as the final answer": lambda: raw("101 Switching Protocols", {}),
    "status 9999": lambda: raw("9999 Whatever", {"Content-Length": "2"}, b"{}"),
    "huge trailer": lambda: raw(
        "200 OK",
        {"Transfer-Encoding": "chunked"},
        b"2\r\n{}\r\n0\r\n" + b"X-Pad: " + b"a" * (10 << 20) + b"\r\n\r\n",
    ),
    "deep JSON": lambda: raw("200 OK", {"Content-Type": "application/json"}, deep_json()),
    "deep JSON error body": lambda: raw(
        "500 Internal Server Error",
        {"Content-Type": "application/json", "Content-Length": str(2 * 100_000)},
        deep_json(),
    ),
    "1,000,000-job list": lambda: million_jobs(),
}
"""Each hostile answer, by name: the same answer to every request."""
