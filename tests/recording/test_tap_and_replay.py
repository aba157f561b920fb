"""The tap records a live stream from RabbitMQ, gaps marked; replay puts a file back on the
wire so that tapping it again gives back the same samples."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from fibersim.formats import ProdmlReader, open_recording
from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.recording.replay import build_replay
from fibersim.recording.tap import Tap
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import MemoryBroker, Transport, open_transport
from tests.recording.helpers import SMALL_FIBER, START_NS, WavesSpec, record_small, waves


def live_fiber(transport: Transport, config: FiberConfig = SMALL_FIBER) -> FiberStreamer:
    return FiberStreamer(Interrogator(config, START_NS), transport, VirtualClock(math.inf),
                         signals=[WavesSpec()])  # type: ignore[list-item]


@pytest.mark.broker
async def test_the_tap_records_a_live_stream_and_marks_skipped_blocks_as_a_gap(
        amqp_url: str, exchange_name: str, tmp_path: Path) -> None:
    publisher = open_transport(amqp_url, exchange=exchange_name)
    listener = open_transport(amqp_url, exchange=exchange_name)
    async with publisher, listener:
        tap = Tap(listener, SMALL_FIBER.fiber_id, tmp_path / "tap.h5", duration_s=2.0)
        await tap.start()
        streamer = live_fiber(publisher)
        await streamer.connect()
        await streamer.run_until(1.0)
        streamer.faults.skip_blocks = 2  # blocks 10 and 11: rows 500..599
        await streamer.run_until(2.5)
        await asyncio.wait_for(tap.done.wait(), 20)
        tap.close()
    assert tap.stats.gaps == 1 and tap.stats.missing_sequences == 2
    reader = ProdmlReader(tmp_path / "tap.h5")
    assert reader.info.n_rows == 1000 and reader.info.start_time_ns == START_NS
    assert [(gap.first_row, gap.n_rows) for gap in reader.gaps] == [(500, 100)]
    recorded, sent = reader.read(0, 1000), waves(SMALL_FIBER, 1000)
    assert np.isnan(recorded[500:600]).all()
    np.testing.assert_array_equal(recorded[:500], sent[:500])
    np.testing.assert_array_equal(recorded[600:], sent[600:])


async def test_duplicates_are_dropped_and_a_reconfiguration_ends_the_file(
        tmp_path: Path) -> None:
    broker = MemoryBroker()
    publisher, listener = open_transport(None, broker=broker), open_transport(None, broker=broker)
    tap = Tap(listener, SMALL_FIBER.fiber_id, tmp_path / "tap.h5", duration_s=60.0)
    await tap.start()
    streamer = live_fiber(publisher)
    await streamer.connect()
    streamer.faults.duplicate_blocks = 3
    await streamer.run_until(1.0)
    await streamer.reconfigure(prr=1000.0)
    await streamer.run_until(1.5)
    await listener.close()
    tap.close()
    assert tap.done.is_set() and "reconfigured" in tap.stats.stop_reason
    assert tap.stats.stale_blocks == 3
    np.testing.assert_array_equal(ProdmlReader(tmp_path / "tap.h5").read(0, 500),
                                  waves(SMALL_FIBER, 500))


async def tap_a_replay(amqp_url: str, exchange: str, source: Path, target: Path,
                       seconds: float) -> Tap:
    """Replay ``source`` at max speed on the broker while a tap records it to ``target``."""
    publisher = open_transport(amqp_url, exchange=exchange)
    listener = open_transport(amqp_url, exchange=exchange)
    async with publisher, listener:
        tap = Tap(listener, "replayed", target, duration_s=seconds)
        await tap.start()
        replay = build_replay(source, publisher, fiber_id="replayed", speed=math.inf,
                              start_time_ns=None)
        await replay.streamer.connect()
        await replay.streamer.run_until(replay.pass_duration_s)
        await asyncio.wait_for(tap.done.wait(), 20)
        tap.close()
    return tap


@pytest.mark.broker
@pytest.mark.parametrize("dtype", ["float32", "int16"])
async def test_record_replay_tap_gives_back_the_recorded_samples(
        amqp_url: str, exchange_name: str, tmp_path: Path, dtype: str) -> None:
    record_small(tmp_path / "original.h5", 2.0, dtype=dtype)  # type: ignore[arg-type]
    await tap_a_replay(amqp_url, exchange_name, tmp_path / "original.h5",
                       tmp_path / "again.h5", 2.0)
    original, again = ProdmlReader(tmp_path / "original.h5"), ProdmlReader(tmp_path / "again.h5")
    assert again.info.dtype == dtype and again.info.n_rows == 1000 and not again.gaps
    for field in ("prr", "dx", "n_channels", "start_time_ns", "gauge_length_meters",
                  "fiber_start_meters", "scale"):
        assert getattr(again.info, field) == getattr(original.info, field), field
    stored, restored = original.read_stored(0, 1000), again.read_stored(0, 1000)
    if dtype == "float32":
        np.testing.assert_array_equal(restored, stored)
    else:
        assert np.abs(restored.astype(np.int32) - stored).max() <= 1


@pytest.mark.broker
async def test_the_replay_command_publishes_a_file_as_a_live_fiber(
        amqp_url: str, exchange_name: str, tmp_path: Path) -> None:
    record_small(tmp_path / "original.h5", 1.0)
    listener = open_transport(amqp_url, exchange=exchange_name)
    async with listener:
        tap = Tap(listener, "cli-fiber", tmp_path / "again.h5", duration_s=0.5)
        await tap.start()
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fibersim", "replay", str(tmp_path / "original.h5"),
            "--amqp-url", amqp_url, "--exchange", exchange_name, "--fiber-id", "cli-fiber",
            "--channels", "8:23", "--speed", "max", "--quiet",
            stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(command.communicate(), 30)
        await asyncio.wait_for(tap.done.wait(), 10)
        tap.close()
    assert command.returncode == 0, stderr.decode()
    assert "16 channels at 500 Hz, dx 2 m" in stderr.decode()
    again = open_recording(tmp_path / "again.h5")
    assert again.info.fiber_start_meters == 100.0 + 8 * 2.0
    np.testing.assert_array_equal(again.read(0, 250), waves(SMALL_FIBER, 250)[:, 8:24])
