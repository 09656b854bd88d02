"""The job table of every tab: a Line API view that renders only the rows on screen.

A `DataTable` builds a renderable per cell up front and is rebuilt to change; at 100,000 jobs that
takes seconds. `JobTable` keeps plain data instead: a dict of jobs by id, the ids in sort order, and
the visible subset after the filters. Sort keys and search strings are computed once per job change,
and a row becomes a `Strip` only when it is on screen. Rendered strips are cached per job and
invalidated only for the jobs that changed.

Everything is keyed by a row key, the job id unless the table is given another `row_key` (a tab
of all services uses `service_row_key`, since ids repeat across services): the cursor and the
marks stay on their jobs across `apply()`, sorting and filtering.

On a narrow terminal the columns give way in a fixed order so that Updated and Message stay in
view: long ids are cut first (down to `ID_MIN_WIDTH`), then the service's own columns hide (the
last first), then Type, then Progress. Hidden columns move to the right of Message, where `→`
and `ctrl+pagedown` scroll to them (the ID column stays put); `?` offers those keys only while
something is out of view.

The modules, one concern each:

* `rows`: the jobs by row key, sorted and filtered (`Rows`); no rendering, no Textual;
* `cursor`: the cursor, the marks and the vertical scroll, kept on their jobs across changes;
* `render`: columns and their widths, styles, strips and the horizontal scroll;
* `table`: `JobTable` itself, its keys, styles, messages and public API.
"""

from __future__ import annotations

from jobtui.tui.widgets.job_table.render import (
    ID_MIN_WIDTH,
    MARKER_WIDTH,
    MESSAGE_ROOM,
    SLOW_MARK,
    fit,
    progress_text,
    relative_age,
)
from jobtui.tui.widgets.job_table.rows import (
    BULK_UPDATE,
    KEPT_SORTS,
    RowKey,
    job_row_key,
    row_key_of,
    service_row_key,
)
from jobtui.tui.widgets.job_table.table import JobTable

__all__ = [
    "BULK_UPDATE",
    "ID_MIN_WIDTH",
    "KEPT_SORTS",
    "MARKER_WIDTH",
    "MESSAGE_ROOM",
    "SLOW_MARK",
    "JobTable",
    "RowKey",
    "fit",
    "job_row_key",
    "progress_text",
    "relative_age",
    "row_key_of",
    "service_row_key",
]
