"""The config file: TOML read with tomllib, validated into pydantic models, written with tomli-w.

    [ui]
    refresh = 2.0

    [[services]]
    name = "bsub.io"
    kind = "bsub"
    url = "https://app.bsub.io"
    token = "env:BSUB_TOKEN"

Every secret (tokens, passwords, api keys) is given literally, as `env:NAME` (an environment
variable) or as `file:PATH` (the file's contents, stripped; `~` expanded; a relative path is
relative to the config file), and is resolved once, at load, into a `SecretStr`.

`load_config` never lets a traceback or a secret out: every problem becomes one
`PATH:LINE: KEY: message` line of a `ConfigError`. This module never imports Textual.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import itertools
import os
import re
import stat
import tempfile
import textwrap
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

MIN_REFRESH = 0.2
"""The shortest poll interval, in seconds, that the config accepts."""

DEFAULT_THEME = "textual-dark"

ENV_PREFIX = "env:"
FILE_PREFIX = "file:"

_MODEL_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True)
"""Fields are documented by the docstring under them; `field_doc` reads those for the example
file only (pydantic's `use_attribute_docstrings` would parse this module's source at every
start, a third of the time `jobtui config check` takes)."""

_KEYED = "jobtui_keyed"
"""Error type of our own checks; its context names the key the problem belongs to."""


# -- secrets --------------------------------------------------------------------------------------


def is_secret_reference(value: str) -> bool:
    """Whether a secret is given as `env:NAME` or `file:PATH` rather than literally."""
    return value.startswith((ENV_PREFIX, FILE_PREFIX))


def resolve_secret(value: str, base_dir: Path | None = None) -> str:
    """The secret that `value` stands for: itself, an environment variable or a file's contents.

    Raises `PydanticCustomError` with a message that names the variable or file, never the secret.
    """
    if value.startswith(ENV_PREFIX):
        name = value.removeprefix(ENV_PREFIX).strip()
        if not name:
            raise PydanticCustomError(_KEYED, "env: needs a variable name (env:NAME)")
        resolved = os.environ.get(name)
        if resolved is None:
            raise PydanticCustomError(
                _KEYED, "environment variable {name} is not set", {"name": name}
            )
        if not resolved.strip():
            raise PydanticCustomError(
                _KEYED, "environment variable {name} is empty", {"name": name}
            )
        return resolved
    if value.startswith(FILE_PREFIX):
        raw = value.removeprefix(FILE_PREFIX).strip()
        if not raw:
            raise PydanticCustomError(_KEYED, "file: needs a path (file:PATH)")
        path = Path(raw).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise PydanticCustomError(
                _KEYED,
                "cannot read secret file {path}: {reason}",
                {"path": str(path), "reason": reason},
            ) from None
        except UnicodeDecodeError:
            raise PydanticCustomError(
                _KEYED, "secret file {path} is not UTF-8 text", {"path": str(path)}
            ) from None
        text = text.strip()
        if not text:
            raise PydanticCustomError(_KEYED, "secret file {path} is empty", {"path": str(path)})
        return text
    if not value.strip():
        raise PydanticCustomError(_KEYED, "must not be empty")
    return value


def _resolve_secret_field(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        context = info.context if isinstance(info.context, Mapping) else {}
        base_dir = context.get("base_dir")
        return SecretStr(resolve_secret(value, base_dir if isinstance(base_dir, Path) else None))
    return value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret_field)]
"""A secret config value: a literal, `env:NAME` or `file:PATH`, resolved at load."""


# -- models ---------------------------------------------------------------------------------------


def _keyed_error(key: str, message: str, **context: Any) -> PydanticCustomError:
    """An error that belongs to `key` of the model being validated (not to the model itself)."""
    return PydanticCustomError(_KEYED, message, {**context, "key": key})


class UiConfig(BaseModel):
    """The `[ui]` table: how the dashboard behaves."""

    model_config = _MODEL_CONFIG

    refresh: float = Field(default=2.0, ge=MIN_REFRESH)
    """Seconds between two polls of a service (at least 0.2); a service's own `refresh` overrides it."""
    theme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = DEFAULT_THEME
    """The Textual theme, e.g. "textual-dark", "textual-light", "nord", "gruvbox", or "jobtui-ansi" (the 16 ANSI colours only); `T` in the dashboard chooses one and saves it here."""
    read_only: bool = False
    """Offer no action that changes anything on a service (the same as `jobtui --read-only`)."""


KEY_ACTIONS: Mapping[str, tuple[str, str]] = {
    "quit": ("q", "Quit jobtui."),
    "refresh": ("r", "Poll the tab's service now (while paused: one poll)."),
    "pause": ("p", "Pause polling of the tab (again: resume)."),
    "pause_all": ("P", "Pause polling of every tab (again: resume)."),
    "slower": ("plus,equals_sign", "Poll the tab less often."),
    "faster": ("minus", "Poll the tab more often."),
    "theme": ("T", "Choose a theme (saved in the config file)."),
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


def _check_action_name(value: str) -> str:
    if value not in KEY_ACTIONS:
        close = _close_matches(value, KEY_ACTIONS)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise PydanticCustomError(
            _KEYED, "unknown action {name}{hint}", {"name": repr(value), "hint": hint}
        )
    return value


def _check_keys(value: str) -> str:
    keys = [key.strip() for key in value.split(",")]
    for key in keys:
        if not _is_key(key):
            raise PydanticCustomError(
                _KEYED,
                '{text} is not a key (e.g. "x", "ctrl+x", "f5", "question_mark")',
                {"text": repr(key)},
            )
    return ",".join(keys)


KeyAction = Annotated[str, AfterValidator(_check_action_name)]
KeyList = Annotated[str, AfterValidator(_check_keys)]
NotifyEvent = Literal["succeeded", "failed", "needs_input"]

NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("succeeded", "failed", "needs_input")
"""The job states whose arrival (between two polls) can notify."""


def _osc_as_text(value: Any) -> Any:
    # `osc = 9` reads as naturally as `osc = "9"`.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class NotificationsConfig(BaseModel):
    """The `[notifications]` table: what jobtui does when a job changes state between polls."""

    model_config = _MODEL_CONFIG

    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS))
    """Which states notify when a job reaches them: "succeeded", "failed", "needs_input" (asks a question); [] for none."""
    bell: bool = False
    """Also ring the terminal bell."""
    osc: Annotated[Literal["off", "9", "777"], BeforeValidator(_osc_as_text)] = "off"
    """Also show a desktop notification through the terminal: "9" (OSC 9: iTerm2, WezTerm, Windows Terminal, kitty), "777" (OSC 777: urxvt, foot, Ghostty) or "off"."""

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str]) -> list[str]:
        for index, event in enumerate(value):
            if event in value[:index]:
                raise _keyed_error(str(index), "{event} is listed twice", event=repr(event))
        return value


class _ServiceBase(BaseModel):
    """What every `[[services]]` entry has."""

    model_config = _MODEL_CONFIG

    secret_fields: ClassVar[tuple[str, ...]] = ()
    """The keys of this kind that hold secrets."""

    _literal_secrets: frozenset[str] = PrivateAttr(default=frozenset())

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    """The tab title; unique among the services."""
    url: str
    """The service's base URL (http:// or https://)."""
    refresh: float | None = Field(default=None, ge=MIN_REFRESH)
    """Seconds between two polls of this service, overriding `[ui] refresh`."""
    verify: bool = True
    """Verify the server's TLS certificate (turn off only for a self-signed test server)."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_url(value)

    @model_validator(mode="wrap")
    @classmethod
    def _note_literal_secrets(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, Mapping):
            model._literal_secrets = frozenset(
                key
                for key in cls.secret_fields
                if isinstance(data.get(key), str) and not is_secret_reference(data[key])
            )
        return model

    @property
    def literal_secrets(self) -> frozenset[str]:
        """The secret keys that the file gave literally (not as env: or file:)."""
        return self._literal_secrets


def check_url(value: str) -> str:
    """`value` as a base URL without a trailing slash, or a `PydanticCustomError` saying why not."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise PydanticCustomError(_KEYED, "not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise PydanticCustomError(_KEYED, "must start with http:// or https://")
    if not parts.hostname:
        raise PydanticCustomError(_KEYED, "has no host name")
    if port == 0:
        raise PydanticCustomError(_KEYED, "port 0 is not a valid port")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError(
            _KEYED, "must not hold credentials (give them as the service's secret keys)"
        )
    if parts.query or parts.fragment:
        raise PydanticCustomError(_KEYED, "must not have a query or fragment")
    if any(ch.isspace() for ch in url):
        raise PydanticCustomError(_KEYED, "must not contain spaces")
    return url.rstrip("/")


class BsubConfig(_ServiceBase):
    """A bsub.io account."""

    secret_fields = ("token",)

    kind: Literal["bsub"] = "bsub"
    """The service's kind: "bsub"."""
    token: Secret
    """The API key, sent as `Authorization: Bearer`."""


class EcoTaxaConfig(_ServiceBase):
    """An EcoTaxa account: username and password (jobtui logs in), or a token."""

    secret_fields = ("password", "token")

    kind: Literal["ecotaxa"] = "ecotaxa"
    """The service's kind: "ecotaxa"."""
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] | None = None
    """The login name (with `password`)."""
    password: Secret | None = None
    """The password (with `username`)."""
    token: Secret | None = None
    """A token from a previous login, used instead of (or before) username and password."""
    for_admin: bool = False
    """List every user's jobs (needs an administrator account), not only your own."""

    @model_validator(mode="after")
    def _check_credentials(self) -> Self:
        if self.token is None and self.username is None and self.password is None:
            raise _keyed_error("token", "give either token, or username and password")
        if self.username is not None and self.password is None:
            raise _keyed_error("password", "required with username")
        if self.password is not None and self.username is None:
            raise _keyed_error("username", "required with password")
        return self


class LeiaConfig(_ServiceBase):
    """A Leia application."""

    secret_fields = ("api_key",)

    kind: Literal["leia"] = "leia"
    """The service's kind: "leia"."""
    api_key: Secret
    """The application's API key (jobtui logs in with it and keeps the token it gets)."""


_SHORTCODE = re.compile(r"[0-9A-Fa-f]{4}")


class DspIngestConfig(_ServiceBase):
    """A DaSCH ingest service (dsp-ingest): one row per project's bulk ingest."""

    secret_fields = ("token",)

    kind: Literal["dsp-ingest"] = "dsp-ingest"
    """The service's kind: "dsp-ingest"."""
    token: Secret
    """The JWT sent as `Authorization: Bearer`."""
    projects: list[str] = Field(default_factory=list)
    """Project shortcodes (4 hex digits) to watch; empty means every project the server lists."""

    @field_validator("projects")
    @classmethod
    def _check_projects(cls, value: list[str]) -> list[str]:
        codes: list[str] = []
        for index, code in enumerate(value):
            if not _SHORTCODE.fullmatch(code):
                raise _keyed_error(
                    str(index),
                    "{code} is not a project shortcode (4 hex digits, like 0803)",
                    code=repr(code),
                )
            if code.upper() in codes:
                raise _keyed_error(str(index), "{code} is listed twice", code=code.upper())
            codes.append(code.upper())
        return codes


ServiceConfig = Annotated[
    BsubConfig | EcoTaxaConfig | LeiaConfig | DspIngestConfig, Field(discriminator="kind")
]
"""One `[[services]]` entry, told apart by its `kind`."""

SERVICE_MODELS: dict[str, type[_ServiceBase]] = {
    "bsub": BsubConfig,
    "ecotaxa": EcoTaxaConfig,
    "leia": LeiaConfig,
    "dsp-ingest": DspIngestConfig,
}
"""The config model of every service kind."""


class Config(BaseModel):
    """The whole config file."""

    model_config = _MODEL_CONFIG

    ui: UiConfig = Field(default_factory=UiConfig)
    """The `[ui]` table."""
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    """The `[notifications]` table."""
    services: list[ServiceConfig] = Field(default_factory=list)
    """The `[[services]]` entries: one tab each, in this order. Several of one kind are fine."""
    keys: dict[KeyAction, KeyList] = Field(default_factory=dict)
    """The `[keys]` table: action name = key (or keys, comma-separated), replacing its default."""

    @model_validator(mode="after")
    def _check_unique_names(self) -> Self:
        seen: dict[str, int] = {}
        for index, service in enumerate(self.services):
            if service.name in seen:
                raise PydanticCustomError(
                    _KEYED,
                    "service name {name} is already used by services[{first}]",
                    {
                        "name": repr(service.name),
                        "first": seen[service.name],
                        "service": index,
                        "key": "name",
                    },
                )
            seen[service.name] = index
        return self

    def literal_secrets(self) -> list[str]:
        """The dotted keys of every secret the file gives literally."""
        return [
            f"services[{index}].{key}"
            for index, service in enumerate(self.services)
            for key in sorted(service.literal_secrets)
        ]


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


_KIND_LIST = ", ".join(SERVICE_MODELS)


def _problems(error: ValidationError, locator: KeyLocator | None) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for detail in error.errors(include_url=False):
        loc, message = _describe(detail)
        line = locator.line_of(loc) if locator is not None else None
        problems.append(ConfigProblem(line, format_key(loc), message))
    # pydantic reports in model order; a reader wants file order.
    problems.sort(key=lambda p: p.line if p.line is not None else 1 << 30)
    return problems


def _strip_tag(loc: Loc) -> Loc:
    """Drop the union tag pydantic puts after a service's index ("services", 1, "bsub", ...)."""
    if (
        len(loc) >= 3
        and loc[0] == "services"
        and isinstance(loc[1], int)
        and loc[2] in SERVICE_MODELS
    ):
        return loc[:2] + loc[3:]
    return loc


def _model_at(raw_loc: Loc) -> type[BaseModel] | None:
    """The model that holds the keys at `raw_loc` (a location with its union tag)."""
    if raw_loc == ():
        return Config
    if raw_loc == ("ui",):
        return UiConfig
    if raw_loc == ("notifications",):
        return NotificationsConfig
    if len(raw_loc) == 3 and raw_loc[0] == "services" and isinstance(raw_loc[2], str):
        return SERVICE_MODELS.get(raw_loc[2])
    return None


def _describe(detail: ErrorDetails) -> tuple[Loc, str]:
    """The location (without union tag) and a short message for one pydantic error.

    Messages are built from the error type and its context only: the input (which may be a
    secret) is never part of them.
    """
    raw_loc: Loc = tuple(detail["loc"])
    if raw_loc[-1:] == ("[key]",):
        raw_loc = raw_loc[:-1]
    loc = _strip_tag(raw_loc)
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind == _KEYED:
        if "service" in ctx:
            loc = ("services", int(ctx["service"]))
        if "key" in ctx:
            key = ctx["key"]
            loc = (*loc, int(key) if str(key).isdigit() else str(key))
        return loc, detail["msg"]
    if kind == "extra_forbidden":
        name = raw_loc[-1]
        model = _model_at(raw_loc[:-1])
        message = "unknown key"
        if model is not None and isinstance(name, str):
            close = _close_matches(name, model.model_fields)
            if close:
                message += f" (did you mean {close[0]}?)"
        return loc, message
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "")
        return (*loc, "kind"), f"unknown kind {tag!r} (expected one of: {_KIND_LIST})"
    if kind == "union_tag_not_found":
        return (*loc, "kind"), f"missing (every [[services]] entry needs one of: {_KIND_LIST})"
    messages = {
        "missing": "missing (required)",
        "model_type": "must be a table",
        "model_attributes_type": "must be a table",
        "dict_type": "must be a table",
        "list_type": "must be an array",
        "string_type": "must be a string",
        "bool_type": "must be true or false",
        "float_type": "must be a number",
        "int_type": "must be an integer",
        "literal_error": "not one of the accepted values",
        "string_too_short": "must not be empty",
        "frozen_instance": "cannot be changed",
    }
    if kind == "literal_error" and "expected" in ctx:
        return loc, f"must be {ctx['expected']}"
    if kind in messages:
        return loc, messages[kind]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return loc, "must be " + detail["msg"].removeprefix("Input should be ")
    message = detail["msg"]
    return loc, message[:1].lower() + message[1:]


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
    """Validate TOML `text` read from `path` (for messages and for relative `file:` secrets)."""
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
    try:
        return Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        # `from None`: a ValidationError's text shows the input values, secrets included.
        raise ConfigError(path, _problems(error, KeyLocator(text))) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file. Raises `ConfigError` (never anything else) when unusable."""
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
    """Validate an in-memory config (as the TOML would load); problems name keys, not lines."""
    try:
        return Config.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(source, _problems(error, None)) from None


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


def write_config_file(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> Path:
    """Write a config file readable by its owner only (mode 0600), creating its folder (0700).

    Raises `FileExistsError` when the file exists and `overwrite` is false.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(target, flags, 0o600)
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


def field_doc(model: type[BaseModel], name: str) -> str:
    """The docstring of `model`'s field `name` (looked up through its base classes)."""
    docs = _field_docs()
    for cls in model.__mro__:
        if (text := docs.get((cls.__name__, name))) is not None:
            return text
    return ""


def _comment(text: str, mark: str = "#") -> list[str]:
    return [f"{mark} {line}".rstrip() for line in textwrap.wrap(text, 96 - len(mark))]


def _table(
    header: str, model: type[BaseModel], entries: Sequence[Entry], *, off: bool
) -> list[str]:
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


def _defaults(header: str, model: type[BaseModel]) -> list[str]:
    """A table with every key of `model` set to its default."""
    instance = model()
    entries = [(key, getattr(instance, key), False) for key in model.model_fields]
    return _table(header, model, entries, off=False)


def _document(title: str, *, services_off: bool) -> str:
    lines = _comment(title) + [""] + [f"# {line}".rstrip() for line in _HEADER.splitlines()] + [""]
    lines += [*_defaults("[ui]", UiConfig), "", *_defaults("[notifications]", NotificationsConfig)]
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
