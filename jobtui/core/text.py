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

import re
from collections.abc import Collection
from functools import cache
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


@cache
def _table(lines: bool) -> dict[int, str | None]:
    """The translation table of `clean` (built at its first unprintable text: not at import)."""
    table: dict[int, str | None] = {code: chr(0x2400 + code) for code in range(0x20)}  # ␀ … ␟
    table[0x7F] = "\u2421"  # ␡
    table.update(dict.fromkeys(range(0x80, 0xA0), STAND_IN))  # C1: CSI (U+009B), OSC (U+009D)...
    table.update(dict.fromkeys(BIDI, STAND_IN))
    table.update(dict.fromkeys(range(0xD800, 0xE000), STAND_IN))  # lone surrogates
    if lines:
        table.update({0x0A: "\n", 0x09: "\t", 0x0D: None})
    return table


def clean(text: str, *, lines: bool = False) -> str:
    """`text` with every control, bidirectional and surrogate character replaced by a stand-in.

    With `lines`, newlines and tabs are kept and carriage returns dropped (a log, a traceback).
    Printable text (nearly all of it) is returned as it is, without a copy.
    """
    if text.isprintable():
        return text
    return text.translate(_table(lines))


def clean_lines(text: str) -> str:
    """`clean(text, lines=True)`: a text of several lines."""
    if text.isprintable():
        return text
    return text.translate(_table(True))


@cache
def _patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """What `suspect` looks for, compiled at its first answer that holds a backslash or a lead
    byte: an escaped control, DEL, C1, bidirectional or surrogate character (`\\u001b`, `\\n`),
    and a raw C1 or bidirectional character in UTF-8."""
    escaped = re.compile(
        rb"\\(?:u(?:00[01][0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F]|200[eEfF]|202[a-eA-E]"
        rb"|206[6-9]|061[cC]|[dD][89a-fA-F][0-9a-fA-F]{2})|[bfnrt])"
    )
    raw = re.compile(rb"\xc2[\x80-\x9f]|\xe2(?:\x80[\x8e\x8f\xaa-\xae]|\x81[\xa6-\xa9])|\xd8\x9c")
    return escaped, raw


def suspect(body: bytes) -> bool:
    """Whether a JSON body may hold a string that `clean` would change: an escaped control,
    bidirectional or surrogate character, or a raw DEL, C1 or bidirectional one (a raw C0 control
    is not JSON: no parser accepts it). False means every decoded string is already clean; a true
    answer may be wrong (an escaped backslash before an `n`), which costs only the slower path.

    An ordinary answer (no backslash, no C1 or bidirectional lead byte) costs five `memchr`s."""
    if b"\x7f" in body:
        return True
    if b"\\" in body and _patterns()[0].search(body) is not None:
        return True
    if b"\xc2" in body or b"\xe2" in body or b"\xd8" in body:  # the raw ones' lead bytes
        return _patterns()[1].search(body) is not None
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


@cache
def _json_escapes() -> dict[int, str]:
    codes = (0x7F, *range(0x80, 0xA0), *BIDI, 0x2028, 0x2029, *range(0xD800, 0xE000))
    return {code: f"\\u{code:04x}" for code in codes}


def json_text(value: Any, *, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False)` that also escapes DEL, C1 controls, bidirectional
    and line separator characters and lone surrogates (json.dumps escapes only C0 controls), so
    that the JSON is safe to print on a terminal and reads the same in any editor."""
    import json  # here: `jobtui --help` and the dashboard never need it

    return json.dumps(value, ensure_ascii=False, indent=indent, default=str).translate(
        _json_escapes()
    )
