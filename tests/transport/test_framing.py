"""The one-copy publish framing: the same bytes as aiormq's, and bodies that arrive whole."""

from __future__ import annotations

import pytest
from aiormq import Channel
from aiormq.abc import ChannelFrame
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from fibersim.transport import open_transport
from fibersim.transport.framing import publish_frames
from fibersim.wire import Envelope, MessageKind
from tests.helpers import a_queue_bound_to, bodies_left_in

MAX_PAYLOAD = 131072 - Channel.CONTENT_FRAME_SIZE  # RabbitMQ's default frame_max


def aiormq_frames(channel_number: int, properties: Basic.Properties, body: bytes) -> bytes:
    """What aiormq's ``basic_publish`` writes for the same publish."""
    frames = [Basic.Publish(exchange="ex", routing_key="fibers.a.data", mandatory=True),
              ContentHeader(body_size=len(body), properties=properties)]
    frames += [ContentBody(body[start:start + MAX_PAYLOAD])
               for start in range(0, len(body), MAX_PAYLOAD)]
    return bytes(ChannelFrame.marshall(channel_number, frames).payload)


@pytest.mark.parametrize("size", [0, 1, MAX_PAYLOAD - 1, MAX_PAYLOAD, MAX_PAYLOAD + 1,
                                  8 * MAX_PAYLOAD, 934_800])
def test_frames_are_byte_identical_to_aiormqs(size: int) -> None:
    properties = Basic.Properties(content_type="application/x-test", delivery_mode=1,
                                  message_id="m-1", headers={"fiber": "a", "n": 3})
    body = bytes(index % 251 for index in range(size))
    ours = publish_frames(7, "ex", "fibers.a.data", properties, body, MAX_PAYLOAD)
    assert bytes(ours) == aiormq_frames(7, properties, body)


async def test_a_body_of_many_frames_arrives_whole_and_confirmed(
        amqp_url: str, exchange_name: str) -> None:
    body = bytes(index % 253 for index in range(3 * MAX_PAYLOAD + 12345))
    async with a_queue_bound_to(amqp_url, exchange_name, "fibers.#") as queue:
        transport = open_transport(amqp_url, exchange=exchange_name)
        await transport.connect()
        try:
            for _ in range(3):
                await transport.publish("fibers.a.data",
                                        Envelope(MessageKind.DATA, body, "application/x-test"))
            await transport.flush()
        finally:
            await transport.close()
        assert transport.stats.confirmed == 3
        assert await bodies_left_in(queue) == [body] * 3
