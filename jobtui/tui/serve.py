"""`jobtui serve`: the dashboard in a web browser, through textual-serve.

Each browser tab that opens the page starts its own dashboard process (`python -m jobtui --config
PATH`) that textual-serve drives over a websocket; closing the tab ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server


class DashboardServer(Server):
    """textual-serve's server, saying what it serves in one line and logging warnings only.

    On Ctrl-C or SIGTERM it ends every browser session at once (each dashboard is told to quit)
    instead of waiting for the browsers to leave.
    """

    def __init__(self, command: str, **options: Any) -> None:
        super().__init__(command, **options)
        self.sessions: set[asyncio.Task[Any]] = set()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        task = asyncio.current_task()
        if task is not None:
            self.sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        sessions = list(self.sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="jobtui serve: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        """Nothing to say yet: the address is said once the server listens."""

    def serve(self, debug: bool = False) -> None:
        """Listen until Ctrl-C or SIGTERM (textual-serve's own `serve`, on a loop of its own,
        saying the address only once the socket is bound)."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)

        def listening(*_: object) -> None:
            print(f"jobtui serve: {self.title} on {self.public_url} (Ctrl-C stops)", flush=True)

        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=listening,
            )
        finally:
            loop.close()


def free_port(host: str) -> int:
    """A port nobody listens on now (the OS's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def dashboard_command(config: Path, *, read_only: bool) -> str:
    """The shell command that runs the dashboard on `config` (what each browser tab gets)."""
    argv = [sys.executable, "-m", "jobtui", "--config", str(config.absolute())]
    if read_only:
        argv.append("--read-only")
    # `exec`: the dashboard replaces the shell textual-serve starts, so it is our own child.
    return "exec " + shlex.join(argv)


def end_children(grace: float = 5.0) -> None:
    """Stop the dashboards still running once the server stopped (SIGTERM, then SIGKILL)."""
    me = os.getpid()
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(me):
            children.append(int(stat.parent.name))
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pid in children:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)


def serve_dashboard(
    config: Path, *, host: str, port: int, read_only: bool = False, title: str = "jobtui"
) -> None:
    """Serve the dashboard on `config` until Ctrl-C or SIGTERM (`port` 0: any free port)."""
    port = port or free_port(host)
    server = DashboardServer(
        dashboard_command(config, read_only=read_only),
        host=host,
        port=port,
        title=title,
        public_url=f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}",
    )
    try:
        server.serve()
    finally:
        end_children()
