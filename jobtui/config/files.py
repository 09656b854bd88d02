"""The files jobtui writes: a config file (mode 0600), the theme saved into one, and the
commented starter file and `config.example.toml`, generated from the models' field descriptions.
Never imports Textual."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel

from jobtui.config.load import ConfigError, ConfigProblem, KeyLocator
from jobtui.config.models import (
    SERVICE_MODELS,
    Config,
    JournalConfig,
    LimitsConfig,
    NotificationsConfig,
    UiConfig,
    field_doc,
)
from jobtui.config.values import KEY_ACTIONS

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


def _comment(text: str, mark: str = "#") -> list[str]:
    import textwrap

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
    """A table with every key of `model` set to its default; a key without one (None) is
    commented out, at the first of its field's examples."""
    instance = model()
    entries: list[Entry] = []
    for key, info in model.model_fields.items():
        value = getattr(instance, key)
        if value is None:
            entries.append((key, (info.examples or [""])[0], True))
        else:
            entries.append((key, value, False))
    return _table(header, model, entries, off=False)


def _document(title: str, *, services_off: bool) -> str:
    lines = _comment(title) + [""] + [f"# {line}".rstrip() for line in _HEADER.splitlines()] + [""]
    lines += [*_defaults("[ui]", UiConfig), "", *_defaults("[notifications]", NotificationsConfig)]
    lines += ["", *_defaults("[limits]", LimitsConfig)]
    lines += ["", *_defaults("[journal]", JournalConfig)]
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
