"""The shipped pytest plugin, used the way a downstream test suite would use it."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from pathlib import Path

from fibersim.focus import FocusSettings, serve_focus_mock
from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import MemoryBroker, MemoryTransport

DOWNSTREAM_TEST = """
def test_needs_a_configured_job(focus_ready):
    assert focus_ready.metadata["prr"] > 0
"""

BACKGROUND_TEST = """
import time

def test_runs_beside_a_scenario(fibersim_scenario):
    time.sleep(1.0)
    assert fibersim_scenario.process.poll() is None
"""


async def run_pytest(folder: Path, source: str, *options: str) -> tuple[int, str]:
    (folder / "test_downstream.py").write_text(source)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *options,
        str(folder / "test_downstream.py"), cwd=folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    return process.returncode or 0, output.decode()


async def test_focus_ready_skips_tests_while_waiting_for_fiber(tmp_path: Path) -> None:
    async with serve_focus_mock(FocusSettings(), MemoryTransport(MemoryBroker())) as url:
        code, output = await run_pytest(tmp_path, DOWNSTREAM_TEST, "--fibersim-focus-url", url,
                                         "--fibersim-ready-timeout", "1s")
    assert code == 0 and "1 skipped" in output and "waiting for fiber" in output


async def test_focus_ready_can_fail_instead_of_skipping(tmp_path: Path) -> None:
    async with serve_focus_mock(FocusSettings(), MemoryTransport(MemoryBroker())) as url:
        code, output = await run_pytest(tmp_path, DOWNSTREAM_TEST, "--fibersim-focus-url", url,
                                         "--fibersim-ready-timeout", "1s",
                                         "--fibersim-not-ready", "fail")
    assert code == 1 and "1 error" in output


async def test_focus_ready_runs_the_test_once_the_fiber_is_live(tmp_path: Path) -> None:
    transport = MemoryTransport(MemoryBroker())
    async with serve_focus_mock(FocusSettings(), transport) as url:
        streamer = FiberStreamer(
            Interrogator(FiberConfig(number_of_channels=16, prr=500.0), time.time_ns()),
            transport, VirtualClock(math.inf))
        await streamer.connect()
        code, output = await run_pytest(tmp_path, DOWNSTREAM_TEST, "--fibersim-focus-url", url)
    assert code == 0 and "1 passed" in output


async def test_a_background_scenario_runs_for_the_session(tmp_path: Path) -> None:
    scenario = Path(__file__).parents[2] / "scenarios" / "healthy.yaml"
    code, output = await run_pytest(tmp_path, BACKGROUND_TEST, "--fibersim-scenario",
                                    str(scenario))
    assert code == 0 and "1 passed" in output
