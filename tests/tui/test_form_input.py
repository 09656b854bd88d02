"""Bad input in every form ends as one message in the form naming the field, and nothing is sent.

Each test drives the real app (Pilot) against a real emulator over loopback HTTP, types mistakes
into one dialog and checks, after each: the dialog is still open, what was typed is still there,
the message names the field, and the emulator saw no request at all (its per-operation counts
are the same as before the first mistake).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Button, Input, Label, ProgressBar, Static, TabbedContent, TextArea

from jobtui.core.format import shown_path
from jobtui.tui.dsp_ingest.mapping import MappingScreen
from jobtui.tui.dsp_ingest.upload import UploadScreen
from jobtui.tui.leia.filters import LeiaFilterScreen
from jobtui.tui.modals.save_file import SaveFileScreen
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import seeded as seeded_ecotaxa
from tests.tui.test_bsub_tui import (
    bsub_app,
    choose_type,
    finished_text_job,
    names_in,
    open_new_job,
)
from tests.tui.test_dsp_ingest_tui import ingest_app, make_folder, plain
from tests.tui.test_ecotaxa_tui import ecotaxa_app, field
from tests.tui.test_leia_tui import classified, leia_app, open_conditional

TOO_LONG = "x" * 5000
"""A file name longer than any file system takes (the OS refuses it: ENAMETOOLONG)."""


def message(screen: Screen[Any]) -> str:
    return plain(screen.query_one("#message", Label)).strip()


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_text("not a folder")
    return path


def a_fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def unreadable_file(tmp_path: Path) -> Path:
    """A regular file that opening for reading refuses, even for root; or a skip saying why."""
    if os.geteuid() != 0:
        path = tmp_path / "secret.bin"
        path.write_bytes(b"x")
        path.chmod(0)
        return path
    # root reads any mode-000 file; a write-only sysfs attribute refuses a read even to root
    for candidate in (
        "/sys/bus/pci/rescan",
        "/sys/kernel/uevent_helper",
        "/sys/power/wakeup_count",
    ):
        path = Path(candidate)
        if not path.is_file():
            continue
        try:
            with path.open("rb"):
                continue
        except PermissionError:
            return path
        except OSError:
            continue
    pytest.skip("running as root, and no write-only file on this machine refuses a read")


# -- bsub.io new job ----------------------------------------------------------------------------


async def test_bsub_new_job_refuses_every_bad_file_in_the_form(
    emulator: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plain_file = a_file(tmp_path)
    cases = [
        ("", "file: choose a file to upload"),
        ("   ", "file: choose a file to upload"),
        ("nothing-here.pdf", "file: nothing-here.pdf does not exist"),
        (str(tmp_path), f"file: {shown_path(tmp_path)} is not a file"),
        (str(a_fifo(tmp_path)), f"file: {shown_path(tmp_path / 'pipe')} is not a file"),
        (
            f"{plain_file}/inner.pdf",
            f"file: {shown_path(f'{plain_file}/inner.pdf')} does not exist",
        ),
        (TOO_LONG, "cannot be read: File name too long"),
        ("in\x00put.pdf", "file: a path cannot hold a NUL character"),
    ]
    async with bsub_app(emulator, jobs=10) as bsub:
        screen = await open_new_job(bsub)
        before = Counter(bsub.state.counts)
        assert sum(before.values()) > 0  # the emulator counts what it was sent
        box = screen.query_one("#file", Input)
        await choose_type(bsub, screen, "sha", "sha256")
        for typed, expected in cases:
            box.value = typed
            box.focus()
            await bsub.pilot.press("enter")
            await bsub.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert message(screen).startswith("file: ")
            assert "\n" not in message(screen) and len(message(screen)) < 200
            assert bsub.app.screen is screen and box.value == typed
            assert not screen.query_one("#progress", ProgressBar).display
            assert not screen.query_one("#create", Button).disabled
            assert bsub.state.counts == before, f"sent: {bsub.state.counts - before}"
        assert bsub.app.is_running


async def test_bsub_new_job_without_a_type_sends_nothing(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    source = a_file(tmp_path)
    async with bsub_app(emulator, jobs=10) as bsub:
        screen = await open_new_job(bsub)
        before = Counter(bsub.state.counts)
        box = screen.query_one("#file", Input)
        box.value = str(source)  # a good file: only the type is missing
        await bsub.pilot.press("ctrl+s")
        await bsub.until(lambda: message(screen) == "type: choose a processing type", "error")
        assert bsub.app.screen is screen and box.value == str(source)
        assert bsub.state.counts == before


async def test_bsub_new_job_refuses_an_unreadable_file(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    locked = unreadable_file(tmp_path)
    async with bsub_app(emulator, jobs=10) as bsub:
        screen = await open_new_job(bsub)
        await choose_type(bsub, screen, "sha", "sha256")
        before = Counter(bsub.state.counts)
        box = screen.query_one("#file", Input)
        box.value = str(locked)
        box.focus()
        await bsub.pilot.press("enter")
        expected = f"file: {shown_path(locked)} cannot be read: Permission denied"
        await bsub.until(lambda: message(screen) == expected, "the error")
        assert bsub.app.screen is screen and box.value == str(locked)
        assert bsub.state.counts == before


# -- save output --------------------------------------------------------------------------------


async def test_save_output_refuses_bad_paths_and_never_overwrites_unasked(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    plain_file = a_file(tmp_path)
    cases = [
        ("", "file: give a file path"),
        (str(tmp_path), f"file: {shown_path(tmp_path)} is a folder: give a file name"),
        (
            str(tmp_path / "no" / "out.txt"),
            f"file: folder {shown_path(tmp_path / 'no')} does not exist",
        ),
        (f"{plain_file}/out.txt", f"file: folder {shown_path(plain_file)} is not a folder"),
        (str(tmp_path / TOO_LONG), "file: cannot use …"),
        ("out\x00.txt", "file: a path cannot hold a NUL character"),
    ]
    async with bsub_app(emulator) as bsub:
        job = finished_text_job(bsub.state)
        await bsub.select(job.id)
        before = Counter(bsub.state.counts)
        await bsub.pilot.press("o")
        screen = await bsub.screen(SaveFileScreen, "the save dialog")
        box = screen.query_one("#path", Input)
        for typed, expected in cases:
            box.value = typed
            box.focus()
            await bsub.pilot.press("enter")
            await bsub.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert "\n" not in message(screen) and len(message(screen)) < 200
            assert bsub.app.screen is screen and box.value == typed
            assert bsub.state.counts == before, f"sent: {bsub.state.counts - before}"

        box.value = str(plain_file)  # an existing file: asked first, kept as it was
        await bsub.pilot.press("enter")
        await bsub.until(lambda: "plain.txt exists: press Save again" in message(screen), "ask")
        assert plain_file.read_text() == "not a folder"
        assert bsub.state.counts == before
        await bsub.pilot.press("escape")
        await bsub.back_on_dashboard()
        assert plain_file.read_text() == "not a folder"
        assert bsub.state.counts == before
        assert names_in(tmp_path) == ["plain.txt"]  # nothing written


# -- EcoTaxa answer -----------------------------------------------------------------------------


async def test_ecotaxa_answer_refuses_ids_that_are_not_ids(emulator: EmulatorFactory) -> None:
    async with ecotaxa_app(emulator) as eco:
        sim = seeded_ecotaxa(eco.state, "A", "FileImport")
        taxon = sim.missing_taxa[0]
        await eco.select(sim.id)
        form = await eco.open_form()
        before = Counter(eco.state.counts)
        box = field(form, "taxa", taxon)
        label = f"taxon {taxon!r}"
        cases = [
            ("   ", "give the id of at least one name"),
            ("abc", f"{label}: 'abc' is not a whole number"),
            ("12.5", f"{label}: '12.5' is not a whole number"),
            ("-7", f"{label}: '-7' is not a whole number"),
            ("0", f"{label}: must be a positive number"),
            ("2147483648", f"{label}: is too large (ids go up to 2147483647)"),
            ("9" * 5000, f"{label}: is too large"),
            ("٣", f"{label}: '٣' is not a whole number"),
        ]
        for typed, expected in cases:
            box.value = typed
            await eco.pilot.press("ctrl+s")
            await eco.until(lambda e=expected: e in message(form), f"the message {expected!r}")  # type: ignore[misc]
            assert eco.app.screen is form and box.value == typed
            assert not form.query_one("#send", Button).disabled
            assert eco.state.counts == before, f"sent: {eco.state.counts - before}"
        box.value = "2147483647"  # the largest id is taken: the check is not too strict
        await eco.pilot.press("ctrl+s")
        await eco.until(lambda: eco.app.screen is not form, "the form to close")
        assert eco.state.counts["reply_job_question"] == 1


# -- Leia conditional job -----------------------------------------------------------------------


JSON_CASES = [
    ("", "rules: is empty"),
    ('{"rules": {"r": ', "rules: not valid JSON: Expecting value at line 1"),
    ("[1, 2]", "rules: must be a JSON object"),
    ('{"rules": []}', "rules: needs at least one rule"),
    ('{"r": 5}', "rules: rule 'r' must be an object with conditions and jobs"),
    (
        '{"r": {"conditions": {"score": {"$like": 1}}, "jobs": []}}',
        "rules: rule 'r': unknown operator '$like' on 'score'",
    ),
    ('{"r": {"conditions": {}}}', "rules: rule 'r': jobs must be a non-empty list"),
    (
        '{"r": {"jobs": [{"job_type": "apply_model", "document_ids": ["d"]}]}}',
        "model_id is required for apply_model",
    ),
    ("[" * 100_000, "rules: not valid JSON: nested too deeply"),
    ('{"r": {"conditions": {"n": ' + "7" * 5000 + "}}}", "rules: not valid JSON: Exceeds"),
    ('{"r": {"conditions": {"n": 1e999}}}', "rules: not valid JSON: the number 1e999"),
    ('{"r": {"conditions": {"n": NaN}}}', "rules: not valid JSON: NaN is not a JSON value"),
]


async def test_leia_conditional_json_mistakes_are_named_and_nothing_is_sent(
    emulator: EmulatorFactory,
) -> None:
    async with leia_app(emulator) as leia:
        screen = await open_conditional(leia, classified(leia.state))
        before = Counter(leia.state.counts)
        await leia.pilot.press("ctrl+t")
        await leia.until(
            lambda: screen.query_one("#mode", TabbedContent).active == "json-pane", "the JSON tab"
        )
        area = screen.query_one("#json", TextArea)
        for typed, expected in JSON_CASES:
            area.load_text(typed)
            await leia.pilot.press("ctrl+s")
            await leia.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert "\n" not in message(screen)
            assert leia.app.screen is screen and area.text == typed
            assert area.has_focus
            assert not screen.query_one("#create", Button).disabled
            assert leia.state.counts == before, f"sent: {leia.state.counts - before}"
        assert leia.app.is_running


async def test_leia_conditional_form_mistakes_are_named_and_nothing_is_sent(
    emulator: EmulatorFactory,
) -> None:
    async with leia_app(emulator) as leia:
        screen = await open_conditional(leia, classified(leia.state))
        before = Counter(leia.state.counts)
        good = {"#value": "invoice", "#model-id": "m1", "#rule-id": "r1", "#field": "category"}
        cases = [
            ("#rule-id", "  ", "rule_id: a rule id is required"),
            ("#field", "", "field: the result field to test is required"),
            ("#value", "", "value: a value is required"),
            ("#value", "1e999", "value: the number 1e999 is out of range"),
            ("#model-id", "", "model_id: a model id or short name is required"),
            ("#document-ids", " , ", "document_ids: at least one document id is required"),
        ]
        for selector, typed, expected in cases:
            for other, value in good.items():
                screen.query_one(other, Input).value = value
            box = screen.query_one(selector, Input)
            box.value = typed
            await leia.pilot.press("ctrl+s")
            await leia.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert leia.app.screen is screen and box.value == typed
            assert box.has_focus  # the focus goes to the field named
            assert leia.state.counts == before, f"sent: {leia.state.counts - before}"


# -- Leia filters -------------------------------------------------------------------------------


async def test_leia_filters_mistakes_are_named_and_nothing_is_sent(
    emulator: EmulatorFactory,
) -> None:
    async with leia_app(emulator) as leia:
        before_filters = leia.service.filters
        await leia.pilot.press("f")
        await leia.until(lambda: isinstance(leia.app.screen, LeiaFilterScreen), "the dialog")
        screen = leia.app.screen
        assert isinstance(screen, LeiaFilterScreen)
        before = Counter(leia.state.counts)
        cases = [
            ("#f-created-after", "2026-13-45", "created_after: not a date-time"),
            ("#f-created-before", "soon", "created_before: not a date-time"),
            (
                "#f-created-after",
                "9" * 5000,
                "created_after: not a date-time: '99999999999999999999…'",
            ),
        ]
        for selector, typed, expected in cases:
            for other in ("#f-created-after", "#f-created-before"):
                screen.query_one(other, Input).value = ""
            box = screen.query_one(selector, Input)
            box.value = typed
            box.focus()
            await leia.pilot.press("enter")
            await leia.until(lambda e=expected: message(screen).startswith(e), repr(expected))  # type: ignore[misc]
            assert "\n" not in message(screen) and len(message(screen)) < 200
            assert leia.app.screen is screen and box.value == typed and box.has_focus
            assert leia.state.counts == before, f"sent: {leia.state.counts - before}"
        await leia.pilot.press("escape")
        await leia.until(lambda: not isinstance(leia.app.screen, LeiaFilterScreen), "close")
        assert leia.service.filters == before_filters
        assert leia.state.counts == before


# -- dsp-ingest upload --------------------------------------------------------------------------


async def test_dsp_upload_refuses_bad_shortcodes_and_folders(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    good = make_folder(tmp_path, count=2)
    plain_file = a_file(tmp_path)
    cases = [
        ("", str(good), "shortcode: '' is not a project shortcode"),
        ("08031", str(good), "shortcode: '08031' is not a project shortcode"),
        ("zz-9", str(good), "shortcode: 'zz-9' is not a project shortcode"),
        ("0803", "", "folder: give the path of a local folder"),
        (
            "0803",
            str(tmp_path / "missing"),
            f"folder: {shown_path(tmp_path / 'missing')} is not a folder",
        ),
        ("0803", str(plain_file), f"folder: {shown_path(plain_file)} is not a folder"),
        (
            "0803",
            f"{plain_file}/scans",
            f"folder: {shown_path(f'{plain_file}/scans')} is not a folder",
        ),
        ("0803", str(a_fifo(tmp_path)), "is not a folder"),
        ("0803", str(tmp_path / TOO_LONG), "folder: "),
    ]
    async with ingest_app(emulator) as ingest:
        await ingest.pilot.press("U")  # the dialog for any project's shortcode
        await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the dialog")
        screen = ingest.upload_screen()
        before = Counter(ingest.state.counts)
        code_box = screen.query_one("#shortcode", Input)
        folder_box = screen.query_one("#folder", Input)
        for code, folder, expected in cases:
            code_box.value, folder_box.value = code, folder
            await ingest.until(lambda: not message(screen), "the last message to go")
            await ingest.click("#check")
            await ingest.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert "\n" not in message(screen) and len(message(screen)) < 200
            assert ingest.app.screen is screen
            assert (code_box.value, folder_box.value) == (code, folder)
            assert screen.plan is None and screen.query_one("#upload", Button).disabled
            assert ingest.state.counts == before, f"sent: {ingest.state.counts - before}"
        assert ingest.app.is_running


async def test_dsp_upload_of_an_empty_folder_offers_nothing_to_send(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    (empty / "inner").mkdir(parents=True)  # only a folder inside: still no file
    async with ingest_app(emulator) as ingest:
        await ingest.pilot.press("U")
        await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "the dialog")
        screen = ingest.upload_screen()
        before = Counter(ingest.state.counts)
        screen.query_one("#shortcode", Input).value = "0803"
        screen.query_one("#folder", Input).value = str(empty)
        await ingest.click("#check")
        await ingest.until(lambda: screen.plan is not None, "the check")
        assert "Nothing to upload" in plain(screen.query_one("#plan", Static))
        upload = screen.query_one("#upload", Button)
        assert upload.disabled
        await ingest.pilot.click("#upload")  # a disabled button: nothing happens
        await ingest.pilot.pause()
        assert ingest.app.screen is screen and not screen.uploading
        assert ingest.state.counts == before


async def test_dsp_upload_of_an_unreadable_folder_is_named(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: every folder can be read, and no other way makes one not")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "img.jpg").write_bytes(b"x")
    locked.chmod(0)
    try:
        async with ingest_app(emulator) as ingest:
            await ingest.pilot.press("U")
            await ingest.until(lambda: isinstance(ingest.app.screen, UploadScreen), "dialog")
            screen = ingest.upload_screen()
            before = Counter(ingest.state.counts)
            screen.query_one("#shortcode", Input).value = "0803"
            screen.query_one("#folder", Input).value = str(locked)
            await ingest.click("#check")
            await ingest.until(lambda: "cannot read" in message(screen), "the error")
            assert message(screen).startswith("folder: ")
            assert screen.plan is None and ingest.state.counts == before
    finally:
        locked.chmod(0o700)


async def test_dsp_mapping_save_refuses_bad_paths_and_sends_nothing(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    plain_file = a_file(tmp_path)
    cases = [
        ("", "file: give a file path"),
        (str(tmp_path), f"file: {shown_path(tmp_path)} is a folder: give a file name"),
        (f"{plain_file}/m.csv", f"file: folder {shown_path(plain_file)} is not a folder"),
        (str(tmp_path / TOO_LONG), "file: cannot use …"),
    ]
    async with ingest_app(emulator) as ingest:
        await ingest.select(ingest.state.roles["mapped"])
        await ingest.pilot.press("m")
        await ingest.until(lambda: isinstance(ingest.app.screen, MappingScreen), "the mapping")
        mapping = ingest.app.screen
        assert isinstance(mapping, MappingScreen)
        screen: Screen[Any] = mapping
        await ingest.until(lambda: mapping.rows is not None, "the mapping rows")
        before = Counter(ingest.state.counts)
        box = screen.query_one("#path", Input)
        for typed, expected in cases:
            box.value = typed
            box.focus()
            await ingest.pilot.press("enter")
            await ingest.until(lambda e=expected: e in message(screen), f"the message {expected!r}")  # type: ignore[misc]
            assert ingest.app.screen is screen and box.value == typed
            assert mapping.saved is None
            assert ingest.state.counts == before, f"sent: {ingest.state.counts - before}"
        assert names_in(tmp_path) == ["plain.txt"]
