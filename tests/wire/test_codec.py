"""The fibersim codec: round trips, and rejection of anything that breaks the protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fibersim.models import FiberConfig, FiberMetadata
from fibersim.wire import (
    DataBlock,
    Envelope,
    MessageKind,
    MetadataMessage,
    WireFormatError,
    get_codec,
)

codec = get_codec()


def a_block(dtype: type = np.int16) -> DataBlock:
    return DataBlock(fiber_id="f", config_epoch=2, sequence=9, first_sample_index=1800,
                     first_sample_time_ns=123, sample_rate_hz=2000.0, channel_start=0,
                     scale=3e-9, samples=np.arange(24, dtype=dtype).reshape(4, 6))


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_data_block_round_trips(dtype: type) -> None:
    block = a_block(dtype)
    decoded = codec.decode(codec.encode(block))
    assert isinstance(decoded, DataBlock)
    assert np.array_equal(decoded.samples, block.samples)
    assert decoded.model_dump(exclude={"samples"}) == block.model_dump(exclude={"samples"})


def test_metadata_round_trips() -> None:
    config = FiberConfig()
    message = MetadataMessage(fiber_id="f", config_epoch=0, reason="connect", sent_at_ns=1,
                              metadata=config.metadata(), int16_scale=config.int16_scale)
    assert codec.decode(codec.encode(message)) == message


def test_waiting_for_fiber_payload_serialises_exactly_as_in_the_incident() -> None:
    body = json.dumps(FiberMetadata.waiting().live_metadata_json(), separators=(",", ":"))
    assert body == ('{"dx":0.0,"prr":0.0,"fiber_start_meters":null,"fiber_length_meters":null,'
                    '"sw_version":"waiting for fiber","number_of_channels":2337,'
                    '"fiber_description":"waiting for fiber"}')


@pytest.mark.parametrize("mangle", [
    lambda body: body[:40],
    lambda body: body[:-1],
    lambda body: b"XXXX" + body[4:],
    lambda body: body[:8] + b"\x09" + body[9:],
])
def test_malformed_data_blocks_are_rejected(mangle) -> None:
    envelope = codec.encode(a_block())
    with pytest.raises(WireFormatError):
        codec.decode(Envelope(envelope.kind, mangle(envelope.body), envelope.content_type,
                              envelope.headers))


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"schema_version":2,"kind":"heartbeat"}',
                                  b'{"schema_version":1,"kind":"metadata"}', b"\xff\xfe"])
def test_malformed_json_messages_are_rejected(body: bytes) -> None:
    with pytest.raises(WireFormatError):
        codec.decode(Envelope(MessageKind.METADATA, body, "application/json", {}))


def test_unknown_content_type_is_rejected() -> None:
    with pytest.raises(WireFormatError):
        codec.decode(Envelope(MessageKind.DATA, b"", "text/plain", {}))
