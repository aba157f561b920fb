"""RabbitMQ transport over aio-pika, with publisher confirms and a bounded in-flight window.

Awaiting each confirm before the next publish would cap throughput at one message per
round trip; instead up to ``confirm_window`` publishes are in flight at once and ``publish``
only waits when the window is full. Every message ends confirmed, nacked, returned or failed,
and data blocks that did not reach the broker are listed by sequence number in ``stats``.

On connection loss aio-pika's robust connection reconnects and restores the channel and the
exchange; the reconnect interval doubles after each failed attempt (exponential backoff) and
resets once connected. Meanwhile ``publish`` holds the stream for up to ``outage_grace_s``, so
a short outage loses nothing; past that, blocks are declared lost until the link is back.
While the broker blocks the publisher (``connection.blocked`` on a memory or disk alarm) the
window stays full, ``publish`` waits, memory stays bounded and the wait is reported.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aiormq.exceptions import DeliveryError
from pamqp.commands import Basic

from fibersim.errors import UnreachableError
from fibersim.redact import redact_url, scrub, secrets_in
from fibersim.transport.base import Delivery, DeliveryHandler, Transport, sequence_of
from fibersim.wire import Envelope, MessageKind

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "fibersim"
DEFAULT_CONFIRM_WINDOW = 32
DEFAULT_OUTAGE_GRACE_S = 30.0
STALL_WARNING_S = 1.0
RECONNECT_INTERVAL_MIN_S = 0.25
RECONNECT_INTERVAL_MAX_S = 8.0
#: Freed heap memory the process keeps for reuse (see ``_retain_freed_heap``).
HEAP_RETAIN_BYTES = 64 << 20
#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


class AmqpTransport(Transport):
    """Publish and subscribe on one exchange of a RabbitMQ broker (durable topic by default;
    a dialect's topology may ask for another type, persistent delivery, or ``auto_delete``
    for a private exchange that goes once its last queue does)."""

    def __init__(
        self,
        url: str,
        exchange: str = DEFAULT_EXCHANGE,
        confirm_window: int = DEFAULT_CONFIRM_WINDOW,
        ca_file: str | None = None,
        insecure: bool = False,
        outage_grace_s: float = DEFAULT_OUTAGE_GRACE_S,
        exchange_type: str = "topic",
        durable: bool = True,
        persistent: bool = False,
        auto_delete: bool = False,
    ) -> None:
        super().__init__()
        self._exchange_options: dict[str, Any] = {
            "type": aio_pika.ExchangeType(exchange_type), "durable": durable,
            "auto_delete": auto_delete}
        self._delivery_mode = (aio_pika.DeliveryMode.PERSISTENT if persistent
                               else aio_pika.DeliveryMode.NOT_PERSISTENT)
        self._outage_grace_s = outage_grace_s
        self._link_up = asyncio.Event()
        self._outage_started: float | None = None
        self._url = url
        self._exchange_name = exchange
        self._window = asyncio.Semaphore(confirm_window)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._ssl_context = _ssl_context(url, ca_file, insecure)
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    @property
    def description(self) -> str:
        return f"{redact_url(self._url)} exchange {self._exchange_name!r}"

    async def connect(self) -> None:
        _retain_freed_heap()
        kwargs: dict[str, Any] = {}
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        try:
            self._connection = await aio_pika.connect_robust(
                self._url, reconnect_interval=RECONNECT_INTERVAL_MIN_S, **kwargs)
        except Exception as error:  # aio-pika raises many types; the URL must not leak.
            reason = scrub(" ".join(str(error).split()), secrets_in(self._url))[:300]
            raise UnreachableError(
                f"cannot connect to {redact_url(self._url)}: {type(error).__name__}: {reason}"
            ) from None
        self._connection.reconnect_callbacks.add(self._reconnected)
        self._connection.close_callbacks.add(self._link_lost)
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=False
        )
        self._channel.return_callbacks.add(self._returned)
        self._exchange = await self._channel.declare_exchange(
            self._exchange_name, **self._exchange_options)
        self._link_up.set()

    def _link_lost(self, *_: object) -> None:
        """Connection closed: hold publishes, and back off a little more on every attempt."""
        if self._connection is None:
            return  # our own close()
        if self._link_up.is_set():
            log.warning("lost connection to %s; reconnecting", redact_url(self._url))
            self._outage_started = asyncio.get_running_loop().time()
        self._link_up.clear()
        connection: Any = self._connection
        doubled = max(RECONNECT_INTERVAL_MIN_S, connection.reconnect_interval * 2)
        connection.reconnect_interval = min(RECONNECT_INTERVAL_MAX_S, doubled)

    def _reconnected(self, *_: object) -> None:
        log.warning("reconnected to %s", redact_url(self._url))
        connection: Any = self._connection
        connection.reconnect_interval = RECONNECT_INTERVAL_MIN_S
        self._outage_started = None
        self._link_up.set()
        asyncio.get_running_loop().create_task(self._fire_reconnect())

    async def _wait_for_link(self) -> bool:
        """Wait for the connection within the outage grace period; False if still down."""
        if self._link_up.is_set():
            return True
        loop = asyncio.get_running_loop()
        started = self._outage_started if self._outage_started is not None else loop.time()
        remaining = self._outage_grace_s - (loop.time() - started)
        if remaining <= 0:
            return False
        try:
            async with asyncio.timeout(remaining):
                await self._link_up.wait()
        except TimeoutError:
            return False
        return True

    def _returned(self, *_: object) -> None:
        self.stats.returned += 1

    async def publish(self, routing_key: str, envelope: Envelope) -> None:
        if self._exchange is None:
            raise RuntimeError("publish before connect")
        waited_from = asyncio.get_running_loop().time()
        link_up = await self._wait_for_link()
        await self._window.acquire()
        waited = asyncio.get_running_loop().time() - waited_from
        self.stats.broker_wait_seconds += waited
        if waited > STALL_WARNING_S:
            log.warning("publisher waited %.1f s for the broker (blocked, flow control or outage)",
                        waited)
        self.stats.published += 1
        if not link_up:
            self.stats.failed += 1
            self._declare_lost(envelope)
            self._window.release()
            return
        self.stats.bytes_published += len(envelope.body)
        message = aio_pika.Message(
            envelope.body,
            content_type=envelope.content_type,
            headers=envelope.headers,
            delivery_mode=self._delivery_mode,
        )
        task = asyncio.create_task(self._confirm(routing_key, message, envelope))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _confirm(
        self, routing_key: str, message: aio_pika.Message, envelope: Envelope
    ) -> None:
        assert self._exchange is not None
        sent_at = asyncio.get_running_loop().time()
        try:
            confirmation = await self._exchange.publish(
                message, routing_key, mandatory=True
            )
            self.stats.confirm_latency.append(asyncio.get_running_loop().time() - sent_at)
            self.stats.confirm_latency_total += 1
        except DeliveryError:  # aio-pika raises on a nack
            self.stats.nacked += 1
            self._declare_lost(envelope)
        except Exception as error:  # connection loss, channel closed, timeout
            self.stats.failed += 1
            self._declare_lost(envelope)
            log.debug("publish failed: %s", type(error).__name__)
        else:
            if isinstance(confirmation, Basic.Ack):
                self.stats.confirmed += 1
            # otherwise the broker returned it as unroutable: counted by ``_returned``.
        finally:
            self._window.release()

    def _declare_lost(self, envelope: Envelope) -> None:
        sequence = sequence_of(envelope)
        if envelope.kind is MessageKind.DATA and sequence is not None:
            self.stats.lost_sequences.append(sequence)

    async def flush(self) -> None:
        if self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def subscribe(
        self, binding_keys: list[str], handler: DeliveryHandler, queue_name: str | None = None
    ) -> None:
        if self._connection is None:
            raise RuntimeError("subscribe before connect")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=64)
        exchange = await channel.declare_exchange(
            self._exchange_name, **self._exchange_options)
        queue = await channel.declare_queue(
            queue_name or "", exclusive=queue_name is None, auto_delete=queue_name is None
        )
        for key in binding_keys:
            await queue.bind(exchange, key)

        async def deliver(message: AbstractIncomingMessage) -> None:
            envelope = Envelope(
                kind=_kind_from(message.routing_key or ""),
                body=message.body,
                content_type=message.content_type or "",
                headers=_plain_headers(message.headers),
            )
            try:
                await handler(Delivery(message.routing_key or "", envelope))
            finally:
                await message.ack()

        await queue.consume(deliver)

    async def close(self) -> None:
        if self._connection is None:
            return
        await self.flush()
        connection, self._connection = self._connection, None
        self._exchange = None
        await connection.close()


@functools.cache
def _retain_freed_heap() -> None:
    """Have the C allocator keep freed memory of message bodies for the next ones.

    Every data block is a fresh ~0.9 MB body, alive until its confirm arrives. By default
    glibc serves blocks that size from fresh mappings or the top of the heap and hands them
    back to the OS on free, so the next body faults its pages in again: about 50 page
    faults per block (about 7% of a full-rate publisher's CPU, measured). Raising the mmap and trim
    thresholds keeps up to ``HEAP_RETAIN_BYTES`` of freed memory for reuse; resident memory
    stays at the confirm window's peak instead of rising and falling with it. Does nothing
    where the C library has no ``mallopt`` (it is a glibc extension).
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, HEAP_RETAIN_BYTES // 4)
        mallopt(_M_TRIM_THRESHOLD, HEAP_RETAIN_BYTES)


def _kind_from(routing_key: str) -> MessageKind:
    last = routing_key.rsplit(".", 1)[-1]
    try:
        return MessageKind(last)
    except ValueError:
        return MessageKind.STATUS


def _plain_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """AMQP may hand string headers back as bytes; consumers expect ``str``."""
    return {
        key: value.decode(errors="replace") if isinstance(value, bytes) else value
        for key, value in (headers or {}).items()
    }


def _ssl_context(url: str, ca_file: str | None, insecure: bool) -> ssl.SSLContext | None:
    """TLS for ``amqps://``: verification on by default, off only when asked explicitly."""
    if urlsplit(url).scheme != "amqps":
        return None
    context = ssl.create_default_context(cafile=ca_file)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
