"""Run a command in a real pseudo-terminal and read its screen with pyte."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Callable, Sequence

import pyte


class Terminal:
    """A child process on a pty of `columns` x `lines`, its output fed to a pyte screen."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        columns: int = 160,
        lines: int = 48,
        env: dict[str, str] | None = None,
    ) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.written = 0
        self.raw = bytearray()
        """Every byte the child wrote, escape sequences included."""
        size = struct.pack("HHHH", lines, columns, 0, 0)
        pid, fd = pty.fork()
        if pid == 0:  # the child: set the terminal's size before the command can ask for it
            fcntl.ioctl(0, termios.TIOCSWINSZ, size)
            # pyte decodes UTF-8: this is a UTF-8 terminal, whatever the runner's locale (jobtui
            # draws in ASCII under a C locale). `env` may say otherwise.
            utf8 = {"LC_ALL": "C.UTF-8"}
            # COLUMNS and LINES win over the terminal's size (shutil.get_terminal_size), and
            # pytest-xdist sets them (80x24) in its workers: the pty's size is the only one.
            inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
            os.execvpe(argv[0], list(argv), {**inherited, **utf8, **(env or {})})
        self.pid = pid
        self.fd = fd
        # (set from this side too; had it been set only here, a command quick to start could
        # read the size before it was set, take the 80x24 default and never hear otherwise)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
        self.exit_code: int | None = None

    def read(self, timeout: float = 0.1) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return
        self.written += len(data)
        self.raw += data
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            text = self.text()
            if predicate(text):
                return text
            if self.poll() is not None:
                break
        raise AssertionError(f"screen never matched; last screen:\n{self.text()}")

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Read until `predicate()` holds (it may look at `raw`, every byte so far)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or self.poll() is not None:
                raise AssertionError("the terminal never showed what was awaited")
            self.read()

    def wait_for_bytes(self, data: bytes, timeout: float = 20.0) -> None:
        """Read until `data` has arrived (bytes written between frames, such as a bell)."""
        deadline = time.monotonic() + timeout
        while data not in self.raw:
            if time.monotonic() > deadline or self.poll() is not None:
                raise AssertionError(f"{data!r} never arrived")
            self.read()

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.05)
            code = self.poll()
            if code is not None:
                return code
        raise AssertionError(f"process did not exit; last screen:\n{self.text()}")

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
