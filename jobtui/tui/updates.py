"""Partial screen updates: `SpanUpdate` writes from where each changed span starts,
`SteadyScrollView` does not repaint scrollbars that did not change, and `SteadyToast` is written
to the terminal once when it is shown, not twice.

The app hands every partial update of Textual's compositor to the terminal as one of these, so
that a repainted cell costs its own bytes, not those of the line left of it.
"""

from __future__ import annotations

from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widgets import _toast


class SpanUpdate(ChopsUpdate):
    """Textual's partial screen update, written only over the spans that changed.

    Textual writes each changed span of a line from the left edge of the widget under it (the
    "chop") to the span's end: a repainted age cell at column 80 of the job table rewrites the
    80 cells left of it, a few hundred bytes with their styles. This writes from the span's
    start, where the cursor is moved first; the cells left of it are on the terminal already.
    """

    @classmethod
    def of(cls, update: ChopsUpdate) -> SpanUpdate:
        return cls(update.chops, update.spans, update.chop_ends)

    def render_segments(self, console: Console) -> str:
        sequences: list[str] = []
        append = sequences.append
        move_to = Control.move_to
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            for end, (x, strip) in zip(self.chop_ends[y], self.chops[y].items(), strict=False):
                if strip is None or x >= x2 or end <= x1:
                    continue
                start, stop = max(x, x1), min(end, x2)
                if start > x or stop < end:
                    strip = strip.crop(start - x, stop - x)
                append(move_to(start, y).segment.text)
                append(strip.render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)


class SteadyScrollView(ScrollView):
    """A `ScrollView` whose scrollbars repaint only when its sizes changed.

    Every layout of the screen (a toast shown or gone, a tab label that grew) tells each widget
    its sizes again. A `ScrollView` that sets its own virtual size (the job table's rows, the
    detail pane's lines) never has the one the layout computed, so Textual took each layout for a
    change and repainted both scrollbars: every line of the table and the detail pane rewritten
    at their right edge, some 2 KB a toast. Here a layout updates the scrollbars only when the
    size or the virtual size differs from those of the last layout that updated them, or the
    styles changed. (A size the widget set itself, as the job table's row count, is updated
    once more by the next layout: recording it there made the detail pane's first scrollbar
    come out stale now and then.)
    """

    _updated_for: tuple[Size, Size] | None = None
    """(size, virtual size) of the last layout that updated the scrollbars."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        sizes = (size, self.virtual_size)
        if sizes == self._updated_for and size == self._size:
            # What Textual's update would return: no resize event (nothing changed).
            return self._container_size != container_size
        resized = super()._size_updated(size, virtual_size, container_size, layout)
        self._updated_for = sizes
        return resized

    def notify_style_update(self) -> None:
        # New styles (a theme, the first styles applied) may change the scrollbars' sizes and
        # whether they show: the next layout updates them whatever the sizes.
        super().notify_style_update()
        self._updated_for = None


class SteadyToast(_toast.Toast):
    """Textual's toast, whose first size lays nothing out again.

    A widget learns its size from a layout of the screen; Textual then sets its virtual size as a
    reactive that asks for another layout and paint. A toast scrolls nothing and its virtual size
    moves nothing else, yet every toast shown was written to the terminal twice. Here the size a
    layout gives a toast is taken as it is.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


def install_steady_toasts() -> None:
    """Make Textual's toast rack show every toast as a `SteadyToast` (it makes its toasts by the
    name `Toast` of its module)."""
    _toast.Toast = SteadyToast  # type: ignore[misc]
