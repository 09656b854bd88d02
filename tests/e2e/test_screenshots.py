"""`screenshots/make.py` regenerates every screenshot the README shows, and the same tree gives
the same files: run into a temporary folder, it writes exactly the committed set, byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"


def test_the_screenshots_are_those_the_script_makes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SHOTS / "make.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    made = {path.name for path in tmp_path.glob("*.svg")}
    committed = {path.name for path in SHOTS.glob("*.svg")}
    assert made == committed, f"made only: {made - committed}; committed only: {committed - made}"
    stale = sorted(
        name for name in made if (tmp_path / name).read_bytes() != (SHOTS / name).read_bytes()
    )
    assert not stale, f"out of date (run screenshots/make.py): {stale}"
    readme = (ROOT / "README.md").read_text()
    unlinked = sorted(name for name in made if f"(screenshots/{name})" not in readme)
    assert not unlinked, f"not shown in the README: {unlinked}"
