"""Hostile text planted in a bsub.io emulator's jobs: terminal escape sequences, C1 controls, a
bidirectional override and markup, each with a marker so that its raw bytes can be searched for
in what jobtui writes."""

from __future__ import annotations

import re

from jobtui.emulators.bsub.state import BsubState, SimJob

ESCAPES = (
    "\x1b[2JCLEARED"  # CSI 2 J: clear the screen
    " \x1b]0;PWNED-TITLE\x07"  # OSC 0: the window title
    " \x1b]52;c;UFdORUQ=\x07"  # OSC 52: the clipboard
    " \x1b[6nASKED"  # CSI 6 n: the terminal answers with the cursor position
    " \x9b2JC1-CLEARED"  # C1 CSI (U+009B) 2 J
    " \x9d0;C1-TITLE\x9c"  # C1 OSC ... ST
    " \u202eDESREVER"  # right-to-left override
)
"""Every hostile sequence of one field."""

CLEANED_ESCAPES = (
    "␛[2JCLEARED ␛]0;PWNED-TITLE␇ ␛]52;c;UFdORUQ=␇ ␛[6nASKED \ufffd2JC1-CLEARED"
    " \ufffd0;C1-TITLE\ufffd \ufffdDESREVER"
)
"""What `ESCAPES` shows as, once cleaned."""

PLANTED = (
    b"\x1b[2JCLEARED",
    b"\x1b]0;PWNED",
    b"\x1b]52;",
    b"\x1b[6nASKED",
    "\x9b".encode(),
    "\x9d".encode(),
    "\u202e".encode(),
)
"""The raw bytes that must never reach a terminal."""

C1 = re.compile(rb"\xc2[\x80-\x9f]")
"""A C1 control in UTF-8."""
BIDI = re.compile(rb"\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c")
"""A bidirectional formatting character in UTF-8."""

CLICK = "[@click=app.quit]CLICK-ME[/]"
"""Markup that would make a clickable action of a job field."""

LINK = "[link=https://example.invalid/x]LINK-ME[/link]"
BOGUS_ID = "M1 [/bogus] x"
"""A job id that is bad markup: a closing tag that closes nothing."""


def planted_in(raw: bytes) -> list[bytes]:
    """The planted sequences found in `raw` (nothing, when jobtui cleaned them)."""
    found = [sequence for sequence in PLANTED if sequence in raw]
    found += [match.group() for match in C1.finditer(raw)]
    found += [match.group() for match in BIDI.finditer(raw)]
    return found


def rename(state: BsubState, job: SimJob, new_id: str) -> SimJob:
    """Give a job of the emulator another id (as the server would send it)."""
    with state.lock:
        del state.jobs[job.id]
        job.id = new_id
        state.jobs[new_id] = job
        job.stamp += 1
        job.cache = None
    return job


def newest(state: BsubState, job: SimJob) -> SimJob:
    """Make `job` the newest of the emulator's list (the first row of the table)."""
    with state.lock:
        state.order.remove(job)
        state.order.append(job)
        job.created = max(j.created for j in state.order) + 1
        job.stamp += 1
        job.cache = None
    return job


def plant(state: BsubState, job: SimJob, *, claimed_by: str, code: str, message: str) -> SimJob:
    """Fail `job` on the emulator with these worker, error code and error message."""
    with state.lock:
        job.claimed_by = claimed_by
        if job.claimed_at is None:
            job.claimed_at = job.created + 1
        state.fail(job, state.now(), code, message)
        job.cache = None
    return job
