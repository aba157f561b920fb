"""RabbitMQ transport over aio-pika, with publisher confirms and a bounded in-flight window.

Awaiting each confirm before the next publish would cap throughput at one message per
round trip; instead up to ``confirm_window`` publishes are in flight at once and ``publish``
only waits when the window is full. Every message ends confirmed, nacked, returned or failed
(``PublishStats``), and data blocks that were not confirmed are listed by fiber and sequence.

The outcome of a publish is read from its own confirmation, never from channel callbacks:
aio-pika does not re-attach a channel's return callback when it restores the channel after a
reconnect, so a returned block would otherwise be counted nowhere.

On connection loss aio-pika's robust connection reconnects and restores the channel and the
exchange; the reconnect interval doubles after each failed attempt (exponential backoff) and
resets once connected. Meanwhile ``publish`` holds the stream for up to ``outage_grace_s``, so
a short outage loses nothing; past that, blocks are declared lost until the link is back.
After a reconnect the ``on_reconnect`` callbacks (the streamers' ``connected`` status and
metadata) are published and confirmed before any other message, and a message handed over
before the loss is never sent on the new connection ahead of them (it is declared lost).

While the broker blocks the publisher (``connection.blocked`` on a memory or disk alarm) the
window stays full, ``publish`` waits, memory stays bounded and a line is logged every
``BLOCKED_LOG_INTERVAL_S``. ``flush`` and ``close`` wait at most ``shutdown_timeout_s``:
whatever is still unconfirmed then is declared lost, so Ctrl-C or SIGTERM ends a run in
bounded time even while the broker is blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.connection import make_url
from aiormq.exceptions import DeliveryError, PublishError
from pamqp.commands import Basic

from fibersim.errors import UnreachableError
from fibersim.redact import redact_url, scrub, secrets_in
from fibersim.transport.base import Delivery, DeliveryHandler, Transport, check_amqp_url
from fibersim.transport.framing import publish_confirmed
from fibersim.wire import EXCHANGE, PROBE_CONTENT_TYPE, Envelope, MessageKind

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = EXCHANGE
DEFAULT_CONFIRM_WINDOW = 32
DEFAULT_OUTAGE_GRACE_S = 30.0
#: Time to open the connection, the channel and declare the exchange before giving up.
DEFAULT_CONNECT_TIMEOUT_S = 10.0
#: Longest ``flush``/``close`` waits for confirms (and the broker's close-ok) at shutdown.
DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
STALL_WARNING_S = 1.0
#: While the publisher cannot publish (blocked, flow control, outage), a line this often.
BLOCKED_LOG_INTERVAL_S = 5.0
RECONNECT_INTERVAL_MIN_S = 0.25
RECONNECT_INTERVAL_MAX_S = 8.0

#: Set while the reconnect callbacks run: their publishes go out before the link reopens.
_RESTORING: contextvars.ContextVar[bool] = contextvars.ContextVar("restoring", default=False)


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
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        exchange_type: str = "topic",
        durable: bool = True,
        persistent: bool = False,
        auto_delete: bool = False,
    ) -> None:
        super().__init__()
        self._url = check_amqp_url(url)
        self._exchange_options: dict[str, Any] = {
            "type": aio_pika.ExchangeType(exchange_type), "durable": durable,
            "auto_delete": auto_delete}
        self._delivery_mode = (aio_pika.DeliveryMode.PERSISTENT if persistent
                               else aio_pika.DeliveryMode.NOT_PERSISTENT)
        self._outage_grace_s = outage_grace_s
        self._connect_timeout_s = connect_timeout_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._link_up = asyncio.Event()
        self._outage_started: float | None = None
        #: incremented on every connection loss; a publish only goes out on its generation
        self._generation = 0
        self._exchange_name = exchange
        self._window = asyncio.Semaphore(confirm_window)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._restoring: asyncio.Task[None] | None = None
        self._ssl_context = _ssl_context(url, ca_file, insecure)
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None

    @property
    def description(self) -> str:
        return f"{redact_url(self._url)} exchange {self._exchange_name!r}"

    async def connect(self) -> None:
        """Connect, open a confirming channel and declare the exchange, all within the
        connect timeout: a peer that accepts TCP and never speaks AMQP is unreachable."""
        kwargs: dict[str, Any] = {}
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        # Made here rather than by ``connect_robust`` so that a connection that never comes
        # up can be closed: its reconnect loop would otherwise survive the timeout and keep
        # the event loop from ever finishing.
        self._connection = aio_pika.RobustConnection(
            make_url(self._url, reconnect_interval=RECONNECT_INTERVAL_MIN_S), **kwargs)
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self._connection.connect(timeout=self._connect_timeout_s)
                self._channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=False)
                self._exchange = await self._channel.declare_exchange(
                    self._exchange_name, **self._exchange_options)
        except Exception as error:  # aio-pika raises many types; the URL must not leak.
            await self._abandon()
            if isinstance(error, TimeoutError):
                reason = f"no AMQP answer within {self._connect_timeout_s:g} s"
            else:
                text = scrub(" ".join(str(error).split()), secrets_in(self._url))[:300]
                reason = f"{type(error).__name__}: {text}"
            raise UnreachableError(f"cannot connect to {redact_url(self._url)}: {reason}"
                                   ) from None
        self._connection.reconnect_callbacks.add(self._reconnected)
        self._connection.close_callbacks.add(self._link_lost)
        self._link_up.set()

    async def _abandon(self) -> None:
        """Stop a connection that did not come up (and its reconnect loop), in bounded time."""
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await connection.close()

    def _link_lost(self, *_: object) -> None:
        """Connection closed: hold publishes, and back off a little more on every attempt."""
        if self._connection is None:
            return  # our own close()
        self._generation += 1
        # A confirm can no longer arrive on a dead connection (and aio-pika may keep its
        # future pending across the reconnect): those publishes are failed now, and their
        # slots of the window freed for the announcement on the new connection.
        for task in list(self._in_flight):
            task.cancel()
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
        self._restoring = asyncio.get_running_loop().create_task(self._restore())

    async def _restore(self) -> None:
        """Publish what the reconnect callbacks send, wait for its confirms, then reopen the
        link: the consumer sees the ``connected`` status and metadata before any data."""
        token = _RESTORING.set(True)
        try:
            await self._fire_reconnect()
            await self._settle(self._shutdown_timeout_s)
        finally:
            _RESTORING.reset(token)
        self._outage_started = None
        self._link_up.set()

    async def _wait_for_link(self) -> bool:
        """Wait for the connection within the outage grace period; False if still down."""
        if self._link_up.is_set() or _RESTORING.get():
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

    async def _acquire_window(self) -> None:
        """Take a slot of the confirm window, logging every few seconds while it stays full
        (the broker blocks the connection, applies flow control, or confirms are slow)."""
        waited = 0.0
        while True:
            try:
                async with asyncio.timeout(BLOCKED_LOG_INTERVAL_S):
                    await self._window.acquire()
                return
            except TimeoutError:
                waited += BLOCKED_LOG_INTERVAL_S
                log.warning("publisher blocked for %.0f s: %d publishes unconfirmed (broker"
                            " resource alarm, flow control or outage)", waited,
                            len(self._in_flight))

    async def publish(self, routing_key: str, envelope: Envelope) -> None:
        if self._exchange is None:
            raise RuntimeError("publish before connect")
        waited_from = asyncio.get_running_loop().time()
        while True:
            generation = self._generation
            link_up = await self._wait_for_link()
            await self._acquire_window()
            if not link_up or generation == self._generation:
                break
            self._window.release()  # the link went down meanwhile: wait for the new one
        waited = asyncio.get_running_loop().time() - waited_from
        self.stats.broker_wait_seconds += waited
        if waited > STALL_WARNING_S:
            log.warning("publisher waited %.1f s for the broker (blocked, flow control or outage)",
                        waited)
        self.stats.published += 1
        if not link_up:
            self.stats.failed += 1
            self.stats.declare_lost(envelope)
            self._window.release()
            return
        self.stats.bytes_published += len(envelope.body)
        task = asyncio.create_task(self._confirm(routing_key, envelope, generation))
        self._in_flight.add(task)
        task.add_done_callback(functools.partial(self._finished, envelope))

    def _finished(self, envelope: Envelope, task: asyncio.Task[None]) -> None:
        """A publish task ended. One cancelled before its coroutine ever ran (a connection
        loss or the shutdown bound right after ``publish``) was counted by nobody: it is
        failed and lost here, and its slot of the window freed."""
        self._in_flight.discard(task)
        if task.cancelled():
            self.stats.failed += 1
            self.stats.declare_lost(envelope)
            self._window.release()

    async def _confirm(self, routing_key: str, envelope: Envelope, generation: int) -> None:
        """Publish on the connection of ``generation`` and count the outcome."""
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        properties = Basic.Properties(content_type=envelope.content_type,
                                      headers=envelope.headers,
                                      delivery_mode=self._delivery_mode.value)
        try:
            outcome = await self._publish_now(routing_key, envelope.body, properties,
                                              generation)
        except DeliveryError:  # a nack
            self.stats.nacked += 1
            self.stats.declare_lost(envelope)
        except PublishError:  # returned, on a channel that raises on returns
            self.stats.returned += 1
            self.stats.declare_lost(envelope, returned=True)
        except (Exception, asyncio.CancelledError) as error:
            # connection loss, channel closed, or cancelled by this transport (connection
            # lost, shutdown bound): counted here, so the task ends normally, never cancelled
            self.stats.failed += 1
            self.stats.declare_lost(envelope)
            log.debug("publish failed: %s", type(error).__name__)
        else:
            self.stats.confirm_latency.append(loop.time() - sent_at)
            self.stats.confirm_latency_total += 1
            if isinstance(outcome, Basic.Ack):
                self.stats.confirmed += 1
            else:  # the broker returned the message: no queue is bound to its routing key
                self.stats.returned += 1
                self.stats.declare_lost(envelope, returned=True)
        finally:
            self._window.release()

    async def _publish_now(self, routing_key: str, body: bytes,
                           properties: Basic.Properties, generation: int) -> object:
        """The broker's answer to one mandatory publish (``Basic.Ack``, or the returned
        message). A publish made before a connection loss fails instead of going out on the
        restored channel, where it would overtake the re-published metadata."""
        assert self._channel is not None
        channel = await self._channel.get_underlay_channel()
        if generation != self._generation:
            raise ConnectionError("connection lost before the publish went out")
        return await publish_confirmed(channel, body, exchange=self._exchange_name,
                                       routing_key=routing_key, properties=properties)

    async def has_route(self, routing_key: str) -> bool:
        """Whether a queue is bound for ``routing_key``, asked with a route probe: an empty
        mandatory message with a zero TTL that consumers ignore (docs/wire-protocol.md)."""
        probe = Basic.Properties(content_type=PROBE_CONTENT_TYPE, expiration="0",
                                 headers={"x-fibersim-kind": "probe"},
                                 delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT.value)
        try:
            outcome = await self._publish_now(routing_key, b"", probe, self._generation)
        except (PublishError, DeliveryError):
            return False
        return isinstance(outcome, Basic.Ack)

    async def _settle(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the in-flight publishes; cancel the rest, which
        declares them lost."""
        pending = list(self._in_flight)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        if late:
            log.warning("%d publishes still unconfirmed after %g s: declared lost",
                        len(late), timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def flush(self) -> None:
        """Wait for every confirm, at most ``shutdown_timeout_s``; later ones are lost."""
        await self._settle(self._shutdown_timeout_s)

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
        """Flush and close, together within ``shutdown_timeout_s`` (a blocked broker may
        never answer the close; the socket then goes with the process)."""
        if self._connection is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._shutdown_timeout_s
        await self.flush()
        if self._restoring is not None:
            self._restoring.cancel()
        connection, self._connection = self._connection, None
        self._exchange = None
        try:
            async with asyncio.timeout(max(0.1, deadline - loop.time())):
                await connection.close()
        except TimeoutError:
            log.warning("the broker did not acknowledge the close within %g s",
                        self._shutdown_timeout_s)


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
