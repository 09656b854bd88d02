"""The key bar: what it paints, greyed keys, clicks (the performance side is in
test_perf_mechanisms.py)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from jobtui.tui.widgets.key_bar import KeyBar


class Keys(App[None]):
    BINDINGS = [
        Binding("x", "run('x')", "Run x"),
        Binding("y", "run('y')", "Run y"),
        Binding("z", "run('z')", "Hidden", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []
        self.greyed = {"y"}

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run" and parameters[0] in self.greyed:
            return None
        return True

    def action_run(self, name: str) -> None:
        self.ran.append(name)


async def test_the_bar_paints_shown_keys_greying_disabled_ones_and_a_click_presses_a_key() -> None:
    app = Keys()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(KeyBar)
        await pilot.pause()
        line = bar.render()
        assert line.plain.startswith(" x Run x  y Run y ")
        assert "Hidden" not in line.plain
        assert line.plain.endswith("▏^p palette ") and line.cell_len == 80
        assert [(k.key, k.enabled) for k in bar.keys] == [("x", True), ("y", False)]

        await pilot.click(KeyBar, offset=(2, 0))  # on " x Run x "
        await pilot.click(KeyBar, offset=(11, 0))  # on the greyed " y Run y "
        await pilot.pause()
        assert app.ran == ["x"]

        app.greyed = set()
        app.refresh_bindings()
        for _ in range(100):
            if [k.enabled for k in bar.keys] == [True, True]:
                break
            await pilot.pause()
        assert [k.enabled for k in bar.keys] == [True, True]
        await pilot.click(KeyBar, offset=(11, 0))
        await pilot.pause()
        assert app.ran == ["x", "y"]


async def test_a_narrow_bar_crops_its_keys_and_keeps_the_palette_key() -> None:
    app = Keys()
    async with app.run_test(size=(30, 5)) as pilot:
        bar = app.query_one(KeyBar)
        await pilot.pause()
        line = bar.render()
        assert line.cell_len == 30
        assert line.plain.startswith(" x Run x ")
        assert bar.palette is not None and line.plain.rstrip().endswith(bar.palette.description)


class Pinned(App[None]):
    BINDINGS = [
        Binding("a", "run('a')", "Refresh", id="refresh"),
        Binding("b", "run('b')", "Long action one"),
        Binding("c", "run('c')", "Long action two"),
        Binding("q", "run('q')", "Quit", id="quit"),
        Binding("h", "run('h')", "Help", id="help"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeyBar(pinned=("quit", "help"), last=("refresh",))

    def action_run(self, name: str) -> None:
        pass


@pytest.mark.parametrize(
    ("width", "line"),
    [
        (80, " b Long action one  c Long action two  a Refresh     h Help  q Quit ▏^p palette "),
        (60, " b Long action one               h Help  q Quit ▏^p palette "),
        (50, " b Long action one     h Help  q Quit ▏^p palette "),
        (30, "   h Help  q Quit ▏^p palette "),
        (20, "     h Help  q Quit "),  # the palette's key gives way first
        (10, "   q Quit "),  # then the least important pinned key
    ],
)
async def test_pinned_keys_stay_the_others_fill_the_rest_and_no_key_is_cut(
    width: int, line: str
) -> None:
    app = Pinned()
    async with app.run_test(size=(width, 5)) as pilot:
        bar = app.query_one(KeyBar)
        await pilot.pause()
        assert bar.render().plain == line
