"""The commands for scripts (`jobtui ls`, `show`, `cancel`, `watch`, ...) against the emulators.

Each test writes a config file pointing at emulators on loopback (as `jobtui emulate --write-config`
does) and runs the command in-process through `main([...])`, or as the installed `jobtui`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobtui.__main__ import main
from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from jobtui.emulators.bsub.state import BsubState, SimJob
from jobtui.emulators.dsp_ingest import state as dsp_state
from jobtui.emulators.dsp_ingest.state import DspIngestState
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.leia.state import LeiaState
from jobtui.emulators.runner import RunningEmulator
from jobtui.headless import EXIT_CODES, STATES, TABLE
from jobtui.journal import Reader
from jobtui.services import SERVICES
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded

JOBTUI = shutil.which("jobtui", path=str(Path(sys.executable).parent))
ROOT = Path(__file__).resolve().parents[2]
JOB_KEYS = {
    "service",
    "id",
    "state",
    "raw_state",
    "type",
    "created",
    "updated",
    "started",
    "finished",
    "progress",
    "message",
    "actions",
    "extra",
}


@dataclass
class Setup:
    config: Path
    bsub: RunningEmulator
    others: list[RunningEmulator]

    @property
    def state(self) -> BsubState:
        state = self.bsub.state
        assert isinstance(state, BsubState)
        return state

    @property
    def token(self) -> str:
        return str(self.bsub.emulator.config["token"])

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(self.config), *args])
        out, err = capsys.readouterr()
        return code, out, err


def write_config(path: Path, running: Sequence[RunningEmulator], **ui: Any) -> Path:
    data: dict[str, Any] = {"services": service_entries(running)}
    if ui:
        data["ui"] = ui
    return write_config_file(path, to_toml(data), overwrite=True)


@pytest.fixture
def setup(emulator: EmulatorFactory, tmp_path: Path) -> Setup:
    """bsub.io, Leia and EcoTaxa emulators, frozen (speed 0), and a config file for them."""
    bsub = emulator("bsub", seed=1, speed=0, jobs=30)
    others = [emulator("leia", seed=1, speed=0, jobs=8), emulator("ecotaxa", seed=1, speed=0)]
    return Setup(write_config(tmp_path / "config.toml", [bsub, *others]), bsub, others)


def requests(state: BsubState) -> int:
    return sum(state.counts.values())


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def unfinished(state: BsubState) -> list[SimJob]:
    """The seed's jobs that are still going, running ones first."""
    order = ("processing", "preparing", "claimed", "pending", "loaded", "created")
    jobs = [state.jobs[job_id] for status in order for job_id in state.ids_in(status)]
    assert jobs, "the seed has no unfinished job"
    return jobs


def running_job(state: BsubState) -> SimJob:
    return unfinished(state)[0]


# -- ls and show ----------------------------------------------------------------------------------


def test_ls_lists_every_job_of_every_service(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = setup.run(capsys, "ls")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split("  ")[0] == "SERVICE"
    assert [word.strip() for word in header.split("  ") if word.strip()] == list(TABLE)
    by_service: dict[str, list[list[str]]] = {}
    for row in rows:
        cells = row.split()
        by_service.setdefault(cells[0], []).append(cells)
    assert set(by_service) == {"bsub.io", "Leia", "EcoTaxa"}
    bsub_rows = {cells[1]: cells for cells in by_service["bsub.io"]}
    assert set(bsub_rows) == set(setup.state.jobs)
    for job_id, cells in bsub_rows.items():
        assert cells[3] == setup.state.jobs[job_id].status  # the raw state column
        assert cells[2] in STATES
    leia = setup.others[0].state
    assert isinstance(leia, LeiaState)
    assert {cells[1] for cells in by_service["Leia"]} == {job.id for job in leia.own}


def test_ls_json_filters_by_service_and_state(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = setup.run(capsys, "ls", "--json", "--service", "bsub.io")
    assert code == 0
    everything = json.loads(out)
    assert {job["id"] for job in everything} == set(setup.state.jobs)
    assert all(set(job) == JOB_KEYS for job in everything)
    # --config may follow the command too; the kind names the only service of that kind.
    code = main(["ls", "--config", str(setup.config), "--json", "--service", "bsub"])
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out) == everything
    code, out, _ = setup.run(
        capsys, "ls", "--json", "--service", "bsub", "--state", "succeeded,running"
    )
    assert code == 0
    some = json.loads(out)
    expected = [job for job in everything if job["state"] in ("succeeded", "running")]
    assert some == expected and some
    for job in some:
        status = setup.state.jobs[job["id"]].status
        assert job["raw_state"] == status
        assert status in ("finished", "claimed", "preparing", "processing")


def test_ls_says_when_a_service_cuts_its_list(
    emulator: EmulatorFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bsub = emulator("bsub", seed=1, speed=0, jobs=30, max_limit=10)
    state = bsub.state
    assert isinstance(state, BsubState)
    config = write_config(tmp_path / "c.toml", [bsub])
    assert main(["--config", str(config), "ls", "--json"]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert 10 <= len(listed) < 30
    assert one_line(err) == f"bsub.io: {len(listed)} of 30 jobs (the service cuts its list)"


def test_ls_reports_a_locked_dsp_ingest_project_at_once(
    emulator: EmulatorFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server would hold the mapping read for an hour before its 409: `ls` ends only if it
    # gives up on the locked project by itself (see LOCK_WAIT).
    monkeypatch.setattr(dsp_state, "LOCK_TIMEOUT", 3600.0)
    running = emulator("dsp-ingest", seed=1, speed=0)
    state = running.state
    assert isinstance(state, DspIngestState)
    config = write_config(tmp_path / "config.toml", [running])
    code = main(["--config", str(config), "ls", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows[state.roles["ingesting"]]["raw_state"] == "locked"
    assert rows[state.roles["mapped"]]["raw_state"] == "done"


def test_show_text_and_json(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    sim = seeded(setup.state, "finished")
    code, out, _ = setup.run(capsys, "show", "bsub.io", sim.id, "--json")
    assert code == 0
    job = json.loads(out)
    assert set(job) == {*JOB_KEYS, "record"}
    assert job["id"] == sim.id and job["state"] == "succeeded" and job["raw_state"] == "finished"
    assert job["record"]["id"] == sim.id and job["record"]["data_size"] == sim.data_size
    assert job["actions"] == ["delete", "download", "logs"]
    # A job waiting for its input has an upload token: it is never printed.
    created = seeded(setup.state, "created")
    code, out, _ = setup.run(capsys, "show", "bsub.io", created.id, "--json")
    assert code == 0 and created.upload_token and created.upload_token not in out
    code, out, _ = setup.run(capsys, "show", "bsub.io", sim.id)
    assert code == 0
    assert f"id:         {sim.id}" in out.splitlines()
    assert "actions:    delete, logs, save output" in out.splitlines()
    assert "cannot:     cancel: finished jobs cannot be cancelled" in out.splitlines()
    assert '"status": "finished"' in out


def test_unknown_service_and_job(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = setup.run(capsys, "show", "nosuch", "1")
    assert code == 2
    assert "no service named 'nosuch'" in one_line(err) and "'bsub.io'" in err
    code, _, err = setup.run(capsys, "show", "bsub.io", "no-such-job")
    assert code == 4
    assert one_line(err) == "bsub.io: no job no-such-job"
    code, _, err = setup.run(capsys, "ls", "--state", "bogus")
    assert code == 2 and "unknown state bogus" in err


def test_no_config_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "ls"]) == 2
    assert "no config file at" in one_line(capsys.readouterr().err)


# -- actions --------------------------------------------------------------------------------------


def test_cancel_and_delete_use_the_service(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    job = running_job(setup.state)
    code, out, err = setup.run(capsys, "cancel", "bsub.io", job.id)
    assert code == 0, err
    assert out.strip() == f"bsub.io: job {job.id} cancelled"
    assert setup.state.jobs[job.id].cancelled
    code, out, err = setup.run(capsys, "delete", "bsub.io", job.id)
    assert code == 0, err
    assert job.id not in setup.state.jobs


def test_restart_uses_the_service(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    eco = setup.others[1].state
    assert isinstance(eco, EcoTaxaState)
    code, out, _ = setup.run(capsys, "ls", "--json", "--service", "EcoTaxa", "--state", "failed")
    assert code == 0
    job_id = next(job["id"] for job in json.loads(out) if "restart" in job["actions"])
    assert eco.jobs[int(job_id)].state == "E"
    code, out, err = setup.run(capsys, "restart", "EcoTaxa", job_id)
    assert code == 0, err
    assert out.startswith(f"EcoTaxa: job {job_id} restart") and not out.startswith(
        "EcoTaxa: EcoTaxa"
    )
    assert eco.jobs[int(job_id)].state != "E"


def test_an_action_the_state_does_not_allow_is_refused_with_the_reason(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    job = running_job(setup.state)
    code, _, err = setup.run(capsys, "delete", "bsub.io", job.id)
    assert code == 5
    line = one_line(err)
    assert line.startswith(f"bsub.io: job {job.id}: delete refused: only finished or failed")
    assert setup.state.counts["deleteJob"] == 0 and job.id in setup.state.jobs
    code, _, err = setup.run(capsys, "restart", "bsub.io", job.id)
    assert code == 5 and one_line(err) == "bsub.io: bsub has no restart action"


def test_several_jobs_each_get_a_line_and_the_highest_code(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = (job.id for job in unfinished(setup.state)[:2])
    code, out, err = setup.run(capsys, "cancel", "bsub.io", first, "missing", second)
    assert code == 4
    assert out.splitlines() == [
        f"bsub.io: job {first} cancelled",
        f"bsub.io: job {second} cancelled",
    ]
    assert one_line(err) == "bsub.io: no job missing"
    assert setup.state.jobs[first].cancelled and setup.state.jobs[second].cancelled


@pytest.mark.parametrize("where", ["before", "after", "config"])
def test_read_only_refuses_every_action_and_sends_nothing(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    job = running_job(setup.state)
    config = setup.config
    if where == "config":
        config = write_config(tmp_path / "ro.toml", [setup.bsub], read_only=True)
    before = requests(setup.state)
    for action in ("cancel", "delete", "restart"):
        argv = [action, "bsub.io", job.id]
        argv = ["--read-only", *argv] if where == "before" else argv
        argv = [*argv, "--read-only"] if where == "after" else argv
        assert main(["--config", str(config), *argv]) == 5
        line = one_line(capsys.readouterr().err)
        assert "refused" in line and "nothing was sent" in line
    assert requests(setup.state) == before
    assert setup.state.jobs[job.id].status == job.status and not job.cancelled
    # Reading stays allowed.
    assert main(["--config", str(config), "--read-only", "show", "bsub.io", job.id]) == 0


# -- watch, logs, download ------------------------------------------------------------------------


def test_watch_prints_each_change_and_exits_with_the_final_state(
    emulator: EmulatorFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bsub = emulator("bsub", seed=1, speed=100, jobs=30)
    state = bsub.state
    assert isinstance(state, BsubState)
    config = write_config(tmp_path / "c.toml", [bsub])
    job_id = seeded(state, "pending").id
    code = main(["--config", str(config), "watch", "bsub.io", job_id, "--interval", "0.05"])
    out, err = capsys.readouterr()
    final = state.jobs[job_id]
    assert final.terminal
    assert code == (0 if final.status == "finished" else 1), err
    lines = out.splitlines()
    states = [line.split()[1] for line in lines]
    assert len(states) >= 2 and states[0] in ("queued", "running")
    changes = [line.split("  ")[1] for line in lines]  # "running (processing)"
    assert all(a != b for a, b in itertools.pairwise(changes))
    expected = {"finished": "succeeded", "failed": "cancelled" if final.cancelled else "failed"}
    assert states[-1] == expected[final.status]
    assert final.status in lines[-1]

    # --json: one object per change, the same states.
    code = main(["--config", str(config), "watch", "bsub.io", job_id, "--json"])
    out, _ = capsys.readouterr()
    (only,) = [json.loads(line) for line in out.splitlines()]
    assert only["id"] == job_id and only["raw_state"] == final.status and "time" in only


def test_logs_and_follow(
    emulator: EmulatorFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bsub = emulator("bsub", seed=1, speed=100, jobs=30)
    state = bsub.state
    assert isinstance(state, BsubState)
    config = write_config(tmp_path / "c.toml", [bsub])
    job_id = seeded(state, "pending").id
    # Never claimed (it waits for its input): no log, with the reason.
    assert main(["--config", str(config), "logs", "bsub.io", seeded(state, "created").id]) == 5
    assert "no worker has claimed the job" in one_line(capsys.readouterr().err)
    argv = ["--config", str(config), "logs", "bsub.io", job_id]
    code = main([*argv, "--follow", "--interval", "0.05"])
    out, _ = capsys.readouterr()
    final = state.jobs[job_id]
    assert final.terminal and code == (0 if final.status == "finished" else 1)
    assert out == state.logs_of(final)
    assert main(argv) == 0
    assert capsys.readouterr().out == state.logs_of(final)


def test_download_writes_the_output_and_never_overwrites(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = seeded(setup.state, "finished")
    _, chunks = setup.state.output_chunks(sim)
    expected = b"".join(chunks)
    dest = tmp_path / "out.bin"
    code, out, err = setup.run(capsys, "download", "bsub.io", sim.id, str(dest))
    assert code == 0, err
    assert dest.read_bytes() == expected
    assert f"to {dest}" in out
    dest.write_bytes(b"mine")
    code, _, err = setup.run(capsys, "download", "bsub.io", sim.id, str(dest))
    assert code == 5 and "exists; add --force" in one_line(err)
    assert dest.read_bytes() == b"mine"
    code, _, _ = setup.run(capsys, "download", "bsub.io", sim.id, str(dest), "--force")
    assert code == 0 and dest.read_bytes() == expected
    # A folder: the service's file name inside it; no temporary file is left behind.
    folder = tmp_path / "folder"
    folder.mkdir()
    code, out, _ = setup.run(capsys, "download", "bsub.io", sim.id, str(folder))
    assert code == 0
    (saved,) = folder.iterdir()
    assert saved.name.startswith(sim.id) and saved.read_bytes() == expected
    # Not finished: refused with the reason.
    job = running_job(setup.state)
    code, _, err = setup.run(capsys, "download", "bsub.io", job.id, str(tmp_path / "x"))
    assert code == 5 and "only finished jobs have an output" in one_line(err)
    assert not (tmp_path / "x").exists()


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["status", "malformed"])
def test_a_failing_service_is_one_line_and_the_others_still_list(
    setup: Setup, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    if fault == "status":
        setup.state.faults.fail_status = 503
    else:
        setup.state.faults.malformed = True
    code, out, err = setup.run(capsys, "ls")
    assert code == 3
    line = one_line(err)
    assert line.startswith("bsub.io: ") and setup.token not in line
    rows = out.splitlines()[1:]
    assert rows and {row.split()[0] for row in rows} == {"Leia", "EcoTaxa"}
    job_id = next(iter(setup.state.jobs))
    for argv in (
        ["show", "bsub.io", job_id],
        ["cancel", "bsub.io", job_id],
        ["logs", "bsub.io", job_id],
        ["download", "bsub.io", job_id, "out"],
    ):
        code, _, err = setup.run(capsys, *argv)
        assert code == 3, argv
        assert one_line(err).startswith("bsub.io: ") and setup.token not in err


def test_watch_gives_up_after_repeated_errors(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.state.faults.fail_status = 500
    job_id = running_job(setup.state).id
    code, _, err = setup.run(capsys, "watch", "bsub.io", job_id, "--interval", "0.05")
    assert code == 3
    lines = err.strip().splitlines()
    # The first error is said once (trying again), then the last one ends the watch.
    assert len(lines) == 2 and lines[0].endswith("(trying again)")
    assert all(line.startswith("bsub.io: ") for line in lines) and "Traceback" not in err


def test_an_unreachable_service_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    entry = {"name": "gone", "kind": "bsub", "url": "http://127.0.0.1:9", "token": "s3cret-token"}
    write_config_file(config, to_toml({"services": [entry]}))
    assert main(["--config", str(config), "ls"]) == 3
    err = capsys.readouterr().err
    assert one_line(err).startswith("gone: ") and "s3cret-token" not in err


# -- as a real command ----------------------------------------------------------------------------


def run_jobtui(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    environ = {**os.environ, "JOBTUI_CONFIG": str(config)}
    return subprocess.run(
        [*command, *args],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installed_command_reads_jobtui_config(setup: Setup) -> None:
    result = run_jobtui(["ls", "--json", "--service", "bsub.io"], setup.config)
    assert result.returncode == 0, result.stderr
    assert {job["id"] for job in json.loads(result.stdout)} == set(setup.state.jobs)
    job = running_job(setup.state)
    before = requests(setup.state)
    result = run_jobtui(["--read-only", "cancel", "bsub.io", job.id], setup.config)
    assert result.returncode == 5 and "refused" in result.stderr
    assert requests(setup.state) == before
    result = run_jobtui(["cancel", "bsub.io", job.id], setup.config)
    assert result.returncode == 0 and setup.state.jobs[job.id].cancelled
    result = run_jobtui(["watch", "bsub.io", job.id], setup.config)
    assert result.returncode == 1 and result.stdout.split()[1] == "cancelled"
    setup.state.faults.fail_status = 502
    result = run_jobtui(["show", "bsub.io", job.id], setup.config)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_reader_that_leaves_ends_the_command_quietly(setup: Setup) -> None:
    """`jobtui ls | head -1`: no traceback when the pipe closes."""
    command = [JOBTUI] if JOBTUI else [sys.executable, "-m", "jobtui"]
    process = subprocess.Popen(
        [*command, "--config", str(setup.config), "ls"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes anything: it polls first
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == ""
    process.stderr.close()


def test_help_documents_the_exit_codes() -> None:
    config = Path("/nonexistent")
    for args in (["--help"], ["ls", "--help"], ["watch", "--help"]):
        result = run_jobtui(args, config)
        assert result.returncode == 0
        for code in ("3  a service", "4  no such job", "5  refused"):
            assert code in result.stdout
    assert "5  refused" in EXIT_CODES


def imported_by(argv: list[str], config: Path) -> tuple[int, set[str]]:
    """Run `main(argv)` in a fresh interpreter: its exit code and every package it loaded."""
    code, modules = modules_of(argv, config)
    return code, {name.partition(".")[0] for name in modules}


def modules_of(argv: list[str], config: Path) -> tuple[int, set[str]]:
    """Run `main(argv)` in a fresh interpreter: its exit code and every module it loaded."""
    script = (
        "import contextlib, io, json, sys\n"
        "from jobtui.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = main({argv!r})\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    environ = {**os.environ, "JOBTUI_CONFIG": str(config)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    code, modules = json.loads(result.stdout.splitlines()[-1])
    return int(code), set(modules)


def test_commands_for_scripts_never_import_textual(setup: Setup, tmp_path: Path) -> None:
    finished = seeded(setup.state, "finished").id
    loaded = setup.state.ids_in("loaded")[0]
    for argv, expected in (
        (["ls"], 0),
        (["show", "bsub.io", finished], 0),
        (["cancel", "bsub.io", loaded], 0),
        (["delete", "bsub.io", loaded], 0),
        (["restart", "EcoTaxa", "1"], 4),
        (["watch", "bsub.io", finished], 0),
        (["logs", "bsub.io", finished, "--follow"], 0),
        (["download", "bsub.io", finished, str(tmp_path / "out")], 0),
    ):
        code, top = imported_by(argv, setup.config)
        assert code == expected, argv
        assert "textual" not in top, argv
    for argv in (["ls", "--help"], ["serve", "--help"], ["download", "--help"]):
        code, top = imported_by(argv, setup.config)
        assert code == 0
        assert not top & {"textual", "httpx", "pydantic", "aiohttp", "textual_serve"}, argv


def test_ls_loads_only_what_its_configured_services_need(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """`jobtui ls` on bsub.io alone loads no other service's package, no emulator, nothing of
    the dashboard, and none of the journal's queries (it only records)."""
    bsub = emulator("bsub", seed=1, speed=0, jobs=5)
    code, modules = modules_of(["ls"], write_config(tmp_path / "config.toml", [bsub]))
    assert code == 0
    kinds = {path.split(".")[2] for path in SERVICES.values()}
    assert {"bsub", "ecotaxa", "leia", "dsp_ingest"} <= kinds
    loaded = {m.split(".")[2] for m in modules if m.startswith("jobtui.services.")} & kinds
    assert loaded == {"bsub"}
    assert not {m for m in modules if m.startswith(("jobtui.emulators", "jobtui.tui"))}
    assert "textual" not in {m.partition(".")[0] for m in modules}
    assert "jobtui.journal.writer" in modules
    assert "jobtui.journal.queries" not in modules


def test_actions_are_recorded_in_the_journal_as_headless(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    job = running_job(setup.state)
    code, _, err = setup.run(capsys, "--journal", str(journal), "cancel", "bsub.io", job.id)
    assert code == 0, err
    code, _, err = setup.run(capsys, "--journal", str(journal), "cancel", "bsub.io", job.id)
    assert code == 5  # refused before anything was sent: not an action jobtui sent
    code, _, err = setup.run(capsys, "--journal", str(journal), "delete", "bsub.io", job.id)
    assert code == 0, err
    reader = Reader.open(journal, datetime.now(UTC))
    assert reader is not None
    actions = [(e.action, e.jobs, e.origin, e.outcome) for e in reader.history(actions=True)]
    assert actions == [
        ("cancel", (job.id,), "headless", "ok"),
        ("delete", (job.id,), "headless", "ok"),
    ]


def test_ls_records_what_it_listed_in_the_journal(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A cron `jobtui ls` keeps the journal as a dashboard does: each service's jobs, once.
    journal = tmp_path / "journal.sqlite3"
    code, out, err = setup.run(capsys, "--journal", str(journal), "ls", "--json")
    assert code == 0, err
    listed = {(job["service"], job["id"]) for job in json.loads(out)}
    reader = Reader.open(journal, datetime.now(UTC))
    assert reader is not None
    recorded = {(job.service, job.id) for job in reader.jobs()}
    assert recorded == listed and len(listed) > 30
    reader.close()

    # Listing again with nothing changed writes nothing.
    def files() -> list[bytes]:
        return [p.read_bytes() for p in (journal, Path(f"{journal}-wal")) if p.exists()]

    before = files()
    code, _, err = setup.run(capsys, "--journal", str(journal), "ls")
    assert code == 0, err
    assert files() == before
