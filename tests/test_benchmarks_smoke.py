"""The benchmark suite still runs: `python -m benchmarks --quick` produces every figure.

Timings are not checked here (the benchmarks measure them); only that each benchmark ran, without
an error, and wrote its rows with every field.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.__main__ import BENCHES

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {"figure", "unit", "jobtui", "reference", "reference_name", "target", "passed", "note"}


def test_quick_run_produces_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in done.stderr.splitlines() if "Error" in line or "running" in line]
    assert done.returncode == 0, errors
    results = json.loads(out.read_text())
    assert {"cpu", "cores", "python", "textual"} <= results["machine"].keys()
    assert list(results["benchmarks"]) == list(BENCHES)
    for name, bench in results["benchmarks"].items():
        assert bench["rows"], name
        for row in bench["rows"]:
            assert row.keys() >= FIELDS, (name, row)
            assert not row["note"].startswith("error"), (name, row)
            assert row["jobtui"] is not None, (name, row)
    figures = [row["figure"] for bench in results["benchmarks"].values() for row in bench["rows"]]
    assert all(figure in done.stdout for figure in figures)
