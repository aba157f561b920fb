"""Same seed, same bytes; different seed, different bytes; same messages on both transports."""

from __future__ import annotations

import hashlib

import pytest

from fibersim.transport import Delivery, MemoryBroker, MemoryTransport, open_transport
from tests.stream.helpers import stream_fiber


class Recorder:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def data_digest(self) -> str:
        digest = hashlib.sha256()
        for delivery in self.deliveries:
            if delivery.routing_key.endswith(".data"):
                digest.update(delivery.envelope.body)
        return digest.hexdigest()


async def record_memory_stream(seed: int) -> Recorder:
    recorder = Recorder()
    transport = MemoryTransport(MemoryBroker())
    await transport.subscribe(["das.#"], recorder)
    await stream_fiber(transport, 1.0, seed=seed)
    await transport.close()
    return recorder


async def test_two_runs_with_the_same_seed_publish_identical_bytes() -> None:
    first, second = await record_memory_stream(3), await record_memory_stream(3)
    assert first.data_digest() == second.data_digest()


async def test_different_seeds_publish_different_bytes() -> None:
    first, second = await record_memory_stream(3), await record_memory_stream(4)
    assert first.data_digest() != second.data_digest()


@pytest.mark.broker
async def test_memory_and_amqp_transports_deliver_the_same_messages(
        amqp_url: str, exchange_name: str) -> None:
    import asyncio

    memory = await record_memory_stream(5)
    amqp_recorder = Recorder()
    transport = open_transport(amqp_url, exchange=exchange_name)
    await transport.connect()
    await transport.subscribe(["das.#"], amqp_recorder)
    await stream_fiber(transport, 1.0, seed=5)
    async with asyncio.timeout(10):
        while len(amqp_recorder.deliveries) < len(memory.deliveries):
            await asyncio.sleep(0.02)
    await transport.close()
    assert [d.routing_key for d in amqp_recorder.deliveries] == [
        d.routing_key for d in memory.deliveries]
    assert [d.envelope.body for d in amqp_recorder.deliveries] == [
        d.envelope.body for d in memory.deliveries]


async def test_a_failing_memory_subscriber_keeps_receiving_later_messages() -> None:
    received: list[str] = []

    async def fragile(delivery: Delivery) -> None:
        received.append(delivery.routing_key)
        if len(received) == 1:
            raise RuntimeError("handler bug")

    transport = MemoryTransport(MemoryBroker())
    await transport.subscribe(["das.#"], fragile)
    await stream_fiber(transport, 0.5)
    await transport.close()
    assert len(received) > 3


async def test_a_started_source_survives_a_reconfiguration() -> None:
    import math

    from fibersim.interrogator import Interrogator
    from fibersim.runner import FiberStreamer, VirtualClock
    from fibersim.signals import MachinerySpec
    from tests.stream.helpers import SMALL_FIBER, START_NS

    streamer = FiberStreamer(Interrogator(SMALL_FIBER, START_NS),
                             MemoryTransport(MemoryBroker()), VirtualClock(math.inf))
    streamer.start_source("pump", MachinerySpec())
    streamer.stop_source("preset")
    await streamer.reconfigure(prr=250.0)
    assert "pump" in streamer.synthesizer.labels
    assert "preset" not in streamer.synthesizer.labels
