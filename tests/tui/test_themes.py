"""Themes: `T` chooses one (shown at once, kept on enter, saved in the config file with its
comments; escape goes back), the 16-colour jobtui-ansi theme, and saving round-trips through the
config loader."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from rich.color import ColorType
from textual.widgets import OptionList

from jobtui.config import load_config, save_theme, starter_config_text, with_theme
from jobtui.tui.app import JobtuiApp
from jobtui.tui.modals.theme import ThemeScreen
from jobtui.tui.themes import ANSI_THEME, theme_choices
from tests.conftest import EmulatorFactory
from tests.tui.live_support import live_app


def colours_beyond_ansi(app: JobtuiApp) -> set[str]:
    """Every colour on screen that is not one of the 16 ANSI colours (or the default)."""
    found: set[str] = set()
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            style = segment.style
            if style is None:
                continue
            for colour in (style.color, style.bgcolor):
                if colour is not None and colour.type not in (
                    ColorType.DEFAULT,
                    ColorType.STANDARD,
                ):
                    found.add(colour.name)
    return found


# -- saving ---------------------------------------------------------------------------------------


def test_with_theme_replaces_the_line_and_keeps_every_comment() -> None:
    text = starter_config_text()
    new = with_theme(text, "nord")
    old_lines, new_lines = text.splitlines(), new.splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [('theme = "textual-dark"', 'theme = "nord"')]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# mine\n[ui]\nrefresh = 1.0\n", '# mine\n[ui]\ntheme = "nord"\nrefresh = 1.0\n'),
        ("# no ui table\n", '# no ui table\n\n[ui]\ntheme = "nord"\n'),
        ("", '[ui]\ntheme = "nord"\n'),
        ('[ui]\ntheme = "gruvbox"  # a comment', '[ui]\ntheme = "nord"\n'),
        # An inline table cannot take a line: the file is written again (comments lost).
        ("ui = { refresh = 1.0 } # gone\n", '[ui]\nrefresh = 1.0\ntheme = "nord"\n'),
    ],
)
def test_with_theme_in_other_shapes_of_file(text: str, expected: str) -> None:
    assert with_theme(text, "nord") == expected


def test_save_theme_round_trips_through_the_loader_keeping_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(starter_config_text())
    path.chmod(0o600)
    assert save_theme(path, ANSI_THEME) == path
    assert load_config(path).ui.theme == ANSI_THEME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file left
    save_theme(path, "nord")
    assert load_config(path).ui.theme == "nord"
    assert path.read_text() == with_theme(starter_config_text(), "nord")


def test_theme_choices_put_jobtuis_own_first() -> None:
    assert theme_choices(["nord", ANSI_THEME, "dracula"], "gruvbox") == [
        ANSI_THEME,
        "dracula",
        "gruvbox",
        "nord",
    ]


# -- the chooser ----------------------------------------------------------------------------------


async def test_t_previews_themes_escape_goes_back_enter_saves(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(starter_config_text())
    before = path.read_text()
    async with live_app(emulator, config_path=path) as live:
        app = live.app
        assert app.theme == "textual-dark"
        await live.pilot.press("T")
        await live.until(lambda: isinstance(app.screen, ThemeScreen), "the chooser")
        options = app.screen.query_one(OptionList)
        highlighted = options.highlighted
        assert highlighted is not None
        assert str(options.get_option_at_index(highlighted).prompt) == "textual-dark"
        await live.pilot.press("down")
        await live.until(lambda: app.theme == "textual-light", "the theme shown once it rests")
        await live.pilot.press("escape")
        await live.until(lambda: not isinstance(app.screen, ThemeScreen), "the chooser to close")
        assert app.theme == "textual-dark"
        assert path.read_text() == before

        await live.pilot.press("T")
        await live.until(lambda: isinstance(app.screen, ThemeScreen), "the chooser")
        await live.pilot.press("home", "enter")
        await live.until(lambda: any("saved in" in m for _, m in live.toasts()), "saved")
        assert app.theme == ANSI_THEME
        assert load_config(path).ui.theme == ANSI_THEME
        assert path.read_text() == with_theme(before, ANSI_THEME)


async def test_without_a_config_file_the_theme_is_for_the_session(
    emulator: EmulatorFactory,
) -> None:
    async with live_app(emulator) as live:
        await live.pilot.press("T")
        await live.until(lambda: isinstance(live.app.screen, ThemeScreen), "the chooser")
        assert "not saved: there is no config file" in str(
            live.app.screen.query_one(".dialog-hint").render()
        )
        await live.pilot.press("home", "enter")
        await live.until(lambda: bool(live.toasts()), "the note")
        assert live.toasts()[-1][1] == (
            f"theme {ANSI_THEME} for this session (no config file to save it in)"
        )


async def test_a_file_that_cannot_be_written_is_one_line(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "gone"
    async with live_app(emulator, config_path=folder / "config.toml") as live:
        await live.pilot.press("T")
        await live.until(lambda: isinstance(live.app.screen, ThemeScreen), "the chooser")
        await live.pilot.press("home", "enter")
        await live.until(lambda: bool(live.toasts()), "the error")
        assert live.toasts()[-1][1] == (
            f"{folder / 'config.toml'}: cannot save the theme: No such file or directory"
        )
        assert live.app.is_running


# -- 16 colours -----------------------------------------------------------------------------------


async def test_jobtui_ansi_draws_with_the_16_ansi_colours_only(emulator: EmulatorFactory) -> None:
    async with live_app(emulator) as live:
        assert colours_beyond_ansi(live.app)  # the default theme has true colours
        live.app.theme = ANSI_THEME
        await live.pilot.pause()
        assert colours_beyond_ansi(live.app) == set()
        await live.pilot.press("p")  # the paused status line
        await live.pilot.pause()
        assert colours_beyond_ansi(live.app) == set()
        live.states[0].faults.fail_status = 500  # the stale status line
        await live.pilot.press("r")
        await live.until(lambda: not live.tab().health.ok, "a failed poll")
        await live.pilot.pause()
        assert colours_beyond_ansi(live.app) == set()
        await live.pilot.press("T")  # a dialog over the dashboard
        await live.until(lambda: isinstance(live.app.screen, ThemeScreen), "the chooser")
        await live.pilot.pause()
        assert colours_beyond_ansi(live.app) == set()


async def test_moving_through_themes_shows_only_the_one_the_highlight_rests_on(
    emulator: EmulatorFactory,
) -> None:
    """A held `↓` passes themes without restyling the dashboard for each (each restyle took
    100 to 700 ms, and the keys queued behind them); the theme it rests on is shown."""
    async with live_app(emulator) as live:
        app = live.app
        shown: list[str] = []
        app.theme_changed_signal.subscribe(app, lambda theme: shown.append(theme.name))
        await live.pilot.press("T")
        await live.until(lambda: isinstance(app.screen, ThemeScreen), "the chooser")
        screen = app.screen
        assert isinstance(screen, ThemeScreen)
        # The highlight rests for as long as the test takes, however slow the machine.
        screen.preview_delay = 3600.0
        await live.pilot.press("home", *["down"] * 5)
        wanted = screen.names[5]
        assert screen.wanted == wanted
        assert app.theme == "textual-dark" and shown == []  # nothing restyled on the way
        screen.show_wanted()
        await live.until(lambda: app.theme == wanted, "the theme the highlight rests on")
        await live.until(lambda: shown == [wanted], "one restyle")
        await live.pilot.press("escape")
        await live.until(lambda: app.theme == "textual-dark", "the theme from before")
