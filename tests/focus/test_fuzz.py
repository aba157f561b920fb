"""Schemathesis fuzz of the mock's OpenAPI against the real server over HTTP: whatever the
input, no 5xx (the deliberate 503s aside), no crash, and a consistent state afterwards.

The fault-injecting control routes (restart, store down, set) are left out: the first two put
every other route into the deliberate 503 of the crash loop, which test_crash_loop.py covers,
and set can shorten the metadata timeout to nothing (test_mock_control.py covers it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from fibersim.focus import FocusMock, FocusSettings, create_app, serve_focus_mock
from fibersim.models import FiberConfig
from fibersim.transport import MemoryBroker, MemoryTransport
from fibersim.wire import MessageKind, MetadataMessage, get_codec, routing_key

TOKEN = "fuzz-token"
SETTINGS = FocusSettings(behaviour="fixed", control_enabled=True, control_token=TOKEN,
                         metadata_timeout_s=3600)


def _openapi() -> dict[str, object]:
    mock = FocusMock(SETTINGS, None)
    try:
        return create_app(mock).openapi()
    finally:
        mock.store.close()


schema = schemathesis.openapi.from_dict(_openapi()).exclude(
    path_regex=r"^/_mock/(restart|store/down|set)$")


@dataclass
class LiveMock:
    """The mock served by uvicorn on a private event loop in a background thread."""

    url: str = ""
    ready: threading.Event = field(default_factory=threading.Event)
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self) -> None:
        broker = MemoryBroker()
        consumer, publisher = MemoryTransport(broker), MemoryTransport(broker)
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve_focus_mock(SETTINGS, consumer) as url:
            fiber = FiberConfig()
            envelope = get_codec().encode(MetadataMessage(
                fiber_id=fiber.fiber_id, config_epoch=0, reason="connect",
                sent_at_ns=time.time_ns(), metadata=fiber.metadata(),
                int16_scale=fiber.int16_scale))
            await publisher.publish(routing_key("das", fiber.fiber_id, MessageKind.METADATA),
                                    envelope)
            await consumer.flush()
            self.url = url.removesuffix(SETTINGS.prefix)
            self.ready.set()
            await self.stop.wait()
        await consumer.close()


@pytest.fixture(scope="module")
def live_mock() -> Iterator[LiveMock]:
    live = LiveMock()
    thread = threading.Thread(target=asyncio.run, args=(live.serve(),), daemon=True)
    thread.start()
    assert live.ready.wait(10), "the mock did not start"
    yield live
    assert live.loop is not None and live.stop is not None
    live.loop.call_soon_threadsafe(live.stop.set)
    thread.join(10)
    assert not thread.is_alive(), "the mock did not stop"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: schemathesis.Case, live_mock: LiveMock) -> None:
    response = case.call(base_url=live_mock.url, headers={"X-Control-Token": TOKEN}, timeout=5)
    assert response.status_code < 500, response.text
    assert "Retry-After" not in response.headers


def test_the_state_is_consistent_after_the_fuzz(live_mock: LiveMock) -> None:
    with httpx.Client(base_url=live_mock.url, headers={"X-Control-Token": TOKEN}) as client:
        status = client.get("/_mock/status").json()
        assert (status["state"], status["store"], status["restarts"]) == ("ready", "up", 0)
        assert client.get("/ack").status_code == 200
        assert client.get("/live_metadata").json()["prr"] == 2000.0
        assert len(status["jobs"]) <= 16
        answered = [int(code) for counts in status["requests"].values() for code in counts]
        assert len(status["requests"]) >= 8 and max(answered) < 500
