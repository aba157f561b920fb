"""Pacing on virtual wall time: the streamer at a finite speed, driven by a ``ManualClock``.

These behaviours do not cross a real wire, so they run on an injected clock: the deadlines
are checked exactly and the tests take no wall time, however loaded the machine is.
"""

from __future__ import annotations

import pytest

from fibersim.interrogator import Interrogator
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.timebase import ManualClock
from fibersim.transport import MemoryBroker, MemoryTransport
from tests.stream.helpers import SMALL_FIBER, START_NS


async def paced_run(speed: float, seconds: float) -> tuple[ManualClock, FiberStreamer]:
    """Stream ``seconds`` at ``speed`` on a manual clock starting at 100 s."""
    wall = ManualClock(100.0)
    transport = MemoryTransport(MemoryBroker())
    streamer = FiberStreamer(Interrogator(SMALL_FIBER, START_NS), transport,
                             VirtualClock(speed, wall), render_process=False)
    await streamer.connect()
    await streamer.run_until(seconds)
    await transport.flush()
    await transport.close()
    return wall, streamer


async def test_at_speed_one_every_block_leaves_exactly_when_it_is_due() -> None:
    """Lateness is measured on the injected clock: on virtual time it is exactly zero."""
    wall, streamer = await paced_run(1.0, 1.0)
    assert wall.monotonic() == pytest.approx(101.0)
    assert streamer.stats.blocks == 10
    assert list(streamer.stats.lateness) == pytest.approx([0.0] * 10, abs=1e-9)


async def test_speed_divides_the_wall_time_of_a_run() -> None:
    wall, streamer = await paced_run(4.0, 2.0)
    assert wall.monotonic() == pytest.approx(100.5)
    assert streamer.stats.blocks == 20
