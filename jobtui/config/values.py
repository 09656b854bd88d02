"""What the config's values may be, without pydantic: secrets given as `env:`/`file:`, URLs, and
the `[keys]` table's action names, key names and conflicts. The models (`jobtui.config.models`)
call these from their validators; the dashboard reads the key tables. Never imports Textual."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

MIN_REFRESH = 0.2
"""The shortest poll interval, in seconds, that the config accepts."""

DEFAULT_THEME = "textual-dark"

ENV_PREFIX = "env:"
FILE_PREFIX = "file:"


class Invalid(ValueError):
    """A value that cannot be used; `str()` says why, never what the value was (it may be a secret)."""


# -- secrets --------------------------------------------------------------------------------------


def is_secret_reference(value: str) -> bool:
    """Whether a secret is given as `env:NAME` or `file:PATH` rather than literally."""
    return value.startswith((ENV_PREFIX, FILE_PREFIX))


def resolve_secret(value: str, base_dir: Path | None = None) -> str:
    """The secret that `value` stands for: itself, an environment variable or a file's contents.

    Raises `Invalid` with a message that names the variable or file, never the secret.
    """
    if value.startswith(ENV_PREFIX):
        name = value.removeprefix(ENV_PREFIX).strip()
        if not name:
            raise Invalid("env: needs a variable name (env:NAME)")
        resolved = os.environ.get(name)
        if resolved is None:
            raise Invalid(f"environment variable {name} is not set")
        if not resolved.strip():
            raise Invalid(f"environment variable {name} is empty")
        return resolved
    if value.startswith(FILE_PREFIX):
        raw = value.removeprefix(FILE_PREFIX).strip()
        if not raw:
            raise Invalid("file: needs a path (file:PATH)")
        path = Path(raw).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise Invalid(f"cannot read secret file {path}: {reason}") from None
        except UnicodeDecodeError:
            raise Invalid(f"secret file {path} is not UTF-8 text") from None
        text = text.strip()
        if not text:
            raise Invalid(f"secret file {path} is empty")
        return text
    if not value.strip():
        raise Invalid("must not be empty")
    return value


# -- keys -----------------------------------------------------------------------------------------

KEY_ACTIONS: Mapping[str, tuple[str, str]] = {
    "quit": ("q", "Quit jobtui."),
    "refresh": ("r", "Poll the tab's service now (while paused: one poll)."),
    "pause": ("p", "Pause polling of the tab (again: resume)."),
    "pause_all": ("P", "Pause polling of every tab (again: resume)."),
    "slower": ("plus,equals_sign", "Poll the tab less often."),
    "faster": ("minus", "Poll the tab more often."),
    "theme": ("T", "Choose a theme (saved in the config file)."),
    "suspend": ("ctrl+z", "Suspend jobtui to the shell (`fg` brings it back)."),
    "all_jobs": ("0", "Show the All jobs tab."),
    "next_tab": ("]", "Show the next tab."),
    "previous_tab": ("[", "Show the previous tab."),
    "filter": ("/", "Filter the table (a regular expression; a leading ! inverts)."),
    "state_filter": ("S", "Show only jobs in one state."),
    "sort_next": (">", "Sort by the next column."),
    "sort_previous": ("<", "Sort by the previous column."),
    "sort_reverse": ("I", "Reverse the sort order."),
    "palette": (":", "Open the command palette (ctrl+p opens it too)."),
    "help": ("?", "List the keys of the screen."),
    "notifications": ("N", "List the notifications of the session, newest first."),
    "statistics": ("G", "Statistics of the jobs that ended, from the journal."),
    "new": ("n", "New job."),
    "submit": ("s", "Submit the job."),
    "start": ("s", "Start the job."),
    "cancel": ("c", "Cancel the job."),
    "delete": ("d", "Delete the job."),
    "restart": ("R", "Restart the job."),
    "answer": ("a", "Answer the job's question."),
    "logs": ("l", "Show the job's log."),
    "download": ("o", "Save the job's output."),
    "conditional": ("k", "New conditional job."),
    "upload": ("u", "Upload a folder."),
    "ingest": ("i", "Start the ingest."),
    "mapping": ("m", "Show the ingest's mapping."),
    "finalize": ("F", "Finalize the ingest."),
}
"""What the `[keys]` table can rebind: action name -> (default key, what it does)."""

_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(
    {
        *("escape", "enter", "tab", "backspace", "delete", "insert", "space"),
        *("home", "end", "pageup", "pagedown", "up", "down", "left", "right"),
        *(f"f{n}" for n in range(1, 25)),
    }
)


_TEXTUAL_KEY_NAMES = frozenset({"slash", "backslash", "at", "minus", "plus", "underscore"})
"""Characters Textual names otherwise than Unicode does (`-` is "minus", not "hyphen-minus")."""


def _is_key(name: str) -> bool:
    """A key as a terminal names it: `x`, `?`, `question_mark`, `ctrl+x`, `shift+f5`..."""
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    *modifiers, base = name.split("+")
    if not base or any(m not in _MODIFIERS for m in modifiers):
        return False
    if len(base) == 1 or base in _NAMED_KEYS:
        return len(base) > 1 or (base.isprintable() and not base.isspace())
    if base in _TEXTUAL_KEY_NAMES:
        return True
    try:
        unicodedata.lookup(base.replace("_", " "))
    except KeyError:
        return False
    return True


def check_action_name(value: str) -> str:
    """`value` if it is an action of `KEY_ACTIONS`; else `Invalid`, with the closest name."""
    if value not in KEY_ACTIONS:
        close = close_matches(value, KEY_ACTIONS)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise Invalid(f"unknown action {value!r}{hint}")
    return value


def check_keys(value: str) -> str:
    """A comma-separated list of keys, each stripped; `Invalid` names the first that is not one."""
    keys = [key.strip() for key in value.split(",")]
    for key in keys:
        if not _is_key(key):
            raise Invalid(f'{key!r} is not a key (e.g. "x", "ctrl+x", "f5", "question_mark")')
    return ",".join(keys)


KIND_KEY_ACTIONS: Mapping[str, frozenset[str]] = {
    "bsub": frozenset({"new", "submit", "cancel", "delete", "logs", "download"}),
    "ecotaxa": frozenset({"answer", "restart", "delete", "logs", "download"}),
    "leia": frozenset({"cancel", "start", "conditional"}),
    "dsp-ingest": frozenset({"upload", "ingest", "mapping", "finalize"}),
}
"""The actions of `KEY_ACTIONS` that only a tab of that kind binds (the All jobs tab routes each
to its job's service, so two kinds may share a key). Every other action is bound on every tab."""

FIXED_KEYS: Mapping[str | None, Mapping[str, str]] = {
    None: {
        **{str(n): f"show tab {n}" for n in range(1, 10)},
        "ctrl+c": "quit",
        "enter": "open the job",
        "escape": "clear the filter",
        "space": "mark the job",
        **dict.fromkeys(("up", "down", "pageup", "pagedown", "home", "end"), "move the cursor"),
        **dict.fromkeys(("shift+up", "shift+down"), "mark jobs"),
    },
    "leia": {"f": "Leia's server-side filters", "backspace": "back"},
    "dsp-ingest": {"U": "upload to any shortcode"},
}
"""Keys that `[keys]` cannot rebind, by the kind of tab that binds them (None: every tab)."""

_KEY_NAME_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}


def key_name(key: str) -> str:
    """A key as Textual names it when it compares keys: `?` -> "question_mark", `+` -> "plus"."""
    *modifiers, base = key.split("+") if len(key) > 1 else [key]
    if len(base) == 1 and not base.isalnum():
        try:
            name = unicodedata.name(base).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            name = base
        base = _KEY_NAME_REPLACEMENTS.get(name, name)
    return "+".join([*modifiers, base])


def _scopes_of(action: str) -> frozenset[str | None]:
    """The kinds of tab whose keys `action` competes with (None: every tab's)."""
    kinds = frozenset(kind for kind, actions in KIND_KEY_ACTIONS.items() if action in actions)
    return kinds or frozenset({None})


def _clash(a: frozenset[str | None], b: frozenset[str | None]) -> bool:
    return None in a or None in b or bool(a & b)


def key_conflicts(keys: Mapping[str, str]) -> dict[str, str]:
    """For each action of `keys` (action -> comma-separated keys, as the `[keys]` table gives
    them) whose key is also that of another action bound at the same time, or a fixed key:
    why, naming the other. Actions left out keep their default key."""
    bound = {action: default for action, (default, _) in KEY_ACTIONS.items()} | dict(keys)
    names = {
        action: [key_name(k.strip()) for k in text.split(",")] for action, text in bound.items()
    }
    conflicts: dict[str, str] = {}
    for action in keys:
        scopes = _scopes_of(action)
        for key, shown in zip(names[action], bound[action].split(","), strict=True):
            for other, other_keys in names.items():
                if other == action or key not in other_keys:
                    continue
                if not _clash(scopes, _scopes_of(other)):
                    continue
                if other in keys and list(keys).index(other) > list(keys).index(action):
                    continue  # the pair is reported once, at the later line
                how = (
                    ""
                    if other in keys
                    else f" by default; rebind {other} too, or choose another key"
                )
                conflicts[action] = f"{shown.strip()!r} is also the key of {other}{how}"
                break
            for kind, fixed in FIXED_KEYS.items():
                what = next((why for k, why in fixed.items() if key_name(k) == key), None)
                if what is not None and _clash(scopes, frozenset({kind})):
                    conflicts.setdefault(action, f"{shown.strip()!r} is a fixed key ({what})")
            if action in conflicts:
                break
    return conflicts


NotifyEvent = Literal["succeeded", "failed", "needs_input", "overdue"]

NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("succeeded", "failed", "needs_input", "overdue")
"""What can notify: a job reaching one of these states (between two polls), or a running job
becoming overdue (past 1.5 times its type's 95th-percentile run time, from the journal)."""

OSC_CHOICES: tuple[str, ...] = ("off", "9", "777")


def check_url(value: str) -> str:
    """`value` as a base URL without a trailing slash, or `Invalid` saying why not."""
    from urllib.parse import urlsplit

    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("must start with http:// or https://")
    if not parts.hostname:
        raise Invalid("has no host name")
    if port == 0:
        raise Invalid("port 0 is not a valid port")
    if parts.username is not None or parts.password is not None:
        raise Invalid("must not hold credentials (give them as the service's secret keys)")
    if parts.query or parts.fragment:
        raise Invalid("must not have a query or fragment")
    if any(ch.isspace() for ch in url):
        raise Invalid("must not contain spaces")
    return url.rstrip("/")


SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")


def close_matches(word: str, names: Iterable[str]) -> list[str]:
    """The name closest to a mistyped one, if any is close (difflib is imported on a mistake)."""
    import difflib

    return difflib.get_close_matches(word, list(names), n=1)
