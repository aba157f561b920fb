"""Broker faults against the real RabbitMQ: nothing is lost without being reported."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import Delivery, PublishStats, open_transport
from fibersim.wire import DataBlock, MetadataMessage, get_codec
from tests.reliability.tcp_proxy import CuttableProxy

pytestmark = pytest.mark.broker

FIBER = FiberConfig(fiber_id="fault-fiber", number_of_channels=32, prr=500.0)


def via_proxy(amqp_url: str, port: int) -> str:
    parts = urlsplit(amqp_url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


class SequenceRecorder:
    def __init__(self) -> None:
        self.sequences: list[int] = []
        self.metadata_reasons: list[tuple[float, str]] = []

    async def __call__(self, delivery: Delivery) -> None:
        message = get_codec().decode(delivery.envelope)
        if isinstance(message, DataBlock):
            self.sequences.append(message.sequence)
        elif isinstance(message, MetadataMessage):
            self.metadata_reasons.append((time.monotonic(), message.reason))


async def test_a_broker_outage_loses_nothing_silently(amqp_url: str, exchange_name: str) -> None:
    proxy = CuttableProxy(urlsplit(amqp_url).hostname or "127.0.0.1",
                          urlsplit(amqp_url).port or 5672)
    await proxy.start()
    observer = open_transport(amqp_url, exchange=exchange_name)
    await observer.connect()
    seen = SequenceRecorder()
    await observer.subscribe([f"das.{FIBER.fiber_id}.#"], seen)
    publisher = open_transport(via_proxy(amqp_url, proxy.port), exchange=exchange_name)
    await publisher.connect()
    streamer = FiberStreamer(Interrogator(FIBER, time.time_ns()), publisher, VirtualClock(10.0))
    await streamer.connect()
    run = asyncio.create_task(streamer.run_until(12.0))
    await asyncio.sleep(0.3)
    cut_at = time.monotonic()
    await proxy.cut()
    await asyncio.sleep(1.5)
    await proxy.restore()
    async with asyncio.timeout(30):
        await run
    await publisher.close()
    await asyncio.sleep(0.5)
    await observer.close()
    await proxy.close()

    published = set(range(streamer.interrogator.next_sequence))
    lost = set(publisher.stats.lost_sequences)
    assert published <= set(seen.sequences) | lost, "a block vanished without being reported"
    assert publisher.stats.reconnects >= 1
    assert any(at > cut_at and reason == "connect" for at, reason in seen.metadata_reasons), (
        "metadata was not re-published after reconnecting")
    assert max(seen.sequences) == streamer.interrogator.next_sequence - 1, "stream did not resume"


def rabbitmqctl(*args: str) -> str:
    import shutil
    import subprocess

    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl not available to raise a memory alarm")
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


def memory_watermark() -> list[str]:
    """The broker's current memory watermark, as ``set_vm_memory_high_watermark`` arguments,
    so the test puts back what it found (``0.4``, or ``{absolute,N}`` -> ``absolute N``)."""
    value = rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    absolute = re.fullmatch(r"\{absolute,\s*(\d+)\}", value)
    return ["absolute", absolute.group(1)] if absolute else [value]


async def test_a_blocked_broker_pauses_the_publisher_which_then_resumes(
        amqp_url: str, exchange_name: str) -> None:
    publisher = open_transport(amqp_url, exchange=exchange_name, confirm_window=8)
    await publisher.connect()
    streamer = FiberStreamer(Interrogator(FIBER, time.time_ns()), publisher,
                             VirtualClock(math.inf))
    await streamer.connect()
    run = asyncio.create_task(streamer.run_until(1e6))  # stopped by the test below
    try:
        async with asyncio.timeout(10):
            while streamer.stats.blocks < 10:
                await asyncio.sleep(0.01)
        watermark = memory_watermark()
        try:
            rabbitmqctl("set_vm_memory_high_watermark", "absolute", "1")  # memory alarm
            await asyncio.sleep(1.0)
            blocks_when_blocked = streamer.stats.blocks
            await asyncio.sleep(2.0)
            assert streamer.stats.blocks - blocks_when_blocked <= 8, "publisher did not pause"
        finally:
            rabbitmqctl("set_vm_memory_high_watermark", *watermark)
        resumed_from = streamer.stats.blocks
        async with asyncio.timeout(30):
            while streamer.stats.blocks < resumed_from + 50:
                await asyncio.sleep(0.05)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await publisher.close()
    assert publisher.stats.lost_sequences == []
    assert publisher.stats.broker_wait_seconds >= 1.5


async def publish_one_second(amqp_url: str, exchange: str) -> PublishStats:
    """Stream one simulated second of FIBER at max speed, close, and return the stats."""
    publisher = open_transport(amqp_url, exchange=exchange)
    await publisher.connect()
    streamer = FiberStreamer(Interrogator(FIBER, time.time_ns()), publisher,
                             VirtualClock(math.inf))
    await streamer.connect()
    await streamer.run_until(1.0)
    await publisher.close()
    return publisher.stats


async def test_unroutable_blocks_are_counted_as_returned(amqp_url: str,
                                                         exchange_name: str) -> None:
    stats = await publish_one_second(amqp_url, exchange_name)
    assert stats.returned == stats.published
    assert stats.lost_sequences == []


async def test_blocks_the_broker_nacks_are_reported_lost_by_sequence(
        amqp_url: str, exchange_name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, "topic", durable=True)
        queue = await channel.declare_queue(
            "", exclusive=True, arguments={"x-max-length": 3, "x-overflow": "reject-publish"})
        await queue.bind(exchange, f"das.{FIBER.fiber_id}.data")
        stats = await publish_one_second(amqp_url, exchange_name)
        await exchange.delete()
    assert stats.nacked == 7
    assert stats.lost_sequences == [3, 4, 5, 6, 7, 8, 9]
