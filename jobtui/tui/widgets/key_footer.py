"""The footer of keys, rebuilt only when the keys it shows change.

Textual's Footer recomposes (removes and mounts one widget per key, then lays the screen out
again) whenever any binding may have changed: on every focus change and every
`refresh_bindings()`. With a key per action and the cursor moving across jobs whose states
allow different actions, that was half of the dashboard's CPU. This footer compares what it
would show with what it shows: the same keys with other enabled states are updated in place,
and only a different set of keys is composed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.screen import Screen

Shown = tuple[tuple[str, ...], ...]
"""Per key shown: key, display, description, group, action, tooltip (what only a recompose
changes)."""


class KeyFooter(Footer):
    """A Footer that recomposes only when the set of keys changes."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: Shown | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._update_keys)

    def _wanted(self) -> tuple[Shown, list[bool]]:
        """What compose would yield now, and whether each key is enabled."""
        shown: list[tuple[str, ...]] = []
        states: list[bool] = []
        seen: set[str] = set()
        active = self.screen.active_bindings
        for _node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            group = "" if binding.group is None else binding.group.description
            display = self.app.get_key_display(binding)
            shown.append(
                (binding.key, display, binding.description, group, binding.action, tooltip)
            )
            states.append(enabled)
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette is not None:
            _node, binding, enabled, tooltip = palette
            display = self.app.get_key_display(binding)
            shown.append((binding.key, display, binding.description, "", "\0palette", tooltip))
            states.append(enabled)
        return tuple(shown), states

    async def _update_keys(self) -> None:
        if not self.is_attached:
            return
        shown, states = self._wanted()
        keys = list(self.query(FooterKey))
        if shown != self._shown or len(keys) != len(states):
            self._shown = shown
            await self.recompose()
            return
        for key, enabled in zip(keys, states, strict=True):
            if key._disabled == enabled:  # what FooterKey itself reads when clicked
                key._disabled = not enabled
                key.set_class(not enabled, "-disabled")
