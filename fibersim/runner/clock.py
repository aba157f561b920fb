"""The virtual clock: simulated seconds mapped onto wall-clock time by a speed factor.

Deadlines are computed from the simulated time itself (``wall_start + t / speed``), never by
adding up sleeps, so pacing errors do not accumulate. At speed ``inf`` ("max") the clock never
waits but still yields to the event loop, so in-process consumers keep up.
"""

from __future__ import annotations

import asyncio
import math
import time


class VirtualClock:
    """Simulated time that runs ``speed`` times faster than the wall clock."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._wall_start = time.monotonic()
        self._sim_start = 0.0

    @property
    def is_max_speed(self) -> bool:
        return math.isinf(self.speed)

    def restart(self, sim_now: float = 0.0) -> None:
        """Make ``sim_now`` correspond to the current wall-clock instant."""
        self._wall_start = time.monotonic()
        self._sim_start = sim_now

    def wall_deadline(self, sim_time: float) -> float:
        """``time.monotonic()`` value at which ``sim_time`` is due."""
        return self._wall_start + (sim_time - self._sim_start) / self.speed

    def sim_now(self) -> float:
        """The simulated time due now (``inf`` at max speed: everything is due)."""
        if self.is_max_speed:
            return math.inf
        return self._sim_start + (time.monotonic() - self._wall_start) * self.speed

    def lateness(self, sim_time: float) -> float:
        """Seconds of wall time by which ``sim_time`` is overdue (negative if early)."""
        if self.is_max_speed:
            return 0.0
        return time.monotonic() - self.wall_deadline(sim_time)

    async def sleep_until(self, sim_time: float) -> None:
        """Wait until ``sim_time`` is due on the wall clock."""
        if self.is_max_speed:
            await asyncio.sleep(0)
            return
        delay = self.wall_deadline(sim_time) - time.monotonic()
        await asyncio.sleep(max(0.0, delay))
