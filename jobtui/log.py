"""The optional log file (`jobtui --log PATH`): requests, poll outcomes and errors, with every
secret redacted.

Redaction is done by the formatter, on the finished line (message, arguments and traceback), so
nothing logged anywhere in jobtui or httpx can write a secret: the config's secret values (and
their URL-encoded forms) are replaced, and so is whatever follows `Authorization:`, `Bearer `,
and query or body keys such as `token=`, `password=` or `api_key=`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from jobtui.config import Config

REDACTED = "[redacted]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SECRET_KEYS = r"(?:access_token|token|api_key|apikey|api-key|password|passwd|secret|jwt)"

_PATTERNS = (
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([^\"'\r\n]+)"),
    re.compile(r"(?i)(\bbearer\s+)([^\s\"',;]+)"),
    re.compile(rf"(?i)([?&;]{SECRET_KEYS}=)([^&\s\"'#]+)"),
    re.compile(rf"(?i)([\"']?\b{SECRET_KEYS}[\"']?\s*[:=]\s*[\"']?)([^\"'\s,}}&]+)"),
    re.compile(r"(?i)(/login/)([^/\s\"'?]+)"),
)
"""What a secret follows, whatever its value: group 1 stays, group 2 is replaced."""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secret values, nor anything that follows a secret's key."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED).replace(quote(secret, safe=""), REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats a record, then redacts the whole line (tracebacks included)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(LOG_FORMAT)
        self.secrets = frozenset(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def secret_values(config: Config) -> list[str]:
    """Every secret value the config holds (resolved from literals, env: and file:)."""
    values: list[str] = []
    for entry in config.services:
        for key in entry.secret_fields:
            value = getattr(entry, key, None)
            if value is not None:
                values.append(value.get_secret_value())
    return values


LOGGERS = ("jobtui", "httpx")
"""The loggers the file receives: jobtui's own (polls, actions, errors) and httpx's requests."""


def start_log(path: Path, secrets: Iterable[str] = ()) -> logging.Handler:
    """Append INFO and above of `LOGGERS` to `path` (created 0600), redacted."""
    path = path.expanduser()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(secrets))
    handler.setLevel(logging.INFO)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


def stop_log(handler: logging.Handler) -> None:
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
