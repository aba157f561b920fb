"""The fault proxy, fault by fault, against a local echo server: what a peer observes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from fibersim.netfaults import (
    Bandwidth,
    Blackhole,
    FaultProxy,
    Latency,
    ResetPeer,
    Slicing,
    SlowClose,
)


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    """A proxy in front of an echo server that answers every chunk and closes on EOF."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with FaultProxy("127.0.0.1", server.sockets[0].getsockname()[1], seed=1) as running:
        yield running
    server.close()
    await server.wait_closed()


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     payload: bytes) -> float:
    started = time.monotonic()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    return time.monotonic() - started


async def test_without_a_fault_bytes_pass_unchanged_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await round_trip(reader, writer, bytes(range(256)) * 100) < 0.5
    writer.close()


async def test_latency_switched_on_delays_a_live_connection_then_clears(
        proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await round_trip(reader, writer, b"warm")
    proxy.set_fault(Latency(0.15, jitter_s=0.02), "downstream")
    assert 0.13 <= await round_trip(reader, writer, b"slow") < 0.5
    proxy.clear(Latency)
    assert await round_trip(reader, writer, b"fast") < 0.1
    writer.close()


async def test_bandwidth_caps_the_bytes_per_second(proxy: FaultProxy) -> None:
    proxy.set_fault(Bandwidth(100_000), "upstream")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await round_trip(reader, writer, b"x" * 30_000) >= 0.25
    writer.close()


async def test_a_blackhole_keeps_the_connection_open_and_forwards_nothing(
        proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    proxy.set_fault(Blackhole())
    writer.write(b"into the void")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(100), 0.3)
    assert not reader.at_eof()
    writer.close()


async def test_clearing_a_blackhole_resets_the_connections_it_took_bytes_from(
        proxy: FaultProxy) -> None:
    holed = await asyncio.open_connection("127.0.0.1", proxy.port)
    idle = await asyncio.open_connection("127.0.0.1", proxy.port)
    proxy.set_fault(Blackhole(), "upstream")
    holed[1].write(b"lost")
    await asyncio.sleep(0.05)
    proxy.clear(Blackhole)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(holed[0].read(100), 1)
    assert await round_trip(*idle, b"intact") < 0.2
    for _, writer in (holed, idle):
        writer.close()


async def test_reset_peer_resets_live_connections_after_its_timeout(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await round_trip(reader, writer, b"warm")
    started = time.monotonic()
    proxy.set_fault(ResetPeer(timeout_s=0.1))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 2)
    assert time.monotonic() - started >= 0.09
    writer.close()


async def test_slow_close_delays_the_close_reaching_the_other_peer(proxy: FaultProxy) -> None:
    proxy.set_fault(SlowClose(0.3), "downstream")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await round_trip(reader, writer, b"bye")
    started = time.monotonic()
    writer.write_eof()  # the echo server closes at once; its close reaches us 0.3 s later
    assert await asyncio.wait_for(reader.read(100), 2) == b""
    assert time.monotonic() - started >= 0.28
    writer.close()


async def test_slicing_delivers_the_same_bytes_in_small_delayed_pieces(
        proxy: FaultProxy) -> None:
    proxy.set_fault(Slicing(10, delay_s=0.01), "downstream")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    payload = bytes(range(200))
    writer.write(payload)
    pieces: list[bytes] = []
    while sum(map(len, pieces)) < len(payload):
        pieces.append(await asyncio.wait_for(reader.read(1000), 2))
    assert b"".join(pieces) == payload
    assert len(pieces) >= 10 and max(map(len, pieces)) <= 20
    writer.close()


async def test_closing_the_proxy_ends_every_connection_and_task(proxy: FaultProxy) -> None:
    before = asyncio.all_tasks()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await round_trip(reader, writer, b"hello")
    proxy.set_fault(Latency(10.0))
    writer.write(b"stuck in a slow pipe")
    await asyncio.sleep(0.05)
    await proxy.close()
    assert await asyncio.wait_for(reader.read(100), 1) == b""
    assert asyncio.all_tasks() <= before | {asyncio.current_task()}
    writer.close()


async def test_reset_peer_lets_a_new_connection_live_its_timeout_first(
        proxy: FaultProxy) -> None:
    proxy.set_fault(ResetPeer(timeout_s=0.4))
    await asyncio.sleep(0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await round_trip(reader, writer, b"still here") < 0.3
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 2)
    writer.close()
