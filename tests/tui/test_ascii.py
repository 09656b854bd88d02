"""ASCII where the terminal's locale is not UTF-8 (`LANG=C`), or with `--ascii` or
`[ui] ascii = true`: every character of every frame, jobtui's and Textual's, is ASCII of the
same width, and the locale is read as Python started under it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot

from jobtui.__main__ import build_parser
from jobtui.config import ConfigError, config_from_data, load_config
from jobtui.services.bsub.service import BsubService
from jobtui.tui.app import JobtuiApp, build_app
from jobtui.tui.glyphs import ascii_text, locale_is_utf8
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.widgets.job_table import JobTable
from jobtui.tui.widgets.service_tab import ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import start, token_of
from tests.tui.live_support import ManualClock, fail_job, running_job, until


def screen_lines(app: JobtuiApp) -> list[str]:
    """The lines of the frame the screen shown renders now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def detect(env: dict[str, str]) -> bool:
    """`locale_is_utf8()` in a fresh Python started under `env`, as a shell would start jobtui."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    result = subprocess.run(
        [sys.executable, "-c", "from jobtui.tui.glyphs import locale_is_utf8 as f; print(f())"],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("env", "utf8"),
    [
        ({"LANG": "C"}, False),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, False),
        ({"LANG": "POSIX"}, False),
        ({}, False),
        ({"LANG": "C.UTF-8"}, True),
        ({"LC_ALL": "C.UTF-8"}, True),
    ],
)
def test_the_locale_is_read_as_python_started_under_it(env: dict[str, str], utf8: bool) -> None:
    """Python hides a C locale (it sets LC_CTYPE=C.UTF-8 for itself): jobtui still sees it."""
    assert detect(env) is utf8


def test_a_locale_of_another_encoding_is_not_utf8() -> None:
    assert not locale_is_utf8({"LANG": "de_DE.ISO-8859-1"}, utf8_mode=False, xoptions={})
    assert not locale_is_utf8({"LC_CTYPE": "en_US"}, utf8_mode=False, xoptions={})
    assert locale_is_utf8({"LC_CTYPE": "en_US.utf8"}, utf8_mode=False, xoptions={})
    # UTF-8 mode asked for is no sign of a C locale.
    assert locale_is_utf8({"LANG": "C.UTF-8", "PYTHONUTF8": "1"}, utf8_mode=True, xoptions={})
    assert not locale_is_utf8({}, utf8_mode=True, xoptions={})


@pytest.mark.parametrize(
    "text",
    [
        "⭘ ⚑ 3 need attention",
        "● live · 40 jobs",
        "╸━━━━━━━━╺━━━",
        "█▀▀▀▀█ ▄▄▄ ▌ ▐X▌ ▔▔▔ ▁▁▁",
        "queued ▁▂▃▄▅▆▇█ 12",
        "sorted ▲ ▼ … → ✓ ✗ ⏸ ⚠ ⏎",
        "🔎 搜索 naïve",
        "┌─┬─┐│├┼┤└┴┘",
    ],
)
def test_ascii_text_keeps_every_width(text: str) -> None:
    converted = ascii_text(text)
    assert converted.isascii()
    assert cell_len(converted) == cell_len(text)


def test_the_glyphs_map_to_their_nearest_ascii() -> None:
    assert ascii_text("⭘ ⚑ ● ▲ …") == "o ! * ^ ~"
    assert ascii_text("▁▂▃▄▅▆▇█") == "_.,-=+*#"
    assert ascii_text("━╸╺─│┼") == "----|+"
    assert ascii_text("▐X▌") == "|X|"


async def frames(emulator: EmulatorFactory, *, ascii: bool) -> tuple[list[str], list[str]]:
    """The dashboard's frame and a dialog's frame, at 80x24, after a poll that failed a job
    (a toast, a mark in the sparklines)."""
    running, state = start(emulator, jobs=12)
    service = BsubService("bsub", running.url, token_of(running))
    app = JobtuiApp([service], refresh=60.0, clock=ManualClock(), ascii=ascii)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.row_count == 12, "the first poll")
        tab = app.screen.query_one(ServiceTab)
        fail_job(state, running_job(state))
        polls = tab.health.polls
        tab.poll_now()
        await until(pilot, lambda: tab.health.polls > polls, "the second poll")
        await until(pilot, lambda: bool(list(app._notifications)), "the toast")
        await pilot.press("space")  # a marked row
        await settle(pilot)
        dashboard = screen_lines(app)
        app.push_screen(ConfirmScreen("Cancel 1 job?", "bsub: a job"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
        await settle(pilot)
        return dashboard, screen_lines(app)


async def settle(pilot: Pilot[int]) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_an_ascii_app_draws_every_frame_in_ascii(emulator: EmulatorFactory) -> None:
    dashboard, dialog = await frames(emulator, ascii=True)
    for line in dashboard + dialog:
        assert line.isascii(), line
    text = "\n".join(dashboard)
    assert "o " in dashboard[0] and "! " in dashboard[0]  # the icon, the attention flag
    assert "* live" in text
    assert "\n".join(dialog).count("#") > 4  # the dialog's thick border


async def test_a_unicode_app_keeps_its_glyphs(emulator: EmulatorFactory) -> None:
    dashboard, _ = await frames(emulator, ascii=False)
    text = "\n".join(dashboard)
    assert "⭘" in text and "● live" in text and "━" in text


def test_ascii_from_the_config_and_the_command_line(tmp_path: Path) -> None:
    entry = {"name": "b", "kind": "bsub", "url": "http://127.0.0.1:1", "token": "t"}
    config = config_from_data({"ui": {"ascii": True}, "services": [entry]})
    assert config.ui.ascii is True
    assert build_app(config).ascii is True
    plain = config_from_data({"services": [entry]})
    assert build_app(plain).ascii is False
    assert build_app(plain, ascii=True).ascii is True

    path = tmp_path / "config.toml"
    path.write_text('[ui]\nascii = "yes"\n')
    with pytest.raises(ConfigError, match=r"ui\.ascii: must be true or false"):
        load_config(path)

    parser = build_parser()
    assert parser.parse_args(["--ascii"]).ascii is True
    assert parser.parse_args(["demo", "--ascii"]).demo_ascii is True
    assert parser.parse_args([]).ascii is False
