"""`jobtui serve`: the dashboard in a web browser, through textual-serve.

Each browser tab that opens the page starts its own dashboard process (`python -P -m jobtui
--config PATH`: the installed jobtui, whatever the current folder holds) that textual-serve drives
over a websocket; closing the tab ends it.

Only the person who started it can drive it, as with Jupyter's token:

- A secret per launch (or the one in `--token-file`), printed in the URL. Every request must carry
  it, in the `token` query parameter or, once a page was opened with it, in an HttpOnly,
  SameSite=Strict cookie; it is compared in constant time and never logged.
- The `Host` header must name the address served (or a name given with `--allow-host`): a page
  whose DNS name was rebound to this address is refused.
- A websocket's `Origin` must be the page's own: another web page (even one on this machine) cannot
  open the dashboard's websocket.

A refused request gets a 403 from `DashboardServer.guard` and never reaches textual-serve, so no
dashboard starts for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import logging
import os
import secrets
import shlex
import signal
import socket
import ssl
import sys
import time
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import hdrs, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from jobtui.core.format import shown_path, shown_value

log = logging.getLogger("jobtui.serve")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN_PARAMETER = "token"
MAX_TOKEN_FILE = 4096
"""The most bytes read from `--token-file`."""
MAX_MESSAGE = 1 << 20
"""The largest websocket message taken from a browser (keys, sizes: a few bytes each)."""
STDERR_TAIL = 8192
"""The last bytes of a dashboard's error output kept, to say why it ended."""
MAX_REASON = 300
"""The longest reason shown on the page when a dashboard ends with an error."""
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
"""Sent with every answer: no URL (with its token) in a Referer, no framing by other pages."""


class ServeError(Exception):
    """`jobtui serve` cannot start; the message is one line for the user."""


# -- addresses ------------------------------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) is this machine's loopback."""
    address = _ip(host)
    return host.lower() == "localhost" if address is None else address.is_loopback


def is_wildcard(host: str) -> bool:
    """Whether `host` means every interface (0.0.0.0, ::)."""
    address = _ip(host)
    return host == "" or (address is not None and address.is_unspecified)


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_and_port(authority: str) -> tuple[str, int | None] | None:
    """The lowercased host name and the port of a `Host` value ("name:port", "[::1]:port"); None
    for anything else."""
    if not authority or any(c in authority for c in "/?#@\\") or not authority.isprintable():
        return None
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or " " in authority:
        return None
    return parts.hostname, port


@dataclass(frozen=True)
class Access:
    """Who may use the server: the token, and the host names a request may be addressed to."""

    token: str
    port: int
    hosts: frozenset[str]
    """Host names (lowercased, IPv6 without brackets) a request's `Host` may name."""
    any_address: bool = False
    """Bound to every interface: any IP address is accepted as `Host` too (a DNS rebinding
    needs a name, and these names are refused unless allowed)."""

    @classmethod
    def for_host(cls, host: str, port: int, token: str, allow: Iterable[str] = ()) -> Access:
        hosts = {name.strip().strip("[]").lower() for name in allow if name.strip()}
        wildcard = is_wildcard(host)
        if not wildcard:
            hosts.add(host.strip("[]").lower())
        if wildcard or is_loopback(host):
            hosts |= {"localhost", "127.0.0.1", "::1"}
        if wildcard:
            hosts.add(socket.gethostname().lower())
        return cls(token=token, port=port, hosts=frozenset(hosts), any_address=wildcard)

    @property
    def cookie(self) -> str:
        """The cookie's name: one per port, as cookies do not tell ports apart."""
        return f"jobtui-serve-{self.port}"

    def host_allowed(self, name: str) -> bool:
        return name in self.hosts or (self.any_address and _ip(name) is not None)

    def token_matches(self, given: str | None) -> bool:
        """Whether `given` is the token (compared in constant time)."""
        if given is None:
            return False
        return secrets.compare_digest(given.encode(), self.token.encode())

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` is refused (one line), or None when it may pass."""
        host = request.headers.get(hdrs.HOST, "")
        target = _host_and_port(host)
        if target is None:
            return "no readable Host header"
        if not self.host_allowed(target[0]):
            return f"the Host {shown_value(target[0])} is not served here (see --allow-host)"
        origin = request.headers.get(hdrs.ORIGIN)
        websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if websocket and origin is None:
            return "a websocket without an Origin"
        if origin is not None and not same_origin(origin, target):
            return f"the Origin {shown_value(origin)} is not this page's"
        if not (
            self.token_matches(request.query.get(TOKEN_PARAMETER))
            or self.token_matches(request.cookies.get(self.cookie))
        ):
            return "no valid token: open the URL `jobtui serve` printed"
        return None


def same_origin(origin: str, host: tuple[str, int | None]) -> bool:
    """Whether `origin` (an Origin header) names the host and port of the request's Host."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        return False
    default = 443 if parts.scheme == "https" else 80
    name, host_port = host
    return parts.hostname == name and (port or default) == (host_port or default)


# -- the server -----------------------------------------------------------------------------------


def _one_line(data: bytes) -> str:
    """The last non-empty line of a dashboard's error output, without control characters."""
    for line in reversed(data.decode("utf-8", "replace").splitlines()):
        text = "".join(c for c in line if c.isprintable()).strip()
        if text:
            return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
    return ""


class DashboardSession(AppService):
    """The dashboard of one browser tab (textual-serve's session): when it ends with an error, the
    page shows the reason's one line rather than staying blank, and the server logs it."""

    def __init__(self, command: str, **options: Any) -> None:
        super().__init__(command, **options)
        self.stderr_tail = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        process = await super()._open_app_process(width, height)
        # textual-serve copies a dashboard's error output raw to the server's terminal: it gets an
        # empty stream instead, and the output is kept here to be said as one clean line.
        stderr, process.stderr = process.stderr, asyncio.StreamReader()
        if stderr is not None:
            self._stderr_task = asyncio.create_task(self._keep_stderr(stderr, process.stderr))
        return process

    async def _keep_stderr(self, stderr: asyncio.StreamReader, empty: asyncio.StreamReader) -> None:
        try:
            while data := await stderr.read(4096):
                self.stderr_tail += data
                del self.stderr_tail[:-STDERR_TAIL]
        finally:
            empty.feed_eof()

    async def run(self) -> None:
        await super().run()
        process = self._process
        if process is None:
            return
        try:
            code = await asyncio.wait_for(process.wait(), timeout=10)
            if self._stderr_task is not None:
                await asyncio.wait_for(self._stderr_task, timeout=10)
        except TimeoutError:
            return
        if code == 0:
            return
        reason = _one_line(bytes(self.stderr_tail)) or f"exit status {code}"
        log.warning("a dashboard ended: %s", reason)
        with contextlib.suppress(Exception):
            await self.remote_write_bytes(
                f"\x1b[0m\r\njobtui serve: the dashboard ended: {reason}\r\n"
                "(reload the page to start it again)\r\n".encode()
            )


class DashboardServer(Server):
    """textual-serve's server, guarded (see the module's docstring), saying what it serves in one
    line and logging warnings only.

    On Ctrl-C or SIGTERM it ends every browser session at once (each dashboard is told to quit)
    instead of waiting for the browsers to leave.
    """

    def __init__(
        self,
        command: str,
        *,
        access: Access,
        url: str,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        super().__init__(command, **options)
        self.access = access
        self.url = url
        """The URL said when the server listens."""
        self.ssl_context = ssl_context
        self.sessions: set[asyncio.Task[Any]] = set()
        self.refused = 0

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.guard(request, handler)

        app.middlewares.append(guard)
        return app

    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse (403) a request without the token, to a foreign Host or from a foreign Origin,
        before textual-serve sees it; keep the token of a page opened with it in a cookie."""
        reason = self.access.refusal(request)
        if reason is not None:
            self.refused += 1
            if self.refused <= 20:
                log.warning("refused %s %s: %s", request.method, shown_path(request.path), reason)
            return web.Response(
                status=403, text=f"jobtui serve: refused: {reason}\n", headers=SECURITY_HEADERS
            )
        response = await handler(request)
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
            if self.access.token_matches(request.query.get(TOKEN_PARAMETER)):
                response.set_cookie(
                    self.access.cookie,
                    self.access.token,
                    path="/",
                    httponly=True,
                    samesite="Strict",
                    secure=request.secure,
                )
        return response

    async def handle_index(self, request: web.Request) -> web.Response:
        """textual-serve's page, its addresses those the browser used (the Host was checked),
        titled with what it serves, and the token taken out of the address bar."""
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        base = f"{'https' if secure else 'http'}://{request.host}"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if secure else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        drop_token = (
            "<script>(() => { const url = new URL(window.location.href);"
            f" if (url.searchParams.has({TOKEN_PARAMETER!r})) {{"
            f" url.searchParams.delete({TOKEN_PARAMETER!r});"
            ' window.history.replaceState(null, "", url.pathname + url.search + url.hash); }'
            " })();</script>"
        )
        head = f"<head>\n    <title>{html.escape(self.title)}</title>\n    {drop_token}"
        if response.text is not None:
            response.text = response.text.replace("<head>", head, 1)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's websocket, with a session that says why its dashboard ended, and
        ended with the server."""
        task = asyncio.current_task()
        if task is not None:
            self.sessions.add(task)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        session: DashboardSession | None = None
        try:
            await websocket.prepare(request)
            session = DashboardSession(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.warning("a browser session failed: %s", type(error).__name__)
        finally:
            if session is not None:
                await session.stop()
            self.sessions.discard(task)
        return websocket

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
            print(f"jobtui serve: {self.title} on {self.url} (Ctrl-C stops)", flush=True)

        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                ssl_context=self.ssl_context,
                handle_signals=False,
                loop=loop,
                access_log=None,
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
    """The shell command that runs the dashboard on `config` (what each browser tab gets).

    `-P`: the installed jobtui, even when the current folder holds a `jobtui/` folder.
    """
    argv = [sys.executable, "-P", "-m", "jobtui", "--config", str(config.absolute())]
    if read_only:
        argv.append("--read-only")
    # `exec`: the dashboard replaces the shell textual-serve starts, so it is our own child.
    return "exec " + shlex.join(argv)


def read_token(path: Path) -> str:
    """The token in `path` (its first line, stripped)."""
    try:
        with path.expanduser().open("rb") as file:
            data = file.read(MAX_TOKEN_FILE + 1)
    except OSError as error:
        raise ServeError(
            f"jobtui serve: cannot read --token-file {path}: {error.strerror or error}"
        ) from None
    lines = data.decode("utf-8", "replace").strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(data) > MAX_TOKEN_FILE or not token or not token.isprintable():
        raise ServeError(f"jobtui serve: --token-file {path}: no token on its first line")
    return token


def tls_context(certfile: Path, keyfile: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        raise ServeError(
            f"jobtui serve: cannot use the certificate {certfile}: "
            f"{getattr(error, 'strerror', None) or error}"
        ) from None
    return context


def exposure_warning(host: str, port: int, config: Path, *, tls: bool) -> str:
    """What binding `host` exposes, and how to protect it."""
    where = f"{host} (every network interface)" if is_wildcard(host) else host
    text = (
        f"jobtui serve: warning: listening on {where}, port {port}: anyone who can reach it and "
        f"has the token drives the dashboard with the credentials in {config}"
    )
    if tls:
        return text + "."
    return (
        text + "; the token and every screen cross the network unencrypted. Put it behind a "
        "reverse proxy with TLS (and --allow-host its name), or give --certfile and --keyfile."
    )


def serve_dashboard(
    config: Path,
    *,
    host: str,
    port: int,
    read_only: bool = False,
    title: str = "jobtui",
    token_file: Path | None = None,
    allow_hosts: Iterable[str] = (),
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> None:
    """Serve the dashboard on `config` until Ctrl-C or SIGTERM (`port` 0: any free port)."""
    token = read_token(token_file) if token_file is not None else secrets.token_urlsafe(32)
    context = tls_context(certfile, keyfile) if certfile is not None else None
    port = port or free_port(host)
    if not is_loopback(host):
        print(exposure_warning(host, port, config, tls=context is not None), file=sys.stderr)
    shown = host
    if is_wildcard(host):
        shown = "::1" if ":" in host else "127.0.0.1"
    url = f"{'https' if context else 'http'}://{_authority(shown, port)}/"
    url += f"?token=… (the token in {token_file})" if token_file else f"?token={token}"
    if read_only:
        title += " (read-only)"
    server = DashboardServer(
        dashboard_command(config, read_only=read_only),
        access=Access.for_host(host, port, token, allow_hosts),
        url=url,
        ssl_context=context,
        host=host,
        port=port,
        title=title,
    )
    try:
        server.serve()
    finally:
        end_children()


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
