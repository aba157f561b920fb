"""Helpers shared by the test packages that listen on the real RabbitMQ themselves."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
from aio_pika.abc import AbstractQueue


@contextlib.asynccontextmanager
async def a_queue_bound_to(amqp_url: str, exchange_name: str, routing_key: str,
                           arguments: dict[str, Any] | None = None
                           ) -> AsyncIterator[AbstractQueue]:
    """An exclusive queue on ``exchange_name`` (declared as fibersim declares it), bound to
    ``routing_key``; the exchange is deleted afterwards, so no test leaves one behind."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, "topic", durable=True)
        queue = await channel.declare_queue("", exclusive=True, arguments=arguments)
        await queue.bind(exchange, routing_key)
        try:
            yield queue
        finally:
            await exchange.delete()


async def bodies_left_in(queue: AbstractQueue) -> list[bytes]:
    """Every body waiting in ``queue``, acknowledged; ends once none comes for 5 s."""
    bodies = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        bodies.append(message.body)
        await message.ack()
    return bodies
