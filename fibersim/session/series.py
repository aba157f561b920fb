"""Per-second series of a publishing command: the rates a load test is judged by.

Cumulative counters (messages, blocks, bytes, confirms) are sampled once per wall second;
each row holds the per-second differences, like RabbitMQ PerfTest's output. The rows go to
``--stats-json`` (``"series"``) and ``--stats-csv``; the latest rate feeds the progress line.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

#: Columns of a row, in CSV order: wall second, simulated time, then per-second rates.
COLUMNS = ("wall_s", "sim_time", "messages_per_s", "blocks_per_s", "bytes_per_s",
           "confirmed_per_s")
#: The cumulative counter behind each rate column.
_COUNTERS = {"messages_per_s": "messages", "blocks_per_s": "blocks", "bytes_per_s": "bytes",
             "confirmed_per_s": "confirmed"}


class PerSecond:
    """Samples ``read()`` (cumulative counters plus ``sim_time``) every ``interval`` s."""

    def __init__(self, read: Callable[[], dict[str, float]], interval: float = 1.0) -> None:
        self._read = read
        self._interval = interval
        self._start = time.monotonic()
        self._last: tuple[float, dict[str, float]] | None = None
        self.rows: list[dict[str, float]] = []

    def restart(self) -> None:
        """Count from now (when publishing starts, not while the streamers get ready): rows
        sampled before are dropped."""
        self._start = time.monotonic()
        self._last = (0.0, self._read())
        self.rows.clear()

    def sample(self) -> None:
        now, counters = time.monotonic() - self._start, self._read()
        if self._last is None:
            self._last = (now, counters)
            return
        then, before = self._last
        span = max(now - then, 1e-9)
        row = {"wall_s": round(now, 3), "sim_time": round(counters["sim_time"], 3)}
        for column, counter in _COUNTERS.items():
            row[column] = round((counters[counter] - before[counter]) / span, 1)
        self.rows.append(row)
        self._last = (now, counters)

    def latest(self, column: str) -> float:
        """The most recent per-second rate (0 before the first full second)."""
        return self.rows[-1][column] if self.rows else 0.0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PerSecond]:
        """Sample in the background while the body runs, and once more at its end."""

        async def every_interval() -> None:
            while True:
                await asyncio.sleep(self._interval)
                self.sample()

        task = asyncio.create_task(every_interval())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.sample()


def merge_rows(parts: Iterable[list[dict[str, float]]]) -> list[dict[str, float]]:
    """Rows of several worker processes added second by second (the slowest sim time)."""
    merged: list[dict[str, float]] = []
    for rows in parts:
        for index, row in enumerate(rows):
            if index == len(merged):
                merged.append(dict(row))
                continue
            total = merged[index]
            total["sim_time"] = min(total["sim_time"], row["sim_time"])
            total["wall_s"] = max(total["wall_s"], row["wall_s"])
            for column in _COUNTERS:
                total[column] = round(total[column] + row[column], 1)
    return merged


def write_csv(rows: list[dict[str, float]], path: str | Path) -> None:
    """One row per second with a header line, for spreadsheets."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({column: row.get(column, 0.0) for column in COLUMNS} for row in rows)
