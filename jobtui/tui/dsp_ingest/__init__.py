"""The dsp-ingest tab's own pieces: the detail section, the folder-upload dialog and the mapping
view.

`register()` plugs them into the generic tab (`jobtui.tui.flows` calls it). Start ingest (`i`) and
finalize (`F`, confirmed first) are plain service actions that the generic tab runs.

| Key | What |
| :- | :- |
| `u` | Upload a local folder to the selected project (or another one typed in the dialog). |
| `U` | Upload a local folder to any project, typed in the dialog (also when no row is shown). |
| `m` | The selected project's mapping (original → derivative), and save it to a file. |
"""

from __future__ import annotations

KIND = "dsp-ingest"


def register() -> None:
    """Register the dsp-ingest section, flows and keys (idempotent)."""
    from jobtui.core.models import Action
    from jobtui.tui.dsp_ingest.mapping import show_mapping
    from jobtui.tui.dsp_ingest.section import render_section
    from jobtui.tui.dsp_ingest.upload import upload_anywhere, upload_folder
    from jobtui.tui.flows import FLOWS, TAB_KEYS, TabKey
    from jobtui.tui.widgets.detail import SECTIONS

    SECTIONS[KIND] = render_section
    FLOWS[(KIND, Action.UPLOAD)] = upload_folder
    FLOWS[(KIND, Action.MAPPING)] = show_mapping
    TAB_KEYS[KIND] = (TabKey("U", "upload-any", "Upload to…", upload_anywhere),)
