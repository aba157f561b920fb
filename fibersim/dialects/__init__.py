"""Wire dialects: the formats fibersim can speak, as plug-ins (docs/dialects.md).

A dialect is a codec plus a topology. ``load_dialect`` finds one by name (built-in, entry
point of the ``fibersim.dialects`` group, or ``module:attribute``); ``open_broker`` opens the
transport a ``BrokerSettings`` describes, on the dialect's exchange unless the settings name
another. The stage sits on top of ``wire`` (messages, envelopes) and ``transport``; every
command that reaches a broker (stream, run, focus-mock, record, replay, the bench) uses it.
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
from fibersim.transport import BrokerSettings, MemoryBroker, Transport, open_transport


def open_broker(settings: BrokerSettings, *, dialect: Dialect | None = None,
                broker: MemoryBroker | None = None) -> Transport:
    """A transport as ``settings`` describe it, in ``dialect`` (default: the settings' own),
    on the settings' exchange or the dialect's, declared as the dialect's topology says."""
    topology = (dialect or load_dialect(settings.dialect)).topology
    return open_transport(settings.url, broker=broker,
                          exchange=settings.exchange or topology.exchange,
                          exchange_type=topology.exchange_type, durable=topology.durable,
                          persistent=topology.delivery_mode == 2,
                          confirm_window=settings.confirm_window, ca_file=settings.ca_file,
                          insecure=settings.insecure,
                          connect_timeout_s=settings.connect_timeout_s,
                          shutdown_timeout_s=settings.shutdown_timeout_s)


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
    "open_broker",
]
