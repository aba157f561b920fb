"""A streamer rendering in a separate process publishes exactly what one rendering in process
does, through source events, faults, a reconnect and a reconfiguration; and it cleans up."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import pytest

from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.runner.streamer import RENDER_PROCESS_MIN_VALUES
from fibersim.runner.synth_worker import RenderProcess
from fibersim.signals import MachinerySpec
from fibersim.transport import Delivery, MemoryBroker, MemoryTransport
from tests.stream.helpers import SMALL_FIBER, START_NS

Script = Callable[[FiberStreamer], Awaitable[None]]


async def published(render_process: bool, script: Script,
                    config: FiberConfig = SMALL_FIBER) -> list[tuple[str, bytes]]:
    """Routing keys and bodies of the data blocks ``script`` makes a streamer publish."""
    deliveries: list[Delivery] = []

    async def record(delivery: Delivery) -> None:
        deliveries.append(delivery)

    transport = MemoryTransport(MemoryBroker())
    await transport.subscribe(["das.*.data"], record)
    streamer = FiberStreamer(Interrogator(config, START_NS), transport, VirtualClock(math.inf),
                             seed=11, render_process=render_process)
    try:
        assert isinstance(streamer.synthesizer, RenderProcess) == render_process
        await streamer.prepare()
        await script(streamer)
        await transport.flush()
    finally:
        streamer.close()
        await transport.close()
    return [(d.routing_key, d.envelope.body) for d in deliveries]


async def eventful(streamer: FiberStreamer) -> None:
    """Everything that changes what is rendered next, between runs of the clock."""
    await streamer.connect()
    await streamer.run_until(0.5)
    streamer.synthesizer.start_source("pump", MachinerySpec(channel=9, amplitude=1e-4))
    streamer.faults.reorder_blocks = 1
    streamer.faults.corrupt_blocks = 1
    await streamer.run_until(1.0)
    streamer.synthesizer.stop_source("preset")
    streamer.faults.skip_blocks = 2
    streamer.faults.duplicate_blocks = 1
    await streamer.run_until(1.4)
    await streamer.disconnect(clean=False)
    await streamer.run_until(1.7)
    await streamer.connect()
    await streamer.run_until(2.0)
    await streamer.reconfigure(number_of_channels=80, dtype="float32")
    await streamer.run_until(2.5)
    await streamer.zero_prr()
    await streamer.run_until(2.7)
    await streamer.restore_prr()
    await streamer.reconfigure(prr=400.0)
    await streamer.run_until(3.2)


async def test_a_render_process_publishes_the_same_bytes_as_in_process_rendering() -> None:
    here = await published(False, eventful)
    there = await published(True, eventful)
    assert len(here) > 25
    assert there == here


async def test_source_events_keep_the_synthesizer_errors() -> None:
    async def script(streamer: FiberStreamer) -> None:
        await streamer.connect()
        await streamer.run_until(0.2)
        with pytest.raises(ValueError, match="already running"):
            streamer.synthesizer.start_source("preset", MachinerySpec(channel=3))
        with pytest.raises(ValueError, match="outside"):
            streamer.synthesizer.start_source("far", MachinerySpec(channels=(500, 600)))
        with pytest.raises(KeyError):
            streamer.synthesizer.stop_source("nothing")
        assert streamer.synthesizer.labels == ["preset"]
        await streamer.run_until(0.4)

    assert await published(True, script) == await published(False, script)


async def test_close_ends_the_worker_and_frees_the_ring() -> None:
    transport = MemoryTransport(MemoryBroker())
    streamer = FiberStreamer(Interrogator(SMALL_FIBER, START_NS), transport,
                             VirtualClock(math.inf), render_process=True)
    renderer = streamer.synthesizer
    assert isinstance(renderer, RenderProcess)
    await streamer.prepare()
    process, ring = renderer._process, renderer._ring
    assert process.is_alive() and ring is not None
    streamer.close()
    streamer.close()
    assert not process.is_alive() and process.exitcode == 0
    with pytest.raises(FileNotFoundError):
        type(ring)(name=ring.name)
    await transport.close()


def test_only_full_rate_fibers_render_in_a_process_by_default() -> None:
    transport = MemoryTransport(MemoryBroker())
    small = FiberStreamer(Interrogator(SMALL_FIBER, START_NS), transport, VirtualClock(1.0))
    assert not isinstance(small.synthesizer, RenderProcess)
    full = FiberConfig()
    assert full.samples_per_block * full.number_of_channels >= RENDER_PROCESS_MIN_VALUES


async def test_paced_streams_render_ahead_and_still_send_the_same_bytes() -> None:
    """At speed 1 each block is rendered one block ahead; a source started meanwhile must
    still start at the next block sent, exactly as at max speed."""
    import math

    from fibersim.interrogator import Interrogator
    from fibersim.models import FiberConfig
    from fibersim.runner import FiberStreamer, VirtualClock
    from fibersim.signals import MachinerySpec
    from fibersim.transport import MemoryBroker, MemoryTransport

    async def bodies(speed: float) -> list[bytes]:
        received: list[bytes] = []

        async def keep(delivery: Delivery) -> None:
            if delivery.routing_key.endswith(".data"):
                received.append(delivery.envelope.body)

        transport = MemoryTransport(MemoryBroker())
        await transport.subscribe(["das.#"], keep)
        config = FiberConfig(number_of_channels=16, prr=200.0, dtype="float32")
        streamer = FiberStreamer(Interrogator(config, 0), transport, VirtualClock(speed))
        await streamer.connect()
        await streamer.run_until(0.3)
        streamer.start_source("pump", MachinerySpec())
        await streamer.disconnect()
        await streamer.connect()
        await streamer.run_until(0.6)
        await transport.flush()
        await transport.close()
        return received

    assert await bodies(20.0) == await bodies(math.inf)
