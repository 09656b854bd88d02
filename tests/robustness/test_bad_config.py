"""Bad config, as the dashboard and `config check` meet it: one line naming the file, line and
key, exit code 2, no traceback, no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = '[[services]]\nname = "B"\nkind = "bsub"\nurl = "https://bsub.invalid"\ntoken = "{token}"\n'

CASES = {
    "toml syntax": ('[[services]]\nname = "B\n', ":2:", ""),
    "unknown key": (
        GOOD.format(token="s3cret-v4lue") + "colour = 1\n",
        ":6:",
        "services[0].colour",
    ),
    "wrong type": (
        GOOD.format(token="s3cret-v4lue") + 'refresh = "fast"\n',
        ":6:",
        "services[0].refresh",
    ),
    "bad url": (
        GOOD.format(token="s3cret-v4lue").replace("https://bsub.invalid", "ftp://x"),
        ":4:",
        "services[0].url",
    ),
    "missing env var": (GOOD.format(token="env:JOBTUI_TEST_NOT_SET"), ":5:", "services[0].token"),
}


@pytest.mark.parametrize("command", [[], ["config", "check"]], ids=["dashboard", "config check"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_one_line_exit_2(tmp_path: Path, case: str, command: list[str]) -> None:
    text, line, key = CASES[case]
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "JOBTUI_TEST_NOT_SET"}
    env["JOBTUI_CONFIG"] = str(path)
    done = subprocess.run(
        [sys.executable, "-m", "jobtui", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}{line}"), lines[0]
    assert key in lines[0]
    assert "Traceback" not in done.stderr and "s3cret-v4lue" not in done.stderr
