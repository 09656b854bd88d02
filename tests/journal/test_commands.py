"""`jobtui history`, `jobtui stats` and `jobtui journal clear` on a journal filled through the API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from jobtui import journal_cli
from jobtui.__main__ import main
from jobtui.core.models import JobState
from jobtui.journal import ServiceRef
from tests.journal.conftest import BSUB, START, Clock, OpenJournal, job

LEIA = ServiceRef("Leia", "http://127.0.0.1:3")
Q, R, S, F = JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED


@pytest.fixture
def filled(
    open_journal: OpenJournal, path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A dashboard session that saw jobs run and sent a cancel, then one an hour later."""
    monkeypatch.setattr(journal_cli, "now", clock)
    first = open_journal()
    started = START - timedelta(minutes=2)
    first.record_jobs(BSUB, [job("a", Q), job("b", R, started=started)])
    first.record_jobs(LEIA, [job("L1", R, service="Leia", type="align")])
    clock.advance(minutes=10)
    first.record_jobs(BSUB, [job("a", R), job("b", S, started=started, finished=clock())])
    first.record_action(BSUB, "cancel", ["a"], outcome="bsub.io: job a: conflict")
    first.close()
    clock.advance(hours=1)
    second = open_journal()
    second.record_jobs(BSUB, [job("a", F), job("c\x1b[31m", Q)])
    second.record_jobs(LEIA, [job("L2", Q, service="Leia", type="align")])  # L1 left the list
    second.close()
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_history_lists_changes_gone_jobs_and_actions(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--journal", str(filled), "history"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "SERVICE", "JOB", "EVENT"]
    assert lines[1:] == [
        "2026-03-02T09:00:00Z  bsub.io  a       new, queued",
        "2026-03-02T09:00:00Z  bsub.io  b       new, running (server time 2026-03-02T08:58:00Z)",
        "2026-03-02T09:00:00Z  Leia     L1      new, running",
        "2026-03-02T09:10:00Z  bsub.io  a       queued -> running",
        "2026-03-02T09:10:00Z  bsub.io  b       running -> succeeded",
        "2026-03-02T09:10:00Z  bsub.io  a       cancel (dashboard): bsub.io: job a: conflict",
        "2026-03-02T10:10:00Z  bsub.io  a       running -> failed",
        "2026-03-02T10:10:00Z  bsub.io  c\u241b[31m  new, queued",
        "2026-03-02T10:10:00Z  Leia     L2      new, queued",
        "2026-03-02T10:10:00Z  bsub.io  b       gone from the list (last succeeded)",
        "2026-03-02T10:10:00Z  Leia     L1      gone from the list (last running)",
    ]
    assert "\x1b" not in out


def test_history_filters(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = ["history", "--journal", str(filled), "--json"]
    _, out, _ = run([*journal, "--since", "30m"], capsys)
    assert {(e["service"], tuple(e["jobs"])) for e in json.loads(out)} == {
        ("bsub.io", ("a",)),
        ("bsub.io", ("b",)),
        ("bsub.io", ("c\x1b[31m",)),
        ("Leia", ("L2",)),
        ("Leia", ("L1",)),
    }
    assert "\x1b" not in out  # JSON escapes it
    _, out, _ = run([*journal, "--service", "leia"], capsys)
    assert {e["service"] for e in json.loads(out)} == {"Leia"}
    _, out, _ = run([*journal, "--job", "L1"], capsys)
    assert [(e["event"], e.get("to"), e.get("last_state")) for e in json.loads(out)] == [
        ("change", "running", None),
        ("gone", None, "running"),
    ]
    _, out, _ = run([*journal, "--actions"], capsys)
    assert json.loads(out) == [
        {
            "time": "2026-03-02T09:10:00Z",
            "event": "action",
            "service": "bsub.io",
            "jobs": ["a"],
            "action": "cancel",
            "origin": "dashboard",
            "outcome": "bsub.io: job a: conflict",
        }
    ]


def test_history_since_last(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--journal", str(filled), "history", "--since-last", "--json"], capsys)
    # The last dashboard session ended at 10:10, with the second poll: nothing ended since.
    assert code == 0
    assert json.loads(out) == {"since": "2026-03-02T10:10:00Z", "counts": {}, "jobs": []}


def test_stats(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--journal", str(filled), "stats"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "SERVICE  TYPE     JOBS  OK   WAIT P50  WAIT P95  RUN P50  RUN P95",
        "bsub.io  pdf-ocr  2     50%  10 min    10 min    12 min   12 min",
    ]
    code, out, _ = run(["--journal", str(filled), "stats", "--json", "--service", "Leia"], capsys)
    assert (code, json.loads(out)) == (0, [])
    _, out, _ = run(["--journal", str(filled), "stats", "--json", "--since", "30m"], capsys)
    (recent,) = json.loads(out)  # only "a" ended in the last 30 minutes
    assert (recent["count"], recent["failed"], recent["success_rate"]) == (1, 1, 0.0)
    assert recent["queue_wait"] == {"median": 600.0, "p95": 600.0}
    assert recent["run_time"] == {"median": None, "p95": None}
    assert [b["count"] for b in recent["run_histogram"]] == [0] * 12


def test_journal_clear(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["journal", "clear", "--journal", str(filled)], capsys)
    assert (code, out) == (0, f"cleared the journal {filled}\n")
    code, out, _ = run(["--journal", str(filled), "history", "--json", "--since", "9d"], capsys)
    assert (code, json.loads(out)) == (0, [])


def test_no_journal_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.sqlite3"
    code, out, err = run(["--journal", str(missing), "history"], capsys)
    assert (code, out) == (0, "")
    assert err == f"jobtui: no journal at {missing} yet (the dashboard keeps one)\n"
    assert run(["--journal", str(missing), "stats", "--json"], capsys)[:2] == (0, "[]\n")
    code, out, _ = run(["--journal", str(missing), "journal", "clear"], capsys)
    assert (code, out) == (0, f"no journal at {missing}: nothing to clear\n")
    assert not missing.exists()


def test_the_default_journal_is_under_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    _, _, err = run(["history"], capsys)
    assert str(tmp_path / "jobtui" / "journal.sqlite3") in err


def test_a_damaged_journal_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "journal.sqlite3"
    damaged.write_bytes(b"\x00not sqlite" * 500)
    code, out, err = run(["--journal", str(damaged), "stats"], capsys)
    assert (code, out) == (1, "")
    assert err == f"jobtui: journal off: {damaged}: file is not a database\n"


@pytest.mark.parametrize("since", ["soon", "8", "-3h", "8y"])
def test_a_bad_span_is_a_usage_error(
    since: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["history", f"--since={since}"], capsys)
    assert code == 2
    assert "argument --since: not a time span" in err


def test_help_lists_the_journal_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for text in ("jobtui history", "jobtui stats", "jobtui journal clear", "--journal PATH"):
        assert text in out
