"""Hostile input to the mock (issue 14): non-finite numbers, oversized and deep bodies,
poisoned sequence numbers, a second publisher. Refused and counted, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest

from fibersim.focus.app import MAX_REQUEST_BODY_BYTES
from fibersim.focus.sequence import MAX_JUMP, Arrival, SequenceTracker
from fibersim.models import FiberConfig
from fibersim.wire import (
    JSON_CONTENT_TYPE,
    PROBE_CONTENT_TYPE,
    DataBlock,
    Envelope,
    MessageKind,
    get_codec,
)
from tests.focus.harness import FIBER, PREFIX, Focus, configure_body


def metadata_body(**metadata_changes: Any) -> bytes:
    config = FiberConfig()
    metadata = config.metadata().model_dump(mode="json") | metadata_changes
    return json.dumps({"schema_version": 1, "kind": "metadata", "fiber_id": FIBER,
                       "config_epoch": 0, "reason": "connect", "sent_at_ns": time.time_ns(),
                       "metadata": metadata, "int16_scale": config.int16_scale},
                      separators=(",", ":")).encode()


async def status_of(focus: Focus) -> dict[str, Any]:
    answer = await focus.client.get(f"{PREFIX}/_mock/status")
    body: dict[str, Any] = answer.json()
    return body


# -- wire ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    metadata_body().replace(b'"prr":2000.0', b'"prr":Infinity'),
    metadata_body().replace(b'"dx":1.02', b'"dx":NaN'),
    metadata_body().replace(b'"prr":2000.0', b'"prr":1e999'),
    metadata_body(extra_key=None).replace(b'"extra_key":null', b'"extra_key":-Infinity'),
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
])
async def test_non_finite_or_too_deep_wire_messages_are_counted_as_rejected(
        focus: Focus, body: bytes) -> None:
    await focus.send_raw(Envelope(MessageKind.METADATA, body, JSON_CONTENT_TYPE, {}))
    status = await status_of(focus)
    assert status["counters"]["rejected"] == 1
    assert status["metadata"] is None  # nothing of it was taken
    live = await focus.client.get(f"{PREFIX}/live_metadata")
    assert live.status_code == 200 and json.loads(live.content)  # still valid JSON


async def test_an_unknown_key_inside_metadata_is_ignored(focus: Focus) -> None:
    await focus.send_raw(Envelope(MessageKind.METADATA, metadata_body(laser_power_mw=42),
                                  JSON_CONTENT_TYPE, {}))
    status = await status_of(focus)
    assert status["counters"]["rejected"] == 0 and status["metadata"]["prr"] == 2000.0


async def test_metadata_announcing_too_many_channels_is_rejected(focus: Focus) -> None:
    await focus.send_raw(Envelope(MessageKind.METADATA, metadata_body(number_of_channels=10**9),
                                  JSON_CONTENT_TYPE, {}))
    assert (await status_of(focus))["counters"]["rejected"] == 1


async def test_a_route_probe_is_ignored_not_rejected(focus: Focus) -> None:
    await focus.send_raw(Envelope(MessageKind.DATA, b"", PROBE_CONTENT_TYPE,
                                  {"x-fibersim-kind": "probe"}))
    counters = (await status_of(focus))["counters"]
    assert counters["rejected"] == 0 and counters["blocks"] == 0


def block(sequence: int) -> Envelope:
    envelope = get_codec().encode(DataBlock(
        fiber_id=FIBER, config_epoch=0, sequence=sequence, first_sample_index=0,
        first_sample_time_ns=time.time_ns(), sample_rate_hz=2000.0, channel_start=0,
        scale=1.0, samples=np.zeros((200, 8), np.int16)))
    return envelope


def in_session(envelope: Envelope, session: str) -> Envelope:
    return Envelope(envelope.kind, envelope.body, envelope.content_type,
                    envelope.headers | {"x-fibersim-session": session})


async def test_one_absurd_sequence_number_does_not_poison_the_tracking(
        ready_focus: Focus) -> None:
    for envelope in (block(0), block(1), block(2**64 - 1), block(3), block(4)):
        await ready_focus.send_raw(in_session(envelope, "one"))
    counters = (await status_of(ready_focus))["counters"]
    assert counters["duplicates"] == 0 and counters["resyncs"] == 2


async def test_a_second_publisher_session_starts_the_tracking_afresh(ready_focus: Focus) -> None:
    for sequence in range(5):
        await ready_focus.send_raw(in_session(block(100 + sequence), "first"))
    for sequence in range(5):
        await ready_focus.send_raw(in_session(block(sequence), "second"))
    counters = (await status_of(ready_focus))["counters"]
    assert counters["duplicates"] == 0 and counters["gaps"] == 0 and counters["resyncs"] == 1


def test_a_jump_beyond_max_jump_is_a_resync_not_a_gap() -> None:
    tracker = SequenceTracker()
    tracker.observe(0, "s")
    assert tracker.observe(MAX_JUMP + 10, "s") is Arrival.IN_ORDER
    assert tracker.gaps == 0 and tracker.resyncs == 1


# -- HTTP ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
@pytest.mark.parametrize("where", ["known", "unknown"])
async def test_non_finite_numbers_in_a_request_body_are_a_422_not_a_500(
        ready_focus: Focus, value: bytes, where: str) -> None:
    key = "displayTimeAxisDuration" if where == "known" else "unknown_key"
    body = json.dumps(configure_body(**{key: 123456789})).encode()
    body = body.replace(b"123456789", value)
    answer = await ready_focus.client.post(f"{PREFIX}/configure", content=body,
                                           headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"


async def test_a_request_body_over_the_limit_is_a_413(ready_focus: Focus) -> None:
    body = json.dumps(configure_body(padding="x" * MAX_REQUEST_BODY_BYTES)).encode()
    answer = await ready_focus.client.post(f"{PREFIX}/configure", content=body,
                                           headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "request body over" in answer.json()["error"]


async def test_a_deeply_nested_request_body_is_a_422(ready_focus: Focus) -> None:
    body = b"[" * 20_000 + b"]" * 20_000
    answer = await ready_focus.client.post(f"{PREFIX}/configure", content=body,
                                           headers={"content-type": "application/json"})
    assert answer.status_code == 422
