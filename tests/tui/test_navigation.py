"""Finding one's way: the `/` filter, the state chooser, keyboard sorting, the command palette,
the `?` help and rebound keys; Pilot against two seeded bsub.io emulators whose ids collide."""

from __future__ import annotations

import re

from rich.cells import cell_len
from textual import events
from textual.binding import Binding
from textual.command import CommandInput, CommandList, CommandPalette, SearchIcon
from textual.keys import _character_to_key
from textual.widgets import Input, TabbedContent, TabPane

from jobtui.config import KEY_ACTIONS, config_from_data
from jobtui.core.models import Action, JobState
from jobtui.tui.app import JobtuiApp, build_app
from jobtui.tui.modals.confirm import ConfirmScreen
from jobtui.tui.modals.help import HelpScreen
from jobtui.tui.modals.state_filter import StateFilterScreen
from jobtui.tui.screens.dashboard import ALL_PANE, DashboardScreen, pane_id
from jobtui.tui.widgets.all_jobs import AllJobsTab
from jobtui.tui.widgets.job_table import JobTable, row_key_of
from jobtui.tui.widgets.service_tab import ACTION_KEYS, ServiceTab
from tests.conftest import EmulatorFactory
from tests.services.bsub_support import seeded
from tests.tui.two_services import Two, two_services


def rows(table: JobTable) -> list[tuple[str, str]]:
    return [table.job_at(i).key for i in range(table.row_count)]


def burst(two: Two, keys: str) -> None:
    """Send these keys at once, as a terminal delivers a paste or fast typing: none is handled
    before the next arrives (`pilot.press` waits for each)."""
    driver = two.app._driver
    assert driver is not None
    for char in keys:
        key = char if char.isalnum() else _character_to_key(char)
        event = events.Key(key, char)
        event.set_sender(two.app)
        driver.send_message(event)


async def open_filter(two: Two) -> Input:
    await two.pilot.press("slash")
    field = two.bar().query_one(Input)
    await two.until(lambda: field.has_focus, "the filter line")
    return field


# -- the / filter -------------------------------------------------------------------------------


async def test_slash_filters_live_by_regex(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        field = await open_filter(two)
        assert two.bar().has_class("-active")
        await two.pilot.press(*"^fin")
        await two.until(lambda: field.value == "^fin", "the typed filter")
        shown = rows(table)
        assert shown, "the seed has finished jobs"
        assert all(table.job_at(i).raw_state == "finished" for i in range(table.row_count))
        finished = sum(
            1 for s in two.states.values() for j in s.jobs.values() if j.status == "finished"
        )
        assert len(shown) == finished
        assert f"{finished} of 24 jobs" in str(two.bar().query_one(".note").render())


async def test_a_leading_bang_inverts_the_filter(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await open_filter(two)
        await two.pilot.press(*"!^fin")
        await two.until(lambda: two.bar().text == "!^fin", "the typed filter")
        assert table.row_count > 0
        assert all(table.job_at(i).raw_state != "finished" for i in range(table.row_count))


async def test_keys_typed_at_once_with_the_slash_go_into_the_filter(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        burst(two, "/!^fin")
        await two.until(lambda: two.bar().text == "!^fin", "the filter typed at once")
        assert table.row_count > 0
        assert all(table.job_at(i).raw_state != "finished" for i in range(table.row_count))
        burst(two, "/x")  # in the filter line, `/` is a character of the pattern
        await two.until(lambda: two.bar().text == "!^fin/x", "a slash in the pattern")


async def test_a_bad_regex_says_so_and_keeps_the_last_filter(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await open_filter(two)
        await two.pilot.press(*"fail")
        await two.until(lambda: two.bar().text == "fail", "the filter")
        count = table.row_count
        await two.pilot.press("(")
        note = two.bar().query_one(".note")
        await two.until(lambda: note.has_class("-error"), "the error")
        assert "not a regular expression" in str(note.render())
        assert table.row_count == count
        await two.pilot.press("backspace")
        await two.until(lambda: not note.has_class("-error"), "the error gone")


async def test_enter_keeps_the_filter_escape_clears_it(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await open_filter(two)
        await two.pilot.press(*"fail", "enter")
        await two.until(lambda: table.has_focus, "back to the table")
        kept = table.row_count
        assert 0 < kept < 24
        assert two.bar().has_class("-active")  # the filter stays in view while it is on
        await open_filter(two)
        await two.pilot.press("escape")
        await two.until(lambda: table.has_focus and table.row_count == 24, "the filter cleared")
        assert not two.bar().has_class("-active")
        assert two.bar().text == ""


async def test_escape_on_the_table_clears_every_filter(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await open_filter(two)
        await two.pilot.press(*"fail", "enter")
        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the chooser")
        await two.pilot.press("c")
        await two.until(lambda: 0 < table.row_count < 24 and table.has_focus, "both filters")
        await two.pilot.press("escape")
        await two.until(lambda: table.row_count == 24, "no filter")
        assert two.bar().states is None and two.bar().text == ""
        assert not two.bar().has_class("-active")


async def test_an_empty_filter_line_goes_when_it_loses_the_focus(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        await open_filter(two)
        assert two.bar().has_class("-active")
        two.all_table.focus()
        await two.until(lambda: not two.bar().has_class("-active"), "the line hidden")


async def test_the_filter_keeps_the_cursor_on_its_job(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        job = seeded(two.states["bsub-b"], "failed", cancelled=False)
        assert table.move_cursor(row_key_of("bsub-b", job.id))
        await open_filter(two)
        await two.pilot.press(*"fail")
        await two.until(lambda: two.bar().text == "fail", "the filter")
        assert table.cursor_job is not None and table.cursor_job.key == ("bsub-b", job.id)
        await two.pilot.press("escape")
        await two.until(lambda: table.row_count == 24, "the filter cleared")
        assert table.cursor_job is not None and table.cursor_job.key == ("bsub-b", job.id)


async def test_each_tab_has_its_own_filter(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await open_filter(two)
        await two.pilot.press(*"fail", "enter")
        await two.until(lambda: two.all_table.row_count < 24, "the filter")
        await two.pilot.press("1")
        await two.until(lambda: two.table() is two.tab("bsub-a").table, "tab 1")
        assert two.table().row_count == 12
        assert not two.bar().has_class("-active")


async def test_a_stale_focus_report_does_not_switch_back(emulator: EmulatorFactory) -> None:
    # A pane reports that something in it got focus by a message, handled later: a number key
    # pressed at start-up, before the All jobs table's report, was undone by that report.
    async with two_services(emulator) as two:
        await two.pilot.press("1")
        await two.until(lambda: two.table() is two.tab("bsub-a").table, "tab 1")
        all_pane = two.dashboard.query_one(f"#{ALL_PANE}", TabPane)
        all_pane.post_message(TabPane.Focused(all_pane))  # as sent when All jobs had the focus
        await two.pilot.pause()
        await two.pilot.pause()
        assert two.active() == pane_id(0)
        assert two.tab("bsub-a").table.has_focus
        # A report made while the focus is in its pane still shows that pane, as in Textual.
        two.all_table.focus()
        await two.until(lambda: two.active() == ALL_PANE, "All jobs shown for its focus")


async def test_a_focus_report_older_than_a_switch_does_not_undo_it(
    emulator: EmulatorFactory,
) -> None:
    # The report of All jobs' focus, made before a switch and handled right after it, while the
    # focus is still on the All jobs table (the switch moves the focus by a message of its own).
    async with two_services(emulator) as two:
        tabs = two.dashboard.query_one(TabbedContent)
        await two.until(lambda: two.all_table.has_focus, "All jobs focused")
        all_pane = two.dashboard.query_one(f"#{ALL_PANE}", TabPane)
        report = TabPane.Focused(all_pane)
        tabs.post_message(report)  # queued before the switch's own messages
        two.dashboard.show_pane(pane_id(0))
        await two.until(lambda: two.tab("bsub-a").table.has_focus, "tab 1 focused")
        await two.pilot.pause()
        assert two.active() == pane_id(0)


# -- state filter -------------------------------------------------------------------------------


async def test_the_state_chooser_shows_one_state_then_all(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the chooser")
        await two.pilot.press("r")
        await two.back_on_dashboard()
        await two.until(lambda: 0 < table.row_count < 24, "running jobs only")
        states = {table.job_at(i).state for i in range(table.row_count)}
        assert states == {JobState.RUNNING}
        expected = sum(
            1
            for s in two.states.values()
            for j in s.jobs.values()
            if j.status in ("claimed", "preparing", "processing")
        )
        assert table.row_count == expected
        assert "state: running" in str(two.bar().query_one(".note").render())
        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the chooser")
        await two.pilot.press("a")
        await two.until(lambda: table.row_count == 24, "every state")
        assert not two.bar().has_class("-active")


async def test_escape_in_the_chooser_keeps_the_state_filter(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the chooser")
        await two.pilot.press("f")
        await two.until(lambda: table.row_count < 24, "failed jobs only")
        count = table.row_count
        await two.pilot.press("S")
        await two.screen(StateFilterScreen, "the chooser")
        await two.pilot.press("escape")
        await two.back_on_dashboard()
        assert table.row_count == count


# -- sorting ------------------------------------------------------------------------------------


async def test_angle_brackets_choose_the_sort_column_and_I_reverses(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        job = seeded(two.states["bsub-a"], "processing")
        assert table.move_cursor(row_key_of("bsub-a", job.id))
        assert table.sort_column == "created"
        await two.pilot.press("greater_than_sign")
        assert table.sort_column == "service"
        await two.pilot.press("greater_than_sign")
        assert table.sort_column == "id"
        await two.pilot.press("less_than_sign", "less_than_sign")
        assert table.sort_column == "created"
        await two.pilot.press("less_than_sign")
        assert table.sort_column == "message"
        await two.pilot.press("less_than_sign", "less_than_sign")  # updated, then progress
        await two.pilot.press("less_than_sign", "less_than_sign")  # type, then state
        assert table.sort_column == "state"
        reverse = table.sort_reverse
        order = rows(table)
        await two.pilot.press("I")
        assert table.sort_reverse is not reverse
        assert rows(table) == order[::-1]
        assert table.cursor_job is not None and table.cursor_job.key == ("bsub-a", job.id)
        header = table.render_line(0).text
        assert re.search(r"State [▲▼]", header)


async def test_clicking_a_header_sorts_by_it(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        table = two.all_table
        header = table.render_line(0).text
        x = header.index("Type")
        await two.pilot.click(table, offset=(x, 0))
        await two.until(lambda: table.sort_column == "type", "sorted by type")
        types = [table.job_at(i).type for i in range(table.row_count)]
        assert types == sorted(types, key=str.lower)
        await two.pilot.click(table, offset=(x, 0))
        await two.until(lambda: table.sort_reverse, "reversed")


# -- the command palette ------------------------------------------------------------------------


async def palette(two: Two, key: str, query: str) -> CommandPalette:
    await two.pilot.press(key)
    screen = await two.screen(CommandPalette, "the palette")
    await two.pilot.press(*query)
    hits = screen.query_one(CommandList)
    await two.until(lambda: hits.option_count > 0, f"hits for {query!r}")
    return screen


async def test_the_palette_jumps_to_a_job_in_its_service_tab(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-b"], "failed", cancelled=False)
        screen = await palette(two, "ctrl+p", job.id[:13])
        hits = screen.query_one(CommandList)
        texts = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        assert sum(f"Job {job.id}" in t for t in texts) == 2  # one per service
        index = next(i for i, t in enumerate(texts) if f"Job {job.id}" in t and "bsub-b" in t)
        hits.highlighted = index
        await two.pilot.press("enter")
        await two.back_on_dashboard()
        await two.until(lambda: two.active() == pane_id(1), "tab bsub-b")
        cursor = two.tab("bsub-b").table.cursor_job
        assert cursor is not None and cursor.key == ("bsub-b", job.id)


async def test_the_palette_icon_takes_its_glyphs_width(emulator: EmulatorFactory) -> None:
    """No width is assumed for the search icon: a 1-cell glyph (jobtui's `>`) takes one cell,
    an emoji the cells it measures (2, as Textual counts)."""
    async with two_services(emulator) as two:
        screen = await palette(two, "ctrl+p", "go")
        icon = screen.query_one(SearchIcon)
        assert icon.size.width == cell_len(str(icon.icon)) == 1
        icon.icon = "🔎"
        icon.refresh(layout=True)
        await two.until(lambda: icon.size.width == 2, "a 2-cell icon")
        icon.icon = ">"
        icon.refresh(layout=True)
        await two.until(lambda: icon.size.width == 1, "a 1-cell icon")
        field = screen.query_one(CommandInput)
        assert field.region.x == icon.region.right  # the query starts right after it


async def test_colon_opens_the_palette_and_goes_to_a_tab(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await palette(two, "colon", "go to bsub-a")
        await two.pilot.press("enter")
        await two.back_on_dashboard()
        await two.until(lambda: two.active() == pane_id(0), "tab bsub-a")
        await palette(two, "colon", "go to all jobs")
        await two.pilot.press("enter")
        await two.until(lambda: two.active() == ALL_PANE, "All jobs")


async def test_keys_typed_at_once_with_the_colon_go_into_the_palette(
    emulator: EmulatorFactory,
) -> None:
    async with two_services(emulator) as two:
        burst(two, ":go to bsub-b")
        await two.until(lambda: isinstance(two.app.screen, CommandPalette), "the palette")
        field = two.app.screen.query_one(Input)
        await two.until(lambda: field.value == "go to bsub-b", "the query typed at once")
        await two.pilot.press("enter")
        await two.back_on_dashboard()
        await two.until(lambda: two.active() == pane_id(1), "tab bsub-b")


async def test_the_palette_runs_an_action_on_the_selected_job(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-b"], "processing")
        assert two.all_table.move_cursor(row_key_of("bsub-b", job.id))
        await palette(two, "colon", f"cancel {job.id[:8]}")
        await two.pilot.press("enter")
        confirm = await two.screen(ConfirmScreen, "the confirmation")
        assert confirm.title_text == "Cancel · bsub-b"
        await two.pilot.press("y")
        await two.until(lambda: two.states["bsub-b"].jobs[job.id].cancelled, "the cancel")
        assert not two.states["bsub-a"].jobs[job.id].cancelled


async def test_the_palette_filters_by_state(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        await palette(two, "colon", "show only failed")
        await two.pilot.press("enter")
        await two.back_on_dashboard()
        table = two.all_table
        await two.until(lambda: 0 < table.row_count < 24, "failed jobs only")
        assert {table.job_at(i).state for i in range(table.row_count)} == {JobState.FAILED}


# -- help ---------------------------------------------------------------------------------------


async def test_help_lists_every_active_key_of_the_screen(emulator: EmulatorFactory) -> None:
    async with two_services(emulator) as two:
        job = seeded(two.states["bsub-a"], "processing")
        assert two.all_table.move_cursor(row_key_of("bsub-a", job.id))
        await two.pilot.pause()
        active = two.dashboard.active_bindings
        await two.pilot.press("question_mark")
        screen = await two.screen(HelpScreen, "the help")
        keys = {line.key for line in screen.lines}
        assert keys == {two.app.get_key_display(b.binding) for b in active.values()}
        described = {(line.key, line.description) for line in screen.lines}
        assert {("/", "Filter"), ("c", "Cancel"), (">", "Sort by next column")} <= described
        assert ("?", "Help") in described
        await two.pilot.press("escape")
        await two.back_on_dashboard()


async def test_help_follows_the_rebound_keys(emulator: EmulatorFactory) -> None:
    async with two_services(emulator, keys={"cancel": "x", "filter": "f3"}) as two:
        await two.pilot.press("question_mark")
        screen = await two.screen(HelpScreen, "the help")
        described = {(line.key, line.description) for line in screen.lines}
        assert ("x", "Cancel") in described and ("f3", "Filter") in described
        assert all(line.key != "c" for line in screen.lines)


# -- rebound keys -------------------------------------------------------------------------------


async def test_keys_from_the_config_replace_the_defaults(emulator: EmulatorFactory) -> None:
    async with two_services(emulator, keys={"cancel": "x", "filter": "f3"}) as two:
        job = seeded(two.states["bsub-a"], "processing")
        assert two.all_table.move_cursor(row_key_of("bsub-a", job.id))
        await two.pilot.press("c")
        await two.pilot.pause()
        assert two.app.screen is two.dashboard
        await two.pilot.press("x")
        await two.screen(ConfirmScreen, "the confirmation on x")
        await two.pilot.press("n")
        await two.back_on_dashboard()
        await two.pilot.press("f3")
        field = two.bar().query_one(Input)
        await two.until(lambda: field.has_focus, "the filter on f3")


def test_build_app_takes_the_keys_table() -> None:
    config = config_from_data({"keys": {"help": "f1", "cancel": "x"}})
    app = build_app(config)
    assert app.keys == {"help": "f1", "cancel": "x"}


def test_every_rebindable_name_is_a_binding_id_with_its_default_key() -> None:
    """The `[keys]` names (config.py, free of Textual) and the bindings' ids do not drift apart."""
    declared = [
        *JobtuiApp.BINDINGS,
        *DashboardScreen.BINDINGS,
        *JobTable.BINDINGS,
        *AllJobsTab.BINDINGS,
        *ServiceTab.BINDINGS,
    ]
    ids = {b.id: b.key for b in declared if isinstance(b, Binding) and b.id}
    ids.pop("palette")  # ctrl+p on the app and `:` on the dashboard
    ids |= {action.value: key for action, key in ACTION_KEYS.items()}
    assert set(ids) | {"palette"} == set(KEY_ACTIONS)
    for name, key in ids.items():
        default = KEY_ACTIONS[name][0]
        assert key == (_character_to_key(default) if len(default) == 1 else default), name
    assert {a.value for a in Action} <= set(KEY_ACTIONS)


async def test_switching_tabs_on_a_dashboard_of_no_service_does_nothing() -> None:
    app = JobtuiApp([])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("]", "[")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, DashboardScreen)
