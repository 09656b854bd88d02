"""Actions that open a form of their own, per (service kind, action), and other per-kind hooks.

Generic actions (confirm-and-run, logs, save output) are handled by `ServiceTab`; the ones here
need a service-specific dialog. `SELECT_FLOWS` says what enter on a job does in a kind's tab, and
`TAB_KEYS` adds keys of its own to it. Kinds with a UI package register into these (and into the
detail pane's `SECTIONS`) from their `register()`, which `register_kind` calls when a tab or a
detail pane of that kind is first made: a kind that is not configured is never imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobtui.core.models import Action, Job

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

Flow = Callable[["ServiceTab", Job | None], None]
SelectFlow = Callable[["ServiceTab", Job], None]
TabFlow = Callable[["ServiceTab"], None]


@dataclass(frozen=True, slots=True)
class TabKey:
    """A key a kind of service adds to its tab, besides the keys of its actions."""

    key: str
    name: str
    """The binding's name (unique within the kind)."""
    description: str
    run: TabFlow
    show: bool = True
    """Whether the footer shows it (the key help always lists it)."""


def bsub_new_job(tab: ServiceTab, job: Job | None) -> None:
    from jobtui.services.bsub.service import BsubService
    from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen

    assert isinstance(tab.service, BsubService)

    def created(new: Job | None) -> None:
        if new is not None:
            tab.notify(f"{tab.service.name}: job {new.id} submitted")
            tab.select_when_listed(new.id)
            tab.poll_now()

    tab.app.push_screen(NewBsubJobScreen(tab.service), created)


FLOWS: dict[tuple[str, Action], Flow] = {
    ("bsub", Action.NEW): bsub_new_job,
}

SELECT_FLOWS: dict[str, SelectFlow] = {}
"""Per service kind: what enter (or a double click) on a job does in its tab."""

TAB_KEYS: dict[str, tuple[TabKey, ...]] = {}
"""Per service kind: extra keys of its tab (they must not clash with `ACTION_KEYS` or the table's)."""


_registered: set[str] = set()


def register_kind(kind: str) -> None:
    """Plug a kind's UI package into these tables, once (kinds without one have nothing to add)."""
    if kind in _registered:
        return
    _registered.add(kind)
    if kind == "leia":
        from jobtui.tui import leia

        leia.register()
    elif kind == "dsp-ingest":
        from jobtui.tui import dsp_ingest

        dsp_ingest.register()
    elif kind == "ecotaxa":
        from jobtui.tui import ecotaxa

        ecotaxa.register()
