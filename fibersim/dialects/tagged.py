"""The ``tagged`` dialect: one routing key per fiber, the message type in a header.

It is shaped like the vendor formats a Focus Server consumes in production, and unlike
``fibersim`` on every axis the interface has: a direct exchange, persistent delivery, every
kind of message on the same routing key (``<fiber_id>``) told apart by the ``msg-type``
header, control messages as msgpack maps, and data blocks as a numpy ``.npy`` array whose
block fields (sequence, epoch, time, rate, scale) travel in AMQP headers.
"""

from __future__ import annotations

import io
from typing import Any

import msgpack
import numpy as np
from pydantic import ValidationError

from fibersim.dialects.base import Dialect, Topology
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
from fibersim.wire.codec import MAX_BLOCK_BYTES

MSGPACK_CONTENT_TYPE = "application/msgpack"
NPY_CONTENT_TYPE = "application/x-npy"
#: ``msg-type`` header value of each kind, in the vendor's vocabulary
MESSAGE_TYPES = {MessageKind.METADATA: "fiber-info", MessageKind.DATA: "chunk",
                 MessageKind.HEARTBEAT: "keep-alive", MessageKind.STATUS: "status"}
_KINDS = {value: kind for kind, value in MESSAGE_TYPES.items()}
_CONTROL_MODELS: dict[MessageKind, type[MetadataMessage | Heartbeat | StatusMessage]] = {
    MessageKind.METADATA: MetadataMessage, MessageKind.HEARTBEAT: Heartbeat,
    MessageKind.STATUS: StatusMessage}
#: block fields carried as headers (header name -> DataBlock field). Floats travel as their
#: ``repr`` string: aio-pika (pamqp) encodes a Python float header as a 32-bit float, which
#: ``fibersim conform`` caught rounding the int16 scale.
_BLOCK_HEADERS = {"seq": "sequence", "epoch": "config_epoch", "first-index": "first_sample_index",
                  "t0-ns": "first_sample_time_ns", "rate-hz": "sample_rate_hz",
                  "ch0": "channel_start", "scale": "scale"}
_WIRE_DTYPES = (np.dtype("<i2"), np.dtype("<f4"))


class TaggedDialect(Dialect):
    """Vendor-shaped: direct exchange, one key per fiber, msg-type header, msgpack and .npy."""

    name = "tagged"
    summary = ("one routing key per fiber, kinds told apart by the msg-type header; msgpack"
               " control messages, numpy .npy data blocks")
    topology = Topology(exchange="das-tagged", exchange_type="direct", delivery_mode=2)

    def routing_key(self, kind: MessageKind, fiber_id: str) -> str:
        return fiber_id

    def encode(self, message: WireMessage) -> Envelope:
        kind = kind_of(message)
        headers: dict[str, Any] = {"msg-type": MESSAGE_TYPES[kind], "fiber": message.fiber_id}
        if isinstance(message, DataBlock):
            headers.update({name: _header_value(getattr(message, field))
                            for name, field in _BLOCK_HEADERS.items()})
            return Envelope(kind, _npy_body(message.samples), NPY_CONTENT_TYPE, headers,
                            message.sequence)
        body = msgpack.packb(message.model_dump(mode="json"))
        return Envelope(kind, body, MSGPACK_CONTENT_TYPE, headers)

    def decode(self, envelope: Envelope) -> WireMessage:
        kind = _KINDS.get(envelope.headers.get("msg-type"))  # type: ignore[arg-type]
        if kind is None:
            raise WireFormatError(f"unknown msg-type header {envelope.headers.get('msg-type')!r}")
        try:
            if kind is MessageKind.DATA:
                return self._decode_block(envelope)
            payload = msgpack.unpackb(envelope.body)
            if not isinstance(payload, dict):
                raise WireFormatError(f"{MESSAGE_TYPES[kind]} body is not a msgpack map")
            return _CONTROL_MODELS[kind].model_validate(payload)
        except WireFormatError:
            raise
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise WireFormatError(f"invalid {MESSAGE_TYPES[kind]} field {where}: "
                                  f"{first['msg']}") from None
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise WireFormatError(f"unreadable {MESSAGE_TYPES[kind]}: {error}") from None

    def _decode_block(self, envelope: Envelope) -> DataBlock:
        if len(envelope.body) > MAX_BLOCK_BYTES:
            raise WireFormatError(f"chunk of {len(envelope.body)} bytes exceeds {MAX_BLOCK_BYTES}")
        fields = {field: envelope.headers.get(name) for name, field in _BLOCK_HEADERS.items()}
        missing = [name for name, field in _BLOCK_HEADERS.items() if fields[field] is None]
        if missing or not isinstance(envelope.headers.get("fiber"), str):
            raise WireFormatError(f"chunk without header {(missing or ['fiber'])[0]}")
        return DataBlock(fiber_id=envelope.headers["fiber"], samples=_npy_array(envelope.body),
                         **fields)


def _header_value(value: int | float) -> int | str:
    return repr(value) if isinstance(value, float) else value


def _npy_body(samples: np.ndarray) -> bytes:
    """``.npy`` header + little-endian samples, copying the samples once (as FSDB does)."""
    little_endian = np.ascontiguousarray(
        samples.astype(samples.dtype.newbyteorder("<"), copy=False))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, np.lib.format.header_data_from_array_1_0(little_endian))
    return b"".join((header.getvalue(), little_endian.data.cast("B")))


def _npy_array(body: bytes) -> np.ndarray:
    """The 2-D int16/float32 array of an ``.npy`` body, without copying it."""
    stream = io.BytesIO(body)
    version = np.lib.format.read_magic(stream)
    if version != (1, 0):
        raise WireFormatError(f"unsupported .npy version {version}")
    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    if fortran_order or len(shape) != 2 or dtype not in _WIRE_DTYPES:
        raise WireFormatError(f"chunk is not a C-order 2-D int16/float32 array: {shape} {dtype}")
    offset = stream.tell()
    expected = shape[0] * shape[1] * dtype.itemsize
    if len(body) - offset != expected:
        raise WireFormatError(f"chunk payload is {len(body) - offset} bytes, header announces"
                              f" {expected}")
    samples = np.frombuffer(body, dtype=dtype, offset=offset).reshape(shape)
    return samples.astype(samples.dtype.newbyteorder("="), copy=False)
