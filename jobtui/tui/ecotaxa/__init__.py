"""The EcoTaxa tab's own pieces: the detail section and the answer form.

`register()` plugs them into the generic tab (`jobtui.tui.flows` calls it). Restart (`R`, jobs in
error), erase (`d`, confirmed first with what it does in the job's state), the log (`l`, followed
while the job runs) and the file download (`o`, named as the server names it) are plain service
actions that the generic tab runs.

| Key | What |
| :- | :- |
| `a` | Answer the question of an asking import: one id per missing user and taxon. |
"""

from __future__ import annotations

KIND = "ecotaxa"


def register() -> None:
    """Register the EcoTaxa section and answer flow (idempotent)."""
    from jobtui.core.models import Action
    from jobtui.tui.ecotaxa.answer import answer_job
    from jobtui.tui.ecotaxa.section import render_section
    from jobtui.tui.flows import FLOWS
    from jobtui.tui.widgets.detail import SECTIONS

    SECTIONS[KIND] = render_section
    FLOWS[(KIND, Action.ANSWER)] = answer_job
