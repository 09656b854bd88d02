"""The journal's settings as plain values (the config's `[journal]` table fills them in)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.config.models import JournalConfig

FILE_NAME = "journal.sqlite3"


def default_journal_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/jobtui/journal.sqlite3`, else `~/.local/state/jobtui/journal.sqlite3`."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME", "")
    # The XDG spec: a relative path is invalid and is ignored.
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "jobtui" / FILE_NAME


@dataclass(frozen=True, slots=True)
class JournalSettings:
    """Where the journal lives, how long it keeps rows, and whether it records at all."""

    path: Path = field(default_factory=default_journal_path)
    retention_days: int = 90
    """Rows older than this many days are pruned at open and once a day."""
    enabled: bool = True
    """False: nothing is recorded (the headless commands still read and clear a journal)."""


def journal_settings(
    config: JournalConfig | None = None, *, path: Path | None = None
) -> JournalSettings:
    """The settings of the config's `[journal]` table; `path` (`--journal PATH`) wins over the
    table's `path`, which wins over the default."""
    if config is None:
        return JournalSettings(path=path or default_journal_path())
    return JournalSettings(
        path=path or config.path or default_journal_path(),
        retention_days=config.retention_days,
        enabled=config.enabled,
    )
