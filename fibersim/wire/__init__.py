"""Wire stage: message models and the codecs that put them on (and take them off) the wire."""

from fibersim.wire.codec import (
    BLOCK_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PROBE_CONTENT_TYPE,
    Codec,
    Envelope,
    FibersimCodec,
    WireFormatError,
    envelope_headers,
    get_codec,
)
from fibersim.wire.messages import (
    EXCHANGE,
    ROUTING_PREFIX,
    SCHEMA_VERSION,
    DataBlock,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusEvent,
    StatusMessage,
    WireMessage,
    kind_of,
    routing_key,
)
from fibersim.wire.samples import quantize_int16

__all__ = [
    "BLOCK_CONTENT_TYPE",
    "EXCHANGE",
    "JSON_CONTENT_TYPE",
    "PROBE_CONTENT_TYPE",
    "ROUTING_PREFIX",
    "SCHEMA_VERSION",
    "Codec",
    "DataBlock",
    "Envelope",
    "FibersimCodec",
    "Heartbeat",
    "MessageKind",
    "MetadataMessage",
    "StatusEvent",
    "StatusMessage",
    "WireFormatError",
    "WireMessage",
    "envelope_headers",
    "get_codec",
    "kind_of",
    "quantize_int16",
    "routing_key",
]
