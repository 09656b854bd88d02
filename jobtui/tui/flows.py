"""Actions that open a form of their own, per (service kind, action).

Generic actions (confirm-and-run, logs, save output) are handled by `ServiceTab`; the ones here
need a service-specific dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from jobtui.core.models import Action, Job

if TYPE_CHECKING:
    from jobtui.tui.widgets.service_tab import ServiceTab

Flow = Callable[["ServiceTab", Job | None], None]


def bsub_new_job(tab: ServiceTab, job: Job | None) -> None:
    from jobtui.services.bsub import BsubService
    from jobtui.tui.modals.bsub_new_job import NewBsubJobScreen

    assert isinstance(tab.service, BsubService)

    def created(new: Job | None) -> None:
        if new is not None:
            tab.notify(f"{tab.service.name}: job {new.id} submitted")
            tab.poll_now()

    tab.app.push_screen(NewBsubJobScreen(tab.service), created)


FLOWS: dict[tuple[str, Action], Flow] = {
    ("bsub", Action.NEW): bsub_new_job,
}
