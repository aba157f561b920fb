"""Transport stage: move encoded envelopes between processes (RabbitMQ) or within one (memory).

``open_transport`` picks the implementation from the URL, so callers never import aio-pika.
"""

from __future__ import annotations

from fibersim.transport.base import (
    Delivery,
    DeliveryHandler,
    PublishCounts,
    PublishStats,
    Transport,
    check_amqp_url,
)
from fibersim.transport.memory import MemoryBroker, MemoryTransport
from fibersim.transport.settings import AMQP_URL_ENV, BrokerSettings
from fibersim.wire import EXCHANGE


def open_transport(
    amqp_url: str | None,
    *,
    broker: MemoryBroker | None = None,
    exchange: str = EXCHANGE,
    exchange_type: str = "topic",
    durable: bool = True,
    persistent: bool = False,
    confirm_window: int = 32,
    ca_file: str | None = None,
    insecure: bool = False,
    connect_timeout_s: float | None = None,
    shutdown_timeout_s: float | None = None,
) -> Transport:
    """An AMQP transport for a URL, else an in-memory one on ``broker`` (or a new broker).

    ``exchange_type``, ``durable`` and ``persistent`` (delivery mode 2) are the dialect's
    topology; the in-memory broker routes topic and direct exchanges alike. ``None``
    timeouts mean the AMQP transport's defaults (10 s each).
    """
    if amqp_url:
        from fibersim.transport import amqp

        return amqp.AmqpTransport(
            amqp_url, exchange=exchange, exchange_type=exchange_type, durable=durable,
            persistent=persistent, confirm_window=confirm_window, ca_file=ca_file,
            insecure=insecure,
            connect_timeout_s=(amqp.DEFAULT_CONNECT_TIMEOUT_S if connect_timeout_s is None
                               else connect_timeout_s),
            shutdown_timeout_s=(amqp.DEFAULT_SHUTDOWN_TIMEOUT_S if shutdown_timeout_s is None
                                else shutdown_timeout_s),
        )
    return MemoryTransport(broker or MemoryBroker())


__all__ = [
    "AMQP_URL_ENV",
    "BrokerSettings",
    "Delivery",
    "DeliveryHandler",
    "MemoryBroker",
    "MemoryTransport",
    "PublishCounts",
    "PublishStats",
    "Transport",
    "check_amqp_url",
    "open_transport",
]
