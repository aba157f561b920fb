"""Codecs turn wire messages into AMQP-ready envelopes and back.

``FibersimCodec`` is the codec of the ``fibersim`` dialect (``fibersim/dialects/``), whose
layout docs/wire-protocol.md specifies normatively. Other wire formats are other dialects;
nothing else in fibersim reads bytes.
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from pydantic import ValidationError

from fibersim.models import MAX_CHANNELS
from fibersim.wire.messages import (
    SCHEMA_VERSION,
    DataBlock,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusMessage,
    WireMessage,
    kind_of,
)

JSON_CONTENT_TYPE = "application/json"
BLOCK_CONTENT_TYPE = "application/vnd.fibersim.block"
#: A publisher's route probe: an empty message consumers ignore (docs/wire-protocol.md).
PROBE_CONTENT_TYPE = "application/vnd.fibersim.probe"

#: Largest data block a decoder accepts (bytes); bigger messages are rejected, not allocated.
MAX_BLOCK_BYTES = 256 * 1024 * 1024
#: Largest JSON control message a decoder accepts (bytes); real ones are under 1 KB.
MAX_JSON_BYTES = 64 * 1024

BLOCK_MAGIC = b"FSDB"
BLOCK_HEADER = struct.Struct("<4sHHBBHIQQqdIIIId")
BLOCK_HEADER_VERSION = 1
_DTYPE_CODES: dict[int, np.dtype] = {1: np.dtype("<i2"), 2: np.dtype("<f4")}
_CODE_OF_DTYPE = {np.dtype(np.int16): 1, np.dtype(np.float32): 2}


#: This process's publisher session (docs/wire-protocol.md): new on every start, so a
#: consumer can tell a restarted publisher, or a second one on the same fiber, from a gap.
PUBLISHER_SESSION = uuid.uuid4().hex

class WireFormatError(ValueError):
    """A message that does not follow the wire protocol (malformed, truncated, wrong schema)."""


@dataclass(frozen=True)
class Envelope:
    """One AMQP message, transport-neutral: what a transport publishes or delivers."""

    kind: MessageKind
    body: bytes
    content_type: str
    headers: dict[str, Any] = field(default_factory=dict)
    #: data blocks: the block's sequence number, for the transport to report the block lost
    #: by number whatever the dialect puts on the wire (it is not transmitted as such)
    sequence: int | None = None


class Codec(Protocol):
    """Encodes wire messages into envelopes and decodes them back."""

    name: str

    def encode(self, message: WireMessage) -> Envelope: ...

    def decode(self, envelope: Envelope) -> WireMessage: ...


def envelope_headers(kind: MessageKind, fiber_id: str) -> dict[str, Any]:
    """The AMQP headers every fibersim message carries (docs/wire-protocol.md section 3)."""
    return {
        "x-fibersim-schema": SCHEMA_VERSION,
        "x-fibersim-kind": kind.value,
        "x-fibersim-fiber": fiber_id,
        "x-fibersim-session": PUBLISHER_SESSION,
    }


class FibersimCodec:
    """fibersim's own protocol: JSON control messages, a 72-byte header + raw samples for data."""

    name = "fibersim"

    def encode(self, message: WireMessage) -> Envelope:
        kind = kind_of(message)
        headers = envelope_headers(kind, message.fiber_id)
        if isinstance(message, DataBlock):
            headers["x-fibersim-sequence"] = message.sequence
            return Envelope(kind, _encode_block(message), BLOCK_CONTENT_TYPE, headers,
                            message.sequence)
        payload = {"schema_version": SCHEMA_VERSION, "kind": kind.value}
        payload.update(message.model_dump(mode="json"))
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Envelope(kind, body, JSON_CONTENT_TYPE, headers)

    def decode(self, envelope: Envelope) -> WireMessage:
        if envelope.content_type == BLOCK_CONTENT_TYPE:
            fiber_id = envelope.headers.get("x-fibersim-fiber")
            if not isinstance(fiber_id, str):
                raise WireFormatError("data block without an x-fibersim-fiber header")
            return _decode_block(envelope.body, fiber_id)
        if envelope.content_type != JSON_CONTENT_TYPE:
            raise WireFormatError(f"unknown content type {envelope.content_type!r}")
        return _decode_json(envelope.body)


def _encode_block(block: DataBlock) -> bytes:
    """Header + little-endian samples as one ``bytes``, copying the samples exactly once.

    A full-rate block is about 0.9 MB; ``tobytes()`` followed by ``header + payload`` copied
    it twice, which cost as much as the rest of the encoder. ``bytes.join`` over a memoryview
    of the (contiguous, little-endian) array builds the body in a single pass.
    """
    samples = block.samples
    header = BLOCK_HEADER.pack(
        BLOCK_MAGIC,
        BLOCK_HEADER_VERSION,
        BLOCK_HEADER.size,
        _CODE_OF_DTYPE[samples.dtype],
        0,
        0,
        block.config_epoch,
        block.sequence,
        block.first_sample_index,
        block.first_sample_time_ns,
        block.sample_rate_hz,
        block.n_samples,
        block.channel_start,
        block.n_channels,
        0,
        block.scale,
    )
    little_endian = np.ascontiguousarray(
        samples.astype(samples.dtype.newbyteorder("<"), copy=False)
    )
    return b"".join((header, little_endian.data.cast("B")))


def _decode_block(body: bytes, fiber_id: str) -> DataBlock:
    if len(body) < BLOCK_HEADER.size:
        raise WireFormatError(f"data block truncated: {len(body)} bytes, header needs 72")
    if len(body) > MAX_BLOCK_BYTES:
        raise WireFormatError(f"data block of {len(body)} bytes exceeds {MAX_BLOCK_BYTES}")
    (magic, version, header_length, dtype_code, _flags, _r1, epoch, sequence, first_index,
     first_time_ns, rate, n_samples, channel_start, n_channels, _r2, scale) = (
        BLOCK_HEADER.unpack_from(body))
    if magic != BLOCK_MAGIC:
        raise WireFormatError(f"bad magic {magic!r}, expected {BLOCK_MAGIC!r}")
    if version != BLOCK_HEADER_VERSION:
        raise WireFormatError(f"unsupported block header version {version}")
    if header_length < BLOCK_HEADER.size or header_length > len(body):
        raise WireFormatError(f"bad header length {header_length}")
    dtype = _DTYPE_CODES.get(dtype_code)
    if dtype is None:
        raise WireFormatError(f"unknown dtype code {dtype_code}")
    if channel_start + n_channels > MAX_CHANNELS:
        raise WireFormatError(f"channels {channel_start}+{n_channels} exceed {MAX_CHANNELS}")
    expected = n_samples * n_channels * dtype.itemsize
    if len(body) - header_length != expected:
        raise WireFormatError(
            f"payload is {len(body) - header_length} bytes, header announces {expected}"
        )
    samples = np.frombuffer(body, dtype=dtype, offset=header_length).reshape(n_samples, n_channels)
    try:
        return DataBlock(
            fiber_id=fiber_id,
            config_epoch=epoch,
            sequence=sequence,
            first_sample_index=first_index,
            first_sample_time_ns=first_time_ns,
            sample_rate_hz=rate,
            channel_start=channel_start,
            scale=scale,
            samples=samples.astype(samples.dtype.newbyteorder("="), copy=False),
        )
    except ValidationError as error:
        raise WireFormatError(f"invalid data block header: {error.errors()[0]['msg']}") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads_strict_json(body: bytes | str) -> Any:
    """``json.loads`` without Python's leniencies: NaN, Infinity and numbers too large for a
    float raise ``ValueError`` (as over-long integers already do), so nothing non-finite
    reaches a model or is echoed back as invalid JSON. Deep nesting raises ``RecursionError``,
    text that is not JSON ``json.JSONDecodeError`` (a ``ValueError``)."""
    return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)


_JSON_MODELS: dict[str, type[MetadataMessage | Heartbeat | StatusMessage]] = {
    MessageKind.METADATA.value: MetadataMessage,
    MessageKind.HEARTBEAT.value: Heartbeat,
    MessageKind.STATUS.value: StatusMessage,
}


def _decode_json(body: bytes) -> WireMessage:
    """A control message from JSON. Strict where Python's ``json`` is lenient: NaN and
    Infinity (and numbers too large for a float) are refused, as are bodies over
    ``MAX_JSON_BYTES``, nesting deeper than the interpreter's recursion limit and integers
    of more than 4300 digits, all as ``WireFormatError``."""
    if len(body) > MAX_JSON_BYTES:
        raise WireFormatError(f"JSON message of {len(body)} bytes exceeds {MAX_JSON_BYTES}")
    try:
        payload = loads_strict_json(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireFormatError(f"message is not JSON: {error}") from None
    except RecursionError:
        raise WireFormatError("JSON message nested too deeply") from None
    except ValueError as error:  # NaN/Infinity, float overflow, over-long integers
        raise WireFormatError(f"JSON message refused: {error}") from None
    if not isinstance(payload, dict):
        raise WireFormatError("JSON message is not an object")
    if payload.pop("schema_version", None) != SCHEMA_VERSION:
        raise WireFormatError(f"unsupported schema_version, expected {SCHEMA_VERSION}")
    model = _JSON_MODELS.get(payload.pop("kind", None))
    if model is None:
        raise WireFormatError("unknown or missing message kind")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WireFormatError(f"invalid {model.__name__} field {where}: {first['msg']}") from None


_FIBERSIM_CODEC = FibersimCodec()


def get_codec() -> Codec:
    """The codec of fibersim's own format; other formats are dialects (``fibersim.dialects``)."""
    return _FIBERSIM_CODEC
