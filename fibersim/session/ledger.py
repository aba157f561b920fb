"""Loss accounting against an independent checker: every data block published is seen by the
checker's durable queue or listed by the publisher (lost or unroutable); nothing else is
allowed. ``fibersim chaos`` prints it; the broker fault tests assert on it; the figures in
docs/reliability.md come from both.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aio_pika
from aiormq.abc import FieldTable

from fibersim.transport import PublishStats
from fibersim.units import format_ranges
from fibersim.wire import ROUTING_PREFIX, DataBlock, Envelope, MessageKind, get_codec

#: a durable stream queue (it needs no more: retention is unlimited by default)
ARGUMENTS: FieldTable = {"x-queue-type": "stream"}


@dataclass(frozen=True)
class Ledger:
    """Data blocks only (by sequence number), one fiber."""

    published: int
    confirmed: int
    reported_lost: int
    reported_unroutable: int
    seen: int
    #: published, neither seen by the checker nor listed by the publisher
    silent: int
    #: confirmed by the broker (not listed) but absent from the durable checker queue
    confirmed_not_seen: int
    #: the silent ones, by sequence number
    silent_sequences: tuple[int, ...] = field(default=())

    @classmethod
    def of(cls, fiber: str, published: set[int], stats: PublishStats,
           seen: set[int]) -> Ledger:
        """The ledger of ``fiber``: ``published`` sequence numbers, what the publisher
        listed in ``stats``, and what the checker ``seen``."""
        lost = set(stats.lost_sequences.get(fiber, []))
        unroutable = set(stats.unroutable_sequences.get(fiber, []))
        confirmed = published - lost - unroutable
        silent = published - seen - lost - unroutable
        return cls(len(published), len(confirmed), len(lost), len(unroutable),
                   len(seen & published), len(silent), len(confirmed - seen),
                   tuple(sorted(silent)))

    def line(self, label: str) -> str:
        """The figures as one line, ``ledger [<label>]: published ...``."""
        silent = (f" ({format_ranges(self.silent_sequences)})" if self.silent_sequences
                  else "")
        return (f"ledger [{label}]: published {self.published}, confirmed {self.confirmed},"
                f" reported lost {self.reported_lost}, reported unroutable"
                f" {self.reported_unroutable}, seen by the checker {self.seen},"
                f" silent {self.silent}{silent}, confirmed but not seen"
                f" {self.confirmed_not_seen}")

    def as_dict(self) -> dict[str, object]:
        """The figures for JSON output (the silent sequences as a list)."""
        return {"published": self.published, "confirmed": self.confirmed,
                "reported_lost": self.reported_lost,
                "reported_unroutable": self.reported_unroutable, "seen": self.seen,
                "silent": self.silent, "confirmed_not_seen": self.confirmed_not_seen,
                "silent_sequences": list(self.silent_sequences)}


class DurableChecker:
    """A durable stream queue bound to one fiber's data key, read after the run with a
    client of its own. A stream keeps every message it confirmed in its on-disk log, the
    transient ones too (a classic queue drops those on restart), and recovers in moments
    after its node is killed (a quorum queue being written at the kill can take minutes).

    ``drain()`` deletes the queue once read; ``delete()`` does so without reading (after a
    failure), so no checker queue outlives its run."""

    def __init__(self, url: str, exchange: str, fiber: str, queue: str | None = None) -> None:
        self.url, self.exchange, self.fiber = url, exchange, fiber
        self.queue = queue or f"{exchange}-checker"

    async def declare(self) -> None:
        """Declare the exchange (as the publisher does) and the bound queue."""
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange, "topic", durable=True)
            queue = await channel.declare_queue(self.queue, durable=True, arguments=ARGUMENTS)
            await queue.bind(exchange, f"{ROUTING_PREFIX}.{self.fiber}.data")

    async def drain(self, idle_s: float = 2.0, recovery_s: float = 120.0) -> set[int]:
        """Sequence numbers of every block in the stream, read from its first offset until
        nothing more arrives for ``idle_s``; after a broker restart the stream may need a
        moment to come back (``NOT_FOUND ... is down``), so the read is retried a while."""
        deadline = asyncio.get_running_loop().time() + recovery_s
        while True:
            try:
                return await self._read_all(idle_s)
            except (aio_pika.exceptions.AMQPError, asyncio.CancelledError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(1.0)

    async def delete(self) -> None:
        """Delete the queue (nothing happens if it is already gone)."""
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.queue)

    async def _read_all(self, idle_s: float) -> set[int]:
        seen: set[int] = set()
        arrived = asyncio.Event()
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=256)
            queue = await channel.declare_queue(self.queue, durable=True, arguments=ARGUMENTS)

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                try:
                    block = get_codec().decode(Envelope(
                        MessageKind.DATA, message.body, message.content_type or "",
                        {key: value.decode() if isinstance(value, bytes) else value
                         for key, value in (message.headers or {}).items()}))
                except ValueError:  # a mangled message delivers no block: it stays unseen
                    block = None
                if isinstance(block, DataBlock):
                    seen.add(block.sequence)
                arrived.set()
                await message.ack()

            await queue.consume(on_message, arguments={"x-stream-offset": "first"})
            while True:
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), idle_s)
                except TimeoutError:
                    break
            await queue.delete(if_unused=False, if_empty=False)
        return seen
