"""The dsp-ingest rules for names: project shortcodes, and the relative paths and file types the
bulk upload stores. Checked locally, so that nothing the server would refuse is sent."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from jobtui.core.errors import InputError
from jobtui.core.format import shown_value
from jobtui.core.paths import normalize_parts

STILL_IMAGE_EXTENSIONS = frozenset({"jp2", "jpeg", "jpg", "jpx", "png", "tif", "tiff"})
SUPPORTED_EXTENSIONS = STILL_IMAGE_EXTENSIONS | frozenset(
    {
        *("mp4",),
        *("mp3", "mpeg", "wav"),
        *("7z", "gz", "gzip", "tar", "tgz", "z", "zip"),
        *("doc", "docx", "epub", "pdf", "ppt", "pptx"),
        *("csv", "xls", "xlsx"),
        *("htm", "html", "json", "odd", "rng", "txt", "xml", "xsd", "xsl"),
        *("svg",),
    }
)
"""File types the bulk ingest takes (case-insensitive). `svg` is new in dsp-api's ingest; an older
dsp-ingest refuses it per file (400), which the upload reports."""

_NAME_PUNCTUATION = frozenset("_- .,'`+=!<>|()[]{}")
SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")
"""A project shortcode: 4 hex digits, either case."""


def validate_shortcode(text: str) -> str:
    """A project shortcode as the server wants it: exactly 4 hex digits, upper-cased."""
    value = text.strip()
    if not SHORTCODE.fullmatch(value):
        raise InputError(
            "shortcode",
            f"{shown_value(value)} is not a project shortcode (4 hex digits, like 0803)",
        )
    return value.upper()


def name_problem(rel: str) -> str | None:
    """Why the service would refuse to store a file at the relative path `rel`, or None.

    The rules of the bulk upload: the normalized path must not start with `..` nor be empty; its
    last element, in NFC form, must carry no path information, have a supported extension and use
    only letters, digits and ``_- .,'`+=!<>|()[]{}``. Folder names are not checked.
    """
    parts = normalize_parts(rel.split("/"))
    if "/".join(parts).startswith(".."):
        return "cannot traverse out of the upload directory (the path starts with ..)"
    if not parts:
        return "the path is empty"
    name = unicodedata.normalize("NFC", parts[-1])
    if name in (".", ".."):
        return "the file name must not contain path information"
    _, dot, ext = name.rpartition(".")
    if not dot or not ext:
        return "the file name has no extension (the service needs one to know the file type)"
    if ext.lower() not in SUPPORTED_EXTENSIONS:
        return f"'.{ext}' is not a file type the service ingests"
    bad = sorted(
        {c for c in name if c not in _NAME_PUNCTUATION and unicodedata.category(c)[0] not in "LN"}
    )
    if bad:
        shown = " ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:8])
        return f"the file name contains characters the service refuses: {shown}"
    return None


def is_hidden(rel: str) -> bool:
    """A file whose own name starts with `.`: the upload takes it, the ingest skips it."""
    return rel.rsplit("/", 1)[-1].startswith(".")


@dataclass(frozen=True, slots=True)
class RejectedFile:
    """A file that will not be sent, and why."""

    rel: str
    reason: str


def check_names(rels: Iterable[str], *, skip_hidden: bool = True) -> list[RejectedFile]:
    """The relative paths among `rels` that must not be uploaded, each with its reason (in the
    order given). Hidden files are rejected too unless `skip_hidden` is False: the service would
    store them but its ingest skips them, so they would never get a mapping."""
    rejected: list[RejectedFile] = []
    for rel in rels:
        problem = name_problem(rel)
        if problem is None and skip_hidden and is_hidden(rel):
            problem = "hidden file: the ingest skips it"
        if problem is not None:
            rejected.append(RejectedFile(rel, problem))
    return rejected
