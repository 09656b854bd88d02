"""The detail pane's dsp-ingest section: what this jobtui uploaded to the project, how many
mapping rows the server has, and the files a finished ingest left without a mapping (they failed
and are still in the server's import folder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from jobtui.core.models import Job
from jobtui.core.service import Service
from jobtui.services.dsp_ingest.service import DspIngestService

MAX_LISTED = 20
"""File names listed per kind in the section (the counts are always complete)."""


def _names(names: Sequence[str], total: int, style: str = "") -> Text:
    text = Text()
    for index, name in enumerate(names[:MAX_LISTED]):
        if index:
            text.append("\n")
        text.append(name, style=style)
    if total > min(len(names), MAX_LISTED):
        text.append(f"\n… and {total - min(len(names), MAX_LISTED)} more", style="dim")
    return text


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def render_section(job: Job, service: Service) -> RenderableType | None:
    """Files uploaded, mapping rows, files left without a mapping (listed), cut-off uploads and
    the last upload's outcome."""
    raw = job.raw
    track = service.track(job.id) if isinstance(service, DspIngestService) else None
    uploaded = len(track.uploaded) if track is not None else int(raw.get("files_uploaded") or 0)
    pending = track.pending if track is not None else _strings(raw.get("not_ingested"))
    unmapped = track.unmapped if track is not None else _strings(raw.get("unmapped"))
    partial = track.partial if track is not None else _strings(raw.get("partial"))
    rows = raw.get("mapping_rows")
    status = raw.get("mapping_status")

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(
        "files uploaded",
        f"{uploaded} (by this jobtui since the last finalize)"
        if uploaded
        else "none by this jobtui",
    )
    if pending:
        grid.add_row("not ingested", f"{len(pending)} uploaded, waiting for an ingest")
    if isinstance(rows, int):
        mapping = f"{rows} rows"
    elif status == 404:
        mapping = "none (nothing ingested since the last finalize)"
    elif status == 409:
        mapping = "not readable now (the project is locked)"
    else:
        mapping = "not read yet"
    grid.add_row("mapping", mapping)
    if unmapped:
        grid.add_row(
            Text("without mapping", style="bold red"),
            Text.assemble(
                (f"{len(unmapped)} files", "bold red"),
                " failed in the ingest and are still in the import folder:\n",
            ).append_text(_names(unmapped, len(unmapped))),
        )
    if partial:
        grid.add_row(
            Text("cut off", style="bold yellow"),
            Text(
                f"{len(partial)} uploads stopped midway (the server may keep partial copies; "
                "upload them again or finalize before ingesting):\n"
            ).append_text(_names(partial, len(partial))),
        )
    last = raw.get("last_upload")
    if isinstance(last, dict) and last.get("summary"):
        grid.add_row("last upload", Text(str(last["summary"])))
    return Group(Text("bulk ingest", style="bold dim"), grid)
