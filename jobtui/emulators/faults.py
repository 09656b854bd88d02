"""Switchable faults every emulator shares: what a test or `--fault KIND:SPEC` switches on
(`Faults`), how each service answers when it fails (`FaultProfile`), and the middleware that
applies them to every request (`FaultsMiddleware`), with its control endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAULT_SPECS = (
    "latency=SECONDS",
    "hang",
    "500",
    "502",
    "503",
    "429[=SECONDS]",
    "malformed",
    "truncated",
    "content-type",
    "reset",
    "expired",
    "random[=PROBABILITY]",
    "redirect=URL",
    "off",
)
"""What `Faults.switch` (and `--fault KIND:SPEC`) accepts; any HTTP status 400-599 works too."""

RANDOM_KINDS = (
    "500",
    "502",
    "503",
    "429",
    "malformed",
    "truncated",
    "content-type",
    "reset",
    "expired",
)
"""The faults `random` picks from, one per faulted request."""

HANG_LIMIT = 600.0
"""The longest a `hang` holds one answer (it ends sooner when the fault is switched off)."""

CONTROL_PATH = "/_emulator/faults"
"""The runtime control endpoint of every emulator: GET shows the faults, POST a spec switches one."""


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """How one service answers when it fails: its own error body for a status, its own broken
    JSON, its own 401 for a token it no longer accepts."""

    error: Callable[[int, str], Response]
    malformed: bytes
    expired: Callable[[], Response]


_FLAGS = {
    "hang": "hang",
    "malformed": "malformed",
    "truncated": "truncated",
    "content-type": "wrong_type",
    "wrong-type": "wrong_type",
    "html": "wrong_type",
    "reset": "connection_reset",
    "expired": "expired",
}
"""The specs that switch one flag of `Faults` on, and that flag."""


class FaultSpecError(ValueError):
    """A fault spec that is not one of `FAULT_SPECS`."""


@dataclass
class Faults:
    """Switchable failures, applied to every request by `FaultsMiddleware`.

    Tests set the fields directly or call `switch("503")`; `jobtui emulate --fault KIND:SPEC`
    and POST /_emulator/faults call `switch` too. `paths` restricts the answer-replacing faults
    to requests whose path starts with one of them.
    """

    latency: float = 0.0
    """Seconds added before every answer."""
    hang: bool = False
    """Hold every answer (past any client timeout) until switched off."""
    fail_status: int | None = None
    """Answer every request with this status, in the service's own error body."""
    retry_after: float = 5.0
    """The Retry-After seconds sent with a 429."""
    malformed: bool = False
    """Answer 200 with a broken JSON body."""
    truncated: bool = False
    """Answer 200 with a Content-Length larger than the body sent, then close the connection."""
    wrong_type: bool = False
    """Answer 200 with an HTML page (text/html) where JSON was expected."""
    connection_reset: bool = False
    """Reset the TCP connection without answering."""
    expired: bool = False
    """Answer every request with the service's own 401 for a token it no longer accepts."""
    random: float = 0.0
    """The probability that a request meets one of `RANDOM_KINDS` (seeded by `seed`)."""
    bodies: dict[str, bytes] = field(default_factory=dict)
    """Answer GET requests to a path ending with a key with that body (200, JSON): tests feed
    clients arbitrary and near-valid bodies this way."""
    redirect: str | None = None
    """Answer every request with a 302 to this URL (the request's path and query appended)."""
    paths: tuple[str, ...] = ()
    drop_after: int | None = None
    """Cut the connection once this many body bytes of one answer were sent."""
    drops_left: int | None = None
    """How many answers `drop_after` still cuts (None: every one)."""
    dropped: int = 0
    """How many answers were cut so far."""
    faulted: int = 0
    """How many requests met a fault so far."""
    read_error: bool = False
    """The service fails reading its storage (dsp-ingest: mapping.csv answers 500)."""
    write_error: bool = False
    """The service fails writing its storage (dsp-ingest: an upload answers 500)."""
    seed: int = 1
    rng: _random.Random = field(default_factory=_random.Random, repr=False)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    def reset(self) -> None:
        """Switch every fault off (the counters stay)."""
        self.latency = 0.0
        self.hang = False
        self.fail_status = None
        self.malformed = self.truncated = self.wrong_type = False
        self.connection_reset = self.expired = False
        self.random = 0.0
        self.bodies = {}
        self.redirect = None
        self.paths = ()
        self.drop_after = self.drops_left = None
        self.read_error = self.write_error = False

    def switch(self, spec: str) -> None:
        """Switch one fault on from its spec (see `FAULT_SPECS`); "off" switches all off."""
        name, _, value = spec.strip().partition("=")
        name = name.lower()
        if name == "redirect":
            if not value.startswith(("http://", "https://")):
                raise FaultSpecError(f"{spec!r}: redirect=URL needs an http:// or https:// URL")
            self.redirect = value.rstrip("/")
            return
        try:
            number = float(value) if value else None
        except ValueError:
            raise FaultSpecError(f"{spec!r}: {value!r} is not a number") from None
        if number is not None and not number >= 0:
            raise FaultSpecError(f"{spec!r}: the value must be 0 or more")
        if name == "off":
            self.reset()
        elif name == "latency" and number is not None:
            self.latency = number
        elif name in _FLAGS:
            setattr(self, _FLAGS[name], True)
        elif name == "random":
            self.random = min(1.0, 0.3 if number is None else number)
        elif name.isdigit() and 400 <= int(name) <= 599:
            self.fail_status = int(name)
            if int(name) == 429 and number is not None:
                self.retry_after = number
        else:
            raise FaultSpecError(
                f"unknown fault {spec!r} (known: {', '.join(FAULT_SPECS)}, or a status 400-599)"
            )

    def active(self) -> list[str]:
        """The faults switched on, as specs."""
        on = [f"latency={self.latency:g}"] if self.latency else []
        on += ["hang"] if self.hang else []
        if self.fail_status is not None:
            on.append(
                f"429={self.retry_after:g}" if self.fail_status == 429 else str(self.fail_status)
            )
        flags = (
            (self.malformed, "malformed"),
            (self.truncated, "truncated"),
            (self.wrong_type, "content-type"),
            (self.connection_reset, "reset"),
            (self.expired, "expired"),
        )
        on += [name for flag, name in flags if flag]
        on += [f"random={self.random:g}"] if self.random else []
        on += [f"redirect={self.redirect}"] if self.redirect else []
        return on

    def pick(self, path: str) -> str | None:
        """The answer-replacing fault for one request to `path`, if any."""
        if self.paths and not path.startswith(self.paths):
            return None
        if self.redirect:
            return "redirect"
        if self.expired:
            return "expired"
        if self.fail_status is not None:
            return str(self.fail_status)
        for flag, name in (
            (self.connection_reset, "reset"),
            (self.malformed, "malformed"),
            (self.truncated, "truncated"),
            (self.wrong_type, "content-type"),
        ):
            if flag:
                return name
        if self.random and self.rng.random() < self.random:
            return self.rng.choice(RANDOM_KINDS)
        return None


class DroppedConnection(Exception):
    """Raised to cut a connection on purpose (the `drop_after` and `truncated` faults)."""


WRONG_TYPE_BODY = b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n<body><h1>We'll be back soon</h1></body></html>\n"


class FaultsMiddleware:
    """Applies `faults` to every HTTP request, answering failures in the service's own format
    (`profile`), and serves the control endpoint `CONTROL_PATH`."""

    def __init__(self, app: ASGIApp, faults: Faults, profile: FaultProfile) -> None:
        self.app = app
        self.faults = faults
        self.profile = profile

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults
        path = str(scope.get("path", ""))
        if path == CONTROL_PATH:
            await self._control(scope, receive, send)
            return
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if faults.hang:
            receive = await self._hang(receive)
        body = next((b for key, b in faults.bodies.items() if path.endswith(key)), None)
        if body is not None and scope.get("method") == "GET":
            await Response(body, media_type="application/json")(scope, receive, send)
            return
        fault = faults.pick(path)
        if fault is not None:
            faults.faulted += 1
            await self._answer_fault(fault, scope, receive, send)
            return
        if faults.drop_after is None or faults.drops_left == 0:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._cutting(send, faults.drop_after))

    async def _hang(self, receive: Receive) -> Receive:
        """Hold the request until the hang is switched off; then go on if its client is still
        there (a slow server that recovers), or close if it gave up."""
        body = await _read_body(receive)
        deadline = time.monotonic() + HANG_LIMIT
        # Switched from other threads (tests, the control endpoint): poll the flag.
        while self.faults.hang and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            if (await asyncio.wait_for(receive(), 0.01))["type"] == "http.disconnect":
                raise DroppedConnection("the client gave up during a hang")
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        return replayed

    async def _answer_fault(self, fault: str, scope: Scope, receive: Receive, send: Send) -> None:
        if fault == "reset":
            reset_connection(send)
            raise DroppedConnection("connection reset")
        await _drain(receive)
        if fault == "redirect" and self.faults.redirect:
            query = scope.get("query_string", b"").decode("latin-1")
            target = (
                self.faults.redirect + str(scope.get("path", "")) + (f"?{query}" if query else "")
            )
            await Response(status_code=302, headers={"Location": target})(scope, receive, send)
            return
        if fault == "expired":
            await self.profile.expired()(scope, receive, send)
            return
        if fault.isdigit():
            status = int(fault)
            response = self.profile.error(status, "Simulated failure")
            if status == 429:
                response.headers["Retry-After"] = f"{self.faults.retry_after:g}"
            await response(scope, receive, send)
            return
        if fault == "malformed":
            await Response(self.profile.malformed, media_type="application/json")(
                scope, receive, send
            )
            return
        if fault == "content-type":
            await Response(WRONG_TYPE_BODY, media_type="text/html")(scope, receive, send)
            return
        # truncated: promise more than is sent, then close
        body = self.profile.malformed
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body) + 4096).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        raise DroppedConnection("truncated body")

    def _cutting(self, send: Send, limit: int) -> Send:
        faults = self.faults
        sent = 0

        async def cutting_send(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                if sent + len(body) >= limit and (
                    message.get("more_body") or sent + len(body) > limit
                ):
                    head = body[: max(0, limit - sent)]
                    if head:
                        await send({"type": "http.response.body", "body": head, "more_body": True})
                    if faults.drops_left is not None:
                        faults.drops_left -= 1
                    faults.dropped += 1
                    raise DroppedConnection(f"connection cut after {limit} bytes")
                sent += len(body)
            await send(message)

        return cutting_send

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200
        if scope.get("method") == "POST":
            spec = (await _read_body(receive)).decode("utf-8", "replace")
            try:
                for part in spec.split(","):
                    if part.strip():
                        self.faults.switch(part)
            except FaultSpecError as error:
                await JSONResponse({"error": str(error)}, status_code=400)(scope, receive, send)
                return
        body = {"active": self.faults.active(), "faulted": self.faults.faulted}
        await JSONResponse(body, status_code=status)(scope, receive, send)


def reset_connection(send: Send) -> None:
    """Reset the TCP connection behind `send` (an RST, as a crashed proxy sends)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _drain(receive: Receive) -> None:
    """Read and drop the request body, so the client gets to read the answer."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(_read_body(receive), 30)


class _QuietDrops(logging.Filter):
    """uvicorn logs the exception that cuts a connection on purpose: leave it out."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not _is_drop(error)


def _is_drop(error: BaseException | None) -> bool:
    if isinstance(error, DroppedConnection):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(_is_drop(e) for e in error.exceptions)
    return False


_uvicorn_logger = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _QuietDrops) for f in _uvicorn_logger.filters):
    _uvicorn_logger.addFilter(_QuietDrops())
