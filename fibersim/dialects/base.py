"""The dialect interface: how one interrogator's messages look on the broker.

A dialect is a codec (``encode``/``decode`` of every ``WireMessage``, and the malformed
variants the fault events publish) plus a topology (exchange, routing keys, delivery mode).
Everything above it (streamer, mock Focus Server, tap, replay, conformance check) talks to
this interface only, so supporting another interrogator's format is one subclass.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from fibersim.dialects.samples import sample_message
from fibersim.wire import Envelope, MessageKind, WireMessage

#: Body of the malformed messages of ``corrupt`` events: no format should accept it.
GARBAGE = b"\x00\xff{not a fibersim message"

ExchangeType = Literal["topic", "direct"]


@dataclass(frozen=True)
class Topology:
    """Where a dialect's messages go on the broker.

    ``exchange`` is the default exchange name (``--exchange`` overrides it, e.g. to keep a
    test off a live exchange). The embedded in-memory broker routes topic and direct
    exchanges alike (a direct binding key is a topic key without wildcards).
    """

    exchange: str
    exchange_type: ExchangeType = "topic"
    durable: bool = True
    #: AMQP delivery mode: 1 transient (a stale live stream is worthless), 2 persistent
    delivery_mode: Literal[1, 2] = 1

    def __post_init__(self) -> None:
        """Checked here, because a plug-in's topology is not type-checked by anyone."""
        if self.exchange_type not in ("topic", "direct"):
            raise ValueError(f"exchange type {self.exchange_type!r}: topic or direct")
        if self.delivery_mode not in (1, 2):
            raise ValueError(f"delivery mode {self.delivery_mode!r}: 1 or 2")
        if not self.exchange:
            raise ValueError("empty exchange name")


class Dialect(abc.ABC):
    """One wire format. Subclasses set ``name``, ``summary``, ``topology`` and implement
    ``encode``, ``decode`` and ``routing_key``; the rest has working defaults.

    ``decode`` must raise ``fibersim.wire.WireFormatError`` for anything it cannot read, and
    ``decode(encode(m))`` must give ``m`` back, except for the fields listed in ``limits``.
    """

    name: str
    summary: str
    topology: Topology
    #: ``"<kind>.<field>"`` the format cannot carry -> what a consumer therefore cannot see.
    #: ``fibersim conform`` reports these instead of failing on them.
    limits: ClassVar[Mapping[str, str]] = {}

    @abc.abstractmethod
    def encode(self, message: WireMessage) -> Envelope:
        """The envelope (body, content type, headers) of one message."""

    @abc.abstractmethod
    def decode(self, envelope: Envelope) -> WireMessage:
        """The message in an envelope; ``WireFormatError`` if it is not a valid one."""

    @abc.abstractmethod
    def routing_key(self, kind: MessageKind, fiber_id: str) -> str:
        """The routing key of a message of ``kind`` about ``fiber_id``."""

    def binding_keys(self, fiber_id: str) -> list[str]:
        """What a consumer of every message of one fiber binds its queue with."""
        return list(dict.fromkeys(self.routing_key(kind, fiber_id) for kind in MessageKind))

    def malformed(self, kind: MessageKind, fiber_id: str) -> Envelope:
        """What a ``corrupt`` event of ``kind`` publishes: a valid message's envelope (content
        type, headers) around a body no decoder may accept."""
        return dataclasses.replace(self.encode(sample_message(kind, fiber_id)), body=GARBAGE)

    def corrupt(self, envelope: Envelope) -> Envelope:
        """A data block damaged in transit (``corrupt message: data``): cut to a third."""
        return dataclasses.replace(envelope, body=envelope.body[:len(envelope.body) // 3])
