"""Server text in widgets: always shown as it is, never read as markup.

Every string a server sent is clean of control characters already (`jobtui.core.text`), but it may
hold square brackets: `[/bogus]` in a job id would stop a markup parser with an error, and
`[@click=app.quit]` would plant an action. Widgets therefore get `Content(text)` or Rich `Text`,
never a markup string, and where Textual insists on markup (the command palette's help line),
`literal(text)` is markup that shows `text` exactly.
"""

from __future__ import annotations


def literal(text: str) -> str:
    """Markup that Textual shows as exactly `text`: every opening bracket escaped."""
    return text.replace("[", "\\[")
