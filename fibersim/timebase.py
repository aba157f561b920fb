"""Wall time as a dependency: the clock the runner, the mock and the tests are given.

Code that waits or measures elapsed time takes a ``Clock`` instead of calling
``time.monotonic``/``asyncio.sleep`` itself, so a test can hand it a ``ManualClock`` and run
on virtual time: sleeping moves the clock on at once, and what the code measures is exact
instead of whatever a loaded machine happened to deliver. Behaviour that crosses a real wire
(a broker, an HTTP server in another process) keeps the ``SYSTEM_CLOCK``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds and a way to wait for them."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (at least yield to the event loop when ``seconds <= 0``)."""
        ...


class SystemClock:
    """The machine's monotonic clock and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Virtual wall time for tests: ``sleep`` advances the clock by the time slept and only
    yields to the event loop, ``advance`` moves it by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go backwards")
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


#: The clock of everything not given another one.
SYSTEM_CLOCK: Clock = SystemClock()
