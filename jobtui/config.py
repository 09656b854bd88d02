"""The config file: TOML read with tomllib, checked into frozen dataclasses, written with tomli-w.

    [ui]
    refresh = 2.0

    [[services]]
    name = "bsub.io"
    kind = "bsub"
    url = "https://app.bsub.io"
    token = "env:BSUB_TOKEN"

Every secret (tokens, passwords, api keys) is given literally, as `env:NAME` (an environment
variable) or as `file:PATH` (the file's contents, stripped; `~` expanded; a relative path is
relative to the config file), and is resolved once, at load, into a `Secret`.

`load_config` never lets a traceback or a secret out: every problem becomes one
`PATH:LINE: KEY: message` line of a `ConfigError`, and every problem of the file is reported at
once. The checks are written out here, table by table, rather than left to a validation library:
every headless command reads this file first, and importing one cost more than the 150 ms such a
command may take in all. This module never imports Textual.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, TypeAlias, TypeVar

import tomli_w

from jobtui.core.secret import Secret

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
        close = _close_matches(value, KEY_ACTIONS)
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


NotifyEvent = Literal["succeeded", "failed", "needs_input"]

NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("succeeded", "failed", "needs_input")
"""The job states whose arrival (between two polls) can notify."""

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


_SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")

# -- the tables -----------------------------------------------------------------------------------
#
# Each table is a frozen dataclass; the docstring under a field documents its key (`config init`
# and config.example.toml print it). Made by `load_config`, a table holds checked values only.
# Code that builds one directly (tests, `jobtui demo`) passes checked values itself.


def _internal() -> Any:
    """A field the file cannot set (it is not a key of the table)."""
    return field(default=frozenset(), repr=False, compare=False, metadata={"internal": True})


@dataclass(frozen=True, slots=True, kw_only=True)
class UiConfig:
    """The `[ui]` table: how the dashboard behaves."""

    refresh: float = 2.0
    """Seconds between two polls of a service (at least 0.2); a service's own `refresh` overrides it."""
    theme: str = DEFAULT_THEME
    """The Textual theme, e.g. "textual-dark", "textual-light", "nord", "gruvbox", or "jobtui-ansi" (the 16 ANSI colours only); `T` in the dashboard chooses one and saves it here."""
    read_only: bool = False
    """Offer no action that changes anything on a service (the same as `jobtui --read-only`)."""
    ascii: bool = False
    """Draw with ASCII characters only (the same as `jobtui --ascii`); jobtui does so anyway when the locale's encoding is not UTF-8 (`LANG=C`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationsConfig:
    """The `[notifications]` table: what jobtui does when a job changes state between polls."""

    events: list[NotifyEvent] = field(default_factory=lambda: list(NOTIFY_EVENTS))
    """Which states notify when a job reaches them: "succeeded", "failed", "needs_input" (asks a question); [] for none."""
    bell: bool = False
    """Also ring the terminal bell."""
    osc: Literal["off", "9", "777"] = "off"
    """Also show a desktop notification through the terminal: "9" (OSC 9: iTerm2, WezTerm, Windows Terminal, kitty), "777" (OSC 777: urxvt, foot, Ghostty) or "off"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsConfig:
    """The `[limits]` table: how much of an answer jobtui reads from a server, and for how long."""

    deadline: float = 20.0
    """Seconds a request may take in all (connecting, sending, the whole answer); downloads, uploads and logs have `min_rate_kib` instead."""
    list_mib: float = 32.0
    """MiB a job list (or one page of it) may hold, counted after decompression."""
    record_mib: float = 4.0
    """MiB any other answer may hold (a job, a login, a status map)."""
    mapping_mib: float = 64.0
    """MiB a dsp-ingest mapping.csv may hold."""
    log_mib: float = 8.0
    """MiB of a log's end that the log view keeps (`jobtui logs` prints the whole log)."""
    log_stream_gib: float = 4.0
    """GiB a log read as a stream (`jobtui logs`) may hold: an endless log stops there."""
    min_rate_kib: float = 1.0
    """KiB a second that a download, upload or log must move at least, over 30 seconds."""
    max_jobs: int = 100000
    """Jobs listed per service at most; a longer list is cut there (the tab says "N of TOTAL")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _ServiceBase:
    """What every `[[services]]` entry has."""

    secret_fields: ClassVar[tuple[str, ...]] = ()
    """The keys of this kind that hold secrets."""

    name: str
    """The tab title; unique among the services."""
    url: str
    """The service's base URL (http:// or https://)."""
    refresh: float | None = None
    """Seconds between two polls of this service, overriding `[ui] refresh`."""
    verify: bool = True
    """Verify the server's TLS certificate (turn off only for a self-signed test server)."""
    literal_secrets: frozenset[str] = _internal()
    """The secret keys that the file gave literally (not as env: or file:)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BsubConfig(_ServiceBase):
    """A bsub.io account."""

    secret_fields = ("token",)

    kind: Literal["bsub"] = "bsub"
    """The service's kind: "bsub"."""
    token: Secret
    """The API key, sent as `Authorization: Bearer`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EcoTaxaConfig(_ServiceBase):
    """An EcoTaxa account: username and password (jobtui logs in), or a token."""

    secret_fields = ("password", "token")

    kind: Literal["ecotaxa"] = "ecotaxa"
    """The service's kind: "ecotaxa"."""
    username: str | None = None
    """The login name (with `password`)."""
    password: Secret | None = None
    """The password (with `username`)."""
    token: Secret | None = None
    """A token from a previous login, used instead of (or before) username and password."""
    for_admin: bool = False
    """List every user's jobs (needs an administrator account), not only your own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeiaConfig(_ServiceBase):
    """A Leia application."""

    secret_fields = ("api_key",)

    kind: Literal["leia"] = "leia"
    """The service's kind: "leia"."""
    api_key: Secret
    """The application's API key (jobtui logs in with it and keeps the token it gets)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DspIngestConfig(_ServiceBase):
    """A DaSCH ingest service (dsp-ingest): one row per project's bulk ingest."""

    secret_fields = ("token",)

    kind: Literal["dsp-ingest"] = "dsp-ingest"
    """The service's kind: "dsp-ingest"."""
    token: Secret
    """The JWT sent as `Authorization: Bearer`."""
    projects: list[str] = field(default_factory=list)
    """Project shortcodes (4 hex digits) to watch; empty means every project the server lists."""


ServiceConfig: TypeAlias = BsubConfig | EcoTaxaConfig | LeiaConfig | DspIngestConfig
"""One `[[services]]` entry, told apart by its `kind`."""

SERVICE_MODELS: dict[str, type[ServiceConfig]] = {
    "bsub": BsubConfig,
    "ecotaxa": EcoTaxaConfig,
    "leia": LeiaConfig,
    "dsp-ingest": DspIngestConfig,
}
"""The config table of every service kind."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole config file."""

    ui: UiConfig = field(default_factory=UiConfig)
    """The `[ui]` table."""
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    """The `[notifications]` table."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """The `[limits]` table."""
    services: list[ServiceConfig] = field(default_factory=list)
    """The `[[services]]` entries: one tab each, in this order. Several of one kind are fine."""
    keys: dict[str, str] = field(default_factory=dict)
    """The `[keys]` table: action name = key (or keys, comma-separated), replacing its default."""

    def literal_secrets(self) -> list[str]:
        """The dotted keys of every secret the file gives literally."""
        return [
            f"services[{index}].{key}"
            for index, service in enumerate(self.services)
            for key in sorted(service.literal_secrets)
        ]


def table_keys(table: type) -> tuple[str, ...]:
    """The keys of a config table, in the order of its fields."""
    return tuple(
        item.name for item in dataclasses.fields(table) if not item.metadata.get("internal")
    )


# -- errors ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file: its line (when known), the dotted key and what is wrong."""

    line: int | None
    key: str
    message: str

    def format(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used; `str()` is one `PATH:LINE: KEY: message` line per problem."""

    def __init__(self, path: Path | str, problems: Sequence[ConfigProblem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [problem.format(self.path) for problem in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


Loc = tuple[str | int, ...]


def format_key(loc: Iterable[str | int]) -> str:
    """A location as a dotted key: ("services", 1, "token") -> "services[1].token"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            text += f".{name}" if text else name
    return text


# -- checking -------------------------------------------------------------------------------------

_KIND_LIST = ", ".join(SERVICE_MODELS)

T = TypeVar("T")


class _Bad:
    """The result of a check that failed (its problem is already noted)."""


BAD: Final = _Bad()


def _one_of(choices: Sequence[str]) -> str:
    """ "'a', 'b' or 'c'" """
    quoted = [repr(choice) for choice in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class _Checker:
    """Checks raw TOML data table by table, noting every problem with its location."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.problems: list[tuple[Loc, str]] = []

    def note(self, loc: Loc, message: str) -> _Bad:
        self.problems.append((loc, message))
        return BAD

    # -- values --

    def number(self, loc: Loc, value: object, minimum: float) -> float | _Bad:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return self.note(loc, "must be a number")
        if not value >= minimum:  # NaN is not
            return self.note(loc, f"must be greater than or equal to {minimum}")
        return float(value)

    def flag(self, loc: Loc, value: object) -> bool | _Bad:
        return value if isinstance(value, bool) else self.note(loc, "must be true or false")

    def text(self, loc: Loc, value: object) -> str | _Bad:
        """A string, stripped, not empty."""
        if not isinstance(value, str):
            return self.note(loc, "must be a string")
        return value.strip() or self.note(loc, "must not be empty")

    def choice(self, loc: Loc, value: object, choices: Sequence[str]) -> str | _Bad:
        if isinstance(value, str) and value in choices:
            return value
        return self.note(loc, f"must be {_one_of(choices)}")

    def url(self, loc: Loc, value: object) -> str | _Bad:
        if not isinstance(value, str):
            return self.note(loc, "must be a string")
        return self.checked(loc, check_url, value)

    def secret(self, loc: Loc, value: object) -> Secret | _Bad:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            return self.note(loc, "must be a string")
        resolved = self.checked(loc, resolve_secret, value, self.base_dir)
        return resolved if isinstance(resolved, _Bad) else Secret(resolved)

    def checked(self, loc: Loc, check: Callable[..., T], *args: Any) -> T | _Bad:
        try:
            return check(*args)
        except Invalid as error:
            return self.note(loc, str(error))

    def array(self, loc: Loc, value: object) -> list[Any] | _Bad:
        return value if isinstance(value, list) else self.note(loc, "must be an array")

    def table(
        self, loc: Loc, value: object, cls: type, checks: Mapping[str, Callable[[Loc, Any], Any]]
    ) -> dict[str, Any] | _Bad:
        """The checked keys of a table: each present key through its check, unknown keys and
        missing required keys noted; `BAD` when anything in it is wrong."""
        if not isinstance(value, dict):
            return self.note(loc, "must be a table")
        before = len(self.problems)
        fields = {item.name: item for item in dataclasses.fields(cls)}
        checked: dict[str, Any] = {}
        for key, check in checks.items():
            if key in value and value[key] is None and fields[key].default is None:
                checked[key] = None  # an optional key left out (TOML has no None; Python may)
            elif key in value:
                checked[key] = check((*loc, key), value[key])
            elif _is_required(fields[key]):
                self.note((*loc, key), "missing (required)")
        for key in value:
            if key not in checks:
                close = _close_matches(key, checks) if isinstance(key, str) else []
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.note((*loc, key), f"unknown key{hint}")
        return BAD if len(self.problems) > before else checked

    # -- tables --

    def config(self, data: Mapping[str, Any]) -> Config | _Bad:
        top = self.table(
            (),
            dict(data),
            Config,
            {
                "ui": self.ui,
                "notifications": self.notifications,
                "limits": self.limits,
                "services": self.services,
                "keys": self.keys,
            },
        )
        return BAD if isinstance(top, _Bad) else Config(**top)

    def ui(self, loc: Loc, value: object) -> UiConfig | _Bad:
        checks = {
            "refresh": lambda at, v: self.number(at, v, MIN_REFRESH),
            "theme": self.text,
            "read_only": self.flag,
            "ascii": self.flag,
        }
        table = self.table(loc, value, UiConfig, checks)
        return BAD if isinstance(table, _Bad) else UiConfig(**table)

    def notifications(self, loc: Loc, value: object) -> NotificationsConfig | _Bad:
        def osc(at: Loc, value: object) -> str | _Bad:
            # `osc = 9` reads as naturally as `osc = "9"`.
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            return self.choice(at, value, OSC_CHOICES)

        checks = {"events": self.events, "bell": self.flag, "osc": osc}
        table = self.table(loc, value, NotificationsConfig, checks)
        return BAD if isinstance(table, _Bad) else NotificationsConfig(**table)

    def limits(self, loc: Loc, value: object) -> LimitsConfig | _Bad:
        def positive(at: Loc, value: object) -> float | _Bad:
            if isinstance(value, int | float) and not isinstance(value, bool) and not value > 0:
                return self.note(at, "must be greater than 0")
            return self.number(at, value, 0.0)

        def jobs(at: Loc, value: object) -> int | _Bad:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                return self.note(at, "must be a whole number of at least 1")
            return value

        checks: dict[str, Callable[[Loc, object], object]] = {
            key: positive for key in table_keys(LimitsConfig) if key != "max_jobs"
        }
        checks["max_jobs"] = jobs
        table = self.table(loc, value, LimitsConfig, checks)
        return BAD if isinstance(table, _Bad) else LimitsConfig(**table)

    def events(self, loc: Loc, value: object) -> list[str] | _Bad:
        items = self.array(loc, value)
        if isinstance(items, _Bad):
            return BAD
        events = [self.choice((*loc, i), item, NOTIFY_EVENTS) for i, item in enumerate(items)]
        ok = not any(isinstance(event, _Bad) for event in events)
        for index, event in enumerate(events):
            if isinstance(event, str) and event in events[:index]:
                self.note((*loc, index), f"{event!r} is listed twice")
                ok = False
        return [event for event in events if isinstance(event, str)] if ok else BAD

    def services(self, loc: Loc, value: object) -> list[ServiceConfig] | _Bad:
        items = self.array(loc, value)
        if isinstance(items, _Bad):
            return BAD
        services = [self.service((*loc, index), item) for index, item in enumerate(items)]
        first: dict[str, int] = {}
        unique = True
        for index, item in enumerate(items):
            # The names as written: an entry with other problems still takes its name.
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name.strip():
                continue
            name = name.strip()
            if name in first:
                message = f"service name {name!r} is already used by services[{first[name]}]"
                self.note((*loc, index, "name"), message)
                unique = False
            first.setdefault(name, index)
        checked = [service for service in services if not isinstance(service, _Bad)]
        return checked if len(checked) == len(services) and unique else BAD

    def service(self, loc: Loc, value: object) -> ServiceConfig | _Bad:
        if not isinstance(value, dict):
            return self.note(loc, "must be a table")
        if "kind" not in value:
            return self.note(
                (*loc, "kind"), f"missing (every [[services]] entry needs one of: {_KIND_LIST})"
            )
        kind = value["kind"]
        cls = SERVICE_MODELS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            return self.note(
                (*loc, "kind"), f"unknown kind {str(kind)!r} (expected one of: {_KIND_LIST})"
            )
        checks: dict[str, Callable[[Loc, Any], Any]] = {
            "name": self.text,
            "url": self.url,
            "refresh": lambda at, v: self.number(at, v, MIN_REFRESH),
            "verify": self.flag,
            "kind": lambda at, v: v,
        }
        checks.update(self._kind_checks(cls))
        table = self.table(loc, value, cls, checks)
        # Which credentials are given is checked even when one of them is wrong.
        if cls is EcoTaxaConfig and isinstance(self._credentials(loc, value), _Bad):
            return BAD
        if isinstance(table, _Bad):
            return BAD
        literal = frozenset(
            key
            for key in cls.secret_fields
            if isinstance(value.get(key), str) and not is_secret_reference(value[key])
        )
        service: ServiceConfig = cls(**table, literal_secrets=literal)
        return service

    def _kind_checks(self, cls: type[ServiceConfig]) -> dict[str, Callable[[Loc, Any], Any]]:
        if cls is EcoTaxaConfig:
            return {
                "username": self.text,
                "password": self.secret,
                "token": self.secret,
                "for_admin": self.flag,
            }
        if cls is LeiaConfig:
            return {"api_key": self.secret}
        if cls is DspIngestConfig:
            return {"token": self.secret, "projects": self.projects}
        return {"token": self.secret}

    def _credentials(self, loc: Loc, table: Mapping[str, Any]) -> _Bad | None:
        username, password = table.get("username"), table.get("password")
        if table.get("token") is None and username is None and password is None:
            return self.note((*loc, "token"), "give either token, or username and password")
        if username is not None and password is None:
            return self.note((*loc, "password"), "required with username")
        if password is not None and username is None:
            return self.note((*loc, "username"), "required with password")
        return None

    def projects(self, loc: Loc, value: object) -> list[str] | _Bad:
        items = self.array(loc, value)
        if isinstance(items, _Bad):
            return BAD
        before = len(self.problems)
        codes: list[str] = []
        for index, code in enumerate(items):
            if not isinstance(code, str):
                self.note((*loc, index), "must be a string")
            elif not _SHORTCODE.fullmatch(code):
                message = f"{code!r} is not a project shortcode (4 hex digits, like 0803)"
                self.note((*loc, index), message)
            elif code.upper() in codes:
                self.note((*loc, index), f"{code.upper()} is listed twice")
            else:
                codes.append(code.upper())
        return BAD if len(self.problems) > before else codes

    def keys(self, loc: Loc, value: object) -> dict[str, str] | _Bad:
        if not isinstance(value, dict):
            return self.note(loc, "must be a table")
        before = len(self.problems)
        keys: dict[str, str] = {}
        for action, text in value.items():
            at = (*loc, action)
            name = self.checked(at, check_action_name, action)
            if not isinstance(text, str):
                self.note(at, "must be a string")
                continue
            bound = self.checked(at, check_keys, text)
            if isinstance(name, str) and isinstance(bound, str):
                keys[name] = bound
        for action, why in key_conflicts(keys).items():
            self.note((*loc, action), why)
        return BAD if len(self.problems) > before else keys


def _is_required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def check_config(
    data: Mapping[str, Any], base_dir: Path | None, text: str | None
) -> Config | list[ConfigProblem]:
    """The checked config of TOML `data`, or every problem found in it: in file order, each with
    its line when `text` (the TOML that `data` was read from) is given."""
    checker = _Checker(base_dir)
    config = checker.config(data)
    if not isinstance(config, _Bad) and not checker.problems:
        return config
    locator = KeyLocator(text) if text is not None else None
    problems = [
        ConfigProblem(
            locator.line_of(loc) if locator is not None else None, format_key(loc), message
        )
        for loc, message in checker.problems
    ]
    # Checked table by table; a reader wants file order.
    problems.sort(key=lambda p: p.line if p.line is not None else 1 << 30)
    return problems


# -- line locator ---------------------------------------------------------------------------------

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_KEY_PART = re.compile(_KEY)


def _split_dotted(dotted: str) -> list[str]:
    parts = []
    for token in _KEY_PART.findall(dotted):
        if token.startswith('"'):
            parts.append(token[1:-1].encode().decode("unicode_escape"))
        elif token.startswith("'"):
            parts.append(token[1:-1])
        else:
            parts.append(token)
    return parts


def _nesting(text: str) -> int:
    """How many brackets/braces `text` opens minus closes, outside strings and comments."""
    depth = 0
    quote = ""
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


class KeyLocator:
    """Finds the line of a key in TOML text: tracks `[table]` and `[[array]]` headers and
    `key = value` lines. Good enough for hand-written config files, not a TOML parser."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Loc, int] = {}
        arrays: dict[Loc, int] = {}
        table: Loc = ()
        depth = 0
        multiline = ""
        for number, line in enumerate(text.splitlines(), start=1):
            if multiline:
                if line.count(multiline) % 2 == 1:
                    multiline = ""
                continue
            if depth > 0:
                depth += _nesting(line)
                continue
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if match := _ARRAY_HEADER.match(line):
                *parents, last = _split_dotted(match.group(1))
                array = (*self._resolve(parents, arrays), last)
                index = arrays.get(array, -1) + 1
                arrays[array] = index
                table = (*array, index)
                self.lines.setdefault(array, number)
                self.lines[table] = number
            elif match := _TABLE_HEADER.match(line):
                table = self._resolve(_split_dotted(match.group(1)), arrays)
                self.lines.setdefault(table, number)
            elif match := _KEY_LINE.match(line):
                parts = _split_dotted(match.group(1))
                for end in range(1, len(parts) + 1):
                    self.lines.setdefault((*table, *parts[:end]), number)
                rest = line[match.end() :]
                for delimiter in ('"""', "'''"):
                    if rest.count(delimiter) % 2 == 1:
                        multiline = delimiter
                        break
                else:
                    depth = max(0, _nesting(rest))

    @staticmethod
    def _resolve(parts: Sequence[str], arrays: Mapping[Loc, int]) -> Loc:
        path: Loc = ()
        for part in parts:
            path = (*path, part)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the key at `loc`, else of the nearest enclosing key or table found."""
        key = tuple(loc)
        for end in range(len(key), 0, -1):
            if key[:end] in self.lines:
                return self.lines[key[:end]]
        return None


# -- loading --------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_config(text: str, path: Path | str = "<config>") -> Config:
    """Check TOML `text` read from `path` (for messages and for relative `file:` secrets)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        line: int | None = None
        if match := _TOML_POSITION.search(message):
            line = int(match.group(1))
            message = f"{message[: match.start()]} (column {match.group(2)})"
        message = message.replace(" (at end of document)", " at the end of the file")
        raise ConfigError(
            path, [ConfigProblem(line, "", f"TOML syntax error: {message}")]
        ) from None
    base_dir = Path(path).expanduser().absolute().parent
    checked = check_config(data, base_dir, text)
    if isinstance(checked, list):
        raise ConfigError(path, checked) from None  # never chained to what it read
    return checked


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a config file. Raises `ConfigError` (never anything else) when unusable."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [ConfigProblem(None, "", "no such file")]) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(path, [ConfigProblem(None, "", f"cannot read: {reason}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, [ConfigProblem(None, "", "not UTF-8 text")]) from None
    return parse_config(text, path)


def config_from_data(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Check an in-memory config (as the TOML would load); problems name keys, not lines."""
    checked = check_config(data, None, None)
    if isinstance(checked, list):
        raise ConfigError(source, checked) from None
    return checked


NO_SERVICES = (
    "no [[services]] entries: uncomment or add one (config.example.toml documents every kind)"
)
"""Why a config file that checks out still opens no dashboard (`jobtui`, `config check` and the
headless commands all say so, and exit 2)."""


# -- where the file is ----------------------------------------------------------------------------


def _xdg_config_home(environ: Mapping[str, str]) -> Path:
    value = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative value.
    return Path(value) if value and Path(value).is_absolute() else Path("~/.config").expanduser()


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """$JOBTUI_CONFIG, else $XDG_CONFIG_HOME/jobtui/config.toml (~/.config by default).

    (`--config PATH` comes first; the command line handles it.)
    """
    env = os.environ if environ is None else environ
    explicit = env.get("JOBTUI_CONFIG", "")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg_config_home(env) / "jobtui" / "config.toml"


def config_search_description(environ: Mapping[str, str] | None = None) -> str:
    """Where `default_config_path` looked, in words."""
    env = os.environ if environ is None else environ
    if env.get("JOBTUI_CONFIG", ""):
        return f"$JOBTUI_CONFIG names {default_config_path(env)}"
    xdg = env.get("XDG_CONFIG_HOME", "")
    origin = "$XDG_CONFIG_HOME/jobtui/config.toml" if xdg else "~/.config/jobtui/config.toml"
    return (
        f"no --config given, $JOBTUI_CONFIG is not set, and {origin} "
        f"({default_config_path(env)}) does not exist"
    )


# -- writing --------------------------------------------------------------------------------------


SYMLINK_REFUSED = "it is a symbolic link (not followed; give the file itself)"


def write_config_file(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write a config file readable by its owner only (mode 0600), creating its folder (0700).

    Raises `FileExistsError` when the file exists and `overwrite` is false. A symbolic link at
    `path` is never followed (its target is neither truncated nor chmod-ed): `OSError` (ELOOP)
    saying so; nor is anything else than a regular file written.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_TRUNC if overwrite else os.O_EXCL
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP or target.is_symlink():
            raise OSError(errno.ELOOP, SYMLINK_REFUSED, str(target)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "it is not a regular file", str(target))
    os.set_blocking(fd, True)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    return target


def to_toml(config: Mapping[str, Any], *, comment: str = "") -> str:
    """A config as TOML text (secrets written as given), with `comment` lines on top."""
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    return header + tomli_w.dumps(dict(config))


def with_theme(text: str, theme: str) -> str:
    """TOML `text` with `[ui] theme` set to `theme`, every other line (comments too) kept.

    The `theme = ...` line is replaced, or added under `[ui]`, or a `[ui]` table is added at
    the end. Should that not give the same data with the new theme (a `ui` written as an inline
    table or dotted keys), the whole file is written again by tomli-w, comments lost.
    Raises `tomllib.TOMLDecodeError` when `text` is not TOML.
    """
    data = tomllib.loads(text)
    ui = data.get("ui")
    expected = {**data, "ui": {**(ui if isinstance(ui, dict) else {}), "theme": theme}}
    line = tomli_w.dumps({"theme": theme})
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    locator = KeyLocator(text)
    if (number := locator.lines.get(("ui", "theme"))) is not None:
        lines[number - 1] = line
    elif (number := locator.lines.get(("ui",))) is not None:
        lines.insert(number, line)
    else:
        lines += ["\n" if lines else "", "[ui]\n", line]
    result = "".join(lines)
    try:
        if tomllib.loads(result) == expected:
            return result
    except tomllib.TOMLDecodeError:
        pass
    return tomli_w.dumps(expected)


def save_theme(path: str | os.PathLike[str], theme: str) -> Path:
    """Set `[ui] theme` in the config file at `path` (see `with_theme`), atomically: the new
    text goes to a temporary file beside it, which then replaces it, keeping its mode.

    Raises `OSError` when the file cannot be read or written, `ConfigError` when it is not TOML.
    """
    target = Path(path).expanduser()
    text = target.read_bytes().decode("utf-8", errors="strict")
    try:
        new = with_theme(text, theme)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(target, [ConfigProblem(None, "", f"not valid TOML: {error}")]) from None
    mode = stat.S_IMODE(target.stat().st_mode)
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    return target


def warn_if_readable(path: str | os.PathLike[str], config: Config) -> str | None:
    """A warning when the file holds literal secrets and others than its owner may read it."""
    secrets = config.literal_secrets()
    if not secrets:
        return None
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    who = " and ".join(
        name for bit, name in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "others")) if mode & bit
    )
    return (
        f"warning: {path} holds secrets ({', '.join(secrets)}) and is readable by {who} "
        f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}` or give them as env:NAME or file:PATH"
    )


# -- the commented starter file and the example ----------------------------------------------------

_HEADER = """\
Check this file with `jobtui config check`.
Every secret (token, password, api_key) is given literally, as "env:NAME" (an environment
variable) or as "file:PATH" (the file's contents; ~ is expanded and a relative path is relative
to this file). Keep this file private (mode 0600) when it holds literal secrets."""

Entry = tuple[str, Any, bool]
"""One key of an example table: (key, value, commented out)."""

_EXAMPLES: list[tuple[str, list[Entry]]] = [
    (
        "bsub.io: https://app.bsub.io",
        [
            ("name", "bsub.io", False),
            ("kind", "bsub", False),
            ("url", "https://app.bsub.io", False),
            ("token", "env:BSUB_TOKEN", False),
            ("refresh", 5.0, True),
            ("verify", True, True),
        ],
    ),
    (
        "EcoTaxa: log in with username and password, or give a token",
        [
            ("name", "EcoTaxa", False),
            ("kind", "ecotaxa", False),
            ("url", "https://ecotaxa.obs-vlfr.fr/api", False),
            ("username", "me@example.org", False),
            ("password", "env:ECOTAXA_PASSWORD", False),
            ("token", "file:~/.config/jobtui/ecotaxa.token", True),
            ("for_admin", False, False),
            ("refresh", 10.0, True),
            ("verify", True, True),
        ],
    ),
    (
        "Leia",
        [
            ("name", "Leia", False),
            ("kind", "leia", False),
            ("url", "https://api.leia.io/leia/1.0.0", False),
            ("api_key", "env:LEIA_API_KEY", False),
            ("refresh", 5.0, True),
            ("verify", True, True),
        ],
    ),
    (
        "DaSCH ingest service: one row per project's bulk ingest",
        [
            ("name", "dsp-ingest", False),
            ("kind", "dsp-ingest", False),
            ("url", "https://ingest.dasch.swiss", False),
            ("token", "env:DSP_INGEST_TOKEN", False),
            ("projects", ["0803", "080E"], False),
            ("refresh", 5.0, True),
            ("verify", True, True),
        ],
    ),
]


def _close_matches(word: str, names: Iterable[str]) -> list[str]:
    """The name closest to a mistyped one, if any is close (difflib is imported on a mistake)."""
    import difflib

    return difflib.get_close_matches(word, list(names), n=1)


@functools.cache
def _field_docs() -> dict[tuple[str, str], str]:
    """(class name, field name) -> the docstring under the field, for every class here.

    Only the classes' lines are parsed, one class at a time (the functions of this file are
    skipped): `jobtui config init` waits for this.
    """
    import ast
    import inspect
    import itertools

    lines = Path(__file__).read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("class ")]
    docs: dict[tuple[str, str], str] = {}
    for start in starts:
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        node = ast.parse("".join(lines[start:end])).body[0]
        if not isinstance(node, ast.ClassDef):
            continue
        for statement, following in itertools.pairwise(node.body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                text = inspect.cleandoc(following.value.value)
                docs[(node.name, statement.target.id)] = text
    return docs


def field_doc(model: type, name: str) -> str:
    """The docstring of `model`'s field `name` (looked up through its base classes)."""
    docs = _field_docs()
    for cls in model.__mro__:
        if (text := docs.get((cls.__name__, name))) is not None:
            return text
    return ""


def _comment(text: str, mark: str = "#") -> list[str]:
    import textwrap

    return [f"{mark} {line}".rstrip() for line in textwrap.wrap(text, 96 - len(mark))]


def _table(header: str, model: type, entries: Sequence[Entry], *, off: bool) -> list[str]:
    """A table's lines: each key under its field's docstring; `off` comments out the keys."""
    prefix = "# " if off else ""
    lines = [f"{prefix}{header}"]
    for key, value, commented in entries:
        description = field_doc(model, key)
        # In a commented-out table the notes are "# # ...": uncommented, they stay notes.
        lines += _comment(description, "# #" if off else "#")
        rendered = tomli_w.dumps({key: value}).strip()
        mark = prefix + ("# " if commented else "")
        lines += [f"{mark}{line}" for line in rendered.splitlines()]
    return lines


def _defaults(header: str, model: type) -> list[str]:
    """A table with every key of `model` set to its default."""
    instance = model()
    entries = [(key, getattr(instance, key), False) for key in table_keys(model)]
    return _table(header, model, entries, off=False)


def _document(title: str, *, services_off: bool) -> str:
    lines = _comment(title) + [""] + [f"# {line}".rstrip() for line in _HEADER.splitlines()] + [""]
    lines += [*_defaults("[ui]", UiConfig), "", *_defaults("[notifications]", NotificationsConfig)]
    lines += ["", *_defaults("[limits]", LimitsConfig)]
    lines += [
        "",
        "# One [[services]] table per account, shown as one tab each, in this order. Several",
        "# services of one kind are fine; names must differ.",
    ]
    if services_off:
        lines += [
            "# To use one, remove the first '# ' of each of its lines and fill it in; then run",
            "# `jobtui config check`.",
        ]
    for comment, entries in _EXAMPLES:
        model = SERVICE_MODELS[next(value for key, value, _ in entries if key == "kind")]
        lines += ["", *_comment(comment)]
        lines += _table("[[services]]", model, entries, off=services_off)
    return "\n".join([*lines, "", *_keys_table()]) + "\n"


def _keys_table() -> list[str]:
    """The `[keys]` table, every action commented out at its default key."""
    lines = _comment(
        "Rebind keys: action = key, or several keys comma-separated. A key is a character "
        '("x", "?"), its name ("question_mark"), a named key ("f5", "escape", "pageup") '
        'with modifiers ("ctrl+x", "shift+up"). `?` in jobtui lists the keys in use.'
    )
    lines.append("[keys]")
    for name, (key, description) in KEY_ACTIONS.items():
        lines += [f"# {description}", f"# {tomli_w.dumps({name: key}).strip()}"]
    return lines


def starter_config_text() -> str:
    """The commented starter file `jobtui config init` writes: [ui] set, services commented out."""
    return _document(
        "jobtui configuration, written by `jobtui config init`. config.example.toml (in the "
        "jobtui sources) shows every key in use.",
        services_off=True,
    )


def example_config_text() -> str:
    """The text of `config.example.toml`: every key, the services active with env: secrets."""
    return _document(
        "config.example.toml: every jobtui option. Copy it to ~/.config/jobtui/config.toml "
        "(or start from `jobtui config init`).",
        services_off=False,
    )
