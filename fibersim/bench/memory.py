"""Figure 5: resident memory of a long max-speed stream -- the peak, and whether it grows.

``fibersim stream --speed max`` runs for a simulated hour (``--quick``: ten minutes) on the
embedded memory broker, which discards blocks nobody subscribed to, so nothing but fibersim
itself can hold memory. RSS (of the stream process and its render process) is sampled four
times a second; growth is the least-squares slope over the second half of the run (after
caches and pools have filled) times that half's length.
Baseline: the RSS of a bare interpreter that imported the same libraries.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from fibersim.bench.pacing import drift
from fibersim.bench.report import BenchSettings, Row, fibersim_command, ratio

TARGET_PEAK_MB = 300.0
TARGET_GROWTH_MB = 5.0
_LIBRARIES = "import numpy, scipy.signal, pydantic, aio_pika, click"


def baseline_rss_mb() -> float:
    code = f"{_LIBRARIES}; import psutil; print(psutil.Process().memory_info().rss)"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True, timeout=60).stdout
    return int(output) / 1e6


def _tree_rss_mb(process: psutil.Process) -> float:
    """RSS of the stream and its children (the render process of a full-rate fiber holds the
    noise banks), so the figure is what the command costs, not just its first process."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def run(settings: BenchSettings) -> list[Row]:
    simulated = settings.pick(600.0, 3600.0)
    process = subprocess.Popen(
        fibersim_command("stream", "--speed", "max", "--duration", f"{simulated}s", "--quiet"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(process.pid)
    samples: list[tuple[float, float]] = []
    start = time.monotonic()
    try:
        while process.poll() is None:
            try:
                samples.append((time.monotonic() - start, _tree_rss_mb(watched)))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.25)
    finally:
        if process.poll() is None:
            process.terminate()
        _, stderr = process.communicate(timeout=60)
    if process.returncode != 0 or len(samples) < 8:
        raise RuntimeError(f"stream exited {process.returncode}: {stderr.decode()[-300:]}")
    wall = samples[-1][0]
    peak = max(rss for _, rss in samples)
    growth = drift(samples[len(samples) // 2:])
    baseline = baseline_rss_mb()  # one bare interpreter: the command runs two
    speed = f"{simulated / wall:.0f}x real time"
    return [
        Row("memory", f"peak RSS, {simulated / 60:g} simulated min at max speed", peak, "MB",
            baseline, "python + numpy/scipy/aio-pika", ratio(peak, baseline),
            f"< {TARGET_PEAK_MB:g} MB", peak < TARGET_PEAK_MB, speed),
        Row("memory", "RSS growth over the second half", growth, "MB", None, "", None,
            f"< {TARGET_GROWTH_MB:g} MB (flat)", growth < TARGET_GROWTH_MB,
            f"{growth / max(wall / 2, 1e-9) * 60:.2f} MB/min wall"),
    ]
