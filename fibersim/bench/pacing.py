"""Figure 4: real-time pacing at speed 1 -- publish-time jitter and drift against the wall clock.

``fibersim stream --speed 1`` runs as its own process into a private exchange. Its stats give
the jitter (99th percentile of |lateness - median lateness| of block publications). A consumer
in this process decodes each block header and compares the block's end timestamp with the
wall clock at arrival. Delivery adds a varying delay (broker, consumer), never a negative one,
so the offset's lower envelope is the clock's: the smallest offset of every few seconds,
fitted with a line, gives the drift (slope times the run's length). Baseline: the jitter of
a bare asyncio loop with the same 10 Hz absolute deadlines, running here at the same time,
i.e. what this machine's scheduler allows at best.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import aio_pika

from fibersim.bench.broker import scratch_exchange
from fibersim.bench.report import BenchSettings, Row, child_env, fibersim_command, ratio
from fibersim.wire import ROUTING_PREFIX
from fibersim.wire.codec import BLOCK_HEADER

TARGET_JITTER_S = 0.005
TARGET_DRIFT_S = 0.005
BLOCK_S = 0.1
#: Windows whose smallest arrival offset traces the block clock against the wall clock.
ENVELOPE_WINDOWS = 12


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of offset over time."""
    times = [t for t, _ in points]
    mean_t, mean_o = statistics.fmean(times), statistics.fmean(o for _, o in points)
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (o - mean_o) for t, o in points) / spread if spread else 0.0


def drift(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of offset over time, times the time span: the drift (s) of a run."""
    return slope(points) * (points[-1][0] - points[0][0])


def envelope_drift(points: list[tuple[float, float]]) -> float:
    """Drift (s) of arrival offsets ``(wall time, offset)``, from their lower envelope.

    A least-squares line through every offset follows the delivery delay too: a few slow
    deliveries near either end tilt it by milliseconds. The smallest offset of each of
    ``ENVELOPE_WINDOWS`` equal windows is the delivery's floor plus the clocks' difference.
    """
    start, end = points[0][0], points[-1][0]
    width = (end - start) / ENVELOPE_WINDOWS or 1.0
    floors: dict[int, tuple[float, float]] = {}
    for when, offset in points:
        window = min(ENVELOPE_WINDOWS - 1, int((when - start) / width))
        if window not in floors or offset < floors[window][1]:
            floors[window] = (when, offset)
    if len(floors) < 2:
        return 0.0
    return slope(sorted(floors.values())) * (end - start)


async def timer_jitter(seconds: float) -> float:
    """99th percentile of |lateness - median| of a bare loop sleeping to 10 Hz deadlines."""
    start = time.monotonic()
    lateness: list[float] = []
    for tick in range(1, round(seconds / BLOCK_S) + 1):
        deadline = start + tick * BLOCK_S
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        lateness.append(time.monotonic() - deadline)
    median = statistics.median(lateness)
    deviations = sorted(abs(value - median) for value in lateness)
    return deviations[min(len(deviations) - 1, int(0.99 * len(deviations)))]


async def _measure(settings: BenchSettings) -> list[Row]:
    seconds = settings.pacing_seconds or settings.pick(10.0, 60.0)
    url = settings.amqp_url
    offsets: list[tuple[float, float]] = []

    async def on_block(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        fields = BLOCK_HEADER.unpack_from(message.body)
        first_ns, rate, n_samples = fields[9], fields[10], fields[11]
        now = time.time()
        offsets.append((now, now - (first_ns / 1e9 + n_samples / rate)))

    async with scratch_exchange(url) as exchange:
        connection = await aio_pika.connect(url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True)
            await queue.bind(exchange, f"{ROUTING_PREFIX}.*.data")
            await queue.consume(on_block, no_ack=True)
            with tempfile.TemporaryDirectory(prefix="fibersim-bench-") as scratch:
                stats_path = Path(scratch) / "stats.json"
                process = await asyncio.create_subprocess_exec(
                    *fibersim_command("stream", "--exchange", exchange, "--speed", "1",
                                      "--duration", f"{seconds}s", "--quiet",
                                      "--stats-json", str(stats_path)),
                    env=child_env(url),
                    stderr=asyncio.subprocess.PIPE)
                baseline_jitter = await timer_jitter(seconds)
                _, stderr = await process.communicate()
                if process.returncode != 0:
                    raise RuntimeError(f"stream exited {process.returncode}: {stderr.decode()}")
                await asyncio.sleep(0.5)  # last deliveries
                lateness = json.loads(stats_path.read_text())["lateness"]
        finally:
            await connection.close()
    skip = round(1.0 / BLOCK_S)  # the first second includes start-up
    run_drift = envelope_drift(offsets[skip:]) if len(offsets) > skip + 2 else float("nan")
    jitter = lateness["jitter_p99"]
    return [
        Row("pacing", f"publish jitter p99, speed 1, {seconds:g} s", jitter * 1000, "ms",
            baseline_jitter * 1000, "bare asyncio 10 Hz loop", ratio(jitter, baseline_jitter),
            f"< {TARGET_JITTER_S * 1000:g} ms", jitter < TARGET_JITTER_S),
        Row("pacing", f"drift, block time vs wall clock, {seconds:g} s", run_drift * 1000, "ms",
            None, "", None, f"|drift| < {TARGET_DRIFT_S * 1000:g} ms",
            abs(run_drift) < TARGET_DRIFT_S,
            f"median arrival offset {statistics.median(o for _, o in offsets) * 1000:.1f} ms"),
    ]


def run(settings: BenchSettings) -> list[Row]:
    return asyncio.run(_measure(settings))
