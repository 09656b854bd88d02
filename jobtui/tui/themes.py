"""jobtui's own theme, and the list of themes to choose from.

`jobtui-ansi` uses only the 16 ANSI colours, named, so that the terminal's own palette draws it:
it reads well on a 16-colour terminal (the Linux console, `TERM=screen`), where the other themes'
true colours are squeezed into the nearest of the 16 and panels, cursor and background run into
each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.theme import Theme

ANSI_THEME = "jobtui-ansi"

JOBTUI_ANSI = Theme(
    name=ANSI_THEME,
    ansi=True,
    dark=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    accent="ansi_magenta",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_blue",
    boost="ansi_default",
    variables={
        # Textual's ANSI themes leave panels transparent; the header, the table's heading
        # and the status line stand out on blue here.
        "panel": "ansi_blue",
        "panel-lighten-1": "ansi_bright_blue",
        "panel-lighten-2": "ansi_bright_blue",
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "text-primary": "ansi_bright_blue",
        "text-secondary": "ansi_cyan",
        "text-accent": "ansi_bright_magenta",
        "text-warning": "ansi_yellow",
        "text-error": "ansi_bright_red",
        "text-success": "ansi_green",
        "text-muted": "ansi_bright_black",
        "foreground-muted": "ansi_bright_black",
        "border": "ansi_bright_blue",
        "border-blurred": "ansi_blue",
        "block-cursor-background": "ansi_cyan",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-text-style": "bold",
        "block-cursor-blurred-background": "ansi_bright_black",
        "block-cursor-blurred-foreground": "ansi_white",
        "block-cursor-blurred-text-style": "none",
        "block-hover-background": "ansi_bright_black",
        "footer-background": "ansi_default",
        "footer-key-foreground": "ansi_yellow",
        "footer-description-foreground": "ansi_default",
        "footer-item-background": "ansi_default",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_black",
        "input-selection-background": "ansi_blue",
        "input-selection-foreground": "ansi_bright_white",
        "scrollbar": "ansi_bright_black",
        "scrollbar-hover": "ansi_white",
        "scrollbar-active": "ansi_bright_white",
        "scrollbar-background": "ansi_default",
        "scrollbar-corner-color": "ansi_default",
        "button-foreground": "ansi_bright_white",
        "button-color-foreground": "ansi_bright_white",
    },
)
"""A theme of the 16 ANSI colours only."""

THEMES = (JOBTUI_ANSI,)
"""jobtui's own themes, registered on the app at start."""

THEME_NOTES = {ANSI_THEME: "16 colours: the Linux console, TERM=screen"}
"""What the theme chooser says beside a theme's name."""


def theme_choices(available: Iterable[str], current: str) -> list[str]:
    """The themes to choose from: jobtui's first, then Textual's by name; `current` included."""
    names = set(available) | {current}
    own = [theme.name for theme in THEMES if theme.name in names]
    return own + sorted(names - set(own))
