"""Reading a config file: TOML through tomllib, checked by the models, every problem one
`PATH:LINE: KEY: message` line of a `ConfigError` (the line found by `KeyLocator`); and where
the file is looked for. Never imports Textual."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobtui.config.models import Config, Loc, problems_of

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


def check_config(
    data: Mapping[str, Any], base_dir: Path | None, text: str | None
) -> Config | list[ConfigProblem]:
    """The checked config of TOML `data`, or every problem found in it: in file order, each with
    its line when `text` (the TOML that `data` was read from) is given."""
    try:
        return Config.model_validate(dict(data), context={"base_dir": base_dir})
    except ValidationError as error:
        found = problems_of(error)
    locator = KeyLocator(text) if text is not None else None
    problems = [
        ConfigProblem(
            locator.line_of(loc) if locator is not None else None, format_key(loc), message
        )
        for loc, message in found
    ]
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
