"""Files stay where the user put them, whatever names a hostile server sends.

The servers are the emulators on loopback, made hostile: bsub.io jobs whose ids are `../x`, an
absolute path and `../../home/u/` (with a type whose extension is `bash_profile`), behind a front
that sends every output gzip-encoded; EcoTaxa exports whose file names hold NUL, a newline, ESC
or U+202E, or 300 characters. Each test lists the whole temporary tree before and after and
checks that nothing appeared outside the chosen folder, through `jobtui download` in a
subprocess, the client, and the dashboard's `o` dialog (Pilot). Links planted at an EcoTaxa
download's `<target>.part` and at `jobtui emulate --write-config PATH` are never followed.
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from textual.widgets import Input

from jobtui.config import write_config_file
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.bsub.state import CATALOGUE, BsubState, SimJob
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from jobtui.services.bsub.service import BsubService
from jobtui.services.download import LocalFileError
from jobtui.services.ecotaxa.client import EcoTaxaClient
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.save_file import SaveFileScreen
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import credentials, seeded
from tests.services.test_headless import write_config
from tests.tui.test_bsub_tui import SIZE, Bsub, fixed_clock

TIMEOUT = 60.0
"""Seconds a `jobtui` subprocess may take (it needs well under one)."""

OUTPUT = gzip.compress(bytes(4 * 1024 * 1024), compresslevel=9)
"""What the hostile bsub.io server stores: a gzip file (some 4 KB) of 4 MiB of zeros."""


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative to it (links listed, not followed)."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            found.add(rel(Path(folder) / name, root))
    return found


def rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def new_paths(root: Path, before: set[str]) -> set[str]:
    return tree(root) - before


def jobtui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `jobtui` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "jobtui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def clean(text: str) -> bool:
    """No control, bidi or other format character."""
    import unicodedata

    return all(unicodedata.category(char)[0] != "C" for char in text)


# -- a hostile bsub.io server -----------------------------------------------------------------


class GzipOutputs:
    """In front of the bsub.io emulator: every job's output is `OUTPUT`, sent with
    `Content-Encoding: gzip` whatever the client asked for (a server storing gzip files and
    labelling them so). Keeps the Accept-Encoding of each output request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.accepted: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith("/v1/jobs/") and path.endswith("/output"):
            headers = dict(scope["headers"])
            self.accepted.append(headers.get(b"accept-encoding", b"(none)").decode("latin-1"))
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/octet-stream"),
                        (b"content-encoding", b"gzip"),
                        (b"content-length", str(len(OUTPUT)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": OUTPUT})
            return
        await self.app(scope, receive, send)


@dataclass
class HostileBsub:
    running: RunningEmulator
    state: BsubState
    front: GzipOutputs
    ids: dict[str, str]
    """Each hostile job id and the file name it must be saved under."""


@pytest.fixture
def hostile_bsub(tmp_path: Path) -> Iterator[HostileBsub]:
    """A frozen bsub.io emulator with three finished jobs whose ids are paths."""
    emulator = build("bsub", replace(EmulatorSettings(), seed=1, speed=0, jobs=3))
    state = emulator.state
    assert isinstance(state, BsubState)
    plain = replace(CATALOGUE[0], type="plain-text", ext="txt")
    profile = replace(CATALOGUE[0], type="shell-profile", ext="bash_profile")
    state.types = (*state.types, plain, profile)
    absolute = str(tmp_path / "outside" / "abs")
    ids = {
        "../x": ("plain-text", "x.txt"),
        absolute: ("plain-text", absolute.strip("/").replace("/", "_") + ".txt"),
        "../../home/u/": ("shell-profile", "home_u_.bash_profile"),
    }
    now = state.now()
    for job_id, (type_id, _) in ids.items():
        state.add(
            SimJob(
                id=job_id,
                type=type_id,
                created=now - 600,
                status="finished",
                data_size=100,
                updated=now - 60,
                finished_at=now - 60,
            )
        )
    front = GzipOutputs(emulator.app)
    emulator.app = front
    thread = ServerThread(emulator)
    running = thread.start()
    try:
        yield HostileBsub(running, state, front, {k: name for k, (_, name) in ids.items()})
    finally:
        thread.stop()


def places(tmp_path: Path) -> Path:
    """The folders a hostile name would reach from `tmp_path/a/b/dl` (made, so that writing
    there would succeed), and that folder, returned."""
    folder = tmp_path / "a" / "b" / "dl"
    folder.mkdir(parents=True)
    (tmp_path / "a" / "home" / "u").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return folder


def test_jobtui_download_keeps_server_names_inside_the_folder_and_stores_raw_bytes(
    hostile_bsub: HostileBsub, tmp_path: Path
) -> None:
    folder = places(tmp_path)
    config = write_config(tmp_path / "config.toml", [hostile_bsub.running])
    before = tree(tmp_path)
    for job_id, name in hostile_bsub.ids.items():
        done = jobtui(
            "--config", str(config), "download", "bsub.io", job_id, str(folder), cwd=folder
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == "" and len(done.stdout.splitlines()) == 1, done
        saved = folder / name
        assert f"to {saved} " in done.stdout
        # Stored as the server stores it: the gzip bytes, not 4 MiB of zeros.
        assert saved.read_bytes() == OUTPUT
    expected = {rel(folder / name, tmp_path) for name in hostile_bsub.ids.values()}
    assert new_paths(tmp_path, before) == expected
    assert hostile_bsub.front.accepted == ["identity"] * len(hostile_bsub.ids)


def test_a_link_at_the_final_name_is_never_written_through(
    hostile_bsub: HostileBsub, tmp_path: Path
) -> None:
    folder = places(tmp_path)
    config = write_config(tmp_path / "config.toml", [hostile_bsub.running])
    link = folder / "x.txt"
    link.symlink_to(tmp_path / "outside" / "through-the-link")
    before = tree(tmp_path)
    argv = ("--config", str(config), "download", "bsub.io", "../x", str(folder))
    # A link leading out of the folder: refused, even with --force.
    for force in ((), ("--force",)):
        done = jobtui(*argv, *force, cwd=tmp_path)
        assert done.returncode == 1, done
        assert done.stderr.startswith("jobtui: cannot write ") and done.stderr.endswith(
            f"x.txt: it resolves outside {folder}\n"
        )
        assert link.is_symlink() and new_paths(tmp_path, before) == set()
    # A link inside it (dangling): something is there, replaced only with --force, and then
    # the link itself is replaced: nothing appears where it pointed.
    link.unlink()
    link.symlink_to(folder / "through-the-link")
    done = jobtui(*argv, cwd=tmp_path)
    assert done.returncode == 5, done
    assert done.stderr == f"jobtui: {link} exists; add --force to replace it\n"
    done = jobtui(*argv, "--force", cwd=tmp_path)
    assert done.returncode == 0, done
    assert not link.is_symlink() and link.read_bytes() == OUTPUT
    assert new_paths(tmp_path, before) == set()  # the link became the file, nothing else


def test_a_local_write_failure_is_a_local_error_not_the_services(
    hostile_bsub: HostileBsub, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.toml", [hostile_bsub.running])
    (tmp_path / "ls.txt").write_text("a file, not a folder\n")
    before = tree(tmp_path)
    done = jobtui("--config", str(config), "download", "bsub.io", "../x", "ls.txt/x", cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr == "jobtui: cannot write ls.txt/x: ls.txt is not a folder\n"
    done = jobtui("--config", str(config), "download", "bsub.io", "../x", "no/x", cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr == "jobtui: cannot write no/x: folder no does not exist\n"
    assert new_paths(tmp_path, before) == set()


async def test_the_save_dialog_offers_a_clean_name_inside_the_folder(
    hostile_bsub: HostileBsub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = places(tmp_path)
    monkeypatch.chdir(folder)  # the dialog offers the current folder
    before = tree(tmp_path)
    running, state = hostile_bsub.running, hostile_bsub.state
    service = BsubService("bsub", running.url, state.token)
    app = JobtuiApp([service], refresh=60, clock=fixed_clock)
    async with app.run_test(size=SIZE) as pilot:
        bsub = Bsub(running, state, service, app, pilot)
        await bsub.until(lambda: bsub.table.row_count == len(state.jobs), "the first poll")
        for job_id, name in hostile_bsub.ids.items():
            await bsub.select(job_id)
            await pilot.press("o")
            dialog = await bsub.screen(SaveFileScreen, "the save dialog")
            field = dialog.query_one("#path", Input)
            assert field.value == str(folder / name)
            await pilot.press("enter")  # one Enter on the name offered
            await bsub.back_on_dashboard()
            assert (folder / name).read_bytes() == OUTPUT
    expected = {rel(folder / name, tmp_path) for name in hostile_bsub.ids.values()}
    assert new_paths(tmp_path, before) == expected


# -- EcoTaxa file names -----------------------------------------------------------------------

NAMES = {
    "nul": ("ab\x00cd.tsv", "ab_cd.tsv"),
    "long": ("n" * 300 + ".tsv", "n" * 251 + ".tsv"),
    "newline": ("two\nlines.tsv", "two_lines.tsv"),
    "escape": ("\x1b]0;owned\x07\x1b[2Jname.tsv", "]0;owned__[2Jname.tsv"),
    "bidi": ("report\u202evst.exe", "report_vst.exe"),
    "path": ("../../up.tsv", "up.tsv"),
}


@dataclass
class Export:
    running: RunningEmulator
    state: EcoTaxaState
    job: int
    data: bytes


def export_named(emulator: EmulatorFactory, name: str) -> Export:
    """A frozen EcoTaxa emulator whose newest finished summary export is called `name`."""
    running = emulator("ecotaxa", seed=1, speed=0, jobs=40, file_size=50_000)
    state = running.state
    assert isinstance(state, EcoTaxaState)
    sim = seeded(state, "F", "SummaryExport")
    sim.result["out_file"] = name
    _, data = state.file_of(sim)
    return Export(running, state, sim.id, data)


@pytest.fixture
async def clients() -> AsyncIterator[list[EcoTaxaClient]]:
    items: list[EcoTaxaClient] = []
    yield items
    for client in items:
        await client.aclose()


def client_of(export: Export, clients: list[EcoTaxaClient]) -> EcoTaxaClient:
    username, password = credentials(export.running)
    client = EcoTaxaClient(
        export.running.url, service="EcoTaxa", username=username, password=password
    )
    clients.append(client)
    return client


@pytest.mark.parametrize("case", sorted(NAMES))
async def test_a_content_disposition_name_becomes_one_clean_name_in_the_folder(
    emulator: EmulatorFactory, clients: list[EcoTaxaClient], tmp_path: Path, case: str
) -> None:
    sent, expected = NAMES[case]
    export = export_named(emulator, sent)
    folder = tmp_path / "a" / "dl"
    folder.mkdir(parents=True)
    before = tree(tmp_path)
    saved = await client_of(export, clients).download_file(export.job, folder)
    assert saved == folder / expected and clean(saved.name)
    assert len(os.fsencode(saved.name)) <= 255
    assert saved.read_bytes() == export.data
    assert new_paths(tmp_path, before) == {rel(saved, tmp_path)}


@pytest.mark.parametrize("case", ["nul", "long", "escape"])
def test_jobtui_download_of_a_hostile_export_name_is_saved_or_one_line(
    emulator: EmulatorFactory, tmp_path: Path, case: str
) -> None:
    sent, expected = NAMES[case]
    export = export_named(emulator, sent)
    config = write_config(tmp_path / "config.toml", [export.running])
    folder = tmp_path / "dl"
    folder.mkdir()
    before = tree(tmp_path)
    done = jobtui(
        "--config", str(config), "download", "EcoTaxa", str(export.job), str(folder), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and len(done.stdout.splitlines()) == 1 and clean(done.stdout[:-1])
    assert (folder / expected).read_bytes() == export.data
    assert new_paths(tmp_path, before) == {f"dl/{expected}"}


# -- links planted at the partial file --------------------------------------------------------


async def test_a_link_planted_at_the_part_file_is_not_followed(
    emulator: EmulatorFactory, clients: list[EcoTaxaClient], tmp_path: Path
) -> None:
    export = export_named(emulator, "summary.tsv")
    client = client_of(export, clients)
    folder = tmp_path / "dl"
    folder.mkdir()
    victim = tmp_path / "precious"
    victim.write_bytes(b"precious data\n")
    victim.chmod(0o640)
    target = folder / "summary.tsv"
    part = folder / "summary.tsv.part"
    part.symlink_to(victim)
    before = tree(tmp_path)
    with pytest.raises(LocalFileError) as refused:
        await client.download_file(export.job, target)
    assert refused.value.path == part
    assert refused.value.line.endswith("summary.tsv.part: it is a symbolic link (not followed)")
    assert victim.read_bytes() == b"precious data\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o640
    assert export.state.ranges == []  # nothing was asked from the size of the link's target
    # A dangling link: nothing is created where it points.
    part.unlink()
    part.symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(LocalFileError):
        await client.download_file(export.job, target)
    assert new_paths(tmp_path, before) == set()
    # The link removed, the download works; a link at the final name is replaced, not
    # written through.
    part.unlink()
    target.symlink_to(victim)
    saved = await client.download_file(export.job, target, overwrite=True)
    assert saved.read_bytes() == export.data and not saved.is_symlink()
    assert victim.read_bytes() == b"precious data\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
async def test_a_part_file_of_another_user_is_not_resumed(
    emulator: EmulatorFactory, clients: list[EcoTaxaClient], tmp_path: Path
) -> None:
    export = export_named(emulator, "summary.tsv")
    folder = tmp_path / "dl"
    folder.mkdir()
    part = folder / "summary.tsv.part"
    part.write_bytes(b"planted")
    os.chown(part, 4242, 4242)
    with pytest.raises(LocalFileError) as refused:
        await client_of(export, clients).download_file(export.job, folder / "summary.tsv")
    assert refused.value.reason == "it belongs to another user (not resumed)"
    assert part.read_bytes() == b"planted" and export.state.ranges == []


# -- --write-config at a link -----------------------------------------------------------------


def test_write_config_refuses_a_link_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.toml"
    victim.write_text("# mine\n")
    victim.chmod(0o644)
    link = tmp_path / "demo.toml"
    link.symlink_to(victim)
    done = jobtui("emulate", "--services", "bsub", "--write-config", str(link), cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr == (
        f"jobtui: --write-config {link}: it is a symbolic link (not followed; give the file "
        "itself)\n"
    )
    assert victim.read_text() == "# mine\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    # The writer itself (config init --force too) refuses it, the dangling kind as well.
    with pytest.raises(OSError, match="symbolic link"):
        write_config_file(link, "a = 1\n", overwrite=True)
    assert victim.read_text() == "# mine\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "nowhere.toml")
    for overwrite in (False, True):
        with pytest.raises(OSError, match="symbolic link"):
            write_config_file(dangling, "a = 1\n", overwrite=overwrite)
    assert not (tmp_path / "nowhere.toml").exists()
    done = jobtui("config", "init", "--force", str(link), cwd=tmp_path)
    assert done.returncode == 1 and "symbolic link" in done.stderr
    assert victim.read_text() == "# mine\n"
