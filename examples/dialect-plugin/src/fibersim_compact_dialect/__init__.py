"""The ``compact`` dialect: what a small vendor format could look like, as a fibersim plug-in.

Topic exchange ``interrogator``, keys ``<fiber>.info|frames|alive|state``; control messages
are JSON, a data frame is the raw little-endian samples with its shape and timing in headers.
Frames carry no sequence number: the decoder numbers them by sample index, so a reconnect
(where the sample index jumps but nothing was lost) reads as a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import TypeAdapter, ValidationError

from fibersim.dialects import Dialect, Topology
from fibersim.wire import (
    DataBlock,
    Envelope,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusMessage,
    WireFormatError,
    WireMessage,
    kind_of,
)

WORDS = {MessageKind.METADATA: "info", MessageKind.DATA: "frames",
         MessageKind.HEARTBEAT: "alive", MessageKind.STATUS: "state"}
CONTROL = TypeAdapter(MetadataMessage | Heartbeat | StatusMessage)


class CompactDialect(Dialect):
    name = "compact"
    summary = "example plug-in: JSON control, raw sample frames without sequence numbers"
    topology = Topology(exchange="interrogator")
    limits: ClassVar[Mapping[str, str]] = {
        "data.sequence": "not on the wire (numbered by sample index): a reconnect looks like a gap"}

    def routing_key(self, kind: MessageKind, fiber_id: str) -> str:
        return f"{fiber_id}.{WORDS[kind]}"

    def encode(self, message: WireMessage) -> Envelope:
        kind = kind_of(message)
        if not isinstance(message, DataBlock):
            return Envelope(kind, message.model_dump_json().encode(), "application/json")
        samples = message.samples.astype(message.samples.dtype.newbyteorder("<"), copy=False)
        headers = {"fiber": message.fiber_id, "dtype": samples.dtype.str,
                   "shape": f"{message.n_samples}x{message.n_channels}",
                   "epoch": message.config_epoch, "first": message.first_sample_index,
                   "t0": message.first_sample_time_ns, "rate": repr(message.sample_rate_hz),
                   "ch0": message.channel_start, "scale": repr(message.scale)}
        return Envelope(kind, np.ascontiguousarray(samples).tobytes(), "application/octet-stream",
                        headers, message.sequence)

    def decode(self, envelope: Envelope) -> WireMessage:
        try:
            if envelope.content_type == "application/json":
                return CONTROL.validate_json(envelope.body)
            h = envelope.headers
            rows, channels = (int(part) for part in h["shape"].split("x"))
            samples = np.frombuffer(envelope.body, np.dtype(h["dtype"])).reshape(rows, channels)
            return DataBlock(fiber_id=h["fiber"], config_epoch=h["epoch"],
                             sequence=h["first"] // rows, first_sample_index=h["first"],
                             first_sample_time_ns=h["t0"], sample_rate_hz=h["rate"],
                             channel_start=h["ch0"], scale=h["scale"],
                             samples=samples.astype(samples.dtype.newbyteorder("=")))
        except (KeyError, ValueError, TypeError, ValidationError) as error:
            raise WireFormatError(f"not a compact message: {error}") from None
