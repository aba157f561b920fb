"""The mock's wire consumer under hostile input (property-based): random bodies, truncated and
bit-flipped blocks, wrong schema versions, oversized and misfitting blocks. Every message is
either applied or rejected and counted; the consumer never dies and keeps its state.

The mock is driven without its HTTP app (the domain's typed status is read directly): building
the app for each of the hundreds of examples cost most of this file's run time."""

from __future__ import annotations

import asyncio
import contextlib
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fibersim.focus import FocusMock, FocusSettings
from fibersim.focus.schemas import MockStatus
from fibersim.models import FiberConfig
from fibersim.timebase import SteppedClock
from fibersim.transport import MemoryBroker, MemoryTransport
from fibersim.wire import (
    BLOCK_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    DataBlock,
    Envelope,
    MessageKind,
    MetadataMessage,
    get_codec,
    routing_key,
)
from tests.focus.harness import FIBER

CHANNELS = 32
HEADERS = {"x-fibersim-fiber": FIBER}


def valid_block(sequence: int, channels: int = CHANNELS) -> Envelope:
    return get_codec().encode(DataBlock(
        fiber_id=FIBER, config_epoch=0, sequence=sequence, first_sample_index=sequence * 20,
        first_sample_time_ns=1_700_000_000_000_000_000 + sequence * 10_000_000,
        sample_rate_hz=2000.0, channel_start=0, scale=3e-9,
        samples=np.zeros((20, channels), dtype=np.int16)))


def truncated(cut: int) -> Envelope:
    block = valid_block(0)
    return Envelope(MessageKind.DATA, block.body[:cut % len(block.body)], BLOCK_CONTENT_TYPE,
                    HEADERS)


def bit_flipped(position: int, bit: int) -> Envelope:
    body = bytearray(valid_block(0).body)
    body[position % 72] ^= 1 << bit
    return Envelope(MessageKind.DATA, bytes(body), BLOCK_CONTENT_TYPE, HEADERS)


def json_message(payload: object) -> Envelope:
    return Envelope(MessageKind.METADATA, json.dumps(payload).encode(), JSON_CONTENT_TYPE,
                    HEADERS)


hostile = st.one_of(
    st.builds(lambda body, kind: Envelope(kind, body, BLOCK_CONTENT_TYPE, HEADERS),
              st.binary(max_size=300), st.sampled_from(list(MessageKind))),
    st.builds(lambda body: Envelope(MessageKind.METADATA, body, JSON_CONTENT_TYPE, HEADERS),
              st.binary(max_size=300)),
    st.builds(truncated, st.integers(0, 10_000)),
    st.builds(bit_flipped, st.integers(0, 71), st.integers(0, 7)),
    st.builds(json_message, st.fixed_dictionaries({
        "schema_version": st.integers(-5, 5), "kind": st.sampled_from(
            ["metadata", "heartbeat", "status", "bogus"])})),
    st.builds(lambda: valid_block(5, channels=CHANNELS + 8)),  # does not fit the fiber
    st.builds(lambda: Envelope(MessageKind.DATA, b"\0" * 4096, "text/plain", HEADERS)),
)


async def feed(messages: list[Envelope]) -> tuple[MockStatus, MockStatus]:
    """The mock's status after a fiber's metadata, and after ``messages`` and a valid block."""
    async with contextlib.AsyncExitStack() as stack:
        broker = MemoryBroker()
        consumer, publisher = MemoryTransport(broker), MemoryTransport(broker)
        stack.push_async_callback(consumer.close)
        mock = await stack.enter_async_context(FocusMock(
            FocusSettings(max_message_bytes=2048), consumer, clock=SteppedClock()))

        async def send(envelope: Envelope) -> None:
            await publisher.publish(routing_key("das", FIBER, envelope.kind), envelope)
            await consumer.flush()

        metadata = FiberConfig(number_of_channels=CHANNELS).metadata()
        await send(get_codec().encode(MetadataMessage(
            fiber_id=FIBER, config_epoch=0, reason="connect", sent_at_ns=0, metadata=metadata)))
        before = mock.status()
        for envelope in [*messages, valid_block(1000)]:
            await send(envelope)
        after = mock.status()
        assert mock.live_metadata() == metadata
    return before, after


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile, min_size=1, max_size=12))
def test_every_hostile_message_is_applied_or_rejected_and_counted(
        messages: list[Envelope]) -> None:
    before, after = asyncio.run(feed(messages))
    applied = sum(after.counters.messages.model_dump().values()) - sum(
        before.counters.messages.model_dump().values())
    rejected = after.counters.rejected - before.counters.rejected
    assert applied + rejected == len(messages) + 1
    assert after.counters.blocks >= 1, "a valid block after the garbage was not taken"


def test_an_oversized_message_is_rejected_unread() -> None:
    before, after = asyncio.run(feed([valid_block(0, channels=4096)]))
    assert after.counters.rejected - before.counters.rejected == 1
    assert after.state == "ready"


def test_a_block_wider_than_the_announced_fiber_is_rejected() -> None:
    before, after = asyncio.run(feed([valid_block(0, channels=CHANNELS + 1)]))
    assert after.counters.rejected - before.counters.rejected == 1
    assert after.counters.blocks == 1  # only the valid block that followed
