"""The Leia tab's own pieces: the detail section, chain navigation, the conditional-job dialog and
the server-side filter dialog.

`register()` plugs them into the generic tab (`jobtui.tui.flows` calls it):

| Key | What |
| :- | :- |
| `enter` | The jobs linked to the selected one; choosing one moves the cursor to it. |
| `backspace` | Back to the job the last jump came from. |
| `f` | Filter the jobs on the server. |
| `k` | New conditional job after the selected one (the `CONDITIONAL` action). |
"""

from __future__ import annotations

KIND = "leia"


def register() -> None:
    """Register the Leia section, flows and keys (idempotent)."""
    from jobtui.core.models import Action
    from jobtui.tui.flows import FLOWS, SELECT_FLOWS, TAB_KEYS, TabKey
    from jobtui.tui.leia.chain import go_back, open_chain
    from jobtui.tui.leia.conditional import new_conditional
    from jobtui.tui.leia.filters import edit_filters
    from jobtui.tui.leia.section import render_section
    from jobtui.tui.widgets.detail import SECTIONS

    SECTIONS[KIND] = render_section
    FLOWS[(KIND, Action.CONDITIONAL)] = new_conditional
    SELECT_FLOWS[KIND] = open_chain
    TAB_KEYS[KIND] = (
        TabKey("f", "filter", "Server filter", edit_filters),
        TabKey("backspace", "back", "Back", go_back, show=False),
    )
