"""Wall time as a dependency: the clock the runner, the mock and the tests are given.

Code that waits or measures elapsed time takes a ``Clock`` instead of calling
``time.monotonic``/``asyncio.sleep`` itself, so a test can hand it a virtual clock: what the
code measures is then exact instead of whatever a loaded machine happened to deliver, and the
test takes no wall time. Behaviour that crosses a real wire (a broker, an HTTP server in
another process) keeps the ``SYSTEM_CLOCK``.

There are two virtual clocks because there are two kinds of code under test:

- ``ManualClock``: one actor that waits (the streamer pacing its blocks). Its ``sleep`` moves
  time on by itself, so the test just awaits the code, and every sleep is time passing.
- ``SteppedClock``: several actors waiting at once, some in the background forever (the mock
  Focus Server's watchdog and crash-loop back-off). There ``sleep`` must wait until the test
  moves time with ``advance``: on a ``ManualClock`` a background sleeper would run time away
  whenever the test awaits anything else (an HTTP call to the mock).

One clock cannot be both: a stepped clock under the streamer would need the test to guess
when the streamer is blocked on the clock rather than on other work (a render process, a
flush) before moving time, which is the race the stepped clock exists to remove.
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


class SteppedClock:
    """Virtual time that moves only when the test moves it: ``sleep`` waits until
    ``advance`` passes its deadline (see the module docstring for when to use which)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking every sleeper at its own deadline in order and
        letting it run (and sleep again) before time moves further."""
        if seconds < 0:
            raise ValueError("a monotonic clock does not go backwards")
        end = self.now + seconds
        while due := [entry for entry in self._sleepers if entry[0] <= end]:
            entry = min(due, key=lambda item: item[0])
            self._sleepers.remove(entry)
            self.now = max(self.now, entry[0])
            entry[1].set_result(None)
            for _ in range(3):  # the woken task runs, then sleeps again
                await asyncio.sleep(0)
        self.now = end


#: The clock of everything not given another one.
SYSTEM_CLOCK: Clock = SystemClock()
