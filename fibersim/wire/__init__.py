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

__all__ = [
    "BLOCK_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "PROBE_CONTENT_TYPE",
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
    "routing_key",
]
