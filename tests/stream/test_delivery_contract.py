"""What the stream promises a consumer (issue 14): announcements before data, headers on every
message, exact start times, a refusal to publish into nothing, live progress figures."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import pytest

from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.session.series import PerSecond
from fibersim.session.stream import progress_text
from fibersim.transport import Delivery, MemoryBroker, MemoryTransport
from fibersim.wire import (
    JSON_CONTENT_TYPE,
    Envelope,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    WireFormatError,
    get_codec,
)
from tests.helpers import a_queue_bound_to, bodies_left_in
from tests.stream.helpers import SMALL_FIBER, START_NS


def fibersim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fibersim", *args], capture_output=True,
                          text=True, timeout=timeout)


# -- wire contents ------------------------------------------------------------------------------
async def published_when(streamer_config: FiberConfig,
                         act: Callable[[FiberStreamer], Awaitable[None]]) -> list[Delivery]:
    """Everything a streamer of ``streamer_config`` publishes while it does ``act``."""
    broker = MemoryBroker()
    received: list[Delivery] = []
    consumer = MemoryTransport(broker)

    async def keep(delivery: Delivery) -> None:
        received.append(delivery)

    await consumer.subscribe(["das.#"], keep)
    streamer = FiberStreamer(Interrogator(streamer_config, START_NS), MemoryTransport(broker),
                             VirtualClock(math.inf))
    await act(streamer)
    await consumer.flush()
    return received


async def test_a_float32_stream_announces_no_int16_scale() -> None:
    received = await published_when(SMALL_FIBER.model_copy(update={"dtype": "float32"}),
                                    FiberStreamer.connect)
    metadata = json.loads(received[1].envelope.body)
    assert metadata["kind"] == "metadata" and "int16_scale" not in metadata


def test_a_heartbeat_with_an_unknown_state_is_refused() -> None:
    body = json.dumps({"schema_version": 1, "kind": "heartbeat", "fiber_id": "f",
                       "state": "exploded", "last_sequence": 3, "next_sample_index": 800,
                       "sent_at_ns": 1}).encode()
    with pytest.raises(WireFormatError, match="state"):
        get_codec().decode(Envelope(MessageKind.HEARTBEAT, body, JSON_CONTENT_TYPE, {}))
    good = json.loads(body) | {"state": "zero_prr"}
    assert isinstance(get_codec().decode(Envelope(
        MessageKind.HEARTBEAT, json.dumps(good).encode(), JSON_CONTENT_TYPE, {})), Heartbeat)


async def test_corrupt_messages_carry_every_header_of_the_protocol() -> None:
    received = await published_when(
        SMALL_FIBER, lambda streamer: streamer.publish_malformed(MessageKind.METADATA))
    assert set(received[0].envelope.headers) == {
        "x-fibersim-schema", "x-fibersim-kind", "x-fibersim-fiber", "x-fibersim-session"}


# -- announcements ------------------------------------------------------------------------------
def test_the_progress_line_shows_simulated_time_while_run_until_is_still_running() -> None:
    async def scenario() -> str:
        streamer = FiberStreamer(Interrogator(SMALL_FIBER, START_NS),
                                 MemoryTransport(MemoryBroker()), VirtualClock(20.0))
        await streamer.connect()
        run = asyncio.create_task(streamer.run_until(60.0))
        await asyncio.sleep(0.6)
        text = progress_text([streamer], PerSecond(lambda: {}))
        run.cancel()
        return text

    text = asyncio.run(scenario())
    simulated = float(text.split("t=")[1].split()[0])
    assert simulated >= 5.0, text


# -- --start-time -------------------------------------------------------------------------------
def digest_of_stream(exchange: str, amqp_url: str) -> str:
    """Stream one second with a fixed start time into a queue; digest of every body."""
    async def collect() -> str:
        async with a_queue_bound_to(amqp_url, exchange, "das.#") as queue:
            result = await asyncio.to_thread(
                fibersim, "stream", "--amqp-url", amqp_url, "--exchange", exchange,
                "--channels", "16", "--prr", "500", "--duration", "1s", "--speed", "max",
                "--seed", "3", "--start-time", "2025-01-01T00:00:00Z", "--quiet")
            assert result.returncode == 0, result.stderr
            digest = hashlib.sha256()
            for body in await bodies_left_in(queue):
                digest.update(body)
            return digest.hexdigest()

    return asyncio.run(collect())


@pytest.mark.broker
def test_a_fixed_start_time_gives_byte_identical_messages(amqp_url: str,
                                                          exchange_name: str) -> None:
    assert digest_of_stream(exchange_name, amqp_url) == digest_of_stream(exchange_name,
                                                                        amqp_url)


# -- --wait-for-consumer ------------------------------------------------------------------------
@pytest.mark.broker
def test_waiting_for_a_consumer_that_never_comes_exits_3_without_publishing(
        amqp_url: str, exchange_name: str) -> None:
    started = time.monotonic()
    result = fibersim("stream", "--amqp-url", amqp_url, "--exchange", exchange_name,
                      "--duration", "1s", "--wait-for-consumer", "1s")
    assert result.returncode == 3, result.stderr
    assert "no consumer: no queue bound to das.fiber-0.data after 1 s" in result.stderr
    assert "summary" not in result.stderr and time.monotonic() - started < 20


@pytest.mark.broker
def test_waiting_for_a_consumer_streams_once_a_queue_is_bound(amqp_url: str,
                                                             exchange_name: str) -> None:
    async def with_consumer() -> subprocess.CompletedProcess[str]:
        async with a_queue_bound_to(amqp_url, exchange_name, "das.fiber-0.data"):
            return await asyncio.to_thread(
                fibersim, "stream", "--amqp-url", amqp_url, "--exchange", exchange_name,
                "--channels", "16", "--prr", "500", "--duration", "1s", "--speed", "max",
                "--wait-for-consumer", "5s", "--quiet")

    result = asyncio.run(with_consumer())
    assert result.returncode == 0, result.stderr
    assert "every block delivered" in result.stderr


@pytest.mark.broker
def test_minus_vv_logs_frame_sizes_never_bodies(amqp_url: str, exchange_name: str) -> None:
    result = fibersim("-vv", "stream", "--amqp-url", amqp_url, "--exchange", exchange_name,
                      "--channels", "512", "--prr", "2000", "--duration", "2s", "--speed",
                      "max", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Prepare to send '<ChannelFrame" in result.stderr
    assert "\\x00\\x00" not in result.stderr
    assert len(result.stderr) < 200_000  # 20 blocks of 2 MB each went out


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_metadata_round_trips_without_an_int16_scale_for_float32(dtype: str) -> None:
    config = FiberConfig(dtype=dtype)
    message = MetadataMessage(fiber_id="f", config_epoch=0, reason="connect", sent_at_ns=1,
                              metadata=config.metadata(),
                              int16_scale=config.int16_scale if dtype == "int16" else None)
    decoded = get_codec().decode(get_codec().encode(message))
    assert decoded == message
