"""`SpanUpdate`: a partial screen update written from where each changed span starts.

The app hands every partial update of Textual's compositor to the terminal as one of these, so
that a repainted cell costs its own bytes, not those of the line left of it.
"""

from __future__ import annotations

from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate


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
