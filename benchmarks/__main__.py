"""Run jobtui's benchmarks: every figure side by side with its reference, measured in one run.

    .venv/bin/python -m benchmarks                  # the full run (a few minutes)
    .venv/bin/python -m benchmarks --quick          # small sizes, one repetition (the CI smoke run)
    .venv/bin/python -m benchmarks --only idle,parse

Prints a table (figure, jobtui, reference, target, pass) headed by the machine's facts, and writes
the same as JSON (default `benchmarks/results.json`). Figures are medians of repeated runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Row, machine

Bench = Callable[[bool], list[Row]]


def _table(quick: bool) -> list[Row]:
    from benchmarks.bench_table import run_table

    return asyncio.run(run_table(quick))


def _poll(quick: bool) -> list[Row]:
    from benchmarks.bench_table import run_poll

    return asyncio.run(run_poll(quick))


def _sort_filter(quick: bool) -> list[Row]:
    from benchmarks.bench_table import run_sort_filter

    return asyncio.run(run_sort_filter(quick))


def _idle(quick: bool) -> list[Row]:
    from benchmarks.bench_terminal import run_idle

    return run_idle(quick)


def _startup(quick: bool) -> list[Row]:
    from benchmarks.bench_startup import run_startup

    return run_startup(quick)


def _parse(quick: bool) -> list[Row]:
    from benchmarks.bench_parse import run_parse

    return run_parse(quick)


def _clean(quick: bool) -> list[Row]:
    from benchmarks.bench_clean import run_clean

    return run_clean(quick)


def _latency(quick: bool) -> list[Row]:
    from benchmarks.bench_terminal import run_latency

    return run_latency(quick)


def _theme(quick: bool) -> list[Row]:
    from benchmarks.bench_theme import run_theme

    return run_theme(quick)


def _transfer(quick: bool) -> list[Row]:
    from benchmarks.bench_transfer import run_transfer

    return run_transfer(quick)


def _journal(quick: bool) -> list[Row]:
    from benchmarks.bench_journal import run_journal

    return run_journal(quick)


def _quiet_idle(quick: bool) -> list[Row]:
    from benchmarks.bench_dashboard import run_quiet_idle

    return run_quiet_idle(quick)


def _live(quick: bool) -> list[Row]:
    from benchmarks.bench_dashboard import run_live

    return run_live(quick)


def _scale(quick: bool) -> list[Row]:
    from benchmarks.bench_dashboard import run_scale

    return run_scale(quick)


def _hostile(quick: bool) -> list[Row]:
    from benchmarks.bench_dashboard import run_hostile

    return run_hostile(quick)


BENCHES: dict[str, Bench] = {
    "table": _table,
    "poll": _poll,
    "sort-filter": _sort_filter,
    "idle": _idle,
    "startup": _startup,
    "parse": _parse,
    "clean": _clean,
    "latency": _latency,
    "theme": _theme,
    "transfer": _transfer,
    "journal": _journal,
    "quiet-idle": _quiet_idle,
    "live": _live,
    "scale": _scale,
    "hostile": _hostile,
}
"""Every benchmark by name, in the order of the table."""


def _isolated(name: str, quick: bool) -> list[Row]:
    """Run one benchmark in a fresh interpreter, so that none inherits another's heap."""
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        argv = [sys.executable, "-m", "benchmarks", "--here", "--only", name, "--json", str(out)]
        done = subprocess.run(
            [*argv, *(["--quick"] if quick else [])],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        print(f"ran {name}", file=sys.stderr, flush=True)
        if not out.exists():
            raise RuntimeError(f"{name} ended with exit code {done.returncode}")
        rows = json.loads(out.read_text())["benchmarks"][name]["rows"]
    return [Row(**row) for row in rows]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "":
        return "yes" if value else "no"
    if unit in ("x", "%") or abs(value) < 10:
        text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    else:
        text = f"{value:,.0f}"
    return f"{text} {unit}".strip()


def format_table(facts: dict[str, Any], rows: list[Row], mode: str) -> str:
    head = (
        f"jobtui benchmarks ({mode}) · {facts['cpu']} · {facts['cores']} cores · "
        f"Python {facts['python']} · Textual {facts['textual']} · load {facts['load_average_1m']}"
    )
    lines = [
        head,
        "",
        "| figure | jobtui | reference | target | pass |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        reference = _number(row.reference, row.unit)
        if row.reference_name:
            reference = f"{reference} ({row.reference_name})"
        passed = "—" if row.passed is None else "pass" if row.passed else "MISS"
        figure = row.figure + (f" [{row.note}]" if row.note else "")
        lines.append(
            f"| {figure} | {_number(row.jobtui, row.unit)} | {reference} | {row.target} | {passed} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--only", help=f"comma-separated names ({','.join(BENCHES)})")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument(
        "--here",
        action="store_true",
        help="run in this process (by default each benchmark runs in a fresh one)",
    )
    args = parser.parse_args(argv)
    names = list(BENCHES) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHES)})")
    facts = machine()
    mode = "quick" if args.quick else "full"
    rows: list[Row] = []
    results: dict[str, Any] = {"machine": facts, "mode": mode, "benchmarks": {}}
    failed = False
    for name in names:
        if args.here:
            print(f"running {name}…", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            bench_rows = BENCHES[name](args.quick) if args.here else _isolated(name, args.quick)
        except Exception as error:
            traceback.print_exc()
            failed = True
            bench_rows = [Row(name, "", None, None, "", "", False, note=f"error: {error}")]
        elapsed = time.perf_counter() - start
        failed = failed or any(row.note.startswith("error:") for row in bench_rows)
        rows += bench_rows
        results["benchmarks"][name] = {
            "seconds": round(elapsed, 1),
            "rows": [row.as_json() for row in bench_rows],
        }
    text = format_table(facts, rows, mode)
    print(text)
    results["table"] = text
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not args.here:
        print(f"\nwritten to {args.json}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
