"""Loss accounting against an independent checker: every data block published is seen by the
checker's queue or listed by the publisher (lost or not delivered); nothing else is allowed.

``Ledger`` is the figure the fault tests assert on and print (``pytest -n 0 -s`` shows it); the
figures in docs/reliability.md come from these tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aio_pika
from aiormq.abc import FieldTable

from fibersim.transport import PublishStats
from fibersim.wire import DataBlock, Envelope, MessageKind, get_codec


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

    @classmethod
    def of(cls, fiber: str, published: set[int], stats: PublishStats,
           seen: set[int]) -> Ledger:
        lost = set(stats.lost_sequences.get(fiber, []))
        unroutable = set(stats.unroutable_sequences.get(fiber, []))
        confirmed = published - lost - unroutable
        return cls(len(published), len(confirmed), len(lost), len(unroutable),
                   len(seen & published), len(published - seen - lost - unroutable),
                   len(confirmed - seen))

    def line(self, fault: str) -> str:
        return (f"ledger [{fault}]: published {self.published}, confirmed {self.confirmed},"
                f" reported lost {self.reported_lost}, reported unroutable"
                f" {self.reported_unroutable}, seen by the checker {self.seen},"
                f" silent {self.silent}, confirmed but not seen {self.confirmed_not_seen}")


class DurableChecker:
    """A durable stream queue bound to one fiber's data key, read after the run with a
    client of its own. A stream keeps every message it confirmed in its on-disk log, the
    transient ones too (a classic queue drops those on restart), and recovers in moments
    after its node is killed (a quorum queue being written at the kill can take minutes)."""

    def __init__(self, url: str, exchange: str, fiber: str) -> None:
        self.url, self.exchange, self.fiber = url, exchange, fiber
        self.queue = f"{exchange}-checker"

    async def declare(self) -> None:
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(self.exchange, "topic", durable=True)
            queue = await channel.declare_queue(self.queue, durable=True, arguments=ARGUMENTS)
            await queue.bind(exchange, f"das.{self.fiber}.data")

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

    async def _read_all(self, idle_s: float) -> set[int]:
        seen: set[int] = set()
        arrived = asyncio.Event()
        connection = await aio_pika.connect(self.url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=256)
            queue = await channel.declare_queue(self.queue, durable=True, arguments=ARGUMENTS)

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                block = get_codec().decode(Envelope(
                    MessageKind.DATA, message.body, message.content_type or "",
                    {key: value.decode() if isinstance(value, bytes) else value
                     for key, value in (message.headers or {}).items()}))
                assert isinstance(block, DataBlock)
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


#: a durable stream queue (it needs no more: retention is unlimited by default)
ARGUMENTS: FieldTable = {"x-queue-type": "stream"}


async def eventually(condition: object, timeout_s: float) -> None:
    """Poll ``condition()`` until true, at most ``timeout_s``."""
    assert callable(condition)
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)
