"""The config file's tables as pydantic models: what each key may hold, documented by its
`Field(description=...)` (the starter file and config.example.toml print them).

The models are strict (TOML gives typed values; `"2"` is not a number), frozen, and forbid
unknown keys. Secrets are `SecretStr`s, resolved from `env:NAME` and `file:PATH` while they are
validated (a relative path is relative to the config file, given as the `base_dir` of the
validation context). Checks that span several keys (an EcoTaxa account's credentials, service
names used twice, keys bound twice) read the table as written, so that they are reported along
with every other problem rather than only once the rest is right. `problems_of` turns a
`ValidationError` into (location, message) pairs worded for the user; no message holds a value
the file gave, so none holds a secret. Never imports Textual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from jobtui.config.values import (
    DEFAULT_THEME,
    KEY_ACTIONS,
    MIN_REFRESH,
    NOTIFY_EVENTS,
    SHORTCODE,
    Invalid,
    NotifyEvent,
    check_action_name,
    check_keys,
    check_url,
    close_matches,
    is_secret_reference,
    key_conflicts,
    resolve_secret,
)
from jobtui.core.secret import Secret

Loc = tuple[str | int, ...]

_OWN_ERROR = "jobtui"
"""The type of the errors raised here with a finished message."""


def _fail(problems: Sequence[tuple[Loc, str]], cause: ValidationError | None = None) -> NoReturn:
    """Raise every error of `cause` and every (location, message) of `problems` as one
    `ValidationError` (pydantic prefixes the locations with that of the value being checked)."""
    details: list[InitErrorDetails] = []
    for error in cause.errors() if cause is not None else ():
        if error["type"] == _OWN_ERROR:
            kind: Any = PydanticCustomError(_OWN_ERROR, _escaped(error["msg"]))
        else:
            kind = error["type"]
        detail: InitErrorDetails = {"type": kind, "loc": error["loc"], "input": None}
        if "ctx" in error and error["type"] != _OWN_ERROR:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    for loc, message in problems:
        own = PydanticCustomError(_OWN_ERROR, _escaped(message))
        details.append({"type": own, "loc": loc, "input": None})
    raise ValidationError.from_exception_data("config", details, hide_input=True)


def _escaped(message: str) -> str:
    return message.replace("{", "{{").replace("}", "}}")


# -- values ---------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """A string, stripped, not empty."""
    if not value.strip():
        raise Invalid("must not be empty")
    return value.strip()


def _secret(value: object, info: ValidationInfo) -> object:
    """A secret given literally, as env:NAME or as file:PATH, resolved (other types are left to
    the type check)."""
    if isinstance(value, Secret):
        return SecretStr(value.get_secret_value())
    if not isinstance(value, str):
        return value
    context = info.context if isinstance(info.context, Mapping) else {}
    base_dir = context.get("base_dir")
    return SecretStr(resolve_secret(value, base_dir if isinstance(base_dir, Path) else None))


def _osc(value: object) -> object:
    # `osc = 9` reads as naturally as `osc = "9"`.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _shortcode(value: str) -> str:
    if not SHORTCODE.fullmatch(value):
        raise Invalid(f"{value!r} is not a project shortcode (4 hex digits, like 0803)")
    return value.upper()


def _path(value: object) -> object:
    if isinstance(value, str):
        return Path(_text(value)).expanduser()
    return value


Text = Annotated[str, AfterValidator(_text)]
Url = Annotated[str, AfterValidator(check_url)]
Refresh = Annotated[float, Field(ge=MIN_REFRESH)]
Positive = Annotated[float, Field(gt=0)]
SecretValue = Annotated[SecretStr, BeforeValidator(_secret)]
Shortcode = Annotated[str, AfterValidator(_shortcode)]
ActionName = Annotated[str, AfterValidator(check_action_name)]
KeyList = Annotated[str, AfterValidator(check_keys)]


def _once(value: object, handler: ValidatorFunctionWrapHandler, items: list[str], what: str) -> Any:
    """The list checked by `handler`, with every repeat of `items` (its good items, as
    written) named by its index, even when other items are wrong."""
    seen: set[str] = set()
    repeats: list[tuple[Loc, str]] = []
    for index, item in enumerate(items):
        if item and item in seen:
            repeats.append(((index,), f"{what.format(item)} is listed twice"))
        seen.add(item)
    try:
        checked = handler(value)
    except ValidationError as error:
        if repeats:
            _fail(repeats, error)
        raise
    if repeats:
        _fail(repeats)
    return checked


def _events_once(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    items = value if isinstance(value, list) else []
    good = [item if item in NOTIFY_EVENTS else "" for item in items]
    return _once(value, handler, good, "{!r}")


def _projects_once(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    items = value if isinstance(value, list) else []
    good = [
        item.upper() if isinstance(item, str) and SHORTCODE.fullmatch(item) else ""
        for item in items
    ]
    return _once(value, handler, good, "{}")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)


# -- the tables -----------------------------------------------------------------------------------


class UiConfig(_Table):
    """The `[ui]` table: how the dashboard behaves."""

    refresh: Refresh = Field(
        default=2.0,
        description="Seconds between two polls of a service (at least 0.2); a service's own "
        "`refresh` overrides it.",
    )
    theme: Text = Field(
        default=DEFAULT_THEME,
        description='The Textual theme, e.g. "textual-dark", "textual-light", "nord", "gruvbox", '
        'or "jobtui-ansi" (the 16 ANSI colours only); `T` in the dashboard chooses one and saves '
        "it here.",
    )
    read_only: bool = Field(
        default=False,
        description="Offer no action that changes anything on a service (the same as "
        "`jobtui --read-only`).",
    )
    ascii: bool = Field(
        default=False,
        description="Draw with ASCII characters only (the same as `jobtui --ascii`); jobtui does "
        "so anyway when the locale's encoding is not UTF-8 (`LANG=C`).",
    )


class NotificationsConfig(_Table):
    """The `[notifications]` table: what jobtui does when a job changes state between polls."""

    events: Annotated[list[NotifyEvent], WrapValidator(_events_once)] = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        description='What notifies: a job reaching "succeeded", "failed" or "needs_input" (asks '
        'a question), and "overdue": a running job past 1.5 times the 95th-percentile run time '
        "of its type's last 30 days (at least 20 runs, from the journal); [] for none.",
    )
    bell: bool = Field(default=False, description="Also ring the terminal bell.")
    osc: Annotated[Literal["off", "9", "777"], BeforeValidator(_osc)] = Field(
        default="off",
        description='Also show a desktop notification through the terminal: "9" (OSC 9: iTerm2, '
        'WezTerm, Windows Terminal, kitty), "777" (OSC 777: urxvt, foot, Ghostty) or "off".',
    )


class LimitsConfig(_Table):
    """The `[limits]` table: how much of an answer jobtui reads from a server, and for how long."""

    deadline: Positive = Field(
        default=20.0,
        description="Seconds a request may take in all (connecting, sending, the whole answer); "
        "downloads, uploads and logs have `min_rate_kib` instead.",
    )
    list_mib: Positive = Field(
        default=32.0,
        description="MiB a job list (or one page of it) may hold, counted after decompression.",
    )
    record_mib: Positive = Field(
        default=4.0, description="MiB any other answer may hold (a job, a login, a status map)."
    )
    mapping_mib: Positive = Field(
        default=64.0, description="MiB a dsp-ingest mapping.csv may hold."
    )
    log_mib: Positive = Field(
        default=8.0,
        description="MiB of a log's end that the log view keeps (`jobtui logs` prints the whole "
        "log).",
    )
    log_stream_gib: Positive = Field(
        default=4.0,
        description="GiB a log read as a stream (`jobtui logs`) may hold: an endless log stops "
        "there.",
    )
    min_rate_kib: Positive = Field(
        default=1.0,
        description="KiB a second that a download, upload or log must move at least, over 30 "
        "seconds.",
    )
    max_jobs: int = Field(
        default=100000,
        ge=1,
        description="Jobs listed per service at most; a longer list is cut there (the tab says "
        '"N of TOTAL").',
    )


class JournalConfig(_Table):
    """The `[journal]` table: the record jobtui keeps of the jobs it saw."""

    enabled: bool = Field(default=True, description="Keep a journal of the jobs jobtui sees.")
    path: Annotated[Path | None, BeforeValidator(_path)] = Field(
        default=None,
        description="The journal's SQLite file (`~` expanded); by default "
        "$XDG_STATE_HOME/jobtui/journal.sqlite3 (~/.local/state/jobtui/journal.sqlite3).",
        examples=["~/.local/state/jobtui/journal.sqlite3"],
    )
    retention_days: int = Field(
        default=90,
        ge=1,
        description="Days a finished job stays in the journal (at least 1).",
    )


class _ServiceBase(_Table):
    """What every `[[services]]` entry has."""

    secret_fields: ClassVar[tuple[str, ...]] = ()
    """The keys of this kind that hold secrets."""

    name: Text = Field(description="The tab title; unique among the services.")
    url: Url = Field(description="The service's base URL (http:// or https://).")
    refresh: Refresh | None = Field(
        default=None,
        description="Seconds between two polls of this service, overriding `[ui] refresh`.",
    )
    verify: bool = Field(
        default=True,
        description="Verify the server's TLS certificate (turn off only for a self-signed test "
        "server).",
    )
    _literal_secrets: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def literal_secrets(self) -> frozenset[str]:
        """The secret keys that the file gave literally (not as env: or file:)."""
        return self._literal_secrets

    @model_validator(mode="wrap")
    @classmethod
    def _note_literal_secrets(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        service = handler(data)
        if isinstance(data, Mapping) and isinstance(service, _ServiceBase):
            service._literal_secrets = frozenset(
                key
                for key in cls.secret_fields
                if isinstance(data.get(key), str) and not is_secret_reference(data[key])
            )
        return service


class BsubConfig(_ServiceBase):
    """A bsub.io account."""

    secret_fields = ("token",)

    kind: Literal["bsub"] = Field(default="bsub", description='The service\'s kind: "bsub".')
    token: SecretValue = Field(description="The API key, sent as `Authorization: Bearer`.")


class EcoTaxaConfig(_ServiceBase):
    """An EcoTaxa account: username and password (jobtui logs in), or a token."""

    secret_fields = ("password", "token")

    kind: Literal["ecotaxa"] = Field(
        default="ecotaxa", description='The service\'s kind: "ecotaxa".'
    )
    username: Text | None = Field(default=None, description="The login name (with `password`).")
    password: SecretValue | None = Field(
        default=None, description="The password (with `username`)."
    )
    token: SecretValue | None = Field(
        default=None,
        description="A token from a previous login, used instead of (or before) username and "
        "password.",
    )
    for_admin: bool = Field(
        default=False,
        description="List every user's jobs (needs an administrator account), not only your own.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _credentials(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Which credentials are given is checked even when one of them is wrong."""
        problems: list[tuple[Loc, str]] = []
        if isinstance(data, Mapping):
            username, password = data.get("username"), data.get("password")
            if data.get("token") is None and username is None and password is None:
                problems.append((("token",), "give either token, or username and password"))
            elif username is not None and password is None:
                problems.append((("password",), "required with username"))
            elif password is not None and username is None:
                problems.append((("username",), "required with password"))
        try:
            service = handler(data)
        except ValidationError as error:
            if problems:
                _fail(problems, error)
            raise
        if problems:
            _fail(problems)
        return service


class LeiaConfig(_ServiceBase):
    """A Leia application."""

    secret_fields = ("api_key",)

    kind: Literal["leia"] = Field(default="leia", description='The service\'s kind: "leia".')
    api_key: SecretValue = Field(
        description="The application's API key (jobtui logs in with it and keeps the token it "
        "gets)."
    )


class DspIngestConfig(_ServiceBase):
    """A DaSCH ingest service (dsp-ingest): one row per project's bulk ingest."""

    secret_fields = ("token",)

    kind: Literal["dsp-ingest"] = Field(
        default="dsp-ingest", description='The service\'s kind: "dsp-ingest".'
    )
    token: SecretValue = Field(description="The JWT sent as `Authorization: Bearer`.")
    projects: Annotated[list[Shortcode], WrapValidator(_projects_once)] = Field(
        default_factory=list,
        description="Project shortcodes (4 hex digits) to watch; empty means every project the "
        "server lists.",
    )


ServiceConfig: TypeAlias = BsubConfig | EcoTaxaConfig | LeiaConfig | DspIngestConfig
"""One `[[services]]` entry, told apart by its `kind`."""

SERVICE_MODELS: dict[str, type[ServiceConfig]] = {
    "bsub": BsubConfig,
    "ecotaxa": EcoTaxaConfig,
    "leia": LeiaConfig,
    "dsp-ingest": DspIngestConfig,
}
"""The config table of every service kind."""

_KIND_LIST = ", ".join(SERVICE_MODELS)


class Config(_Table):
    """The whole config file."""

    ui: UiConfig = Field(default_factory=UiConfig, description="The `[ui]` table.")
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="The `[notifications]` table."
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="The `[limits]` table.")
    journal: JournalConfig = Field(
        default_factory=JournalConfig, description="The `[journal]` table."
    )
    services: list[Annotated[ServiceConfig, Field(discriminator="kind")]] = Field(
        default_factory=list,
        description="The `[[services]]` entries: one tab each, in this order. Several of one "
        "kind are fine.",
    )
    keys: dict[ActionName, KeyList] = Field(
        default_factory=dict,
        description="The `[keys]` table: action name = key (or keys, comma-separated), replacing "
        "its default.",
    )

    def literal_secrets(self) -> list[str]:
        """The dotted keys of every secret the file gives literally."""
        return [
            f"services[{index}].{key}"
            for index, service in enumerate(self.services)
            for key in sorted(service.literal_secrets)
        ]

    @model_validator(mode="wrap")
    @classmethod
    def _across(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Service names used twice and keys bound twice, read from the tables as written: an
        entry with other problems still takes its name, a valid binding still its key."""
        problems = _across_problems(data) if isinstance(data, Mapping) else []
        try:
            config = handler(data)
        except ValidationError as error:
            if problems:
                _fail(problems, error)
            raise
        if problems:
            _fail(problems)
        return config


def _across_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    services = data.get("services")
    first: dict[str, int] = {}
    for index, item in enumerate(services if isinstance(services, list) else []):
        name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
        if not isinstance(name, str) or not name.strip():
            continue
        name = name.strip()
        if name in first:
            message = f"service name {name!r} is already used by services[{first[name]}]"
            problems.append((("services", index, "name"), message))
        first.setdefault(name, index)
    keys = data.get("keys")
    bound: dict[str, str] = {}
    for action, text in keys.items() if isinstance(keys, Mapping) else ():
        if action in KEY_ACTIONS and isinstance(text, str):
            with contextlib.suppress(Invalid):
                bound[action] = check_keys(text)
    for action, why in key_conflicts(bound).items():
        problems.append((("keys", action), why))
    return problems


def table_keys(table: type[BaseModel]) -> tuple[str, ...]:
    """The keys of a config table, in the order of its fields."""
    return tuple(table.model_fields)


def field_doc(model: type[BaseModel], name: str) -> str:
    """The description of `model`'s field `name`."""
    info = model.model_fields.get(name)
    return (info.description or "") if info is not None else ""


# -- problems -------------------------------------------------------------------------------------

_TABLES: dict[str, type[BaseModel]] = {
    "ui": UiConfig,
    "notifications": NotificationsConfig,
    "limits": LimitsConfig,
    "journal": JournalConfig,
}

_WHOLE_NUMBERS = frozenset({("limits", "max_jobs"), ("journal", "retention_days")})

_MESSAGES = {
    "missing": "missing (required)",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "path_type": "must be a string",
}


def _number(value: object) -> str:
    """A bound as written in the model: 0 rather than 0.0, 0.2 as itself."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def problems_of(error: ValidationError) -> list[tuple[Loc, str]]:
    """Each error of a validation of `Config` as (location in the file, message)."""
    return [_problem(item) for item in error.errors(include_url=False, include_input=False)]


def _problem(item: Any) -> tuple[Loc, str]:
    loc: Loc = tuple(part for part in item["loc"] if part != "[key]")
    kind: str = item["type"]
    ctx: Mapping[str, Any] = item.get("ctx") or {}
    model: type[BaseModel] | None = Config
    # A service's errors are located under its kind, which the file does not write: drop it.
    if len(loc) > 2 and loc[0] == "services" and isinstance(loc[1], int):
        model = SERVICE_MODELS.get(str(loc[2]))
        if model is not None:
            loc = (*loc[:2], *loc[3:])
    elif len(loc) > 1 and isinstance(loc[0], str):
        model = _TABLES.get(loc[0])
    if kind == "union_tag_not_found":
        return (*loc, "kind"), f"missing (every [[services]] entry needs one of: {_KIND_LIST})"
    if kind == "union_tag_invalid":
        return (*loc, "kind"), f"unknown kind {ctx.get('tag')!r} (expected one of: {_KIND_LIST})"
    if kind == "extra_forbidden":
        close = close_matches(str(loc[-1]), table_keys(model)) if model is not None else []
        return loc, "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
    if loc in _WHOLE_NUMBERS:
        return loc, "must be a whole number of at least 1"
    if kind == _OWN_ERROR:
        return loc, str(item["msg"])
    if kind == "value_error":
        return loc, str(ctx.get("error", "is not valid"))
    if kind == "greater_than_equal":
        return loc, f"must be greater than or equal to {_number(ctx.get('ge'))}"
    if kind == "greater_than":
        return loc, f"must be greater than {_number(ctx.get('gt'))}"
    if kind == "literal_error":
        return loc, f"must be {ctx.get('expected')}"
    return loc, _MESSAGES.get(kind, str(item["msg"]))
