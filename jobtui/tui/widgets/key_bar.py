"""The bar of keys at the bottom of the dashboard: one widget painting one line.

Textual's Footer is a widget per key: whenever the bindings may have changed (every focus
change, every `refresh_bindings()`) it removes and mounts them all, and the whole screen is laid
out again. On a dashboard whose keys follow the job under the cursor, and the tab shown, that was
half of the app's CPU, and each layout held the next key press for 50 to 100 ms. This bar works
out the keys it would show, and when they differ from what it shows it repaints its one line:
no widgets come or go, nothing is laid out.

It reads as Textual's Footer does (the same theme variables; greyed keys dimmed; the command
palette's key on the right), and a click on a key presses it.

A terminal of 80 columns cannot show every key. Some keys are pinned (the dashboard pins quit,
help and filter): they sit on the right, beside the palette's key, and are always shown; the
other keys fill the room left, in order, each one whole or not at all. `?` lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True, slots=True)
class BarKey:
    """One key as the bar shows it."""

    key: str
    """The key pressed when the entry is clicked."""
    display: str
    """How the key is written (`^p`, `⏎`...)."""
    description: str
    enabled: bool

    @property
    def cells(self) -> int:
        """The width painted: ` key description ` (see `KeyBar._append`)."""
        return cell_len(f" {self.display} ") + (
            cell_len(f"{self.description} ") if self.description else 0
        )


PALETTE_SEPARATOR = "▏"


class KeyBar(Widget):
    """The keys of the screen's active bindings, with greyed ones dimmed, on one line.

    `pinned` names binding ids, most important first, that are always shown (on the right, the
    most important last, beside the palette's key); `last` names binding ids that give way to
    every other key. On a line too narrow even for the pinned keys and the palette's, the
    palette's key goes first, then the least important pinned keys.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-bar--key",
        "key-bar--description",
        "key-bar--separator",
    }

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-bar--separator {
            color: $foreground 20%;
        }
    }
    """

    ALLOW_SELECT = False

    def __init__(
        self,
        *,
        show_command_palette: bool = True,
        pinned: Sequence[str] = (),
        last: Sequence[str] = (),
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.show_command_palette = show_command_palette
        self.pinned_ids = tuple(pinned)
        self.last_ids = tuple(last)
        self.keys: tuple[BarKey, ...] = ()
        """The other keys, in the order they fill the left of the line (as many as fit)."""
        self.pinned: tuple[BarKey, ...] = ()
        """The pinned keys found among the bindings, most important first."""
        self.palette: BarKey | None = None
        """The command palette's key, shown on the right."""
        self._spans: list[tuple[int, int, BarKey]] = []
        """Where each key was painted last (start and end cells), for clicks."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        # A dialog's bar may come after its screen's last bindings update: read them once.
        self.call_after_refresh(self.update_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            self.call_after_refresh(self.update_keys)

    def update_keys(self) -> None:
        """Work out the keys to show now; repaint (the line only) when they changed."""
        if not self.is_attached:
            return
        keys, pinned, palette = self._wanted()
        if (keys, pinned, palette) != (self.keys, self.pinned, self.palette):
            self.keys, self.pinned, self.palette = keys, pinned, palette
            self.refresh()

    def _wanted(self) -> tuple[tuple[BarKey, ...], tuple[BarKey, ...], BarKey | None]:
        """The keys Textual's Footer would show (one per action): the others in order, the last
        ones after them; the pinned ones; and the palette's."""
        keys: list[BarKey] = []
        later: list[tuple[int, BarKey]] = []
        pinned: list[tuple[int, BarKey]] = []
        seen: set[str] = set()
        active = self.screen.active_bindings
        for _node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            key = BarKey(binding.key, display, binding.description, enabled)
            if binding.id is not None and binding.id in self.pinned_ids:
                pinned.append((self.pinned_ids.index(binding.id), key))
            elif binding.id is not None and binding.id in self.last_ids:
                later.append((self.last_ids.index(binding.id), key))
            else:
                keys.append(key)
        keys.extend(key for _, key in sorted(later, key=lambda item: item[0]))
        palette: BarKey | None = None
        entry = active.get(self.app.COMMAND_PALETTE_BINDING)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and entry is not None:
            _node, binding, enabled, _tooltip = entry
            display = self.app.get_key_display(binding)
            palette = BarKey(binding.key, display, binding.description, enabled)
        by_rank = tuple(key for _, key in sorted(pinned, key=lambda item: item[0]))
        return tuple(keys), by_rank, palette

    def fitted(self, width: int) -> tuple[list[BarKey], list[BarKey], BarKey | None]:
        """What a line of `width` cells shows, every key whole: the other keys from the left,
        the pinned ones in their painted order, and the palette's key (or None)."""
        room = width
        pinned: list[BarKey] = []
        for key in self.pinned:
            if key.cells <= room:
                pinned.append(key)
                room -= key.cells
        palette = self.palette
        if palette is not None:
            needed = cell_len(PALETTE_SEPARATOR) + palette.cells - 1  # no lead space
            if needed <= room:
                room -= needed
            else:
                palette = None
        left: list[BarKey] = []
        for key in self.keys:
            if key.cells > room:
                break
            left.append(key)
            room -= key.cells
        return left, pinned[::-1], palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        description_style = self.get_component_rich_style("key-bar--description", partial=True)
        dim = Style(dim=True)
        width = self.size.width
        left, pinned, palette = self.fitted(width)
        right = Text()
        right_spans: list[tuple[int, int, BarKey]] = []
        for key in pinned:
            start = right.cell_len
            self._append(right, key, key_style, description_style, dim)
            right_spans.append((start, right.cell_len, key))
        if palette is not None:
            start = right.cell_len
            right.append(PALETTE_SEPARATOR, self.get_component_rich_style("key-bar--separator"))
            # `▏^p Commands `, as Textual's Footer has it
            self._append(right, palette, key_style, description_style, dim, lead="")
            right_spans.append((start, right.cell_len, palette))
        room = max(0, width - right.cell_len)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, BarKey]] = []
        for key in left:
            start = line.cell_len
            self._append(line, key, key_style, description_style, dim)
            spans.append((start, line.cell_len, key))
        line.truncate(room, pad=True)
        spans.extend((room + start, room + end, key) for start, end, key in right_spans)
        line.append_text(right)
        self._spans = spans
        return line

    @staticmethod
    def _append(
        line: Text,
        key: BarKey,
        key_style: Style,
        description_style: Style,
        dim: Style,
        *,
        lead: str = " ",
    ) -> None:
        """Append ` key description ` as Textual's FooterKey paints it."""
        extra = Style() if key.enabled else dim
        line.append(f"{lead}{key.display} ", key_style + extra)
        if key.description:
            line.append(f"{key.description} ", description_style + extra)

    def key_at(self, x: int) -> BarKey | None:
        """The key painted at cell `x`, if any."""
        for start, end, key in self._spans:
            if start <= x < end:
                return key
        return None

    def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x)
        if key is not None and key.enabled:
            event.stop()
            self.app.simulate_key(key.key)
