"""The vendors' own clients, and the versions the suite runs on.

`leia-api-sdk` pins pydantic (1.1.4: pydantic 2.10.4). Installed beside the suite, it would make the
suite test a pydantic no user of `pip install jobtui` gets. So the vendors' clients (`bsubio`,
`leia-api-sdk`) run in an environment of their own: a virtual environment with jobtui installed
(editable, so it runs this tree) and tests/vendor/requirements.txt, built once and kept in
`.venv-vendor/` until either of those files or the Python version changes. The tests in
tests/vendor/ run there, against emulators they start themselves, as in the rest of the suite.

The second test holds the line: `pip install -e '.[dev]'` resolves every runtime dependency exactly
as `pip install -e .` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from tests.vendor.env import ROOT, real_time, run, vendor_python


def test_the_vendor_clients_work_against_the_emulators() -> None:
    python = vendor_python()
    # the vendor environment really holds the vendors' clients and this tree's jobtui
    found = run(
        [
            str(python),
            "-c",
            "import bsubio, leiaapi, jobtui, pydantic; print(jobtui.__file__, pydantic.VERSION)",
        ],
        timeout=60,
    )
    assert found.split()[0] == str(ROOT / "jobtui" / "__init__.py")
    env = {**os.environ, "JOBTUI_VENDOR_TESTS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    out = run(
        [str(python), "-m", "pytest", "tests/vendor", "-q", "-p", "no:cacheprovider", "-ra"],
        timeout=600,
        env=env,
    )
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, out
    # every vendor test ran: as many passed as tests/vendor defines
    defined = sum(
        line.startswith(("def test_", "async def test_"))
        for path in (ROOT / "tests" / "vendor").glob("test_*.py")
        for line in path.read_text().splitlines()
    )
    assert summary.startswith(f"{defined} passed"), out


def _resolve(target: str, tmp_path: Path) -> dict[str, str]:
    """The versions pip would install for `target` into an empty environment, by name."""
    report = tmp_path / (hashlib.sha256(target.encode()).hexdigest()[:8] + ".json")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
            "-e",
            target,
        ],
        timeout=600,
        env=real_time(),
    )
    installs = json.loads(report.read_text())["install"]
    return {
        item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
        for item in installs
    }


def test_the_dev_install_resolves_runtime_dependencies_as_a_users_install(
    tmp_path: Path,
) -> None:
    """Every package `pip install -e .` brings comes in the very same version with `[dev]`."""
    user = _resolve(str(ROOT), tmp_path)
    dev = _resolve(f"{ROOT}[dev]", tmp_path)
    assert "jobtui" in user and "pydantic" in user and "textual" in user
    assert len(dev) > len(user)  # the dev tools came along
    differ = {
        name: (version, dev.get(name)) for name, version in user.items() if dev.get(name) != version
    }
    assert not differ, f"[dev] changes what a user gets (user, dev): {differ}"
