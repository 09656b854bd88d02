"""Real processes on one journal: two dashboards and a cron `jobtui ls` write at the same time
without losing a write or meeting "database is locked"; a SIGKILL loses at most the poll it
interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.journal.worker import PER_POLL

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "tests.journal.worker"]


def test_two_dashboards_and_a_cron_job_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    count = 90
    names = ("dash-1", "dash-2", "cron-ls")
    processes = [
        subprocess.Popen(
            [*WORKER, str(path), "polls", name, str(count)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for process in processes:  # each has opened the journal: then all start at once
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "off:", out  # never turned off: no "database is locked"
        assert "locked" not in err
    conn = sqlite3.connect(path)
    jobs = Counter(
        row[0].rsplit("-", 2)[0]
        for row in conn.execute("SELECT job_id FROM job WHERE job_id NOT LIKE 'shared-%'")
    )
    assert jobs == dict.fromkeys(names, count * PER_POLL)
    actions = Counter(row[0].split()[0] for row in conn.execute("SELECT outcome FROM action"))
    assert actions == dict.fromkeys(names, count)
    # The shared jobs' changes were recorded once each, whoever saw them first.
    shared = conn.execute(
        "SELECT j.job_id, c.before, c.after FROM change c JOIN job j ON j.id = c.job "
        "WHERE j.job_id LIKE 'shared-%' ORDER BY j.job_id, c.seq"
    ).fetchall()
    assert Counter(job_id for job_id, _, _ in shared) == {f"shared-{i}": 3 for i in range(5)}
    assert {(before, after) for _, before, after in shared} == {(None, 1), (1, 2), (2, 4)}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    sessions = Counter(row[0] for row in conn.execute("SELECT origin FROM session"))
    assert sessions == {"dashboard": 2}


def test_a_sigkill_mid_poll_loses_at_most_that_poll(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    process = subprocess.Popen(
        [*WORKER, str(path), "forever"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    written = -1
    try:
        for line in process.stdout:
            written = int(line)
            if written >= 40:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    assert written >= 40
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    per_poll = Counter(int(row[0].split("-")[1]) for row in conn.execute("SELECT job_id FROM job"))
    # Every poll said written is there whole; a later one is there whole or not at all.
    assert all(per_poll[n] == PER_POLL for n in range(written + 1))
    assert set(per_poll.values()) == {PER_POLL}
    assert max(per_poll) <= written + 2
    assert conn.execute("SELECT count(*) FROM change").fetchone()[0] == sum(per_poll.values())
