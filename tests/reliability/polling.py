"""Polling helper of the fault tests."""

from __future__ import annotations

import asyncio


async def eventually(condition: object, timeout_s: float) -> None:
    """Poll ``condition()`` until true, at most ``timeout_s``."""
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)
