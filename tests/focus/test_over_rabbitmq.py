"""The mock fed by a real fibersim stream through the real RabbitMQ, served over real HTTP:
the incident's states as a client of the Focus Server sees them."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fibersim.focus import FocusSettings, serve_focus_mock
from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import Transport, open_transport
from tests.focus.harness import LIVE_REQUEST, NOT_READY_LOG, WAITING_JSON, eventually

pytestmark = pytest.mark.broker

SPEED = 20.0


@dataclass
class Rig:
    streamer: FiberStreamer
    client: httpx.AsyncClient

    async def status(self) -> dict[str, Any]:
        return dict((await self.client.get("/_mock/status")).json())

    async def reach(self, state: str) -> None:
        async def there() -> bool:
            return (await self.status())["state"] == state

        await eventually(there, timeout=10, what=f"state {state}")

    async def configure(self, **changes: Any) -> httpx.Response:
        return await self.client.post("/configure", json=LIVE_REQUEST | changes)


async def connected(url: str, exchange: str) -> Transport:
    transport = open_transport(url, exchange=exchange)
    await transport.connect()
    return transport


@pytest.fixture
async def rig(amqp_url: str, exchange_name: str) -> AsyncIterator[Rig]:
    """A mock consuming the exchange and a streamer (the incident's 2337-channel fiber)."""
    consumer = await connected(amqp_url, exchange_name)
    publisher = await connected(amqp_url, exchange_name)
    config = FiberConfig(prr=2000.0, number_of_channels=2337)
    streamer = FiberStreamer(Interrogator(config, time.time_ns()), publisher,
                             VirtualClock(SPEED), seed=1)
    try:
        async with serve_focus_mock(FocusSettings(control_enabled=True), consumer) as base_url, \
                httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            yield Rig(streamer, client)
    finally:
        await publisher.close()
        await consumer.close()


async def test_waiting_ready_lost_and_recovered(rig: Rig,
                                                caplog: pytest.LogCaptureFixture) -> None:
    assert (await rig.client.get("/live_metadata")).content == WAITING_JSON

    await rig.streamer.connect()
    await rig.streamer.run_until(0.5)
    await rig.reach("ready")
    assert (await rig.client.get("/live_metadata")).json()["prr"] == 2000.0
    assert (await rig.configure()).status_code == 200

    await rig.streamer.disconnect()
    await rig.reach("waiting_for_fiber")
    assert (await rig.client.get("/live_metadata")).content == WAITING_JSON
    with caplog.at_level(logging.INFO, logger="pz.focus_server"):
        assert (await rig.configure()).status_code == 503
    assert ("ERROR", NOT_READY_LOG) in [(r.levelname, r.getMessage()) for r in caplog.records]

    lost_at = time.time()
    await rig.streamer.connect()
    await rig.streamer.run_until(1.0)
    await rig.reach("ready")
    recovered = (await rig.status())["transitions"][-1]
    assert recovered["reason"] == "metadata" and recovered["at"] >= lost_at


async def test_zero_prr_and_back(rig: Rig) -> None:
    await rig.streamer.connect()
    await rig.streamer.run_until(0.3)
    await rig.streamer.zero_prr()
    await rig.reach("zero_prr")
    body = (await rig.client.get("/live_metadata")).json()
    assert (body["prr"], body["sw_version"]) == (0.0, "fibersim-interrogator 0.1.0")
    assert (await rig.configure()).status_code == 503
    await rig.streamer.restore_prr()
    await rig.reach("ready")


async def test_a_reconfiguration_changes_the_frequencies_of_new_jobs(rig: Rig) -> None:
    narrow = {"frequencyRange": {"min": 0, "max": 500}}
    await rig.streamer.connect()
    await rig.streamer.run_until(0.3)
    await rig.reach("ready")
    before = (await rig.configure(**narrow)).json()["frequencies_list"]
    await rig.streamer.reconfigure(prr=1000.0)
    await rig.streamer.run_until(0.6)

    async def new_prr() -> bool:
        return (await rig.client.get("/live_metadata")).json()["prr"] == 1000.0

    await eventually(new_prr, timeout=10, what="prr 1000")
    after = (await rig.configure(**narrow)).json()["frequencies_list"]
    assert (before[1], after[1]) == (pytest.approx(2000 / 1024), pytest.approx(1000 / 1024))
    assert (await rig.status())["transitions"][-1]["reason"] == "reconfigured"


async def test_a_gap_in_sequence_numbers_is_counted(rig: Rig) -> None:
    await rig.streamer.connect()
    await rig.streamer.run_until(0.3)
    rig.streamer.faults.skip_blocks = 2
    await rig.streamer.run_until(0.8)
    sent = rig.streamer.stats.blocks

    async def all_blocks_in() -> bool:
        return (await rig.status())["counters"]["blocks"] == sent

    await eventually(all_blocks_in, timeout=10, what=f"{sent} blocks")
    counters = (await rig.status())["counters"]
    assert (counters["gaps"], counters["missing_blocks"]) == (1, 2)
