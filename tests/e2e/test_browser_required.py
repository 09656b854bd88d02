"""The browser tests need Chromium: without it they skip with the reason, except under CI
(`CI=true`), where a missing browser fails the run rather than letting it pass untested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/e2e/test_serve.py::test_the_dashboard_in_a_browser_shows_the_jobs"


def _run_without_chromium(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    # a PATH that holds this Python's folder and nothing else: no chromium on it
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-p", "no:cacheprovider", "-rs", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_without_chromium_the_browser_test_skips_with_the_reason(
    tmp_path: Path, ci: str | None
) -> None:
    done = _run_without_chromium(tmp_path, ci)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 skipped" in done.stdout and "needs Chromium" in done.stdout, done.stdout[-2000:]


def test_under_ci_a_missing_chromium_fails(tmp_path: Path) -> None:
    done = _run_without_chromium(tmp_path, "true")
    assert done.returncode == 1, done.stdout[-2000:]
    assert "needs Chromium" in done.stdout and "CI must have it" in done.stdout
