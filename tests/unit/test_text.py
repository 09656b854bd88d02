"""`jobtui.core.text`: the one cleaner of server text, its JSON pre-check and the safe JSON output."""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from jobtui.core.text import BIDI, clean, clean_lines, clean_tree, json_text, suspect

HOSTILE = (
    "\x1b[2J",  # clear the screen
    "\x1b]0;owned\x07",  # window title
    "\x1b]52;c;aGVsbG8=\x07",  # clipboard
    "\x1b[6n",  # ask the terminal to answer
    "\x9b2J",  # C1 CSI
    "\x9d0;t\x9c",  # C1 OSC ... ST
    "abc\u202edcba",  # right-to-left override
    "\x00\x7f\r\x08",
)


def unsafe(text: str) -> set[str]:
    """The characters of `text` a terminal or a reader could be fooled by."""
    return {
        char for char in text if unicodedata.category(char) in ("Cc", "Cs") or ord(char) in BIDI
    }


def test_hostile_sequences_lose_every_control_and_show_a_stand_in() -> None:
    assert clean("\x1b[2J") == "␛[2J"
    assert clean("\x1b]0;owned\x07") == "␛]0;owned␇"
    assert clean("\x9b2J") == "\ufffd2J"
    assert clean("abc\u202edcba") == "abc\ufffddcba"
    assert clean("a\nb\tc\r") == "a␊b␉c␍"
    assert clean("\x7f") == "␡"
    for text in HOSTILE:
        assert not unsafe(clean(text)), repr(text)


def test_lines_keep_newlines_and_tabs_and_drop_carriage_returns() -> None:
    assert clean("one\r\ntwo\tthree\x1b[2J", lines=True) == "one\ntwo\tthree␛[2J"
    assert clean_lines("a\x9bb\n") == "a\ufffdb\n"


def test_printable_text_is_returned_as_it_is() -> None:
    text = "job 42 · done — ünïcode 日本 [bold]x[/]"
    assert clean(text) is text


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
@settings(max_examples=500, derandomize=True)
def test_no_cleaned_character_is_a_control_or_bidi_character(text: str) -> None:
    one_line = clean(text)
    assert not unsafe(one_line)
    assert unsafe(clean(text, lines=True)) <= {"\n", "\t"}
    assert len(one_line) == len(text)  # one stand-in per character: nothing hides by vanishing


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
@settings(max_examples=300, derandomize=True)
def test_suspect_is_never_wrong_about_a_body_that_needs_cleaning(document: object) -> None:
    for body in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
        encoded = body.encode("utf-8", "surrogatepass")
        decoded = json.loads(body)
        if clean_tree(decoded) != decoded:
            assert suspect(encoded), body


def test_suspect_lets_an_ordinary_body_through() -> None:
    body = json.dumps(
        {"id": "job-1", "state": "running", "msg": "Ünïcode 日本 ok"}, ensure_ascii=False
    )
    assert not suspect(body.encode())
    assert suspect(b'{"id": "\\u001b[2J"}')
    assert suspect('{"id": "\u202e"}'.encode())
    assert suspect('{"id": "\x9b"}'.encode())


def test_clean_tree_cleans_keys_and_values_and_keeps_lines_where_asked() -> None:
    tree = {"id\x1b": "a\nb", "errors": ["Traceback\n  line\x1b[2J"], "n": 3, "x": None}
    assert clean_tree(tree, lines={"errors"}) == {
        "id␛": "a␊b",
        "errors": ["Traceback\n  line␛[2J"],
        "n": 3,
        "x": None,
    }


def test_json_text_escapes_c1_bidi_and_del_and_stays_the_same_json() -> None:
    value = {"id": "a\x9b2J\u202e\x7f\u2028é", "\x1b": 1}
    text = json_text(value, indent=2)
    assert json.loads(text) == value
    assert not unsafe(text.replace("\n", ""))
    assert "\\u009b" in text and "\\u202e" in text and "\\u007f" in text and "é" in text
