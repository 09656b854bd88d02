"""The dashboard's start: its first frame is drawn before the first poll goes out, and without
what it does not show (the dialogs, the command palette's commands, the journal's queries, the
text area of the log view).

Run in a fresh interpreter, so that modules other tests imported do not hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, json, sys
from jobtui.config import config_from_data
from jobtui.tui.app import build_app
from jobtui.tui.screens.dashboard import DashboardScreen

config = config_from_data({
    "services": [{"name": "bsub.io", "kind": "bsub", "url": "http://127.0.0.1:9", "token": "t"}],
    "journal": {"path": sys.argv[1]},
})
app = build_app(config)
service = app.services[0]
polls = []
real_poll = service.poll

async def counted_poll():
    polls.append(1)
    return await real_poll()

service.poll = counted_poll
first_frame = {}
real_display = app._display

def display(screen, renderable):
    if not first_frame and isinstance(screen, DashboardScreen) and renderable is not None:
        first_frame.update(modules=sorted(sys.modules), polls=len(polls))
    real_display(screen, renderable)

app._display = display

async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(500):
            if first_frame:
                break
            await pilot.pause()

asyncio.run(main())
print(json.dumps(first_frame))
"""


@pytest.fixture(scope="module")
def first_frame(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What was loaded, and how many polls had begun, when the dashboard was first drawn."""
    journal = tmp_path_factory.mktemp("startup") / "journal.sqlite3"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(journal)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    frame: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert frame, "the dashboard was never drawn"
    return frame


def test_the_first_frame_loads_nothing_it_does_not_show(first_frame: dict[str, Any]) -> None:
    modules = set(first_frame["modules"])
    assert "jobtui.tui.screens.dashboard" in modules
    assert {m for m in modules if m.startswith("jobtui.tui.modals.")} == set()
    assert "jobtui.tui.commands" not in modules
    assert "jobtui.journal.queries" not in modules
    assert "textual.widgets._text_area" not in modules
