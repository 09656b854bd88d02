"""`jobtui demo` in a real pseudo-terminal under several TERMs: it renders, and SIGTERM, SIGHUP
(also as a lost connection: the terminal's master side closed) and a crash leave the terminal
as it was: alternate screen left, cursor shown, mouse and keyboard modes off, line mode back."""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import textwrap
import time

import pytest

from tests.e2e.terminal import Terminal

DEMO = [sys.executable, "-m", "jobtui", "demo", "--services", "bsub", "--seed", "3"]

RESTORED = (
    b"\x1b[?1049l",  # alternate screen left
    b"\x1b[?25h",  # cursor shown
    b"\x1b[?1000l",  # mouse reporting off
    b"\x1b[?1006l",  # SGR mouse off
    b"\x1b[?2004l",  # bracketed paste off
)


class RecordingTerminal(Terminal):
    """A `Terminal` that also keeps every byte written to it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.raw = bytearray()
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def read(self, timeout: float = 0.1) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return
        self.raw += data
        self.stream.feed(data)


def started(term: str) -> RecordingTerminal:
    terminal = RecordingTerminal(DEMO, env={"TERM": term, "COLORTERM": ""})
    terminal.wait_for(lambda text: "bsub.io" in text and "● live" in text, timeout=40)
    return terminal


def line_mode_back(fd: int) -> bool:
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ICANON and lflag & termios.ECHO)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("term", "signum"),
    [
        ("xterm-256color", signal.SIGTERM),
        ("tmux-256color", signal.SIGHUP),
        ("screen", signal.SIGTERM),
        ("linux", signal.SIGTERM),
        ("linux", signal.SIGHUP),
    ],
)
def test_a_signal_restores_the_terminal(term: str, signum: signal.Signals) -> None:
    terminal = started(term)
    try:
        assert not line_mode_back(terminal.fd), "the app runs in raw mode"
        mark = len(terminal.raw)
        os.kill(terminal.pid, signum)
        assert terminal.wait_exit(15) == 128 + signum
        for _ in range(5):
            terminal.read(0.05)
        tail = bytes(terminal.raw[mark:])
        missing = [seq for seq in RESTORED if seq not in tail]
        assert not missing, f"not restored: {missing}"
        assert b"Traceback" not in terminal.raw
        assert line_mode_back(terminal.fd)
    finally:
        terminal.close()


@pytest.mark.slow
def test_a_16_colour_terminal_gets_16_colour_output() -> None:
    terminal = started("linux")
    try:
        # 16 colours: no 256-colour (38;5;N) nor true colour (38;2;R;G;B) sequences
        assert b"38;2;" not in terminal.raw and b"48;2;" not in terminal.raw
        assert b"38;5;" not in terminal.raw and b"48;5;" not in terminal.raw
        terminal.send("q")
        assert terminal.wait_exit(15) == 0
    finally:
        terminal.close()


@pytest.mark.slow
def test_a_lost_connection_ends_the_process() -> None:
    """The terminal goes away (its master side closes, as sshd does): the kernel sends SIGHUP
    and jobtui must end rather than spin or hang on a dead terminal."""
    terminal = started("xterm-256color")
    pid = terminal.pid
    os.close(terminal.fd)
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("jobtui kept running after its terminal went away")
    assert status is not None
    code = os.waitstatus_to_exitcode(status)
    assert code in (128 + signal.SIGHUP, -signal.SIGHUP), code


CRASHING = textwrap.dedent(
    """
    from pathlib import Path

    import jobtui.tui.app
    from jobtui.services.bsub.service import BsubService
    from jobtui.tui.app import JobtuiApp

    class Crashing(JobtuiApp):
        CSS_PATH = str(Path(jobtui.tui.app.__file__).with_name("app.tcss"))

        def key_x(self) -> None:
            raise RuntimeError("a bug")

    app = Crashing([BsubService("bsub.io", "http://127.0.0.1:9", "t0k3n-value")])
    app.run()
    raise SystemExit(app.return_code)
    """
)


@pytest.mark.slow
def test_a_crash_restores_the_terminal() -> None:
    terminal = RecordingTerminal([sys.executable, "-c", CRASHING], env={"TERM": "xterm-256color"})
    try:
        terminal.wait_for(lambda text: "bsub.io" in text, timeout=30)
        mark = len(terminal.raw)
        terminal.send("x")
        assert terminal.wait_exit(15) != 0
        for _ in range(5):
            terminal.read(0.05)
        tail = bytes(terminal.raw[mark:])
        assert not [seq for seq in RESTORED if seq not in tail]
        assert line_mode_back(terminal.fd)
        assert b"a bug" in tail and b"t0k3n-value" not in terminal.raw
    finally:
        terminal.close()
