"""A consumer written from docs/wire-protocol.md alone, with plain aio-pika and struct: it must
reconstruct exactly what the simulator generated. It deliberately uses no fibersim decoder."""

from __future__ import annotations

import asyncio
import json
import struct

import aio_pika
import numpy as np
import pytest

from fibersim.models import FiberConfig
from fibersim.transport import open_transport
from tests.stream.helpers import START_NS, expected_strain_rate, stream_fiber

pytestmark = pytest.mark.broker


class ProtocolConsumer:
    """Binds ``das.<fiber>.#`` and decodes bodies per the document."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.metadata: list[dict] = []
        self.blocks: list[dict] = []

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        kind = message.routing_key.rsplit(".", 1)[1]
        self.kinds.append(kind)
        if kind == "data":
            assert message.content_type == "application/vnd.fibersim.block"
            self.blocks.append(decode_block(message.body))
        else:
            assert message.content_type == "application/json"
            payload = json.loads(message.body)
            assert payload["schema_version"] == 1 and payload["kind"] == kind
            if kind == "metadata":
                self.metadata.append(payload)


def decode_block(body: bytes) -> dict:
    magic, version, header_length, dtype_code = struct.unpack_from("<4sHHB", body)
    assert magic == b"FSDB" and version == 1
    (epoch, sequence, first_index, first_ns, rate, n_samples, channel_start, n_channels, _,
     scale) = struct.unpack_from("<IQQqdIIIId", body, 12)
    dtype = {1: "<i2", 2: "<f4"}[dtype_code]
    samples = np.frombuffer(body, dtype, offset=header_length).reshape(n_samples, n_channels)
    return {"sequence": sequence, "first_index": first_index, "first_ns": first_ns,
            "rate": rate, "scale": scale, "epoch": epoch, "channel_start": channel_start,
            "samples": samples}


async def consume_while_streaming(amqp_url: str, exchange: str, config: FiberConfig,
                                  seconds: float, seed: int = 7) -> ProtocolConsumer:
    consumer = ProtocolConsumer()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange_obj = await channel.declare_exchange(exchange, "topic", durable=True)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange_obj, f"das.{config.fiber_id}.#")
        await queue.consume(consumer.on_message, no_ack=True)
        transport = open_transport(amqp_url, exchange=exchange)
        await transport.connect()
        await stream_fiber(transport, seconds, seed=seed, config=config)
        await transport.close()
        await _wait_for(lambda: "status" in consumer.kinds[1:])
        await exchange_obj.delete()
    return consumer


async def _wait_for(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_float32_stream_reconstructs_the_generated_array_bit_for_bit(
        amqp_url: str, exchange_name: str) -> None:
    config = FiberConfig(fiber_id="ext-f32", number_of_channels=48, prr=500.0, dtype="float32")
    consumer = await consume_while_streaming(amqp_url, exchange_name, config, seconds=2.0)
    received = np.vstack([block["samples"] for block in consumer.blocks])
    assert np.array_equal(received, expected_strain_rate(config, 7, received.shape[0]))


async def test_int16_stream_is_within_one_quantisation_step(amqp_url: str,
                                                            exchange_name: str) -> None:
    config = FiberConfig(fiber_id="ext-i16", number_of_channels=48, prr=500.0)
    consumer = await consume_while_streaming(amqp_url, exchange_name, config, seconds=2.0)
    scale = consumer.blocks[0]["scale"]
    received = np.vstack([block["samples"].astype(np.float64) * scale
                          for block in consumer.blocks])
    expected = expected_strain_rate(config, 7, received.shape[0])
    assert np.max(np.abs(received - expected)) <= scale * 0.5 + 1e-12


async def test_sequence_numbers_sample_indices_and_timestamps_are_continuous(
        amqp_url: str, exchange_name: str) -> None:
    config = FiberConfig(fiber_id="ext-seq", number_of_channels=16, prr=1000.0)
    consumer = await consume_while_streaming(amqp_url, exchange_name, config, seconds=3.0)
    blocks = consumer.blocks
    assert [b["sequence"] for b in blocks] == list(range(len(blocks)))
    n = blocks[0]["samples"].shape[0]
    assert [b["first_index"] for b in blocks] == [i * n for i in range(len(blocks))]
    assert [b["first_ns"] for b in blocks] == [START_NS + round(i * n * 1e9 / 1000.0)
                                               for i in range(len(blocks))]


async def test_metadata_arrives_before_the_first_data_block(amqp_url: str,
                                                            exchange_name: str) -> None:
    config = FiberConfig(fiber_id="ext-order", number_of_channels=16, prr=500.0)
    consumer = await consume_while_streaming(amqp_url, exchange_name, config, seconds=1.0)
    assert consumer.kinds.index("metadata") < consumer.kinds.index("data")
    assert consumer.metadata[0]["metadata"]["prr"] == 500.0


async def test_a_consumer_that_joins_late_still_receives_metadata(amqp_url: str,
                                                                  exchange_name: str) -> None:
    import math

    from fibersim.interrogator import Interrogator
    from fibersim.runner import FiberStreamer, VirtualClock

    config = FiberConfig(fiber_id="ext-late", number_of_channels=16, prr=500.0)
    transport = open_transport(amqp_url, exchange=exchange_name)
    await transport.connect()
    streamer = FiberStreamer(Interrogator(config, START_NS), transport, VirtualClock(math.inf))
    await streamer.connect()
    await streamer.run_until(3.0)  # the connect-time metadata is long gone
    await transport.flush()
    late = ProtocolConsumer()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange_obj = await channel.get_exchange(exchange_name)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange_obj, "das.ext-late.#")
        await queue.consume(late.on_message, no_ack=True)
        await streamer.run_until(6.0)
        await transport.flush()
        await _wait_for(lambda: late.metadata)
        await exchange_obj.delete()
    await transport.close()
    assert late.metadata[0]["reason"] == "periodic"
