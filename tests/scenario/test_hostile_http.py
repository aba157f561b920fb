"""Hostile Focus Servers: the probe client never hangs, never crashes, never fills memory.

Each behaviour is one tiny TCP server on 127.0.0.1 speaking just enough HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from fibersim.probes.expectations import Context, ExpectationChecker
from fibersim.probes.http import FocusClient, ProbeError
from fibersim.scenario.models import Expectation

Responder = Callable[[asyncio.StreamWriter], Awaitable[None]]


async def _serve(respond: Responder) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await respond(writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    server.close()


def _head(length: int | None) -> bytes:
    sized = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{sized}"
            "Connection: close\r\n\r\n").encode()


@pytest.fixture
async def dripping_server() -> AsyncIterator[str]:
    """Answers a valid JSON body one byte every 0.2 s: every read is quick, the whole slow."""
    body = b'{"prr": 2000.0, "dx": 1.02}'

    async def drip(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(len(body)))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    async for url in _serve(drip):
        yield url


async def test_the_request_timeout_bounds_the_whole_answer_not_each_read(
        dripping_server: str) -> None:
    client = FocusClient(dripping_server, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ProbeError, match=r"no complete answer within 1s"):
        await client.live_metadata()
    assert time.monotonic() - started < 2.0
    await client.close()


@pytest.fixture
async def endless_server() -> AsyncIterator[str]:
    """Streams a JSON array without a length, forever."""
    async def flood(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(None) + b"[")
        while True:
            writer.write(b"1," * 32768)
            await writer.drain()

    async for url in _serve(flood):
        yield url


async def test_an_endless_answer_fails_the_probe_at_the_size_cap(endless_server: str) -> None:
    client = FocusClient(endless_server, timeout_s=10.0, max_response_bytes=256 * 1024)
    with pytest.raises(ProbeError, match=r"answer larger than 262144 bytes"):
        await client.live_metadata()
    await client.close()


@pytest.mark.parametrize("body, reason", [
    (b'{"prr": ' + b"9" * 5000 + b"}", "undecodable JSON: Exceeds the limit"),
    (b"[" * 200_000, "undecodable JSON: nested too deeply"),
])
async def test_an_undecodable_answer_fails_the_check_with_a_one_line_reason(
        body: bytes, reason: str) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(len(body)) + body)
        await writer.drain()

    async for url in _serve(answer):
        client = FocusClient(url, timeout_s=5.0)
        checker = ExpectationChecker(client, logs=None, context=Context())
        verdict = (await checker.evaluate(Expectation.model_validate(
            {"live_metadata": {"prr": 2000.0}}), due=time.monotonic())).verdict
        await client.close()
        assert not verdict.ok
        assert reason in verdict.seen and "\n" not in verdict.seen
