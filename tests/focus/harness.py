"""Helpers for the mock Focus Server tests: a harness feeding the mock through an in-memory
broker and calling its ASGI app on virtual time, sample requests, and polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest

from fibersim.focus import FocusMock
from fibersim.models import FiberConfig
from fibersim.timebase import SteppedClock
from fibersim.transport import MemoryTransport
from fibersim.wire import (
    DataBlock,
    Envelope,
    MetadataMessage,
    StatusEvent,
    StatusMessage,
    WireMessage,
    get_codec,
    routing_key,
)

PREFIX = "/focus-server"
FIBER = "fiber-0"

#: The incident's waiting payload, byte for byte.
WAITING_JSON = (b'{"dx":0.0,"prr":0.0,"fiber_start_meters":null,"fiber_length_meters":null,'
                b'"sw_version":"waiting for fiber","number_of_channels":2337,'
                b'"fiber_description":"waiting for fiber"}')
NOT_READY_LOG = ("Cannot configure job - validation failed: Cannot proceed: "
                 "Missing required fiber metadata fields: prr")

#: A request like the incident's retry storm, first kind.
LIVE_REQUEST: dict[str, Any] = {
    "displayTimeAxisDuration": 30, "nfftSelection": 1024, "displayInfo": {"height": 200},
    "channels": {"min": 11, "max": 109}, "frequencyRange": {"min": 0, "max": 1000},
    "start_time": None, "end_time": None, "view_type": "0",
}


def configure_body(**changes: Any) -> dict[str, Any]:
    return LIVE_REQUEST | changes


@dataclass
class Focus:
    """One mock under test, on virtual time: feed it wire messages, call its API."""

    mock: FocusMock
    client: httpx.AsyncClient
    publisher: MemoryTransport
    consumer: MemoryTransport
    clock: SteppedClock
    sequence: int = 0

    async def send(self, message: WireMessage) -> None:
        envelope = get_codec().encode(message)
        await self.send_raw(envelope)

    async def send_raw(self, envelope: Envelope) -> None:
        await self.publisher.publish(routing_key("das", FIBER, envelope.kind), envelope)
        await self.consumer.flush()

    async def metadata(self, **config: Any) -> None:
        """Announce a fiber (FiberConfig fields; ``prr=0`` gives the zero-PRR metadata)."""
        prr = config.pop("prr", 2000.0)
        fiber = FiberConfig(prr=prr or 2000.0, **config)
        await self.send(MetadataMessage(
            fiber_id=FIBER, config_epoch=0, reason="connect", sent_at_ns=time.time_ns(),
            metadata=fiber.metadata(prr=prr), int16_scale=fiber.int16_scale))

    async def disconnect(self) -> None:
        await self.send(StatusMessage(fiber_id=FIBER, event=StatusEvent.DISCONNECTED,
                                      sent_at_ns=time.time_ns()))

    async def block(self, samples: np.ndarray, prr: float = 2000.0,
                    sequence: int | None = None) -> None:
        """One int16 data block; sequences continue from the previous block by default."""
        sequence = self.sequence if sequence is None else sequence
        self.sequence = sequence + 1
        await self.send(DataBlock(
            fiber_id=FIBER, config_epoch=0, sequence=sequence,
            first_sample_index=sequence * samples.shape[0],
            first_sample_time_ns=1_700_000_000_000_000_000 + round(
                sequence * samples.shape[0] / prr * 1e9),
            sample_rate_hz=prr, channel_start=0, scale=1e-4 / 32767, samples=samples))

    async def status(self) -> dict[str, Any]:
        response = await self.client.get(f"{PREFIX}/_mock/status")
        assert response.status_code == 200
        return response.json()


FocusFactory = Callable[..., Awaitable[Focus]]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
