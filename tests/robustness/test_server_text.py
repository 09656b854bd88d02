"""Text a hostile server sends never drives the terminal and is never read as markup: the real
dashboard in a real pseudo-terminal, and the headless commands in subprocesses, on a bsub.io
emulator whose newest job carries escape sequences (CSI 2 J, OSC 0, OSC 52, CSI 6 n), C1
controls, a right-to-left override and markup in its id, worker, error code and error message.

Every byte written is searched for the planted sequences; the pyte screen shows their stand-ins
and the markup as it was sent; a click on the planted `[@click=app.quit]` does nothing."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from jobtui.emulators.bsub.state import BsubState
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory
from tests.e2e.terminal import Terminal
from tests.robustness.server_text_support import (
    BOGUS_ID,
    CLEANED_ESCAPES,
    CLICK,
    ESCAPES,
    LINK,
    newest,
    plant,
    planted_in,
    rename,
)
from tests.services.bsub_support import start

JOBS = 10


@pytest.fixture
def hostile(emulator: EmulatorFactory, tmp_path: Path) -> tuple[RunningEmulator, BsubState, Path]:
    """A bsub.io emulator whose newest job is hostile, and a config file pointing at it."""
    running, state = start(emulator, jobs=JOBS)
    job = rename(state, state.order[0], BOGUS_ID)
    plant(state, newest(state, job), claimed_by=CLICK, code=LINK, message=ESCAPES)
    # An id holding "/" cannot be asked for its log (the server's router decodes it): another
    # job, with an ordinary id, has a worker name that puts the escapes in its log.
    plant(state, state.order[0], claimed_by=ESCAPES, code="x", message="y")
    config = {"ui": {"refresh": 60.0}, "services": service_entries([running])}
    path = write_config_file(tmp_path / "config.toml", to_toml(config))
    return running, state, path


def click(term: Terminal, text: str) -> None:
    """A left click (SGR mouse report, press and release) on the first cell of `text`."""
    for y, line in enumerate(term.screen.display):
        x = line.find(text)
        if x >= 0:
            term.send(f"\x1b[<0;{x + 1};{y + 1}M\x1b[<0;{x + 1};{y + 1}m")
            return
    raise AssertionError(f"{text!r} is not on the screen:\n{term.text()}")


def test_the_dashboard_shows_hostile_text_as_text(
    hostile: tuple[RunningEmulator, BsubState, Path],
) -> None:
    _, state, config = hostile
    env = {"TERM": "xterm-256color", "TMUX": "", "COLORTERM": ""}
    # Tall enough that the detail pane shows the whole record under the job's timeline (which
    # appears once the journal has written the first poll).
    argv = [sys.executable, "-m", "jobtui", "--config", str(config)]
    term = Terminal(argv, env=env, lines=64)
    try:
        # The first row, the hostile job, is selected: its detail pane shows every field.
        screen = term.wait_for(
            lambda text: f"● live · {JOBS} jobs" in text and "CLICK-ME" in text, timeout=40
        )
        assert BOGUS_ID in screen  # its id, shown as sent: bad markup stops nothing
        assert CLICK in screen  # a field's markup, shown literally
        assert LINK in screen
        assert CLEANED_ESCAPES[:40] in screen  # the escapes' stand-ins
        assert "\ufffdDESREVER" in screen
        assert planted_in(bytes(term.raw)) == []

        click(term, "CLICK-ME")  # a planted action would quit the app
        term.send("?")  # handled after the click: once the keys show, the click was handled
        term.wait_for(lambda text: "escape closes" in text)
        assert term.poll() is None

        term.send("\x1b")
        term.wait_for(lambda text: "escape closes" not in text)

        # The log view of the job whose worker name holds the escapes (filtered to it).
        log_job = state.order[0].id
        term.send("/" + log_job + "\r")
        term.wait_for(lambda text: BOGUS_ID not in text and log_job in text)
        term.send("l")
        screen = term.wait_for(lambda text: f"Logs of {log_job}" in text and "claimed job" in text)
        assert f"[{CLEANED_ESCAPES[:40]}" in screen
        assert planted_in(bytes(term.raw)) == []
        term.send("\x1b")
        term.wait_for(lambda text: f"Logs of {log_job}" not in text)

        term.send("q")
        assert term.wait_exit(15) == 0
        assert planted_in(bytes(term.raw)) == []
    finally:
        term.close()


def run(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "jobtui", "--config", str(config), *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def clean_bytes(done: subprocess.CompletedProcess[bytes]) -> bytes:
    """stdout and stderr, checked to hold no escape, C1 or bidirectional character."""
    for stream in (done.stdout, done.stderr):
        assert b"\x1b" not in stream, stream
        assert planted_in(stream) == [], stream
    return done.stdout


def test_headless_commands_print_hostile_text_cleaned(
    hostile: tuple[RunningEmulator, BsubState, Path],
) -> None:
    _, state, config = hostile
    listing = clean_bytes(run(config, "ls")).decode()
    assert BOGUS_ID in listing and CLEANED_ESCAPES in listing

    as_json = clean_bytes(run(config, "ls", "--json"))
    assert b"\\u009b" not in as_json  # already cleaned: a stand-in, not an escaped C1
    (job,) = [j for j in json.loads(as_json) if j["id"] == BOGUS_ID]
    assert job["message"] == f"{CLEANED_ESCAPES} ({LINK})"

    shown = clean_bytes(run(config, "show", "bsub.io", BOGUS_ID)).decode()
    assert CLEANED_ESCAPES in shown and CLICK in shown
    record = json.loads(clean_bytes(run(config, "show", "bsub.io", BOGUS_ID, "--json")))
    assert record["record"]["claimed_by"] == CLICK
    assert record["record"]["error_message"] == CLEANED_ESCAPES

    log_job = state.order[0].id
    log = clean_bytes(run(config, "logs", "bsub.io", log_job)).decode()
    assert f"[{CLEANED_ESCAPES}] claimed job {log_job}" in log

    watched = run(config, "watch", "bsub.io", BOGUS_ID)
    assert watched.returncode == 1  # the job failed
    assert CLEANED_ESCAPES in clean_bytes(watched).decode()


@pytest.fixture
def hostile_errors() -> Iterator[str]:
    """A server on a raw socket that answers every request with a 400 whose status line and
    JSON error body hold escape sequences, C1 controls and a bidirectional override."""
    body = json.dumps({"success": False, "error": ESCAPES}, ensure_ascii=False).encode()
    answer = (
        b"HTTP/1.1 400 Bad\x1b[2JCLEARED\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    server = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                received = b""
                while b"\r\n\r\n" not in received:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    received += piece
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stopping.set()
        # shutdown wakes the accept() the thread is blocked in (close alone does not, on Linux)
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(10)
        assert not thread.is_alive()


def test_an_error_line_from_a_hostile_server_is_cleaned(
    hostile_errors: str, tmp_path: Path
) -> None:
    config = {
        "services": [{"name": "bsub.io", "kind": "bsub", "url": hostile_errors, "token": "t"}]
    }
    path = write_config_file(tmp_path / "config.toml", to_toml(config))
    done = run(path, "ls")
    assert done.returncode == 3
    clean_bytes(done)
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("bsub.io: ") and "␛[2JCLEARED" in line
