"""Serve emulators with uvicorn on loopback, in a background thread with its own event loop.

    with serve_emulators(["bsub"], EmulatorSettings(seed=1)) as running:
        print(running[0].url)

Ports are chosen by the OS (bound before uvicorn starts, so the URL is known at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import uvicorn

from jobtui.emulators.base import Emulator, EmulatorSettings

KINDS: dict[str, str] = {
    "bsub": "jobtui.emulators.bsub",
    "ecotaxa": "jobtui.emulators.ecotaxa",
    "leia": "jobtui.emulators.leia",
    "dsp-ingest": "jobtui.emulators.dsp_ingest",
}
"""Every emulator kind and the module that builds it."""


def build(kind: str, settings: EmulatorSettings) -> Emulator:
    module = importlib.import_module(KINDS[kind])
    emulator: Emulator = module.build(settings)
    return emulator


@dataclass
class RunningEmulator:
    emulator: Emulator
    host: str
    port: int
    tls: bool = False

    @property
    def kind(self) -> str:
        return self.emulator.kind

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{self.emulator.base_path}"

    @property
    def state(self) -> object:
        return self.emulator.state


class ServerThread:
    """One uvicorn server for one ASGI app, on a socket bound before the thread starts."""

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """`tls` is (certificate file, key file): the emulator then speaks HTTPS."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. asyncio sets it only on sockets created with
        # IPPROTO_TCP, and without it a response sent in two writes waits 40 ms for the ACK.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.port: int = self.sock.getsockname()[1]
        self.running = RunningEmulator(emulator, host, self.port, tls=tls is not None)
        config = uvicorn.Config(
            emulator.app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
            # An idle connection stays open longer than a client keeps one (httpx: 5 s), as a web
            # server in front of a real service does: the client always closes first, so a request
            # never races the server closing the connection it was sent on.
            timeout_keep_alive=75,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self._run, name=f"emulator-{emulator.kind}", daemon=True
        )
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as error:  # surfaced by start()
            self.error = error

    def start(self, timeout: float = 10.0) -> RunningEmulator:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator {self.running.kind} did not start: {self.error!r}")
            time.sleep(0.005)
        return self.running

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def serve_emulators(
    kinds: Sequence[str],
    settings: EmulatorSettings | None = None,
    host: str = "127.0.0.1",
) -> Iterator[list[RunningEmulator]]:
    """Serve one emulator of each kind until the block ends."""
    settings = settings or EmulatorSettings()
    threads = [ServerThread(build(kind, settings), host) for kind in kinds]
    try:
        running = [thread.start() for thread in threads]
        yield running
    finally:
        for thread in threads:
            thread.stop()
