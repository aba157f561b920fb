"""``fibersim record`` from the outside: a scenario to a file, a live stream to a file, and
one-line errors for contradictory options."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from pathlib import Path

import pytest

from fibersim.interrogator import Interrogator
from fibersim.recording import open_recording
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import open_transport
from tests.recording.helpers import SMALL_FIBER, START_NS, WavesSpec

SCENARIO = """\
name: record-me
fiber:
  channels: 32
  prr: 400
  dx: 1.5
timeline:
  - do: connect
"""


def fibersim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fibersim", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_scenario_is_recorded_offline_with_a_summary(tmp_path: Path) -> None:
    pytest.importorskip("fibersim.scenario")
    (tmp_path / "s.yaml").write_text(SCENARIO)
    result = fibersim("record", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "s.h5"),
                      "--from", "1s", "--to", "3s", "--dtype", "int16", "--compression", "gzip")
    assert result.returncode == 0, result.stderr
    assert "summary: wrote" in result.stderr and "800 samples x 32 channels" in result.stderr
    info = open_recording(tmp_path / "s.h5").info
    assert (info.prr, info.dx, info.n_channels, info.n_rows, info.dtype) == (
        400.0, 1.5, 32, 800, "int16")


def test_the_same_scenario_and_seed_give_the_same_file_byte_for_byte(tmp_path: Path) -> None:
    run = "run: {seed: 3, start_time: '2024-05-01T12:00:00Z'}\n"
    (tmp_path / "s.yaml").write_text(SCENARIO + run)
    files = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for path in files:
        result = fibersim("record", str(tmp_path / "s.yaml"), "-o", str(path), "--to", "1s")
        assert result.returncode == 0, result.stderr
    assert files[0].read_bytes() == files[1].read_bytes()
    assert open_recording(files[0]).info.start_time_ns == START_NS  # run.start_time


@pytest.mark.parametrize("args, complaint", [
    ([], "either a SCENARIO file or --from-amqp"),
    (["--from-amqp", "amqp://127.0.0.1/", "--to", "5s"], "--from/--to are for a SCENARIO"),
    (["--compression", "zstd", "--from-amqp", "amqp://127.0.0.1/"], "--compression"),
])
def test_contradictory_options_exit_2_with_one_line(tmp_path: Path, args: list[str],
                                                    complaint: str) -> None:
    result = fibersim("record", "-o", str(tmp_path / "x.h5"), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and complaint in result.stderr


@pytest.mark.broker
async def test_the_tap_command_records_a_live_stream(amqp_url: str, exchange_name: str,
                                                     tmp_path: Path) -> None:
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fibersim", "record", "--from-amqp", amqp_url, "--exchange",
        exchange_name, "--fiber-id", SMALL_FIBER.fiber_id, "-o", str(tmp_path / "live.h5"),
        "--duration", "1s", "--quiet", stderr=asyncio.subprocess.PIPE)
    assert command.stderr is not None
    first_line = await asyncio.wait_for(command.stderr.readline(), 30)
    assert b"recording rec-fiber" in first_line  # printed once subscribed
    async with open_transport(amqp_url, exchange=exchange_name) as publisher:
        streamer = FiberStreamer(Interrogator(SMALL_FIBER, START_NS), publisher,
                                 VirtualClock(math.inf),
                                 signals=[WavesSpec()])  # type: ignore[list-item]
        await streamer.connect()
        await streamer.run_until(1.5)
    rest = (await asyncio.wait_for(command.stderr.read(), 30)).decode()
    assert await command.wait() == 0, rest
    assert "500 samples x 48 channels" in rest and "0 gaps" in rest
    assert open_recording(tmp_path / "live.h5").info.n_rows == 500
