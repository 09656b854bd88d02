"""Every snapshot is taken once the app has settled (see tests/settle.py), however long the
machine took to get there: the screen is then the same on an idle machine and on a loaded one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.settle import settle

SnapCompare = Callable[..., bool]


@pytest.fixture
def snap_compare(snap_compare: SnapCompare) -> SnapCompare:
    def compare(
        app: Any,
        *,
        run_before: Callable[[Pilot[Any]], Awaitable[None] | None] | None = None,
        **options: Any,
    ) -> bool:
        async def before(pilot: Pilot[Any]) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if result is not None:
                    await result
            await settle(pilot)

        return snap_compare(app, run_before=before, **options)

    return compare
