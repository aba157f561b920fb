"""The virtual clock: simulated seconds mapped onto wall-clock time by a speed factor.

Deadlines are computed from the simulated time itself (``wall_start + t / speed``), never by
adding up sleeps, so pacing errors do not accumulate. At speed ``inf`` ("max") the clock never
waits but still yields to the event loop, so in-process consumers keep up.

The wall clock itself is injected (``fibersim.timebase``): tests pace a stream on a
``ManualClock`` and check deadlines and lateness exactly, without sleeping.
"""

from __future__ import annotations

import asyncio
import math

from fibersim.timebase import SYSTEM_CLOCK, Clock


class VirtualClock:
    """Simulated time that runs ``speed`` times faster than the wall clock."""

    def __init__(self, speed: float = 1.0, wall: Clock = SYSTEM_CLOCK) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.wall = wall
        self._wall_start = wall.monotonic()
        self._sim_start = 0.0

    @property
    def is_max_speed(self) -> bool:
        return math.isinf(self.speed)

    def restart(self, sim_now: float = 0.0) -> None:
        """Make ``sim_now`` correspond to the current wall-clock instant."""
        self._wall_start = self.wall.monotonic()
        self._sim_start = sim_now

    def wall_deadline(self, sim_time: float) -> float:
        """The wall clock's ``monotonic()`` value at which ``sim_time`` is due."""
        return self._wall_start + (sim_time - self._sim_start) / self.speed

    def sim_now(self) -> float:
        """The simulated time due now (``inf`` at max speed: everything is due)."""
        if self.is_max_speed:
            return math.inf
        return self._sim_start + (self.wall.monotonic() - self._wall_start) * self.speed

    def lateness(self, sim_time: float) -> float:
        """Seconds of wall time by which ``sim_time`` is overdue (negative if early)."""
        if self.is_max_speed:
            return 0.0
        return self.wall.monotonic() - self.wall_deadline(sim_time)

    async def sleep_until(self, sim_time: float) -> None:
        """Wait until ``sim_time`` is due on the wall clock."""
        if self.is_max_speed:
            await asyncio.sleep(0)
            return
        await self.wall.sleep(self.wall_deadline(sim_time) - self.wall.monotonic())
