"""The ``fibersim`` dialect: fibersim's own format, specified in docs/wire-protocol.md."""

from __future__ import annotations

from fibersim.dialects.base import Dialect, Topology
from fibersim.wire import FibersimCodec, MessageKind, routing_key

ROUTING_PREFIX = "das"


class FibersimDialect(FibersimCodec, Dialect):
    """JSON control messages and ``FSDB`` data blocks on ``das.<fiber>.<kind>`` of a topic
    exchange. ``encode`` and ``decode`` are the codec's own methods: choosing this dialect adds
    no call, copy or conversion to the data-block path."""

    name = "fibersim"
    summary = "fibersim's own format (docs/wire-protocol.md): JSON control, FSDB data blocks"
    topology = Topology(exchange="fibersim", exchange_type="topic", delivery_mode=1)

    def routing_key(self, kind: MessageKind, fiber_id: str) -> str:
        return routing_key(ROUTING_PREFIX, fiber_id, kind)

    def binding_keys(self, fiber_id: str) -> list[str]:
        return [f"{ROUTING_PREFIX}.{fiber_id}.*"]
