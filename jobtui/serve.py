"""`jobtui serve`: the dashboard in a web browser, through textual-serve.

Each browser tab that opens the page starts its own dashboard process (`python -m jobtui --config
PATH`) that textual-serve drives over a websocket; closing the tab ends it.
"""

from __future__ import annotations

import logging
import shlex
import socket
import sys
from pathlib import Path

from aiohttp import web
from textual_serve.server import Server


class DashboardServer(Server):
    """textual-serve's server, saying what it serves in one line and logging warnings only."""

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="jobtui serve: %(message)s")

    async def on_startup(self, app: web.Application) -> None:
        print(f"jobtui serve: {self.title} on {self.public_url} (Ctrl-C stops)", flush=True)


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
    return shlex.join(argv)


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
    server.serve()
