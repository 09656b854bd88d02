"""The vendors' clients' own environment: a virtual environment with jobtui installed from this
tree (editable) and tests/vendor/requirements.txt, built once in `.venv-vendor/` and kept until
either of those files or the Python version changes. The tests in tests/vendor/ run there (see
tests/test_vendor_clients.py), and so does the benchmark's reference parser (benchmarks/bench_parse.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "tests" / "vendor" / "requirements.txt"
VENDOR_ENV = ROOT / ".venv-vendor"
STAMP = VENDOR_ENV / "jobtui-vendor-key"


def _key() -> str:
    """What the environment was built from: when any of it changes, it is built anew."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def real_time() -> dict[str, str]:
    """This environment without libfaketime: pip talks to the package index in real time (with the
    clocks shifted ahead for the suite, the index's certificates would not be valid yet)."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"):
        env.pop(name, None)
    return env


def run(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} … exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def vendor_python() -> Path:
    """The vendor environment's interpreter, built (or rebuilt) when its inputs changed."""
    python = VENDOR_ENV / "bin" / "python"
    key = _key()
    if python.exists() and STAMP.exists() and STAMP.read_text() == key:
        return python
    shutil.rmtree(VENDOR_ENV, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(VENDOR_ENV)], timeout=120)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, "-e", str(ROOT), "-r", str(REQUIREMENTS)], timeout=900, env=real_time())
    STAMP.write_text(key)
    return python
