"""Wire dialects: the formats fibersim can speak, as plug-ins (docs/dialects.md).

A dialect is a codec plus a topology. ``load_dialect`` finds one by name (built-in, entry
point of the ``fibersim.dialects`` group, or ``module:attribute``); ``open_dialect_transport``
opens a transport on the dialect's exchange. The stage sits on top of ``wire`` (messages,
envelopes) and ``transport``; the streamer, the mock Focus Server and the recorder use it.
"""

from __future__ import annotations

from fibersim.dialects.base import GARBAGE, Dialect, ExchangeType, Topology
from fibersim.dialects.registry import (
    DEFAULT_DIALECT,
    DIALECT_ENV,
    ENTRY_POINT_GROUP,
    DialectError,
    InstalledDialect,
    installed_dialects,
    load_dialect,
)
from fibersim.transport import MemoryBroker, Transport, open_transport


def open_dialect_transport(dialect: Dialect, amqp_url: str | None, *,
                           exchange: str | None = None, broker: MemoryBroker | None = None,
                           confirm_window: int = 32, ca_file: str | None = None,
                           insecure: bool = False, connect_timeout_s: float | None = None,
                           shutdown_timeout_s: float | None = None) -> Transport:
    """A transport on ``exchange`` (default: the dialect's), declared as the dialect says."""
    topology = dialect.topology
    return open_transport(amqp_url, broker=broker, exchange=exchange or topology.exchange,
                          exchange_type=topology.exchange_type, durable=topology.durable,
                          persistent=topology.delivery_mode == 2,
                          confirm_window=confirm_window, ca_file=ca_file, insecure=insecure,
                          connect_timeout_s=connect_timeout_s,
                          shutdown_timeout_s=shutdown_timeout_s)


__all__ = [
    "DEFAULT_DIALECT",
    "DIALECT_ENV",
    "ENTRY_POINT_GROUP",
    "GARBAGE",
    "Dialect",
    "DialectError",
    "ExchangeType",
    "InstalledDialect",
    "Topology",
    "installed_dialects",
    "load_dialect",
    "open_dialect_transport",
]
