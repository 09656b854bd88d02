"""The config file: TOML read with tomllib, validated into pydantic models, written with tomli-w.

Every problem is reported as one line naming the file, the line and the key; secrets given as
`env:NAME` or `file:PATH` are resolved at load time and kept as `SecretStr`, so they never show in a
repr, an error or `config check` output.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

SECRET_FIELDS = ("token", "password", "api_key")
SHORTCODE = re.compile(r"^[0-9A-Fa-f]{4}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UiConfig(_Model):
    """The `[ui]` table."""

    refresh: float = Field(2.0, ge=0.2)
    """Seconds between two polls of a service (each service may override it)."""
    theme: str = "textual-dark"
    """A Textual theme name, e.g. textual-dark, textual-light, nord, gruvbox, textual-ansi."""
    read_only: bool = False
    """Hide and refuse every action that changes anything on a service."""


def _resolve_secret(value: object, info: ValidationInfo) -> object:
    """A literal, `env:NAME` or `file:PATH` (relative to the config file's folder)."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        return value
    if value.startswith("env:"):
        name = value[4:].strip()
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]
    if value.startswith("file:"):
        base = (info.context or {}).get("base", Path.cwd())
        path = Path(value[5:].strip()).expanduser()
        if not path.is_absolute():
            path = Path(base) / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ValueError(f"cannot read secret file {path}: {error.strerror}") from None
    return value


class _ServiceBase(_Model):
    name: str = Field(min_length=1)
    """The tab title; unique among the services."""
    url: str
    """The service's base URL (http or https)."""
    refresh: float | None = Field(None, ge=0.2)
    """Seconds between polls of this service, instead of `ui.refresh`."""
    verify: bool = True
    """Check the server's TLS certificate."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @field_validator(*SECRET_FIELDS, mode="before", check_fields=False)
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        return _resolve_secret(value, info)


class BsubConfig(_ServiceBase):
    """A bsub.io account."""

    kind: Literal["bsub"]
    token: SecretStr
    """The API key (Bearer token)."""


class EcoTaxaConfig(_ServiceBase):
    """An EcoTaxa account: username and password, or a token."""

    kind: Literal["ecotaxa"]
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    for_admin: bool = False
    """List every user's jobs (needs the application administrator right)."""

    @model_validator(mode="after")
    def _credentials(self) -> EcoTaxaConfig:
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("give username and password, or token")
        return self


class LeiaConfig(_ServiceBase):
    """A Leia application."""

    kind: Literal["leia"]
    api_key: SecretStr


class DspIngestConfig(_ServiceBase):
    """A DaSCH ingest service."""

    kind: Literal["dsp-ingest"]
    token: SecretStr
    """A JWT with `admin` or `write:project:<SHORTCODE>` scope."""
    projects: list[str] = Field(default_factory=list)
    """Project shortcodes (4 hex digits) to show, besides those the server lists."""

    @field_validator("projects")
    @classmethod
    def _shortcodes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not SHORTCODE.match(code)]
        if bad:
            raise ValueError(f"not a 4-hex-digit shortcode: {', '.join(bad)}")
        return [code.upper() for code in value]


ServiceConfig = Annotated[
    BsubConfig | EcoTaxaConfig | LeiaConfig | DspIngestConfig, Field(discriminator="kind")
]


class Config(_Model):
    """The whole file."""

    ui: UiConfig = Field(default_factory=UiConfig)
    services: list[ServiceConfig] = Field(default_factory=list)

    @field_validator("services")
    @classmethod
    def _unique_names(cls, value: list[ServiceConfig]) -> list[ServiceConfig]:
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"two services are named {entry.name!r}")
            seen.add(entry.name)
        return value


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    line: int | None
    key: str
    message: str


class ConfigError(Exception):
    """Everything wrong with one config file; `str()` is one line per problem."""

    def __init__(self, path: Path, problems: Sequence[ConfigProblem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(str(self))

    def lines(self) -> list[str]:
        out = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line else str(self.path)
            key = f" {problem.key}:" if problem.key else ""
            out.append(f"{where}:{key} {problem.message}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


def locate_keys(text: str) -> dict[str, int]:
    """Map dotted keys (`ui.refresh`, `services[1].token`, `services[1]`) to their line numbers."""
    found: dict[str, int] = {}
    counters: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2).replace('"', "").replace("'", "").strip()
            if header.group(1) == "[[":
                index = counters.get(name, -1) + 1
                counters[name] = index
                table = f"{name}[{index}]"
            else:
                table = name
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            name = key.group(1).strip("\"'")
            found.setdefault(f"{table}.{name}" if table else name, number)
    return found


def _dotted(loc: Sequence[int | str], data: Mapping[str, Any]) -> str:
    """A pydantic error location as the user's key: ('services', 1, 'bsub', 'token') -> services[1].token."""
    out = ""
    kinds = {"bsub", "ecotaxa", "leia", "dsp-ingest"}
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in kinds and index > 0 and isinstance(loc[index - 1], int):
            continue  # the discriminated union's tag, not a key of the file
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem_from(
    error: Mapping[str, Any], lines: Mapping[str, int], data: Mapping[str, Any]
) -> ConfigProblem:
    loc = tuple(error["loc"])
    key = _dotted(loc, data)
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "union_tag_invalid":
        message = "kind must be one of bsub, ecotaxa, leia, dsp-ingest"
        key = f"{key}.kind" if key else "kind"
    elif error["type"] == "union_tag_not_found":
        message = "missing kind (bsub, ecotaxa, leia or dsp-ingest)"
        key = f"{key}.kind"
    elif error["type"] == "missing":
        message = "missing"
    message = message.removeprefix("Value error, ")
    line = None
    probe = key
    while probe:
        if probe in lines:
            line = lines[probe]
            break
        probe = probe.rpartition(".")[0] if "." in probe else probe.rpartition("[")[0]
    return ConfigProblem(line, key, message)


def parse_config(text: str, path: Path) -> Config:
    """Validate the text of a config file; raise ConfigError naming file, line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(
            path,
            [ConfigProblem(int(match.group(1)) if match else None, "", f"TOML syntax: {message}")],
        ) from None
    try:
        return Config.model_validate(data, context={"base": path.parent})
    except ValidationError as error:
        lines = locate_keys(text)
        problems = [_problem_from(e, lines, data) for e in error.errors(include_input=False)]
        raise ConfigError(path, problems) from None


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            path, [ConfigProblem(None, "", f"cannot read: {error.strerror}")]
        ) from None
    return parse_config(text, path)


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """$JOBTUI_CONFIG, else $XDG_CONFIG_HOME/jobtui/config.toml (~/.config by default)."""
    env = os.environ if env is None else env
    if env.get("JOBTUI_CONFIG"):
        return Path(env["JOBTUI_CONFIG"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "jobtui" / "config.toml"


def config_search_description(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    where = default_config_path(env)
    source = "$JOBTUI_CONFIG" if env.get("JOBTUI_CONFIG") else "the default location"
    return f"no config file at {where} ({source}; --config PATH picks another)"


def has_literal_secrets(text: str) -> bool:
    data = tomllib.loads(text)
    for entry in data.get("services", []):
        for key in SECRET_FIELDS:
            value = entry.get(key)
            if isinstance(value, str) and not value.startswith(("env:", "file:")):
                return True
    return False


def warn_if_readable(path: Path) -> str | None:
    """A warning when a file holding literal secrets can be read by other users."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
        literal = has_literal_secrets(text)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if literal and mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"warning: {path} holds secrets and is readable by others (chmod 600 {path})"
    return None


def write_private(path: Path, text: str, *, force: bool = False) -> None:
    """Write a file only its owner can read; refuse to replace one unless `force`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def to_toml(ui: Mapping[str, Any], services: Sequence[Mapping[str, Any]]) -> str:
    """A config file's text for these tables (used by `jobtui emulate --write-config`)."""
    return tomli_w.dumps({"ui": dict(ui), "services": [dict(s) for s in services]})


STARTER_SERVICES: list[dict[str, Any]] = [
    {"name": "bsub.io", "kind": "bsub", "url": "https://app.bsub.io", "token": "env:BSUB_TOKEN"},
    {
        "name": "EcoTaxa",
        "kind": "ecotaxa",
        "url": "https://ecotaxa.obs-vlfr.fr/api",
        "username": "me@example.org",
        "password": "env:ECOTAXA_PASSWORD",
    },
    {
        "name": "Leia",
        "kind": "leia",
        "url": "https://api.leia.io/leia/1.0.0",
        "api_key": "env:LEIA_API_KEY",
    },
    {
        "name": "dsp-ingest",
        "kind": "dsp-ingest",
        "url": "https://ingest.dasch.swiss",
        "token": "file:~/.config/jobtui/dsp.jwt",
        "projects": ["0801"],
    },
]


def starter_config_text() -> str:
    """The file `jobtui config init` writes: [ui] set, one example per kind commented out."""
    lines = [
        "# jobtui configuration. Every key is documented in config.example.toml.",
        '# Secrets: a literal value, "env:NAME" (an environment variable) or "file:PATH".',
        "",
        tomli_w.dumps({"ui": UiConfig().model_dump()}).rstrip(),
        "",
        "# Uncomment and edit one [[services]] table per account.",
    ]
    for service in STARTER_SERVICES:
        lines.append("")
        body = tomli_w.dumps({"services": [service]}).rstrip().splitlines()
        lines.extend(f"# {line}" for line in body)
    return "\n".join(lines) + "\n"
