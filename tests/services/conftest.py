"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jobtui.core.service import Service


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    """Services a test appends here are closed when it ends."""
    items: list[Service] = []
    yield items
    for item in items:
        await item.aclose()
