"""jobtui in a real pseudo-terminal: idle cost, and key latency while a service hangs.

* idle: 4 services (one emulator of each kind, in another process) with 1,000 jobs each, frozen
  (speed 0) so that nothing changes, polled every 2 s. After a warm-up, the CPU the jobtui process
  uses (user + system, from /proc) and the bytes it writes to the terminal over a fixed window.
  htop runs the same way in the same size of terminal as the reference.
* latency: the time from writing a key (cursor down) to the terminal until the first bytes of the
  screen update arrive, while the bsub.io emulator delays every answer by 60 s (the poll hangs,
  then times out). The reference is the same with a healthy service.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    JOBTUI,
    Emulators,
    Pty,
    Row,
    at_most,
    median,
    process_cpu_seconds,
)

KINDS = ("bsub", "ecotaxa", "leia", "dsp-ingest")
DOWN = "\x1b[B"
LIVE = "● live"


def _idle_figures(term: Pty, warmup: float, window: float) -> tuple[float, float]:
    """(CPU % of one core, bytes/s written) over `window` seconds after `warmup` seconds."""
    term.drain(warmup)
    cpu = process_cpu_seconds(term.pid)
    written = term.written
    start = time.perf_counter()
    term.drain(window)
    elapsed = time.perf_counter() - start
    cpu_percent = (process_cpu_seconds(term.pid) - cpu) / elapsed * 100
    return cpu_percent, (term.written - written) / elapsed


def measure_jobtui_idle(config: Path, warmup: float, window: float) -> tuple[float, float]:
    term = Pty([JOBTUI, "--config", str(config)])
    try:
        term.wait_for(lambda text: LIVE in text, timeout=60)
        return _idle_figures(term, warmup, window)
    finally:
        term.close()


def measure_htop_idle(warmup: float, window: float) -> tuple[float, float] | None:
    htop = shutil.which("htop")
    if htop is None:
        return None
    term = Pty([htop, "--delay=15"])
    try:
        return _idle_figures(term, warmup, window)
    finally:
        term.close()


def polls_cpu_percent(config: Path, cycles: int, interval: float = 2.0) -> float:
    """CPU % of one core that the services' polls alone cost, with no user interface: every
    service of `config` polled `cycles` times in this process, as one poll every `interval`."""
    import asyncio

    from jobtui.config import load_config
    from jobtui.services import build_service

    async def cycle_seconds() -> float:
        services = [build_service(entry) for entry in load_config(config).services]
        try:
            for service in services:  # connections open, first answers parsed
                await service.poll()
            start = time.process_time()
            for _ in range(cycles):
                for service in services:
                    await service.poll()
            return (time.process_time() - start) / cycles
        finally:
            for service in services:
                await service.aclose()

    return asyncio.run(cycle_seconds()) / interval * 100


def run_idle(quick: bool) -> list[Row]:
    jobs = 100 if quick else 1000
    warmup, window = (2.0, 4.0) if quick else (8.0, 30.0)
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        with Emulators(KINDS, jobs=jobs, config=config):
            cpu, rate = measure_jobtui_idle(config, warmup, window)
            polls = polls_cpu_percent(config, cycles=3 if quick else 15)
    htop = measure_htop_idle(warmup, window)
    note = "" if htop is not None else "htop is not installed: apt-get install htop"
    who = (
        f"{len(KINDS)} services x {jobs:,} jobs, frozen, updated weeks ago (the emulators' fixed "
        f"epoch; see quiet-idle for recent ones), polled every 2 s, {window:g} s window"
    )
    return [
        Row(
            figure=f"idle CPU ({who})",
            unit="%",
            jobtui=cpu,
            reference=None if htop is None else htop[0],
            reference_name="htop, default 1.5 s delay",
            target="<= 1 % of a core",
            passed=at_most(cpu, 1.0),
            note=note,
        ),
        Row(
            figure="  of which the polls alone (same requests and parsing, no interface)",
            unit="%",
            jobtui=polls,
            reference=None,
            reference_name="",
            target="context",
            passed=None,
        ),
        Row(
            figure="idle bytes written to the terminal",
            unit="B/s",
            jobtui=rate,
            reference=None if htop is None else htop[1],
            reference_name="htop, default 1.5 s delay",
            target="<= 100 B/s",
            passed=at_most(rate, 100.0),
            note=note,
        ),
    ]


def key_latencies(term: Pty, presses: int) -> list[float]:
    """Seconds from each key press to the first bytes written after it."""
    seconds: list[float] = []
    for _ in range(presses):
        term.quiet(0.25, timeout=5)
        start = time.perf_counter()
        term.send(DOWN)
        while not term.read(5.0):
            if time.perf_counter() - start > 5.0:
                raise TimeoutError("no screen update after a key press")
        seconds.append(time.perf_counter() - start)
    return seconds


def run_latency(quick: bool) -> list[Row]:
    presses = 3 if quick else 15
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        with Emulators(["bsub"], jobs=200, config=config) as emulators:
            term = Pty([JOBTUI, "--config", str(config)])
            try:
                term.wait_for(lambda text: LIVE in text, timeout=60)
                healthy = key_latencies(term, presses)
                emulators.command("latency bsub 60")
                term.send("r")  # poll now: the poll hangs on the slow answer
                term.drain(0.5)
                hanging = key_latencies(term, presses)
            finally:
                term.close()
    value = median(hanging) * 1000
    return [
        Row(
            figure="key press to screen update while a service hangs",
            unit="ms",
            jobtui=value,
            reference=median(healthy) * 1000,
            reference_name="jobtui, service healthy",
            target="<= 50 ms",
            passed=at_most(value, 50.0),
            runs=len(hanging),
            samples=[s * 1000 for s in hanging],
        )
    ]
