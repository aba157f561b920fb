"""``fibersim wait-ready``: exit 0 once the fiber is live, 1 when it never is, 3 when nobody
answers, and always say what it saw."""

from __future__ import annotations

import asyncio
import math
import sys
import time

from fibersim.focus import FocusSettings, serve_focus_mock
from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import MemoryBroker, MemoryTransport

FIBER = FiberConfig(fiber_id="fiber-0", number_of_channels=16, prr=500.0)


async def wait_ready(base_url: str, timeout: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fibersim", "wait-ready", "--focus-url", base_url,
        "--timeout", timeout, "--max-pause", "0.5s",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_exits_0_once_the_fiber_connects() -> None:
    transport = MemoryTransport(MemoryBroker())
    async with serve_focus_mock(FocusSettings(), transport) as base_url:
        waiting = asyncio.create_task(wait_ready(base_url, "30s"))
        await asyncio.sleep(1.5)
        streamer = FiberStreamer(Interrogator(FIBER, time.time_ns()), transport,
                                 VirtualClock(math.inf))
        await streamer.connect()
        code, stdout, _ = await waiting
    assert code == 0
    assert stdout.startswith("ready after") and "prr=500.0" in stdout


async def test_exits_1_and_shows_the_waiting_state_when_no_fiber_comes() -> None:
    transport = MemoryTransport(MemoryBroker())
    async with serve_focus_mock(FocusSettings(), transport) as base_url:
        code, _, stderr = await wait_ready(base_url, "2s")
    assert code == 1
    assert "not ready" in stderr and "'waiting for fiber'" in stderr
    assert stderr.count("\n") == 1


async def test_exits_3_when_the_server_never_answers() -> None:
    code, _, stderr = await wait_ready("http://127.0.0.1:9/focus-server", "1s")
    assert code == 3 and "unreachable" in stderr
