"""``basic.publish`` with publisher confirms, the body framed with one copy.

Why not aiormq's ``Channel.basic_publish``: it slices a body into frame-sized ``bytes``
(one copy), wraps each slice in a frame (a second) and concatenates the frames in a
``BytesIO`` (a third, plus the buffer's growth). For a full-rate block (0.9 MB, eight
frames at RabbitMQ's default ``frame_max``) those copies were a quarter of the
publisher's CPU, on a 2-core machine where the publisher, the render process and the
broker share the cores. Here the frames are written once into one buffer of the exact
size, which the connection's writer hands to the socket.

What stays aiormq's: the connection, its writer task and the channel's bookkeeping. The
publish takes the channel's lock, numbers itself with the channel's delivery tag and
registers its confirmation future (and its message id, which is how a returned mandatory
message finds its publish) exactly as ``basic_publish`` does, so confirms, nacks, returns
and a closing channel resolve it through aiormq's own frame handlers. ``pyproject.toml``
pins aiormq's minor version because these attributes are the contract;
``tests/transport/test_framing.py`` checks the bytes against pamqp's marshalling.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from typing import Any

from aiormq import Channel
from aiormq.abc import AbstractChannel, ChannelFrame
from pamqp import constants, frame
from pamqp.commands import Basic
from pamqp.header import ContentHeader

#: Type (1 byte), channel (2) and payload size (4) before each frame's payload.
_FRAME_HEADER = struct.Struct(">BHI")
#: The end marker after each frame's payload.
_FRAME_END = bytes([constants.FRAME_END])


def publish_frames(channel_number: int, exchange: str, routing_key: str,
                   properties: Basic.Properties, body: bytes, max_payload: int) -> bytes:
    """The method, header and body frames of one mandatory publish, body copied once.

    ``max_payload`` is the largest body-frame payload (``frame_max`` minus the frame
    overhead), so every frame fits the size negotiated with the broker. ``bytes.join``
    over views of the body sizes the result once and copies each piece into it, without
    the zero-fill a ``bytearray`` of the same size would cost first.
    """
    parts: list[bytes | memoryview] = [
        frame.marshal(Basic.Publish(exchange=exchange, routing_key=routing_key,
                                    mandatory=True), channel_number),
        frame.marshal(ContentHeader(body_size=len(body), properties=properties),
                      channel_number)]
    source = memoryview(body)
    for start in range(0, len(body), max_payload):
        chunk = source[start:start + max_payload]
        parts += (_FRAME_HEADER.pack(constants.FRAME_BODY, channel_number, len(chunk)), chunk,
                  _FRAME_END)
    return b"".join(parts)


async def publish_confirmed(channel: AbstractChannel, body: bytes, *, exchange: str,
                            routing_key: str, properties: Basic.Properties) -> Any:
    """Publish ``body`` mandatory on ``channel`` (which has publisher confirms) and return
    the broker's answer: ``Basic.Ack``, or the returned message if no queue took it.

    Raises what ``Channel.basic_publish`` raises: ``DeliveryError`` on a nack, the channel's
    error when it closes first; a publish cancelled before it was handed to the writer is
    rolled back (its delivery tag is reused by the next).
    """
    if not isinstance(channel, Channel):
        raise TypeError(f"an aiormq Channel is needed, not {type(channel).__name__}")
    if len(routing_key) > 255:
        raise ValueError("routing key too long (max 255 bytes)")
    if not properties.message_id:
        properties.message_id = uuid.uuid4().hex  # how a return finds its publish
    message_id = properties.message_id
    payload = publish_frames(channel.number, exchange, routing_key, properties, body,
                             channel.max_content_size)
    async with channel.lock:
        channel.delivery_tag += 1
        tag = channel.delivery_tag
        confirmation: asyncio.Future[Any] = channel.create_future()
        channel.confirmations[tag] = confirmation
        channel.message_id_delivery_tag[message_id] = tag
        drained: asyncio.Future[None] = channel.create_future()
        handed_over = False
        try:
            await channel.write_queue.put(
                ChannelFrame(payload=payload, should_close=False, drain_future=drained))
            handed_over = True
            confirmation.add_done_callback(
                lambda _: _forget_message_id(channel, message_id, tag))
            await drained  # one publish at a time reaches the socket, as aiormq's do
        except BaseException:
            if not handed_over:  # the broker never saw it: give its tag to the next
                channel.delivery_tag -= 1
                channel.confirmations.pop(tag, None)
                _forget_message_id(channel, message_id, tag)
                confirmation.cancel()
            drained.cancel()
            raise
    return await confirmation


def _forget_message_id(channel: Channel, message_id: str, tag: int) -> None:
    if channel.message_id_delivery_tag.get(message_id) == tag:
        del channel.message_id_delivery_tag[message_id]
