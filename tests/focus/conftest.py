"""Fixtures for the mock Focus Server tests (helpers live in harness.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fibersim.focus import FocusMock, FocusSettings, create_app
from fibersim.timebase import SteppedClock
from fibersim.transport import MemoryBroker, MemoryTransport
from tests.focus.harness import Focus, FocusFactory


@pytest.fixture
async def make_focus() -> AsyncIterator[FocusFactory]:
    """Build mocks with any FocusSettings (control interface on unless said otherwise), each
    on its own virtual clock; all are stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:
        async def make(**settings: Any) -> Focus:
            broker = MemoryBroker()
            consumer, publisher = MemoryTransport(broker), MemoryTransport(broker)
            stack.push_async_callback(consumer.close)
            chosen = FocusSettings(**({"control_enabled": True} | settings))
            clock = SteppedClock()
            mock = await stack.enter_async_context(FocusMock(chosen, consumer, clock=clock))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(mock)), base_url="http://mock"))
            return Focus(mock, client, publisher, consumer, clock)

        yield make


@pytest.fixture(params=["incident", "fixed"])
def behaviour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def focus(make_focus: FocusFactory, behaviour: str) -> Focus:
    """A mock in each behaviour, waiting for fiber."""
    return await make_focus(behaviour=behaviour)


@pytest.fixture
async def ready_focus(focus: Focus) -> Focus:
    """A mock in each behaviour with the incident's healthy fiber (2337 ch, 2000 Hz)."""
    await focus.metadata()
    return focus


