"""A process that records into a journal, for the tests that need real processes.

python -m tests.journal.worker PATH polls NAME N    N polls of 20 new jobs each, and one
    action each; the same jobs' states as every other process; prints "off: ..." at the end
python -m tests.journal.worker PATH forever         polls until killed, printing each poll's
    number once it is written
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobtui.core.models import Job, JobsDelta, JobState
from jobtui.journal import Journal, JournalSettings, ServiceRef
from jobtui.journal.writer import Origin

SERVICE = ServiceRef("bsub.io", "http://127.0.0.1:1")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PER_POLL = 20


def job(job_id: str, state: JobState) -> Job:
    return Job("bsub.io", job_id, state, state.value, type="ocr", raw={"id": job_id})


def polls(path: Path, name: str, count: int) -> None:
    origin: Origin = "headless" if name.startswith("cron") else "dashboard"
    journal = Journal(JournalSettings(path), origin=origin, now=lambda: START).start()
    journal.ready.wait(30)
    print("ready", flush=True)
    sys.stdin.readline()  # every process starts together
    states = (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
    for n in range(count):
        own = tuple(job(f"{name}-{n}-{i}", JobState.QUEUED) for i in range(PER_POLL))
        # Every process sees the shared jobs move through the same states.
        shared = tuple(job(f"shared-{i}", states[min(n // (count // 3), 2)]) for i in range(5))
        journal.record_poll(SERVICE, JobsDelta(added=own + shared), complete=False)
        journal.record_action(SERVICE, "cancel", [f"{name}-{n}-0"], outcome=f"{name} {n}")
        journal.flush()
    journal.close()
    print(f"off: {journal.off}", flush=True)


def forever(path: Path) -> None:
    clock = [START]
    journal = Journal(JournalSettings(path), now=lambda: clock[0]).start()
    n = 0
    while True:
        clock[0] = START + timedelta(seconds=n)
        jobs = tuple(job(f"poll-{n}-{i}", JobState.RUNNING) for i in range(PER_POLL))
        journal.record_poll(SERVICE, JobsDelta(added=jobs), complete=False)
        journal.flush()
        if journal.off:
            print(f"off: {journal.off}", flush=True)
            return
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    if sys.argv[2] == "polls":
        polls(Path(sys.argv[1]), sys.argv[3], int(sys.argv[4]))
    else:
        forever(Path(sys.argv[1]))
