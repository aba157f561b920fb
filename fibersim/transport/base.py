"""The transport interface: publish envelopes to a topic exchange, subscribe with bindings.

Two implementations share it: ``AmqpTransport`` (RabbitMQ through aio-pika) and
``MemoryTransport`` (an in-process broker, the default when no AMQP URL is given). Everything
above the transport (streamer, mock Focus Server) is written against this interface only.
"""

from __future__ import annotations

import abc
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fibersim.wire import Envelope


@dataclass(frozen=True)
class Delivery:
    """A message as a subscriber receives it."""

    routing_key: str
    envelope: Envelope


DeliveryHandler = Callable[[Delivery], Awaitable[None]]


@dataclass
class PublishStats:
    """What happened to published messages; a block is never lost without being listed here."""

    published: int = 0
    confirmed: int = 0
    nacked: int = 0
    returned: int = 0
    failed: int = 0
    bytes_published: int = 0
    reconnects: int = 0
    #: time publish() waited for the broker: full confirm window, outage, connection.blocked
    broker_wait_seconds: float = 0.0
    lost_sequences: list[int] = field(default_factory=list)
    #: recent publish -> confirm times (s), and how many were ever measured (for metrics)
    confirm_latency: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=10_000))
    confirm_latency_total: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "confirmed": self.confirmed,
            "nacked": self.nacked,
            "returned": self.returned,
            "failed": self.failed,
            "bytes_published": self.bytes_published,
            "reconnects": self.reconnects,
            "broker_wait_seconds": round(self.broker_wait_seconds, 3),
            "lost_sequences": list(self.lost_sequences),
        }


class Transport(abc.ABC):
    """Publish/subscribe on one topic exchange."""

    def __init__(self) -> None:
        self.stats = PublishStats()
        self._reconnect_callbacks: list[Callable[[], Awaitable[None]]] = []

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` after the transport re-establishes a lost connection."""
        self._reconnect_callbacks.append(callback)

    async def _fire_reconnect(self) -> None:
        self.stats.reconnects += 1
        for callback in self._reconnect_callbacks:
            await callback()

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where messages go, safe to print (never contains credentials)."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection and declare the exchange."""

    @abc.abstractmethod
    async def publish(self, routing_key: str, envelope: Envelope) -> None:
        """Send a message. Returns once it is in flight; confirms are awaited by ``flush``.

        Blocks only while the in-flight window is full, which bounds memory.
        """

    @abc.abstractmethod
    async def flush(self) -> None:
        """Wait until every message published so far is confirmed, nacked or declared lost."""

    @abc.abstractmethod
    async def subscribe(
        self, binding_keys: list[str], handler: DeliveryHandler, queue_name: str | None = None
    ) -> None:
        """Deliver messages matching any binding key (topic syntax) to ``handler``, in order."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush, then close. Safe to call twice."""

    async def __aenter__(self) -> Transport:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def sequence_of(envelope: Envelope) -> int | None:
    """The data block sequence number the dialect's encoder attached, if any."""
    return envelope.sequence
