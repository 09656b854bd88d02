"""What every benchmark shares: the result row, medians, machine facts, and a pseudo-terminal."""

from __future__ import annotations

import fcntl
import gc
import os
import platform
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
JOBTUI = str(VENV_BIN / "jobtui")


@dataclass
class Row:
    """One figure: jobtui's value and its reference's, measured in the same run.

    `better` says which way is good: "lower" (a time, a rate of bytes) or "higher" (a ratio).
    `passed` is None when there is no target to compare with (a figure shown for context).
    """

    figure: str
    unit: str
    jobtui: float | None
    reference: float | None
    reference_name: str
    target: str
    passed: bool | None
    note: str = ""
    runs: int = 1
    samples: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def timed(func: Callable[[], object]) -> float:
    """Seconds one call takes, with the garbage collector off (as `timeit` does), so that a
    collection of what earlier benchmarks left behind is not charged to it."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start
    finally:
        gc.enable()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures between machines."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "textual": version("textual"),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1m": round(load[0], 2),
    }


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Pty:
    """A child process on a pseudo-terminal; every read is counted and time-stamped."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        columns: int = 160,
        lines: int = 48,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        import pyte

        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.started = time.perf_counter()
        self.reads: list[tuple[float, int]] = []
        """(seconds since start, bytes) of each read."""
        base = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        # pyte decodes UTF-8: a UTF-8 terminal, whatever this machine's locale (jobtui draws in
        # ASCII under a C locale).
        base["LC_ALL"] = "C.UTF-8"
        # A size inherited in the environment (test runners set one) would override the pty's.
        base.update(COLUMNS=str(columns), LINES=str(lines))
        # A journal of its own, new (the user's would tell what happened since the last run: a
        # toast of another size each time, and the benchmark would write into it).
        self._state = tempfile.TemporaryDirectory(prefix="jobtui-bench-state-")
        base["XDG_STATE_HOME"] = self._state.name
        size = struct.pack("HHHH", lines, columns, 0, 0)
        pid, fd = pty.fork()
        if pid == 0:
            # Sized before the program starts, so its first frame has the final size.
            fcntl.ioctl(0, termios.TIOCSWINSZ, size)
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], list(argv), {**base, **(env or {})})
        self.pid = pid
        self.fd = fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)

    @property
    def written(self) -> int:
        return sum(size for _, size in self.reads)

    def read(self, timeout: float) -> int:
        """Read what the child wrote within `timeout` seconds; the bytes read (0: none)."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return 0
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            return 0
        self.reads.append((time.perf_counter() - self.started, len(data)))
        self.stream.feed(data)
        return len(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> float:
        """Seconds since start when the screen first matched; TimeoutError after `timeout`. A
        screen that matches already (a quiet dashboard writes nothing more) matches now."""
        if predicate(self.text()):
            return time.perf_counter() - self.started
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.read(0.05) and predicate(self.text()):
                return time.perf_counter() - self.started
        raise TimeoutError(f"screen never matched; last screen:\n{self.text()}")

    def drain(self, seconds: float) -> None:
        """Keep reading for `seconds`."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            self.read(left)

    def quiet(self, gap: float, timeout: float) -> bool:
        """Read until nothing arrives for `gap` seconds (True), or `timeout` passes (False)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.read(gap):
                return True
        return False

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.perf_counter() + 3
            while time.perf_counter() < deadline:
                self.read(0.05)
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    break
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
        os.close(self.fd)
        self._state.cleanup()


class Emulators:
    """Emulators served by `benchmarks.serve` in their own process (so they cost jobtui nothing)."""

    def __init__(
        self,
        kinds: Sequence[str],
        *,
        jobs: int,
        config: Path | None = None,
        options: dict[str, Any] | None = None,
        speed: float = 0.0,
        recent: bool = False,
        limits: dict[str, Any] | None = None,
        everyone: bool = False,
    ) -> None:
        """`speed` 0 freezes the jobs; `recent` starts the simulated clock now, so the jobs were
        updated seconds to hours ago (else weeks ago, at the fixed epoch)."""
        import json
        import subprocess

        argv = [sys.executable, "-m", "benchmarks.serve", "--kinds", ",".join(kinds)]
        argv += ["--jobs", str(jobs), "--options", json.dumps(options or {})]
        argv += ["--speed", f"{speed:g}", *(["--recent"] if recent else [])]
        argv += ["--limits", json.dumps(limits or {}), *(["--everyone"] if everyone else [])]
        if config is not None:
            argv += ["--config", str(config)]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the emulators did not start")
        self.services: list[dict[str, Any]] = json.loads(line)["services"]

    def command(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Emulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
