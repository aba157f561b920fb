"""Helpers shared by the streaming tests: run a small fiber and collect what was published."""

from __future__ import annotations

import math

from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.signals import SynthesisContext, build_synthesizer
from fibersim.transport import Transport

START_NS = 1_764_506_400_000_000_000
SMALL_FIBER = FiberConfig(fiber_id="test-fiber", number_of_channels=64, prr=500.0)


async def stream_fiber(transport: Transport, seconds: float, seed: int = 7,
                       config: FiberConfig = SMALL_FIBER) -> FiberStreamer:
    """Publish ``seconds`` of ``config`` at max speed, then disconnect cleanly and flush."""
    streamer = FiberStreamer(Interrogator(config, START_NS), transport,
                             VirtualClock(math.inf), seed=seed)
    await streamer.connect()
    await streamer.run_until(seconds)
    await streamer.disconnect()
    await transport.flush()
    return streamer


def expected_strain_rate(config: FiberConfig, seed: int, n_samples: int):
    """What the simulator generates for this seed, rendered independently of any stream."""
    return build_synthesizer(None, SynthesisContext.of_fiber(config, seed)).render(n_samples)
