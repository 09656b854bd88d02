"""`jobtui serve` in a real headless Chromium, read through the page's xterm.js terminal.

Chromium is Debian's `chromium` package (.ci/run installs it; missing, the tests skip, or fail under CI). It is
driven over the Chrome DevTools Protocol with a small websocket client. xterm.js draws on a canvas,
so the test keeps a reference to the page's `Terminal` as the page creates it and reads its buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.leia.state import LeiaState
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from jobtui.tui.serve import dashboard_command
from tests.conftest import EmulatorFactory

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))
EVIL = "evil.example"
WAIT = 45.0
"""Seconds a page may take to show what is expected (the dashboard starts per browser tab)."""

CATCH_TERMINAL = """
(() => {
  window.__terminals = [];
  Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    set(value) {
      if (value && value.buffer && value.loadAddon) window.__terminals.push(value);
      Object.defineProperty(this, "terminal", {
        value, writable: true, configurable: true, enumerable: true,
      });
    },
  });
})();
"""
"""Run before the page's own scripts: every xterm.js `Terminal` assigned to a `.terminal` property
(textual-serve's page does `this.terminal = new Terminal(...)`) is kept in `window.__terminals`."""

READ_SCREEN = """
(() => {
  const term = (window.__terminals || [])[0];
  if (!term) return "";
  const buffer = term.buffer.active;
  const lines = [];
  for (let i = 0; i < term.rows; i++) {
    const line = buffer.getLine(buffer.viewportY + i);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
})()
"""


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium. Missing, the browser tests skip with the reason; under CI (`CI=true`)
    they fail instead, so that a run without the browser never passes for a run with it."""
    path = shutil.which("chromium")
    if path is None:
        reason = "needs Chromium (Debian's chromium package: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must have it (.ci/run installs it)")
        pytest.skip(reason)
    return path


class Browser:
    """One headless Chromium page driven over the DevTools Protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=WAIT)
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def open(self, url: str) -> None:
        # A headless page never has the focus by itself: without it the page tells the dashboard
        # that it is in the background, and keys wait.
        await self.call("Emulation.setFocusEmulationEnabled", enabled=True)
        await self.call("Page.enable")
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
        await self.call("Page.navigate", url=url)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screen(self) -> str:
        return str(await self.evaluate(READ_SCREEN) or "")

    async def wait_until(self, expression: str, within: float = WAIT) -> Any:
        """The value of a JavaScript expression once it is truthy."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if value := await self.evaluate(expression):
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"{expression} stayed false in the page")

    async def page_text(self, pattern: str) -> str:
        """The page's text once `pattern` (a regex) shows in it (a page that is not the
        dashboard's, such as a refusal)."""
        body = "(document.body && document.body.innerText) || ''"
        check = f"(() => {{ const t = {body}; return new RegExp({pattern!r}).test(t) && t; }})()"
        try:
            return str(await self.wait_until(check))
        except AssertionError:
            raise AssertionError(
                f"{pattern!r} did not show; the page shows:\n{await self.evaluate(body)}"
            ) from None

    async def wait_for(self, *patterns: str, within: float = WAIT) -> str:
        """The terminal's text once every one of `patterns` (regexes) shows in it at once."""
        deadline = time.monotonic() + within
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen()
            if all(re.search(pattern, text) for pattern in patterns):
                return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"{patterns!r} did not show in the page; it shows:\n{text}")

    async def focus(self) -> None:
        """Focus the terminal anew: the page then tells the dashboard that it has the focus."""
        focus = "window.__terminals[0].blur(); window.__terminals[0].focus()"
        await self.call("Runtime.evaluate", expression=focus)

    async def press(self, key: str) -> None:
        """Type a digit, a lowercase letter or `?` into the terminal, as a keyboard would."""
        code: dict[str, Any]
        if key == "?":
            code = {"key": key, "code": "Slash", "windowsVirtualKeyCode": 191, "modifiers": 8}
        else:
            name = f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"
            code = {"key": key, "code": name, "windowsVirtualKeyCode": ord(key.upper())}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=key, **code)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **code)

    async def press_until(self, digit: str, *patterns: str) -> str:
        """Press `digit` until `patterns` show (at most three times, for a key that arrives
        while the dashboard is still taking the focus the page just gave it)."""
        for attempt in range(3):
            await self.press(digit)
            try:
                return await self.wait_for(*patterns, within=5 if attempt < 2 else WAIT)
            except AssertionError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture
def devtools(chromium: str) -> Iterator[str]:
    """A headless Chromium with a fresh profile; the address of its DevTools endpoint."""
    # Chromium's helper processes may still write to the profile as the main one exits.
    with tempfile.TemporaryDirectory(
        prefix="jobtui-chromium-", ignore_cleanup_errors=True
    ) as profile:
        process = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--no-proxy-server",
                # A foreign web site on this machine: pages at evil.example come from 127.0.0.1.
                f"--host-resolver-rules=MAP {EVIL} 127.0.0.1",
                f"--user-data-dir={profile}",
                "--window-size=1600,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + WAIT
            while not port_file.is_file() or not port_file.read_text().strip():
                assert process.poll() is None, "chromium exited"
                assert time.monotonic() < deadline, "chromium did not open its DevTools port"
                time.sleep(0.05)
            yield f"127.0.0.1:{port_file.read_text().split()[0]}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def browser(devtools: str) -> AsyncIterator[Browser]:
    """The browser's first page, driven over its websocket."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{devtools}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t["type"] == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            yield Browser(ws)


@pytest.fixture
def serve() -> Iterator[list[subprocess.Popen[str]]]:
    """`jobtui serve` processes started by a test, stopped (SIGTERM) at its end."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_serve(
    args: list[str], started: list[subprocess.Popen[str]], *, cwd: Path | None = None
) -> tuple[str, list[str]]:
    """Start `jobtui serve ARGS --port 0`; the URL it prints, and the lines before it."""
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    process = subprocess.Popen(
        [*command, "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )
    started.append(process)
    assert process.stdout is not None
    before: list[str] = []
    for line in process.stdout:
        if match := re.search(r" on (https?://\S+)", line):
            return match.group(1), before
        before.append(line)
    raise AssertionError(f"jobtui serve said: {before!r}")


def base_of(url: str) -> str:
    """The printed URL without its token: `http://127.0.0.1:PORT/`."""
    return url.split("?", 1)[0]


class Counted:
    """An emulator's ASGI app, recording each HTTP request it gets as (method, path)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture
def counted() -> Iterator[Callable[..., tuple[RunningEmulator, Counted]]]:
    """Start emulators whose requests are counted: `counted("bsub", jobs=4)`."""
    with contextlib.ExitStack() as stack:

        def start(kind: str, **settings: Any) -> tuple[RunningEmulator, Counted]:
            emulator = build(kind, replace(EmulatorSettings(), speed=0, **settings))
            app = Counted(emulator.app)
            thread = ServerThread(replace(emulator, app=app))
            running = thread.start()
            stack.callback(thread.stop)
            return running, app

        yield start


def config_for(path: Path, *running: RunningEmulator) -> Path:
    return write_config_file(path, to_toml({"services": service_entries(list(running))}))


async def test_the_dashboard_in_a_browser_shows_the_jobs(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    emulator: EmulatorFactory,
    tmp_path: Path,
) -> None:
    bsub = emulator("bsub", seed=1, speed=0, jobs=12)
    leia = emulator("leia", seed=1, speed=0, jobs=6)
    state = bsub.state
    assert isinstance(state, BsubState)
    config = write_config_file(
        tmp_path / "config.toml", to_toml({"services": service_entries([bsub, leia])})
    )
    url, _ = start_serve(["--config", str(config)], serve)
    await browser.open(f"{url}&fontsize=12")

    # The first tab lists bsub.io's jobs: a row shows a job's id and its status from the emulator.
    job = state.jobs[state.ids_in("finished")[0]]
    row = rf"{re.escape(job.id[:8])}\S* +finished +{re.escape(job.type)} "
    await browser.wait_for(r"bsub\.io +Leia")
    await browser.focus()
    screen = await browser.wait_for(row)
    assert len(re.findall(row, screen)) == 1

    # Keys reach the dashboard: `2` shows the Leia tab and its jobs.
    leia_state = leia.state
    assert isinstance(leia_state, LeiaState)
    first = leia_state.own[0]
    await browser.press_until("2", rf"{re.escape(first.id)} +{first.status} ")


async def test_serve_demo_serves_the_demo(
    browser: Browser, serve: list[subprocess.Popen[str]]
) -> None:
    url, _ = start_serve(["demo", "--services", "bsub", "--speed", "0"], serve)
    await browser.open(url)
    screen = await browser.wait_for(r"bsub\.io")
    assert re.search(r"\b(finished|processing|pending|failed)\b", screen), screen
    # SIGTERM stops the server and the emulators it started.
    process = serve[0]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_serve_without_a_config_says_so(tmp_path: Path) -> None:
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    result = subprocess.run(
        [*command, "serve", "--config", str(tmp_path / "none.toml"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no config file at" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    config = write_config_file(
        tmp_path / "c.toml",
        to_toml(
            {"services": [{"name": "b", "kind": "bsub", "url": "http://127.0.0.1:9", "token": "t"}]}
        ),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
        result = subprocess.run(
            [*command, "serve", "--config", str(config), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "address already in use" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_each_session_runs_the_dashboard_on_the_config(tmp_path: Path) -> None:
    config = tmp_path / "my config.toml"
    command = dashboard_command(config, read_only=True)
    assert shlex.split(command) == [
        "exec",
        sys.executable,
        "-P",
        "-m",
        "jobtui",
        "--config",
        str(config.absolute()),
        "--read-only",
    ]
    assert "--read-only" not in dashboard_command(config, read_only=False)


# -- who may drive it -----------------------------------------------------------------------------


async def test_only_the_printed_url_opens_the_dashboard(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    bsub, requests = counted("bsub", jobs=4)
    url, _ = start_serve(["--config", str(config_for(tmp_path / "c.toml", bsub))], serve)
    token = url.split("token=", 1)[1]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32,}", url), url

    # The address without the token is refused, and no dashboard asks the service anything.
    await browser.open(base_of(url))
    await browser.page_text(r"refused: no valid token")
    await browser.open(f"{base_of(url)}?token=not-{token}")
    await browser.page_text(r"refused: no valid token")
    assert requests.requests == []

    # The printed URL opens the dashboard, then leaves the address bar without the token.
    await browser.open(url)
    await browser.wait_for(r"bsub\.io")
    assert "token" not in str(await browser.evaluate("window.location.href"))
    assert await browser.evaluate("document.title") == "jobtui"
    assert requests.requests

    # The page keeps the token (in a cookie script cannot read): the bare address works now.
    assert await browser.evaluate("document.cookie") == ""
    await browser.open(base_of(url))
    await browser.wait_for(r"bsub\.io")


async def evil_site(page: str) -> tuple[web.AppRunner, int]:
    """A web site on 127.0.0.1 (another port than the dashboard's) serving `page` at /; its
    port."""
    app = web.Application()

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    _, port = runner.addresses[0][:2]
    return runner, int(port)


EVIL_PAGE = """<!DOCTYPE html><html><body><script>
window.result = {opened: false, frames: 0, closed: false};
const ws = new WebSocket("WS_URL");
ws.onopen = () => {
  window.result.opened = true;
  for (const key of ["\\u001b[B", "d", "y"]) ws.send(JSON.stringify(["stdin", key]));
};
ws.onmessage = () => { window.result.frames += 1; };
ws.onclose = () => { window.result.closed = true; };
</script></body></html>"""
"""A foreign page that opens the dashboard's websocket and presses down, `d` (delete), `y`."""


async def test_a_foreign_page_or_host_cannot_drive_the_dashboard(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    bsub, requests = counted("bsub", jobs=4)
    url, _ = start_serve(["--config", str(config_for(tmp_path / "c.toml", bsub))], serve)
    base = base_of(url)
    port = int(base.rsplit(":", 1)[1].strip("/"))
    token = url.split("token=", 1)[1]

    # The user opened the page with the token (`delay`: without starting a dashboard yet), so
    # the browser holds its cookie.
    await browser.open(f"{url}&delay=1")
    await browser.wait_until("document.title === 'jobtui'")

    # Another site on this machine (another port: the same site, so the cookie goes along, and
    # with the token leaked too) opens the websocket: refused by its Origin.
    for ws_url in (f"ws://127.0.0.1:{port}/ws", f"ws://127.0.0.1:{port}/ws?token={token}"):
        runner, evil_port = await evil_site(EVIL_PAGE.replace("WS_URL", ws_url))
        try:
            for host in ("127.0.0.1", EVIL):
                await browser.open(f"http://{host}:{evil_port}/")
                done = "window.result && (window.result.closed || window.result.frames) && result"
                result = await browser.wait_until(done)
                assert result == {"opened": False, "frames": 0, "closed": True}, ws_url
        finally:
            await runner.cleanup()

    # DNS rebinding: a name that resolves to this machine, with the token even: refused by Host.
    await browser.open(f"http://{EVIL}:{port}/?token={token}")
    await browser.page_text(r"refused: the Host 'evil\.example' is not served here")
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Host": f"{EVIL}:{port}"}) as response:
            assert response.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base}ws?token={token}", origin=f"http://{EVIL}")
        assert refused.value.status == 403
    assert requests.requests == []

    # The user's own page still works with the cookie: the service is reached through it.
    await browser.open(base)
    await browser.wait_for(r"bsub\.io")
    assert requests.requests


async def test_serve_starts_the_installed_jobtui_in_a_folder_holding_jobtui(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    """As from the home folder after `git clone .../jobtui`: `jobtui/` there is not imported."""
    bsub, _ = counted("bsub", jobs=4)
    config = config_for(tmp_path / "c.toml", bsub)
    folder = tmp_path / "home"
    (folder / "jobtui").mkdir(parents=True)
    (folder / "jobtui" / "__init__.py").write_text("raise ImportError('the clone, not jobtui')\n")
    url, _ = start_serve(["--config", str(config)], serve, cwd=folder)
    await browser.open(url)
    await browser.wait_for(r"bsub\.io", r"\b(finished|processing|pending|failed)\b")


async def test_a_dashboard_that_ends_says_why_on_the_page(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    bsub, _ = counted("bsub", jobs=4)
    config = config_for(tmp_path / "c.toml", bsub)
    url, _ = start_serve(["--config", str(config)], serve)
    # Each tab reads the config anew: a tab opened after it broke gets a dashboard that ends.
    config.write_text("services = 3\n")
    await browser.open(url)
    await browser.wait_for(r"the dashboard ended: .*c\.toml:1: services: must be an array")


async def test_read_only_on_the_web_changes_nothing_and_says_so(
    browser: Browser,
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    bsub, requests = counted("bsub", jobs=4)
    leia, _ = counted("leia", jobs=3)
    state = bsub.state
    assert isinstance(state, BsubState)
    config = config_for(tmp_path / "c.toml", bsub, leia)
    url, _ = start_serve(["--config", str(config), "--read-only"], serve)
    await browser.open(url)
    assert await browser.wait_until("document.title") == "jobtui (read-only)"
    job = state.jobs[state.ids_in("finished")[0]]
    await browser.wait_for(r"bsub\.io +Leia", re.escape(job.id[:8]))
    await browser.focus()
    # Once the job table has the focus, the footer shows its keys: none that changes anything.
    screen = await browser.wait_for(r"jobtui — read-only", r"r Refresh .*q Quit")
    footer = next(line for line in reversed(screen.splitlines()) if "q Quit" in line)
    assert not re.search(r"\b(delete|cancel|submit|new job)\b", footer, re.IGNORECASE), footer
    # Delete and confirm the finished job, then ask for the keys: by then `d` and `y` were
    # handled (keys are, in order), and no key that changes anything is offered.
    before = len(requests.requests)
    await browser.press("d")
    await browser.press("y")
    await browser.press("?")
    help_screen = await browser.wait_for(r"Keys", r"escape closes", r"Refresh")
    assert not re.search(r"\b(Delete|Cancel|Submit|New job)\b", help_screen), help_screen
    # The dashboard polls on: two more polls, and still nothing but GETs reached the service.
    deadline = time.monotonic() + WAIT
    while len(requests.requests) < before + 2:
        assert time.monotonic() < deadline, "the dashboard stopped polling"
        await asyncio.sleep(0.1)
    assert {method for method, _ in requests.requests} == {"GET"}
    assert job.id in state.jobs


async def test_another_address_warns_and_the_page_follows_the_browser(
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    tmp_path: Path,
) -> None:
    bsub, requests = counted("bsub", jobs=2)
    config = config_for(tmp_path / "c.toml", bsub)
    token_file = tmp_path / "token"
    token_file.write_text("a-fixed-token-of-the-user\n")
    url, before = start_serve(
        ["--config", str(config), "--host", "0.0.0.0", "--token-file", str(token_file)], serve
    )
    warning = "".join(before)
    assert "warning: listening on 0.0.0.0 (every network interface)" in warning
    assert str(config) in warning and "TLS" in warning and "--certfile" in warning
    assert "a-fixed-token" not in url
    base = base_of(url)
    port = int(base.rsplit(":", 1)[1].strip("/"))
    async with aiohttp.ClientSession() as http:
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            async with http.get(
                f"{base}?token=a-fixed-token-of-the-user", headers={"Host": host}
            ) as response:
                page = await response.text()
                assert response.status == 200
            assert f'data-session-websocket-url="ws://{host}/ws"' in page
        async with http.get(f"{base}?token={'x' * 43}") as response:
            assert response.status == 403
        async with http.get(base, headers={"Host": f"{EVIL}:{port}"}) as response:
            assert response.status == 403
    assert requests.requests == []
    # The token is never said, even when requests carrying it are refused or served.
    process = serve[0]
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=15)
    assert "a-fixed-token" not in rest and "Traceback" not in rest, rest


def test_serve_help_says_how_access_is_controlled() -> None:
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    result = subprocess.run(
        [*command, "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for said in ("no login", "random token", "403", "--allow-host", "--token-file", "TLS"):
        assert said in text, said


def test_bad_access_options_say_so_in_one_line(tmp_path: Path) -> None:
    config = write_config_file(
        tmp_path / "c.toml",
        to_toml(
            {"services": [{"name": "b", "kind": "bsub", "url": "http://127.0.0.1:9", "token": "t"}]}
        ),
    )
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    for options, named in (
        (["--token-file", str(tmp_path / "empty")], "--token-file"),
        (["--token-file", str(tmp_path / "missing")], "--token-file"),
        (["--certfile", str(tmp_path / "junk.pem")], "certificate"),
        (["--certfile", str(tmp_path / "missing.pem")], "certificate"),
        (["--keyfile", str(tmp_path / "junk.pem")], "--certfile"),
    ):
        result = subprocess.run(
            [*command, "serve", "--config", str(config), "--port", "0", *options],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result
        assert result.stderr.startswith("jobtui serve: ") and named in result.stderr, result
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test certificate, and it is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    argv = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    argv += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    argv += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(argv, check=True, capture_output=True)
    return cert, key


async def test_tls_and_an_allowed_proxy_name(
    serve: list[subprocess.Popen[str]],
    counted: Callable[..., tuple[RunningEmulator, Counted]],
    certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """--certfile/--keyfile serve HTTPS (the cookie is then Secure); --allow-host accepts a
    reverse proxy's name, whose address the page then uses."""
    cert, key = certificate
    bsub, _ = counted("bsub", jobs=2)
    config = config_for(tmp_path / "c.toml", bsub)
    allow = ["--allow-host", "jobs.proxy.example"]
    url, before = start_serve(
        ["--config", str(config), "--certfile", str(cert), "--keyfile", str(key), *allow],
        serve,
    )
    assert url.startswith("https://127.0.0.1:") and before == []
    port = int(base_of(url).rsplit(":", 1)[1].strip("/"))
    trusted = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as http:
        async with http.get(url, headers={"Host": f"jobs.proxy.example:{port}"}) as response:
            page = await response.text()
            assert response.status == 200
            cookie = response.headers["Set-Cookie"]
        assert f'data-session-websocket-url="wss://jobs.proxy.example:{port}/ws"' in page
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.get(url, headers={"Host": f"other.example:{port}"}) as response:
            assert response.status == 403
