"""Figure 3: how many full-rate fibers ``fibersim stream`` sustains at speed 1 on this machine.

For one process (``--fibers N``) and for one worker per core (``--workers K``), N doubles until
a run fails to hold, then bisects. A run holds when its block publish lateness stays below
one block (p99) and does not trend upwards (no backlog building). Baseline: the broker's raw
publishing capacity in fibers (raw aio-pika real-time factor, measured in the same run).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from fibersim.bench.broker import raw_publish_rate, scratch_exchange
from fibersim.bench.end_to_end import CONFIRM_WINDOW, sample_block
from fibersim.bench.report import BenchSettings, Row, fibersim_command, ratio, run_quiet

MAX_P99_LATENESS_S = 0.1  # one block
MAX_TREND_S = 0.02


def holds(url: str, exchange: str, fibers: int, workers: int, seconds: float) -> bool:
    """Whether ``fibers`` full-rate fibers stream at speed 1 for ``seconds`` without backlog."""
    with tempfile.TemporaryDirectory(prefix="fibersim-bench-") as scratch:
        stats_path = Path(scratch) / "stats.json"
        run_quiet(fibersim_command(
            "stream", "--exchange", exchange, "--fibers", str(fibers), "--workers", str(workers),
            "--speed", "1", "--duration", f"{seconds}s", "--quiet",
            "--stats-json", str(stats_path)),
            timeout=120 + 2 * fibers, env={**os.environ, "FIBERSIM_AMQP_URL": url})
        lateness = json.loads(stats_path.read_text())["lateness"]
    return bool(lateness["p99"] <= MAX_P99_LATENESS_S and lateness["trend"] <= MAX_TREND_S)


def _holds_with(url: str, exchange: str, workers: int, seconds: float, fibers: int) -> bool:
    """``holds`` for ``fibers`` fibers on at most ``workers`` processes (the bisection's probe)."""
    return holds(url, exchange, fibers, min(workers, fibers), seconds)


def largest(check: Callable[[int], bool], limit: int, known_good: int = 0) -> int:
    """Largest N in 1..limit for which ``check(N)`` holds (0 if none), doubling then bisecting.

    ``known_good`` (an N already seen to hold) skips the small sizes.
    """
    good, bad = known_good, limit + 1
    candidate = max(1, 2 * known_good)
    while candidate <= limit:
        if not check(candidate):
            bad = candidate
            break
        good, candidate = candidate, candidate * 2
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if check(middle) else (good, middle)
    return good


def run(settings: BenchSettings) -> list[Row]:
    return asyncio.run(_measure(settings))


async def _measure(settings: BenchSettings) -> list[Row]:
    url = settings.amqp_url
    seconds = settings.pick(5.0, 20.0)
    limit = settings.pick(4, 64)
    cores = os.cpu_count() or 1
    body, headers, content_type = sample_block()
    rows: list[Row] = []
    async with scratch_exchange(url) as exchange:
        per_second = await raw_publish_rate(url, exchange, body, headers, content_type,
                                            settings.pick(50, 200), CONFIRM_WINDOW)
        capacity = per_second / 10  # a full-rate fiber is 10 blocks per second
        found = 0
        for workers in (1, cores):
            found = await asyncio.to_thread(
                largest, functools.partial(_holds_with, url, exchange, workers, seconds), limit,
                min(found, limit))
            mode = "1 process (--fibers N)" if workers == 1 else f"--workers {workers}"
            rows.append(Row("many_fibers", f"largest N at speed 1, {mode}", found, "fibers",
                            capacity, "raw publish capacity, fibers", ratio(found, capacity),
                            "bounded lateness (report N)", found >= 1,
                            f"limit {limit}" if found == limit else ""))
    return rows

