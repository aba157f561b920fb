"""A deliberately broken dialect for the conformance tests: it drops heartbeat states."""

from __future__ import annotations

from fibersim.dialects.fibersim_dialect import FibersimDialect
from fibersim.wire import Envelope, Heartbeat, WireMessage


class LossyDialect(FibersimDialect):
    """The fibersim format, except that every heartbeat decodes as 'connected'."""

    name = "lossy"

    def decode(self, envelope: Envelope) -> WireMessage:
        message = super().decode(envelope)
        if isinstance(message, Heartbeat):
            return message.model_copy(update={"state": "connected"})
        return message
