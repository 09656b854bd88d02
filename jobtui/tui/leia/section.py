"""The Leia section of the detail pane: what a failure's code means, the chain, the result.

* failure: the reason is the job's message (shown above the section); the section adds what the
  undeclared `http_code` means, or says that the server gave no reason;
* chain: the job it waits on (`execute_after_id`), its parent (`parent_job_id`), its children
  (the jobs a conditional job's rules created) and its dependents, each with its state;
* result, read by its `result_type` rather than shown as JSON (the raw record below the section
  still has every field):

  * `classification`: the category, its score and accuracy; `dict[classification]`: one row each;
  * `document` and `list[document]`: a compact table of file name, page, size and type;
  * `object`, `dict[object]`, `model` and anything unknown: a key-value tree;
  * `conditional`: each rule that ran, with the results of the jobs it executed, in order.

  A result whose shape does not match its `result_type` falls back to the key-value tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from jobtui.core.models import Job, JobState
from jobtui.core.service import Service
from jobtui.services.leia.chain import LeiaChain
from jobtui.services.leia.service import LeiaService
from jobtui.tui.widgets.detail import STATE_STYLES

HEADING = "bold dim"
MAX_ROWS = 50
"""Rows of a document list or entries of a tree level shown before "… N more"."""
MAX_DEPTH = 6

HTTP_CODES: Mapping[int, str] = {
    400: "a problem with the input data",
    5000: "a Leia internal error",
}
"""What Leia's undeclared `http_code` means on a failed job (the spec names these two)."""


# -- small pieces -------------------------------------------------------------------------------


def human_size(size: Any) -> str:
    """Bytes as `840 B`, `12.3 KiB`, `1.2 MiB`; anything not a number as text."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        return "—" if size is None else str(size)
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def number(value: Any) -> str:
    """A score-like number with at most three decimals; anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def scalar(value: Any) -> Text:
    """One leaf value of a tree, styled by type."""
    if value is None:
        return Text("null", style="dim italic")
    if isinstance(value, bool):
        return Text("true" if value else "false", style="magenta")
    if isinstance(value, int | float):
        return Text(str(value), style="cyan")
    return Text(str(value))


def state_text(job: Job) -> Text:
    return Text(job.raw_state or job.state.label, style=STATE_STYLES[job.state])


def heading(title: str, detail: str = "") -> Text:
    text = Text.assemble((title, HEADING))
    if detail:
        text.append(f"  {detail}", style="dim")
    return text


# -- results ------------------------------------------------------------------------------------


def _is_classification(value: Any) -> bool:
    return isinstance(value, Mapping) and "category" in value


def _is_document(value: Any) -> bool:
    return isinstance(value, Mapping) and ("filename" in value or "mime_type" in value)


def classification_table(items: Sequence[tuple[str | None, Mapping[str, Any]]]) -> Table:
    """Category, score and accuracy; with a leading key column when the items are keyed."""
    keyed = any(key is not None for key, _ in items)
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="dim")
    if keyed:
        table.add_column("document", no_wrap=True, overflow="ellipsis", max_width=28)
    table.add_column("category", style="bold", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("accuracy", justify="right")
    for key, item in items:
        row = [
            str(item.get("category", "—")),
            number(item.get("score")),
            number(item.get("accuracy")),
        ]
        table.add_row(*([key or "—"] if keyed else []), *row)
    return table


def document_table(documents: Sequence[Mapping[str, Any]]) -> Table:
    """File name, page, size and type of each document, then its id (dim)."""
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="dim")
    table.add_column("filename", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("page", justify="right")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("mime", no_wrap=True)
    table.add_column("id", style="dim", no_wrap=True, overflow="ellipsis")
    for doc in documents[:MAX_ROWS]:
        page = doc.get("page")
        table.add_row(
            str(doc.get("filename") or "—"),
            "—" if page is None else str(page),
            human_size(doc.get("size")),
            str(doc.get("mime_type") or doc.get("extension") or "—"),
            str(doc.get("id") or ""),
        )
    if len(documents) > MAX_ROWS:
        table.add_row(Text(f"… {len(documents) - MAX_ROWS} more", style="dim"), "", "", "", "")
    return table


def _add_items(tree: Tree, value: Any, depth: int) -> None:
    items: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        tree.add(scalar(value))
        return
    if not items:
        tree.add(Text("{}" if isinstance(value, Mapping) else "[]", style="dim"))
    for key, item in items[:MAX_ROWS]:
        if isinstance(item, Mapping | list) and item and depth < MAX_DEPTH:
            _add_items(tree.add(Text(key, style="bold")), item, depth + 1)
        elif isinstance(item, Mapping | list):
            tree.add(Text.assemble((key, "bold"), "  ", (_compact(item), "dim")))
        else:
            tree.add(Text.assemble((key, "bold"), "  ", scalar(item)))
    if len(items) > MAX_ROWS:
        tree.add(Text(f"… {len(items) - MAX_ROWS} more", style="dim"))


def _compact(value: Any) -> str:
    if not value:
        return "{}" if isinstance(value, Mapping) else "[]"
    return f"{{{len(value)} keys}}" if isinstance(value, Mapping) else f"[{len(value)} items]"


def key_value_tree(value: Any) -> RenderableType:
    """A tree of keys and values (the root is hidden: the first level is the object's keys)."""
    if not isinstance(value, Mapping | list):
        return scalar(value)
    tree = Tree("", hide_root=True, guide_style="dim")
    _add_items(tree, value, 1)
    return tree


def _conditional(result: Any) -> RenderableType:
    if not isinstance(result, Mapping):
        return key_value_tree(result)
    if not result:
        return Text("no rule matched: no job was executed", style="dim")
    tree = Tree("", hide_root=True, guide_style="dim")
    for rule, runs in result.items():
        entries = runs if isinstance(runs, list) else [runs]
        noun = "job" if len(entries) == 1 else "jobs"
        node = tree.add(
            Text.assemble(
                ("rule ", "dim"), (str(rule), "bold"), (f"  {len(entries)} {noun}", "dim")
            )
        )
        for index, entry in enumerate(entries, start=1):
            if not isinstance(entry, Mapping) or "result" not in entry:
                node.add(Text.assemble((f"{index}. ", "bold"), scalar(entry)))
                continue
            kind = str(entry.get("result_type") or "result")
            value = entry.get("result")
            sub = node.add(Text.assemble((f"{index}. ", "bold"), (kind, "bold")))
            shown = render_result(kind, value, nested=True)
            if isinstance(shown, Tree) and isinstance(value, Mapping | list):
                _add_items(sub, value, 3)  # the fields right under the job, not a tree in a tree
            else:
                sub.add(shown)
    return tree


def render_result(result_type: Any, result: Any, *, nested: bool = False) -> RenderableType:
    """The `result` of a job, read according to its `result_type`."""
    kind = str(result_type or "")
    if kind == "classification" and _is_classification(result):
        return classification_table([(None, result)])
    if (
        kind == "dict[classification]"
        and isinstance(result, Mapping)
        and all(_is_classification(v) for v in result.values())
    ):
        return classification_table([(str(k), v) for k, v in result.items()])
    if kind == "document" and _is_document(result):
        return document_table([result])
    if (
        kind == "list[document]"
        and isinstance(result, list)
        and all(_is_document(d) for d in result)
    ):
        if not result:
            return Text("no documents", style="dim")
        return document_table(result)
    if kind == "conditional" and not nested:
        return _conditional(result)
    return key_value_tree(result)


def _result_summary(result_type: str, result: Any) -> str:
    if result_type == "list[document]" and isinstance(result, list):
        sizes = [d.get("size") for d in result if isinstance(d, Mapping)]
        total = sum(s for s in sizes if isinstance(s, int | float) and not isinstance(s, bool))
        noun = "document" if len(result) == 1 else "documents"
        return f"{len(result)} {noun}, {human_size(total)}"
    if result_type.startswith("dict[") and isinstance(result, Mapping):
        return f"{len(result)} entries" if len(result) != 1 else "1 entry"
    return ""


# -- failure ------------------------------------------------------------------------------------


def render_failure(job: Job) -> RenderableType | None:
    """What Leia's undeclared `http_code` says about a failed job.

    The reason itself is the job's message (the line above in the pane); this adds what the code
    means, or says that the server gave no reason at all.
    """
    if job.state is not JobState.FAILED:
        return None
    reason = job.raw.get("reason")
    code = job.raw.get("http_code")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    if code not in (None, "", 200):
        meaning = HTTP_CODES.get(code) if isinstance(code, int) else None
        line = Text.assemble(("http_code ", "dim"), (str(code), "bold red"))
        if meaning:
            line.append(f": {meaning}")
        grid.add_row("failed", line)
    elif not reason:
        grid.add_row("failed", Text("the server gave no reason", style="bold red"))
    else:
        return None
    return grid


# -- chain --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One job linked to the selected one: how it is linked, its id, and the job if it is listed."""

    role: str
    job_id: str
    job: Job | None


ROLES = ("waits on", "parent", "children", "dependents")
"""The links shown, in order: `execute_after_id`, `parent_job_id`, the jobs whose parent is this
one (a conditional job's rule jobs), and the jobs whose `execute_after_id` is this one."""


def chain_entries(chain: LeiaChain) -> list[ChainEntry]:
    """The linked jobs of a chain, in `ROLES` order."""
    entries: list[ChainEntry] = []
    if chain.waits_on_id:
        entries.append(ChainEntry("waits on", chain.waits_on_id, chain.waits_on))
    if chain.parent_id:
        entries.append(ChainEntry("parent", chain.parent_id, chain.parent))
    entries.extend(ChainEntry("children", job.id, job) for job in chain.children)
    entries.extend(ChainEntry("dependents", job.id, job) for job in chain.dependents)
    return entries


def entry_text(entry: ChainEntry, *, id_width: int = 24) -> Text:
    """`6ae84ddc240908000000000d  PROCESSING  pdf-images`, or the id marked as not listed."""
    text = Text(entry.job_id.ljust(id_width), style="bold")
    text.append("  ")
    if entry.job is None:
        text.append("not in the list (filtered out or gone)", style="dim italic")
        return text
    text.append_text(state_text(entry.job))
    if entry.job.type:
        text.append(f"  {entry.job.type}", style="dim")
    return text


def render_chain(chain: LeiaChain) -> RenderableType:
    entries = chain_entries(chain)
    if not entries:
        return heading("chain", "no linked jobs")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    width = max(len(e.job_id) for e in entries)
    previous = ""
    for entry in entries:
        grid.add_row(
            entry.role if entry.role != previous else "", entry_text(entry, id_width=width)
        )
        previous = entry.role
    return Group(heading("chain", "enter: go to a linked job · backspace: back"), grid)


# -- the section --------------------------------------------------------------------------------


def render_section(job: Job, service: Service) -> RenderableType | None:
    """The Leia part of the detail pane (registered as `SECTIONS["leia"]`)."""
    parts: list[RenderableType] = []
    failure = render_failure(job)
    if failure is not None:
        parts.append(failure)
    if isinstance(service, LeiaService):
        parts.append(render_chain(service.chain(job.id)))
    result_type = job.raw.get("result_type")
    result = job.raw.get("result")
    if result is not None:
        kind = str(result_type or "result")
        parts.append(heading(f"result · {kind}", _result_summary(kind, result)))
        parts.append(render_result(result_type, result))
    elif job.state is JobState.SUCCEEDED:
        parts.append(heading("result", "none sent"))
    return Group(*parts) if parts else None
