"""`jobtui serve` in a real headless Chromium, read through the page's xterm.js terminal.

Chromium is Debian's `chromium` package (installed here when missing and this runs as root). It is
driven over the Chrome DevTools Protocol with a small websocket client. xterm.js draws on a canvas,
so the test keeps a reference to the page's `Terminal` as the page creates it and reads its buffer.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from jobtui.__main__ import service_entries
from jobtui.config import to_toml, write_config_file
from jobtui.emulators.bsub import BsubState
from jobtui.emulators.leia import LeiaState
from jobtui.tui.serve import dashboard_command
from tests.conftest import EmulatorFactory

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))
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


def _install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing and this process is root."""
    found = shutil.which("chromium")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        subprocess.run(command, env=environ, capture_output=True, timeout=900, check=False)
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = _install_chromium()
    if path is None:
        pytest.skip(
            "needs Debian's chromium package: not installed, and apt-get cannot install it "
            "(not root); run `apt-get install chromium`"
        )
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

    async def screen(self) -> str:
        result = await self.call("Runtime.evaluate", expression=READ_SCREEN, returnByValue=True)
        return str(result.get("result", {}).get("value", ""))

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

    async def press(self, digit: str) -> None:
        """Type a digit into the terminal, as a keyboard would."""
        code = {"key": digit, "code": f"Digit{digit}", "windowsVirtualKeyCode": ord(digit)}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=digit, **code)
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


def start_serve(args: list[str], started: list[subprocess.Popen[str]]) -> str:
    """Start `jobtui serve ARGS --port 0`; the URL it prints."""
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    process = subprocess.Popen(
        [*command, "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"on (http://\S+)", line)
    assert match, f"jobtui serve said: {line!r}"
    return match.group(1)


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
    url = start_serve(["--config", str(config)], serve)
    await browser.open(f"{url}/?fontsize=12")

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
    url = start_serve(["demo", "--services", "bsub", "--speed", "0"], serve)
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
        "-m",
        "jobtui",
        "--config",
        str(config.absolute()),
        "--read-only",
    ]
    assert "--read-only" not in dashboard_command(config, read_only=False)
