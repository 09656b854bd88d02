"""ASCII for terminals whose locale is not UTF-8.

On a bare SSH session with `LANG=C` the terminal shows bytes, not UTF-8: ⭘ ⚑ ● ━ █ ▌, the
sparklines, the box and block characters of Textual's borders, tabs and progress bars all arrive
as garbage. jobtui then draws in ASCII (`--ascii` or `[ui] ascii = true` forces it).

It does so where a frame is made, for the app's widgets and Textual's alike: every line the
screen's compositor renders has each character that is not ASCII replaced by ASCII of the same
width (`ascii_text`): box lines by `-`, `|` and `+`, blocks and sparkline levels by
`_ . , - = + * #`, marks and arrows by their nearest ASCII (● `*`, ▲ `^`, … `~`, → `>`), and
anything else by `?` per cell, so that no column moves. A Unicode app's frames are untouched.
"""

from __future__ import annotations

import locale
import os
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from textual._context import active_app
from textual.strip import Strip

_NAMED = {
    "⭘": "o",
    "⚑": "!",
    "●": "*",
    "○": "o",
    "▲": "^",
    "◷": "s",
    "▼": "v",
    "▶": ">",
    "◀": "<",
    "…": "~",
    "·": ".",
    "→": ">",
    "←": "<",
    "↑": "^",
    "↓": "v",
    "⏎": "<",
    "⏸": "=",
    "⚠": "!",
    "✓": "+",
    "✗": "x",
    "🔎": "> ",
    "▁": "_",
    "▂": ".",
    "▃": ",",
    "▄": "-",
    "▅": "=",
    "▆": "+",
    "▇": "*",
    "█": "#",
    "▀": "-",
    "▔": "-",
    "\u00a0": " ",
}
"""Characters jobtui and Textual draw, and their ASCII (the same width)."""


def _box(char: str) -> str:
    """The ASCII of a box-drawing or block character, by its Unicode name."""
    name = unicodedata.name(char, "")
    if "BLOCK" in name or "SHADE" in name or "QUADRANT" in name:
        if "LEFT" in name or "RIGHT" in name:
            return "|"
        return "#"
    horizontal = "HORIZONTAL" in name or name.endswith((" LEFT", " RIGHT"))
    vertical = "VERTICAL" in name or name.endswith((" UP", " DOWN"))
    if horizontal and not vertical:
        return "-"
    if vertical and not horizontal:
        return "|"
    return "+"


@lru_cache(maxsize=4096)
def _ascii_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if 0x2500 <= ord(char) <= 0x259F:
        return _box(char)
    return "?" * cell_len(char)


def ascii_text(text: str) -> str:
    """`text` with every character that is not ASCII replaced by ASCII of the same width."""
    if text.isascii():
        return text
    return "".join(char if char.isascii() else _ascii_char(char) for char in text)


def ascii_strip(strip: Strip) -> Strip:
    """`strip` in ASCII (the strip itself when it is ASCII already)."""
    segments = list(strip)
    if all(segment.text.isascii() for segment in segments):
        return strip
    return Strip(
        [Segment(ascii_text(text), style, control) for text, style, control in segments],
        strip.cell_length,
    )


def locale_is_utf8(
    environ: Mapping[str, str] | None = None,
    *,
    utf8_mode: bool | None = None,
    xoptions: Mapping[str, object] | None = None,
) -> bool:
    """Whether the terminal's locale encodes UTF-8.

    Python hides a C or POSIX locale: it switches itself to UTF-8 mode then (PEP 540) and sets
    `LC_CTYPE=C.UTF-8` for itself and its children (PEP 538). UTF-8 mode nobody asked for (no
    `PYTHONUTF8`, no `-X utf8`) therefore means the locale was C or POSIX: not UTF-8. Otherwise
    the locale's own encoding tells (`LC_ALL`, else `LC_CTYPE`, else `LANG`).
    """
    environ = os.environ if environ is None else environ
    utf8_mode = bool(sys.flags.utf8_mode) if utf8_mode is None else utf8_mode
    xoptions = sys._xoptions if xoptions is None else xoptions
    if utf8_mode and not environ.get("PYTHONUTF8") and "utf8" not in xoptions:
        return False
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        if value := environ.get(name):
            codeset = value.partition(".")[2].partition("@")[0]
            return codeset.lower().replace("-", "") == "utf8"
    return locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"


def drawing_in_ascii() -> bool:
    """Whether the app drawing now draws in ASCII (its `ascii` attribute)."""
    app: Any = active_app.get(None)
    return getattr(app, "ascii", False) is True


_installed = False


def install_ascii_frames() -> None:
    """Make the compositor of an app that draws in ASCII render ASCII lines (once per process;
    the frames of other apps are left as they are)."""
    global _installed
    if _installed:
        return
    _installed = True
    from textual._compositor import Compositor

    render_chops: Callable[..., Sequence[Mapping[int, Strip | None]]] = Compositor._render_chops

    def _render_chops(
        self: Compositor, crop: Any, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip | None]]:
        chops = render_chops(self, crop, is_rendered_line)
        if not drawing_in_ascii():
            return chops
        return [
            {x: None if strip is None else ascii_strip(strip) for x, strip in chop.items()}
            for chop in chops
        ]

    Compositor._render_chops = _render_chops  # type: ignore[method-assign,assignment]
