"""An in-process broker with RabbitMQ's topic semantics, for machines without a broker.

Each subscription gets a bounded queue drained by its own task, so a slow subscriber applies
back-pressure to the publisher instead of growing memory without bound (RabbitMQ would apply
flow control in the same situation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass

from fibersim.transport.base import Delivery, DeliveryHandler, Transport
from fibersim.wire import Envelope

SUBSCRIBER_QUEUE_DEPTH = 256

log = logging.getLogger(__name__)


def topic_pattern(binding_key: str) -> re.Pattern[str]:
    """Compile an AMQP topic binding key (``*`` one word, ``#`` zero or more) to a regex."""
    parts: list[str] = []
    for word in binding_key.split("."):
        if word == "#":
            parts.append(r"(?:[^.]+(?:\.[^.]+)*)?")
        elif word == "*":
            parts.append(r"[^.]+")
        else:
            parts.append(re.escape(word))
    pattern = r"\.".join(parts)
    # "a.#" must also match "a": let the dot before a trailing '#' be optional.
    pattern = pattern.replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
    return re.compile(f"^{pattern}$")


@dataclass
class _Subscription:
    patterns: list[re.Pattern[str]]
    queue: asyncio.Queue[Delivery]
    task: asyncio.Task[None]

    def matches(self, routing_key: str) -> bool:
        return any(pattern.match(routing_key) for pattern in self.patterns)


class MemoryBroker:
    """One topic exchange shared by every ``MemoryTransport`` created on it."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    async def route(self, routing_key: str, envelope: Envelope) -> bool:
        """Queue the message for every matching subscription; False if nobody matched."""
        delivery = Delivery(routing_key, envelope)
        matched = [sub for sub in self._subscriptions if sub.matches(routing_key)]
        for subscription in matched:
            await subscription.queue.put(delivery)
        return bool(matched)

    def has_route(self, routing_key: str) -> bool:
        return any(sub.matches(routing_key) for sub in self._subscriptions)

    def add(self, binding_keys: list[str], handler: DeliveryHandler) -> _Subscription:
        queue: asyncio.Queue[Delivery] = asyncio.Queue(SUBSCRIBER_QUEUE_DEPTH)
        task = asyncio.create_task(_drain(queue, handler), name="fibersim-memory-subscriber")
        subscription = _Subscription([topic_pattern(key) for key in binding_keys], queue, task)
        self._subscriptions.append(subscription)
        return subscription

    async def remove(self, subscription: _Subscription) -> None:
        await subscription.queue.join()
        subscription.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await subscription.task
        self._subscriptions.remove(subscription)


async def _drain(queue: asyncio.Queue[Delivery], handler: DeliveryHandler) -> None:
    """Feed deliveries to the handler; a failing handler loses that message, not the queue."""
    while True:
        delivery = await queue.get()
        try:
            await handler(delivery)
        except Exception:
            log.exception("subscriber failed on a message from %s", delivery.routing_key)
        finally:
            queue.task_done()


class MemoryTransport(Transport):
    """The ``Transport`` interface over a ``MemoryBroker``: confirms are immediate."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__()
        self.broker = broker
        self._subscriptions: list[_Subscription] = []

    @property
    def description(self) -> str:
        return "embedded in-memory broker"

    async def connect(self) -> None:
        """Nothing to open: the broker lives in this process."""

    async def publish(self, routing_key: str, envelope: Envelope) -> None:
        self.stats.published += 1
        self.stats.bytes_published += len(envelope.body)
        if await self.broker.route(routing_key, envelope):
            self.stats.confirmed += 1
        else:
            self.stats.returned += 1
            self.stats.declare_lost(envelope, returned=True)

    async def has_route(self, routing_key: str) -> bool:
        return self.broker.has_route(routing_key)

    async def flush(self) -> None:
        """Wait until every subscriber of this transport has handled what it was given."""
        for subscription in self._subscriptions:
            await subscription.queue.join()

    async def subscribe(
        self, binding_keys: list[str], handler: DeliveryHandler, queue_name: str | None = None
    ) -> None:
        self._subscriptions.append(self.broker.add(binding_keys, handler))

    async def close(self) -> None:
        while self._subscriptions:
            await self.broker.remove(self._subscriptions.pop())
