"""The EcoTaxa section of the detail pane: owner and project, the question and the last reply,
the errors (every line: a traceback may be long, the pane scrolls), the params and the result.

Everything is read from `Job.raw` (the wire record), tolerant of missing or odd fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from jobtui.core.models import Job
from jobtui.core.service import Service
from jobtui.services.ecotaxa.service import EcoTaxaService

HEADING = "bold dim"


def heading(title: str, detail: str = "") -> Text:
    text = Text(title, style=HEADING)
    if detail:
        text.append(f"  {detail}", style="dim")
    return text


def pretty(value: Any) -> str:
    """A JSON value, indented; text as it is."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if item is not None and str(item).strip()]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def owner_text(job: Job, service: Service) -> str:
    """`#2 (me, Marie Dupont)`, `#3`, or `—`."""
    owner = job.raw.get("owner_id")
    if owner is None:
        return "—"
    text = f"#{owner}"
    me = service.me if isinstance(service, EcoTaxaService) else None
    if me is not None and str(me.id) == str(owner):
        who = me.name or me.email
        text += f" (me, {who})" if who else " (me)"
    return text


def render_question(question: Mapping[str, Any], *, asking: bool) -> RenderableType | None:
    """The names an asking import needs ids for (kept on the record after it moved on)."""
    users = _names(question.get("missing_users"))
    taxa = _names(question.get("missing_taxa"))
    others = {k: v for k, v in question.items() if k not in ("missing_users", "missing_taxa")}
    if not (users or taxa or others):
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    if users:
        grid.add_row("missing users", Text("\n".join(users), style="magenta"))
    if taxa:
        grid.add_row("missing taxa", Text("\n".join(taxa), style="magenta"))
    for key, value in others.items():
        grid.add_row(Text(str(key)), Text(pretty(value)))
    return Group(heading("question", "press a to answer" if asking else "asked earlier"), grid)


def render_reply(reply: Mapping[str, Any]) -> RenderableType | None:
    """The last reply sent: each name and the id it was mapped to."""
    if not reply:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for group in ("users", "taxa"):
        if group not in reply:
            grid.add_row(group, Text("(not in the reply)", style="dim italic"))
            continue
        value = reply[group]
        if isinstance(value, Mapping):
            pairs = ", ".join(f"{name} → {ident}" for name, ident in value.items())
            grid.add_row(group, Text(pairs) if pairs else Text("(none)", style="dim italic"))
        else:
            grid.add_row(group, Text(pretty(value)))
    for key, value in reply.items():
        if key not in ("users", "taxa"):
            grid.add_row(Text(str(key)), Text(pretty(value)))
    return Group(heading("last reply"), grid)


def render_errors(errors: Any) -> RenderableType | None:
    """Every error line, as sent (a traceback keeps its lines)."""
    if not errors:
        return None
    items = errors if isinstance(errors, list) else [errors]
    text = Text(style="red")
    for index, item in enumerate(items):
        if index:
            text.append("\n")
        text.append(item if isinstance(item, str) else pretty(item))
    lines = text.plain.count("\n") + 1
    count = f"{len(items)} entr{'y' if len(items) == 1 else 'ies'}, {lines} line(s)"
    return Group(heading("errors", count), text)


def render_section(job: Job, service: Service) -> RenderableType | None:
    raw = job.raw
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row("owner", Text(owner_text(job, service)))
    project = job.extra.get("project")
    if project:
        facts.add_row("project", Text(project))
    sent = raw.get("progress_msg")
    if isinstance(sent, str) and sent and sent != job.message:
        facts.add_row("server says", Text(sent))
    elif isinstance(sent, str) and not sent.strip() and job.message:
        facts.add_row("server says", Text("nothing: the message is the last line of errors", "dim"))
    parts: list[RenderableType] = [heading("EcoTaxa"), facts]
    question = render_question(_mapping(raw.get("question")), asking=raw.get("state") == "A")
    if question is not None:
        parts.append(question)
    reply = render_reply(_mapping(raw.get("reply")))
    if reply is not None:
        parts.append(reply)
    errors = render_errors(raw.get("errors"))
    if errors is not None:
        parts.append(errors)
    for key in ("params", "result"):
        value = raw.get(key)
        if value:
            parts.append(heading(key))
            parts.append(Text(pretty(value)))
    return Group(*parts)
