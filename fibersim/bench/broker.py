"""Private exchanges on the real broker, and the raw aio-pika publishing baseline.

Every figure that talks to RabbitMQ gets its own exchange, so it never feeds anybody else's
queues on the shared broker (nor reads theirs). A bounded "sink" queue (drop-head, a few
messages) makes every publish routable, as in production where a Focus Server consumes:
without one, each 0.9 MB block would be returned to the publisher as unroutable, which
measures the return path instead of publishing, and the broker's memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika

from fibersim.wire import ROUTING_PREFIX

SINK_LENGTH = 8


@contextlib.asynccontextmanager
async def scratch_exchange(url: str) -> AsyncIterator[str]:
    """A fresh topic exchange with a bounded sink queue; deleted on exit."""
    name = f"fibersim-bench-{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        sink = await channel.declare_queue(
            "", exclusive=True, arguments={"x-max-length": SINK_LENGTH, "x-overflow": "drop-head"})
        await sink.bind(exchange, "#")
        yield name
        await exchange.delete()
    finally:
        await connection.close()


async def raw_publish_rate(url: str, exchange_name: str, body: bytes, headers: dict[str, Any],
                           content_type: str, count: int, window: int) -> float:
    """Blocks per second publishing ``body`` ``count`` times with at most ``window`` unconfirmed.

    This is the plain aio-pika way to publish with confirms, with none of fibersim's code in
    the loop: the ceiling that end-to-end throughput is compared against.
    """
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=False)
        exchange = await channel.get_exchange(exchange_name)
        slots = asyncio.Semaphore(window)
        pending: set[asyncio.Task[object]] = set()

        async def publish_one() -> None:
            try:
                await exchange.publish(
                    aio_pika.Message(body, headers=headers, content_type=content_type,
                                     delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT),
                    f"{ROUTING_PREFIX}.bench.data", mandatory=True)
            finally:
                slots.release()

        start = time.perf_counter()
        for _ in range(count):
            await slots.acquire()
            task = asyncio.create_task(publish_one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - start)
    finally:
        await connection.close()
