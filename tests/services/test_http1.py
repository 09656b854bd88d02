"""`Http1Transport` on the wire: bodies framed every way HTTP/1.1 allows, kept connections,
connections the server drops, answers that are not HTTP, and the pool's limits.

The emulators speak HTTP through uvicorn, which frames every answer one way; these tests also
need answers uvicorn never writes (chunk extensions, trailers, bodies ended by closing, interim
100 answers, broken heads), so they run a small server on 127.0.0.1 that writes given bytes,
split into given pieces, over a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtui.core.errors import TransportError
from jobtui.services._http import make_client, ssl_context, transport_error
from jobtui.services._http1 import Http1Transport
from jobtui.services.bsub import BsubClient
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import token_of


@dataclass(frozen=True)
class Reply:
    """What the server writes for one request: `pieces` one by one, then, if `close`, it closes
    the connection. No pieces and `close`: it closes without answering."""

    pieces: Sequence[bytes] = ()
    close: bool = False


Answer = Callable[[int, int, bytes], Reply]
"""(connection number, request number on that connection, request head) -> the reply."""


@dataclass
class Seen:
    connections: int = 0
    heads: list[bytes] | None = None


@asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[tuple[str, Seen]]:
    """A server at the URL yielded that replies to each request head as `answer` says."""
    seen = Seen(heads=[])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = seen.connections
        seen.connections += 1
        try:
            for request in range(1_000):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                assert seen.heads is not None
                seen.heads.append(head)
                reply = answer(number, request, head)
                for piece in reply.pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.001)  # one piece per read, as a slow network delivers
                if reply.close:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.close()


@asynccontextmanager
async def serving(
    answer: Answer, limits: httpx.Timeout | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, Seen]]:
    """A service client (as `make_client` makes it) of a `raw_server` replying with `answer`."""
    async with raw_server(answer) as (url, seen):
        client = make_client(url) if limits is None else make_client(url, timeout=limits)
        try:
            yield client, seen
        finally:
            await client.aclose()


def always(*pieces: bytes, close: bool = False) -> Answer:
    return lambda _connection, _request, _head: Reply(pieces, close)


def transport_of(client: httpx.AsyncClient) -> Http1Transport:
    transport = client._transport
    assert isinstance(transport, Http1Transport)
    return transport


HELLO = b"hello, jobtui"
OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, jobtui"
FRAMINGS = {
    "content-length": [b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, ", b"jobtui"],
    "chunked, with an extension and a trailer": [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5;name=value\r\nhello\r\n",
        b"8\r\n, jobtui\r\n0\r\nX-Checksum: 1\r\n\r\n",
    ],
    "chunk lines split across reads": [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nD",
        b"\r",
        b"\nhello, jobtui\r",
        b"\n0\r",
        b"\n\r\n",
    ],
    "head split across reads": [b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 13\r\n\r", b"\n", HELLO],
    "after an interim 100 Continue": [b"HTTP/1.1 100 Continue\r\n\r\n", OK_HELLO],
    "chunked, with a Content-Length after it (the coding wins)": [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n",
        b"d\r\nhello, jobtui\r\n0\r\n\r\n",
    ],
}


@pytest.mark.parametrize("pieces", FRAMINGS.values(), ids=FRAMINGS.keys())
async def test_a_framed_body_arrives_whole_and_the_connection_is_kept(
    pieces: list[bytes],
) -> None:
    async with serving(always(*pieces)) as (client, seen):
        for _ in range(3):
            response = await client.get("/jobs")
            assert (response.status_code, response.content) == (200, HELLO)
        assert transport_of(client).opened == seen.connections == 1


async def test_a_body_ended_by_closing_arrives_whole_and_its_connection_is_not_used_again() -> None:
    pieces = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, ", b"jobtui"]
    async with serving(always(*pieces, close=True)) as (client, seen):
        for _ in range(2):
            assert (await client.get("/log")).content == HELLO
        assert seen.connections == 2, "each answer ended its connection"


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nConnection: close\r\n", b"HTTP/1.0 200 OK\r\n"],
    ids=["Connection: close", "HTTP/1.0"],
)
async def test_an_answer_that_ends_its_connection_is_not_kept(head: bytes) -> None:
    async with serving(always(head + b"Content-Length: 13\r\n\r\n" + HELLO)) as (client, seen):
        for _ in range(2):
            assert (await client.get("/jobs")).content == HELLO
        assert seen.connections == 2


async def test_answers_without_a_body_leave_the_connection_ready_for_the_next() -> None:
    def answer(_connection: int, request: int, head: bytes) -> Reply:
        if head.startswith(b"HEAD"):  # the length of the body a GET would get, and no body
            return Reply([b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"])
        if head.startswith(b"DELETE"):
            return Reply([b"HTTP/1.1 204 No Content\r\n\r\n"])
        if b"If-None-Match" in head:
            return Reply([b"HTTP/1.1 304 Not Modified\r\nContent-Length: 13\r\n\r\n"])
        return Reply([OK_HELLO])

    async with serving(answer) as (client, seen):
        head = await client.head("/output")
        assert (head.status_code, head.headers["content-length"], head.content) == (
            200,
            "13",
            b"",
        )
        assert (await client.delete("/jobs/1")).status_code == 204
        cached = await client.get("/jobs", headers={"If-None-Match": '"1"'})
        assert (cached.status_code, cached.content) == (304, b"")
        assert (await client.get("/jobs")).content == HELLO
        assert seen.connections == 1


@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=3000),
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 400), min_size=1, max_size=12),
)
def test_any_chunking_of_any_body_split_anywhere_arrives_whole(
    body: bytes, sizes: list[int], cuts: list[int]
) -> None:
    chunks, rest, turn = [], body, 0
    while rest:
        size = sizes[turn % len(sizes)]
        chunks.append(b"%x\r\n%s\r\n" % (size if size < len(rest) else len(rest), rest[:size]))
        rest, turn = rest[size:], turn + 1
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(chunks) + b"0\r\n\r\n"
    )
    pieces, turn = [], 0
    while wire:
        cut = cuts[turn % len(cuts)]
        pieces.append(wire[:cut])
        wire, turn = wire[cut:], turn + 1

    async def run() -> None:
        async with serving(always(*pieces)) as (client, seen):
            for _ in range(2):
                assert (await client.get("/output")).content == body
            assert seen.connections == 1

    asyncio.run(run())


def drop_the_second_request(connection: int, request: int, _head: bytes) -> Reply:
    """Answers, except the second request on the first connection: that connection is closed
    instead, as a server does with a kept connection it has just let go."""
    if connection == 0 and request == 1:
        return Reply(close=True)
    return Reply([OK_HELLO])


async def test_a_kept_connection_the_server_dropped_as_the_request_went_out_is_retried_for_a_get() -> (
    None
):
    async with serving(drop_the_second_request) as (client, seen):
        assert (await client.get("/jobs")).content == HELLO
        assert (await client.get("/jobs")).content == HELLO  # sent again, on a new one
        assert seen.connections == 2


async def test_a_post_on_a_kept_connection_the_server_dropped_is_not_sent_twice() -> None:
    async with serving(drop_the_second_request) as (client, seen):
        assert (await client.get("/jobs")).content == HELLO
        with pytest.raises(httpx.RemoteProtocolError) as failure:
            await client.post("/jobs/1/cancel")  # no body: it goes this way too
        assert transport_error("bsub", failure.value).line == (
            f"bsub: connection broken to 127.0.0.1:{client.base_url.port}"
        )
        assert seen.heads is not None
        assert sum(head.startswith(b"POST") for head in seen.heads) == 1


async def test_a_reset_from_the_emulator_is_retried_once_for_a_get_and_named_in_one_line(
    emulator: EmulatorFactory,
) -> None:
    running = emulator("bsub", seed=1, speed=0, jobs=3)
    client = BsubClient(running.url, token_of(running))
    try:
        await client.list_jobs()
        faults = running.emulator.state.faults
        faults.connection_reset = True
        with pytest.raises(TransportError) as failure:
            await client.list_jobs()
        assert failure.value.line.startswith("bsub: connection "), failure.value.line
        assert faults.faulted == 2, "sent again once, on a new connection"
        faults.connection_reset = False
        assert len((await client.list_jobs()).jobs) == 3
    finally:
        await client.aclose()


BROKEN = {
    "not HTTP": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 answer"),
    "a header without a colon": (b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "malformed header"),
    "a bad length": (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n", "bad Content-Length"),
    "a negative length": (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "bad Content-Length"),
    "a bad chunk size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "bad chunk size",
    ),
    "a head too large": (
        b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * 70_000 + b"\r\n\r\n",
        "head is too large",
    ),
    "a body cut short": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nhello",
        "without sending complete message body",
    ),
}


@pytest.mark.parametrize(("wire", "reason"), BROKEN.values(), ids=BROKEN.keys())
async def test_a_broken_answer_is_a_protocol_error_and_one_line(wire: bytes, reason: str) -> None:
    async with serving(always(wire, close=True)) as (client, _seen):
        with pytest.raises(httpx.RemoteProtocolError) as failure:
            await client.get("/jobs")
        assert reason in str(failure.value)
        line = transport_error("bsub", failure.value).line
        assert line.startswith("bsub: ") and "\n" not in line, line


async def test_a_header_value_with_a_line_break_is_refused_before_sending() -> None:
    async with serving(always(OK_HELLO)) as (client, seen):
        with pytest.raises(httpx.LocalProtocolError):
            await client.get("/jobs", headers={"X-Name": "a\r\nInjected: yes"})
        assert seen.heads == []


async def test_a_silent_server_is_a_read_timeout() -> None:
    silent = always()  # reads the request, never answers
    async with serving(silent, limits=httpx.Timeout(5.0, read=0.2)) as (client, _seen):
        with pytest.raises(httpx.ReadTimeout) as failure:
            await client.get("/jobs")
        assert transport_error("bsub", failure.value).line.startswith("bsub: timed out")


async def test_a_stream_closed_early_gives_its_connection_slot_back() -> None:
    body = b"x" * 200_000
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    async with serving(always(wire)) as (client, seen):
        for _ in range(20):  # more than the pool holds: a lost slot would block
            async with asyncio.timeout(5), client.stream("GET", "/output") as response:
                async for _piece in response.aiter_bytes():
                    break  # the rest is not read: the connection cannot be kept
        assert seen.connections == 20
        assert (await client.get("/output")).content == body
        assert transport_of(client).opened == 21


async def test_no_more_connections_than_the_limit_are_open_at_once() -> None:
    async with raw_server(always(OK_HELLO)) as (url, seen):
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        transport = Http1Transport(httpx.AsyncHTTPTransport, partial(ssl_context, True), limits)
        client = httpx.AsyncClient(base_url=url, transport=transport)
        try:
            results = await asyncio.gather(*(client.get("/jobs") for _ in range(6)))
            assert [r.content for r in results] == [HELLO] * 6
            assert seen.connections == 2
        finally:
            await client.aclose()
