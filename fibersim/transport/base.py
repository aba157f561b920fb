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
from typing import TypedDict
from urllib.parse import urlsplit

from fibersim.errors import InputError
from fibersim.units import format_ranges
from fibersim.wire import Envelope, MessageKind


@dataclass(frozen=True)
class Delivery:
    """A message as a subscriber receives it."""

    routing_key: str
    envelope: Envelope


DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class PublishCounts(TypedDict):
    """``PublishStats`` as reports and ``--stats-json`` show it: sequences sorted, the broker
    wait rounded to milliseconds."""

    published: int
    confirmed: int
    nacked: int
    returned: int
    failed: int
    bytes_published: int
    reconnects: int
    broker_wait_seconds: float
    lost_sequences: dict[str, list[int]]
    unroutable_sequences: dict[str, list[int]]


@dataclass
class PublishStats:
    """What happened to published messages; a block is never lost without being listed here.

    Every published message ends in exactly one of ``confirmed`` (the broker took it and
    routed it to at least one queue), ``returned`` (no queue was bound to its routing key),
    ``nacked`` or ``failed`` (connection lost, shutdown bound reached), so
    ``published == confirmed + returned + nacked + failed`` once ``flush`` returned. Data
    blocks that were not confirmed are listed by fiber and sequence number: returned ones in
    ``unroutable_sequences``, nacked and failed ones in ``lost_sequences``.
    """

    published: int = 0
    confirmed: int = 0
    nacked: int = 0
    returned: int = 0
    failed: int = 0
    bytes_published: int = 0
    reconnects: int = 0
    #: time publish() waited for the broker: full confirm window, outage, connection.blocked
    broker_wait_seconds: float = 0.0
    #: fiber id -> sequence numbers of data blocks nacked or failed
    lost_sequences: dict[str, list[int]] = field(default_factory=dict)
    #: fiber id -> sequence numbers of data blocks the broker returned (no queue bound)
    unroutable_sequences: dict[str, list[int]] = field(default_factory=dict)

    #: recent publish -> confirm times (s), and how many were ever measured (for metrics)
    confirm_latency: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=10_000))
    confirm_latency_total: int = 0

    def declare_lost(self, envelope: Envelope, *, returned: bool = False) -> None:
        """List a data block that was not delivered (other kinds are only counted)."""
        sequence = sequence_of(envelope)
        if envelope.kind is not MessageKind.DATA or sequence is None:
            return
        fiber = envelope.headers.get("x-fibersim-fiber")
        target = self.unroutable_sequences if returned else self.lost_sequences
        target.setdefault(fiber if isinstance(fiber, str) else "?", []).append(sequence)

    @property
    def blocks_lost(self) -> int:
        return sum(len(sequences) for sequences in self.lost_sequences.values())

    @property
    def blocks_unroutable(self) -> int:
        return sum(len(sequences) for sequences in self.unroutable_sequences.values())

    def summary(self) -> str:
        """The broker's part of a summary line, naming every block not delivered."""
        counts = (f"broker: {self.confirmed} confirmed, {self.nacked} nacked, {self.returned}"
                  f" returned (unroutable), {self.failed} failed; ")
        parts = []
        if self.lost_sequences:
            parts.append(f"lost blocks (sequence numbers): {_by_fiber(self.lost_sequences)}")
        if self.unroutable_sequences:
            parts.append("not delivered, no queue bound (sequence numbers): "
                         f"{_by_fiber(self.unroutable_sequences)}")
        return counts + ("; ".join(parts) if parts else "every block delivered")

    def as_dict(self) -> PublishCounts:
        return {
            "published": self.published,
            "confirmed": self.confirmed,
            "nacked": self.nacked,
            "returned": self.returned,
            "failed": self.failed,
            "bytes_published": self.bytes_published,
            "reconnects": self.reconnects,
            "broker_wait_seconds": round(self.broker_wait_seconds, 3),
            "lost_sequences": {fiber: sorted(seqs) for fiber, seqs in self.lost_sequences.items()},
            "unroutable_sequences": {fiber: sorted(seqs)
                                     for fiber, seqs in self.unroutable_sequences.items()},
        }


def _by_fiber(sequences: dict[str, list[int]]) -> str:
    """``fiber-0: 3-9,12; fiber-1: 4`` (the fiber is named even when there is only one)."""
    return "; ".join(f"{fiber}: {format_ranges(sorted(seqs))}"
                     for fiber, seqs in sorted(sequences.items()))


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

    async def has_route(self, routing_key: str) -> bool:
        """Whether a message on ``routing_key`` would reach at least one queue now.

        Not abstract, so that a transport which cannot ask says so instead of failing to
        instantiate; ``stream --wait-for-consumer`` then stops with that error.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot tell whether a queue is bound")

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


def check_amqp_url(url: str) -> str:
    """``url`` if it can name a broker (amqp:// or amqps://, a host, a numeric port).

    Raises ``InputError`` (exit 2) naming the problem, never the URL's password: aio-pika
    would otherwise retry a URL like ``notaurl`` or ``http://host`` forever.
    """
    expected = "expected amqp://user:pass@host:5672/vhost or amqps://..."
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise InputError(f"invalid AMQP URL: bad port; {expected}") from None
    if parts.scheme not in ("amqp", "amqps"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise InputError(f"invalid AMQP URL: {scheme}; {expected}")
    if not parts.hostname:
        raise InputError(f"invalid AMQP URL: no host; {expected}")
    if not port_ok:
        raise InputError(f"invalid AMQP URL: port out of range; {expected}")
    return url
