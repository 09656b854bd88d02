"""The one way in for text from a server: every string a server sends passes `clean` once, where
its answer is parsed, so that nothing above the services ever holds a character that could drive
a terminal or hide what a text says.

`clean` replaces C0 and C1 control characters (ESC among them), DEL, the bidirectional embedding,
override, isolate and mark characters and lone surrogates by visible stand-ins: a C0 control by its
Unicode control picture (ESC shows as ␛, a newline as ␊), DEL by ␡, everything else by U+FFFD.
`clean(text, lines=True)` keeps newlines and tabs (and drops carriage returns) for the texts that
are meant to have several lines: logs, tracebacks, CSV files.

`suspect(body)` says cheaply whether a JSON body might decode to a string that `clean` would
change; `clean_tree` cleans every string (and key) of a decoded JSON document. `json_text` is
`json.dumps` with C1, DEL, bidirectional and line separator characters escaped as well.

Only the standard library: headless commands import this before anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Final

STAND_IN: Final = "\ufffd"
"""What a C1 control, a bidirectional control or a lone surrogate becomes."""

BIDI: Final = (
    *range(0x202A, 0x202F),  # LRE RLE PDF LRO RLO
    *range(0x2066, 0x206A),  # LRI RLI FSI PDI
    0x200E,  # LRM
    0x200F,  # RLM
    0x061C,  # ALM
)
"""The bidirectional formatting characters: each can reorder what follows it on screen."""

_TABLE: dict[int, str] = {
    **{code: chr(0x2400 + code) for code in range(0x20)},  # ␀ … ␟ (ESC: ␛, newline: ␊)
    0x7F: "\u2421",  # ␡
    **dict.fromkeys(range(0x80, 0xA0), STAND_IN),  # C1, CSI (U+009B) and OSC (U+009D) among them
    **dict.fromkeys(BIDI, STAND_IN),
    **dict.fromkeys(range(0xD800, 0xE000), STAND_IN),  # lone surrogates: not even encodable
}
_ONE_LINE: Final = str.maketrans(_TABLE)
_LINES: Final = str.maketrans({**_TABLE, 0x0A: "\n", 0x09: "\t", 0x0D: None})

UNSAFE: Final = frozenset(_TABLE)
"""Every code point `clean` replaces (in one-line mode)."""


def clean(text: str, *, lines: bool = False) -> str:
    """`text` with every control, bidirectional and surrogate character replaced by a stand-in.

    With `lines`, newlines and tabs are kept and carriage returns dropped (a log, a traceback).
    Printable text (nearly all of it) is returned as it is, without a copy.
    """
    if text.isprintable():
        return text
    return text.translate(_LINES if lines else _ONE_LINE)


def clean_lines(text: str) -> str:
    """`clean(text, lines=True)`: a text of several lines."""
    if text.isprintable():
        return text
    return text.translate(_LINES)


_ESCAPED: Final = re.compile(
    rb"\\(?:u(?:00[01][0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F]|200[eEfF]|202[a-eA-E]|206[6-9]"
    rb"|061[cC]|[dD][89a-fA-F][0-9a-fA-F]{2})|[bfnrt])"
)
"""An escaped control, DEL, C1, bidirectional or surrogate character (`\\u001b`, `\\n`...)."""
_RAW: Final = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2(?:\x80[\x8e\x8f\xaa-\xae]|\x81[\xa6-\xa9])|\xd8\x9c"
)
"""A C1 control or a bidirectional character, in UTF-8."""


def suspect(body: bytes) -> bool:
    """Whether a JSON body may hold a string that `clean` would change: an escaped control,
    bidirectional or surrogate character, or a raw DEL, C1 or bidirectional one (a raw C0 control
    is not JSON: no parser accepts it). False means every decoded string is already clean; a true
    answer may be wrong (an escaped backslash before an `n`), which costs only the slower path.

    An ordinary answer (no backslash, no C1 or bidirectional lead byte) costs five `memchr`s."""
    if b"\x7f" in body:
        return True
    if b"\\" in body and _ESCAPED.search(body) is not None:
        return True
    if b"\xc2" in body or b"\xe2" in body or b"\xd8" in body:  # the lead bytes of _RAW
        return _RAW.search(body) is not None
    return False


def clean_tree(value: Any, lines: Collection[str] = ()) -> Any:
    """A decoded JSON document with every string cleaned, keys too; the strings under a key named
    in `lines` (directly or in a list) keep their newlines and tabs."""
    return _clean_tree(value, False, lines)


def _clean_tree(value: Any, keep: bool, lines: Collection[str]) -> Any:
    if isinstance(value, str):
        return clean(value, lines=keep)
    if isinstance(value, dict):
        return {
            clean(key) if isinstance(key, str) else key: _clean_tree(
                item, keep or key in lines, lines
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_clean_tree(item, keep, lines) for item in value]
    return value


_JSON_ESCAPES: Final = str.maketrans(
    {
        code: f"\\u{code:04x}"
        for code in (0x7F, *range(0x80, 0xA0), *BIDI, 0x2028, 0x2029, *range(0xD800, 0xE000))
    }
)


def json_text(value: Any, *, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False)` that also escapes DEL, C1 controls, bidirectional
    and line separator characters and lone surrogates (json.dumps escapes only C0 controls), so
    that the JSON is safe to print on a terminal and reads the same in any editor."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str).translate(
        _JSON_ESCAPES
    )
