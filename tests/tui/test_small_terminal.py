"""The dashboard in an 80x24 (or 120x40) terminal: the key bar keeps the keys that matter and
never cuts one in half; dialogs and the filter line show their own keys.

Pilot against two seeded bsub.io emulators (see two_services.py), resized as a terminal is.
"""

from __future__ import annotations

from functools import partial

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.state_filter import StateFilterScreen
from jobtui.tui.screens.dashboard import ALL_PANE, pane_id
from jobtui.tui.widgets.key_bar import PALETTE_SEPARATOR, KeyBar
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded
from tests.tui.two_services import Two, two_services


def painted(display: str, description: str) -> str:
    """A key as the bar paints it: ` key description `."""
    return f" {display} {description} " if description else f" {display} "


def bottom_bar(two: Two) -> KeyBar:
    """The key bar on the terminal's last line, whichever screen painted it."""
    width, height = two.app.size
    widget, _ = two.app.screen.get_widget_at(width // 2, height - 1)
    assert isinstance(widget, KeyBar), f"{widget!r} on the last line"
    return widget


def is_shown(two: Two, pane: str) -> bool:
    return two.active() == pane


def whole_keys_only(bar: KeyBar) -> str:
    """The bar's line with every key of its screen painted whole taken out (the keys read from
    the screen's bindings, not from the bar): what is left must be blank and the palette's
    separator, else a key was cut."""
    rest = bar.render().plain
    app, screen = bar.app, bar.screen
    texts = [
        painted(app.get_key_display(binding), binding.description)
        for _node, binding, _enabled, _tooltip in screen.active_bindings.values()
        if binding.show or binding.key == app.COMMAND_PALETTE_BINDING
    ]
    for text in sorted(set(texts), key=len, reverse=True):
        rest = rest.replace(text, " ", 1).replace(PALETTE_SEPARATOR + text.lstrip(" "), " ", 1)
    return rest.strip(" ")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_key_bar_keeps_quit_help_filter_and_the_palette_and_cuts_no_key(
    emulator: EmulatorFactory, size: tuple[int, int]
) -> None:
    async with two_services(emulator) as two:
        await two.pilot.resize_terminal(*size)
        bar = two.dashboard.query_one(KeyBar)
        for pane, key in ((ALL_PANE, "0"), (pane_id(0), "1"), (pane_id(1), "2")):
            await two.pilot.press(key)
            await two.until(partial(is_shown, two, pane), pane)
            await two.until(lambda: bar.size.width == size[0], "the bar's new width")
            await two.pilot.pause()
            line = bar.render().plain
            assert len(line) == size[0]
            for wanted in (
                " / Filter ",
                " ? Help ",
                " q Quit ",
                f"{PALETTE_SEPARATOR}^p Commands ",
            ):
                assert wanted in line, (pane, line)
            assert whole_keys_only(bar) == "", (pane, line)
            # The job's actions come first, as many as fit: the first one at least.
            assert line.startswith(" n New job ") or line.startswith(" r Refresh "), line
        # `?` still lists every key, shown in the bar or not.
        await two.pilot.press("question_mark")
        help_screen = await two.screen(HelpScreen, "the help")
        described = {line.description for line in help_screen.lines}
        assert {"Filter", "Help", "Quit", "Delete", "Save output", "Refresh", "Pause"} <= described


async def test_at_80_columns_the_actions_come_before_refresh_and_pause(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        await two.pilot.resize_terminal(80, 24)
        await two.pilot.press("1")
        await two.until(lambda: two.active() == pane_id(0), "bsub-a")
        bar = two.dashboard.query_one(KeyBar)
        await two.until(lambda: bar.size.width == 80, "the bar's new width")
        await two.pilot.pause()
        assert [key.description for key in bar.keys][:4] == [
            "New job",
            "Submit",
            "Cancel",
            "Delete",
        ]
        assert [key.description for key in bar.keys][-2:] == ["Refresh", "Pause"]
        line = bar.render().plain
        assert line.startswith(" n New job  s Submit  c Cancel  d Delete ")
        assert line.endswith(" / Filter  ? Help  q Quit ▏^p Commands ")


async def test_the_filter_line_shows_the_keys_that_work_there(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await two.pilot.resize_terminal(80, 24)
        bar = two.dashboard.query_one(KeyBar)
        await two.pilot.press("slash")
        field = two.bar().query_one(Input)
        await two.until(lambda: field.has_focus, "the filter line")
        await two.until(lambda: any(k.description == "Keep filter" for k in bar.keys), "its keys")
        line = bar.render().plain
        assert " ⏎ Keep filter " in line and " esc Clear filter " in line
        assert "Quit" not in line  # q is typed into the filter there
        assert whole_keys_only(bar) == ""

        # And they do what they say: enter keeps the filter, escape clears it.
        await two.pilot.press(*"fin", "enter")
        await two.until(lambda: two.table().has_focus, "back on the table")
        assert two.bar().text == "fin" and two.table().row_count < two.table().total_count
        await two.until(lambda: any(k.description == "Delete" for k in bar.keys), "the table's")
        await two.pilot.press("slash")
        await two.until(lambda: field.has_focus, "the filter line again")
        await two.pilot.press("escape")
        await two.until(lambda: two.table().has_focus, "back on the table")
        assert two.bar().text == "" and two.table().row_count == two.table().total_count


async def test_dialogs_show_their_own_keys_over_the_dashboards(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await two.pilot.resize_terminal(80, 24)
        await two.pilot.press("1")
        await two.until(lambda: two.active() == pane_id(0), "bsub-a")
        job = seeded(two.states["bsub-a"], "processing")
        assert two.table().move_cursor(job.id)
        tab = two.tab("bsub-a")
        await two.until(lambda: tab.table.cursor_job is not None, "the cursor")

        await two.pilot.press("c")
        confirm = await two.screen(ConfirmScreen, "the confirmation")
        await two.until(lambda: bool(bottom_bar(two).keys), "the dialog's keys")
        bar = bottom_bar(two)
        assert bar.screen is confirm
        line = bar.render().plain
        assert " y Yes " in line and " n No " in line, line
        assert not any(word in line for word in ("Quit", "Filter", "Commands", "Cancel"))
        await two.pilot.press("n")
        await two.back_on_dashboard()
        assert bottom_bar(two).screen is two.dashboard

        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the state chooser")
        await two.until(lambda: bool(bottom_bar(two).keys), "the chooser's keys")
        assert bottom_bar(two).render().plain.startswith(" esc Keep as it is ")
        await two.pilot.press("escape")
        await two.back_on_dashboard()

        await two.pilot.press("colon")
        await two.screen(CommandPalette, "the palette")
        await two.until(lambda: bool(bottom_bar(two).keys), "the palette's keys")
        line = bottom_bar(two).render().plain
        assert line.startswith(" esc Exit the command palette ") and "Quit" not in line, line
        await two.pilot.press("escape")
        await two.back_on_dashboard()
