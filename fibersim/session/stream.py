"""``StreamSession``: the fibers of one ``StreamPlan`` published from this process.

N streamers share one transport (one broker connection) and one virtual clock, so they stay
in step and the broker sees one client. The session owns the order that pacing depends on:
the synthesizers are built and the first blocks rendered before either clock starts (then,
if the entry point opted in, start-up objects are frozen: ``session.tuning``), so no block is
late for start-up work and block timestamps carry no start-up offset. ``--workers`` runs one
session per worker process (``worker_plans`` splits the plan, ``merge_worker_stats`` joins
their statistics).

The session prints nothing: the caller shows ``start_text``, ``progress_text`` and
``summary_text`` where it likes (the ``stream`` command: on stderr).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

from fibersim.dialects import Dialect, load_dialect, open_broker
from fibersim.errors import UnreachableError
from fibersim.interrogator import Interrogator
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.session.addresses import MetricsAddress
from fibersim.session.fleet import share
from fibersim.session.series import PerSecond, merge_rows, write_csv
from fibersim.session.stats import lateness_summary
from fibersim.session.tuning import freeze_startup_objects
from fibersim.transport import BrokerSettings, PublishCounts, Transport
from fibersim.units import format_speed
from fibersim.wire import MessageKind

#: Up to this many full-rate fibers in one process each get a render process (the streamer's
#: default); more render in threads of the one process. A render process holds its own noise
#: banks (about 150 MB RSS), and with more fibers than cores the processes only take turns.
RENDER_PROCESSES_MAX = max(1, (os.cpu_count() or 1) - 1)
#: Seconds between two route probes of ``wait_for_consumer``.
CONSUMER_POLL_S = 0.5


class Totals(TypedDict):
    """Totals over the streamers of a process; simulated time is the slowest fiber's."""

    sim_time: float
    wall_s: float
    blocks: int
    bytes: int
    metadata_messages: int
    heartbeats: int


class StreamStats(Totals):
    """The ``--stats-json`` document of one process (docs/performance.md): the totals, the
    lateness percentiles (``session.stats``), the publisher's accounting
    (``PublishStats.as_dict()``) and the per-second series."""

    fibers: list[str]
    realtime_factor: float
    lateness: dict[str, float]
    transport: PublishCounts
    series: list[dict[str, float]]


@dataclass(frozen=True)
class StreamPlan:
    """Everything a stream process needs; a ``--workers`` parent hands each child a copy."""

    indices: tuple[int, ...]
    prefix: str
    seed: int
    #: ``--fiber-id``: the one fiber's name, instead of ``<prefix><index>``
    single_name: str | None
    config: FiberConfig
    #: URL, exchange, dialect, TLS and confirm window, as the options gave them
    broker: BrokerSettings
    duration: float
    speed: float
    quiet: bool
    stats_json: str | None
    #: ``--wait-for-consumer``: seconds to wait for a queue bound to each data key, or None
    wait_for_consumer: float | None = None
    #: ``--start-time`` (ns since the epoch); None: the wall clock when streaming starts
    start_time_ns: int | None = None
    stats_csv: str | None = None
    metrics_port: MetricsAddress | None = None

    @property
    def fibers(self) -> tuple[str, ...]:
        if self.single_name is not None:
            return (self.single_name,)
        return tuple(f"{self.prefix}{index}" for index in self.indices)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Fiber ``<prefix><i>`` gets ``seed + i``, whichever process publishes it."""
        return tuple(self.seed + index for index in self.indices)


class StreamSession:
    """Publishes a plan's fibers: ``open`` (connect, wait for a consumer, build the
    streamers), ``publish`` (the whole duration), ``close`` (always; writes the statistics)."""

    def __init__(self, plan: StreamPlan, notify: Callable[[str], None] = lambda _: None, *,
                 freeze_startup: bool = False) -> None:
        self.plan = plan
        #: freeze start-up objects once the first blocks are ready (``session.tuning``): a
        #: process-wide change, so the entry point's explicit opt-in (``stream`` makes it)
        self.freeze_startup = freeze_startup
        #: told what the session waits for (a consumer), as it starts to wait
        self.notify = notify
        self.dialect: Dialect = load_dialect(plan.broker.dialect)
        self.transport: Transport = open_broker(plan.broker, dialect=self.dialect)
        self.streamers: list[FiberStreamer] = []
        self.series = PerSecond(lambda: _counters(self.streamers, self.transport))
        self._clock = VirtualClock(plan.speed)

    async def open(self) -> None:
        """Connect (``UnreachableError``, exit 3, if the broker is not there), wait for a
        consumer if the plan asks, and build one streamer per fiber."""
        await self.transport.connect()
        try:
            if self.plan.wait_for_consumer is not None:
                await self._wait_for_consumer(self.plan.wait_for_consumer)
        except BaseException:
            await asyncio.shield(self.transport.close())
            raise
        plan, start_ns = self.plan, time.time_ns()
        render_process = None if len(plan.fibers) <= RENDER_PROCESSES_MAX else False
        self.streamers = [
            FiberStreamer(Interrogator(plan.config.model_copy(update={"fiber_id": name}),
                                       start_ns),
                          self.transport, self._clock, seed=seed,
                          render_process=render_process, dialect=self.dialect)
            for name, seed in zip(plan.fibers, plan.seeds, strict=True)
        ]

    def start_text(self) -> str:
        """What is about to be published, and where."""
        plan, config = self.plan, self.plan.config
        return (f"streaming {fiber_list(plan.fibers)}: {config.number_of_channels} channels at"
                f" {config.prr:g} Hz, {config.dtype}, {plan.duration:g} s at"
                f" {format_speed(plan.speed)} to {self.transport.description}")

    async def publish(self) -> None:
        """Publish the plan's duration: connect every fiber, stream, disconnect."""
        streamers, plan = self.streamers, self.plan
        async with self.series.running():
            # Building the synthesizers (and starting render processes) took time that no
            # block should be late for, and that must not appear as an offset between block
            # timestamps and the wall clock: start both clocks once the first blocks are ready.
            await asyncio.gather(*(streamer.prepare() for streamer in streamers))
            if self.freeze_startup:
                freeze_startup_objects()  # start-up is over: no collection pass over it
            self._clock.restart()
            start_ns = time.time_ns() if plan.start_time_ns is None else plan.start_time_ns
            for streamer in streamers:
                streamer.interrogator.start_time_ns = start_ns
                streamer.stats.wall_start = time.monotonic()
            self.series.restart()
            for streamer in streamers:
                await streamer.connect()
            await asyncio.gather(*(streamer.run_until(plan.duration) for streamer in streamers))
            for streamer in streamers:
                await streamer.disconnect()

    async def close(self) -> None:
        """End the render processes and the connection, write ``--stats-json``/``-csv``
        (also after Ctrl-C/SIGTERM: the statistics say how far the run got)."""
        for streamer in self.streamers:
            streamer.close()
        await asyncio.shield(self.transport.close())
        if not self.streamers:
            return
        if self.plan.stats_json is not None:
            Path(self.plan.stats_json).write_text(json.dumps(self.stats(), indent=1))
        if self.plan.stats_csv is not None:
            write_csv(self.series.rows, self.plan.stats_csv)

    def progress_text(self) -> str:
        """The live progress line (empty before the streamers exist)."""
        return progress_text(self.streamers, self.series) if self.streamers else ""

    def summary_text(self) -> str:
        """The closing line: simulated and wall time, volume, and every block's fate."""
        totals, sent = _totals(self.streamers), self.transport.stats
        wall = totals["wall_s"]
        fibers = f"{len(self.streamers)} fibers, " if len(self.streamers) > 1 else ""
        return (
            f"summary: {fibers}{totals['sim_time']:.1f} simulated s in {wall:.2f} s wall = "
            f"real-time factor {totals['sim_time'] / wall:.1f}x; {totals['blocks']} blocks, "
            f"{totals['bytes'] / 1e6:.1f} MB ({totals['bytes'] / wall / 1e6:.1f} MB/s); "
            f"{totals['metadata_messages']} metadata, {totals['heartbeats']} heartbeats; "
            f"{sent.summary()}"
        )

    def exit_code(self) -> int:
        """1 if a block was lost, or not delivered although a consumer was required."""
        stats = self.transport.stats
        undelivered = stats.lost_sequences or (
            self.plan.wait_for_consumer is not None and stats.unroutable_sequences)
        return 1 if undelivered else 0

    def stats(self) -> StreamStats:
        """The ``--stats-json`` document of this process."""
        totals = _totals(self.streamers)
        return {
            "fibers": [s.fiber_id for s in self.streamers],
            **totals,
            "realtime_factor": totals["sim_time"] / totals["wall_s"],
            "lateness": lateness_summary([list(s.stats.lateness) for s in self.streamers]),
            "transport": self.transport.stats.as_dict(),
            "series": self.series.rows,
        }

    async def _wait_for_consumer(self, timeout_s: float) -> None:
        """Return once every fiber's data routing key has a queue bound; exit 3 otherwise."""
        keys = [self.dialect.routing_key(MessageKind.DATA, fiber) for fiber in self.plan.fibers]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        announced = False
        while keys:
            keys = [key for key in keys if not await self.transport.has_route(key)]
            if not keys:
                return
            if loop.time() >= deadline:
                more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
                raise UnreachableError(f"no consumer: no queue bound to {keys[0]}{more}"
                                       f" after {timeout_s:g} s")
            if not announced:
                self.notify(f"waiting up to {timeout_s:g} s for a consumer of {keys[0]}")
                announced = True
            await asyncio.sleep(min(CONSUMER_POLL_S, max(0.0, deadline - loop.time())))


def fiber_list(names: Sequence[str]) -> str:
    """``fiber-0``, or ``8 fibers (fiber-0 .. fiber-7)``."""
    return names[0] if len(names) == 1 else f"{len(names)} fibers ({names[0]} .. {names[-1]})"


def progress_text(streamers: Sequence[FiberStreamer], series: PerSecond) -> str:
    """Simulated time (the slowest fiber's), blocks, message and byte rates, speed."""
    totals = _totals(streamers)
    return (f"t={totals['sim_time']:8.1f} s  blocks={totals['blocks']:7d}  "
            f"{series.latest('messages_per_s'):8.0f} msg/s  "
            f"{totals['bytes'] / totals['wall_s'] / 1e6:7.1f} MB/s  "
            f"x{totals['sim_time'] / totals['wall_s']:6.1f} real time")


def _counters(streamers: Sequence[FiberStreamer], transport: Transport) -> dict[str, float]:
    """The cumulative counters the per-second series is made of."""
    blocks = sum(s.stats.blocks for s in streamers)
    return {"sim_time": min((s.sim_time for s in streamers), default=0.0), "blocks": blocks,
            "messages": blocks + sum(s.stats.metadata_messages + s.stats.heartbeats
                                     for s in streamers),
            "bytes": sum(s.stats.bytes for s in streamers),
            "confirmed": transport.stats.confirmed}


def _totals(streamers: Sequence[FiberStreamer]) -> Totals:
    wall = max(1e-9, time.monotonic() - min(s.stats.wall_start for s in streamers))
    return {
        "sim_time": min(s.stats.sim_time for s in streamers),
        "wall_s": wall,
        "blocks": sum(s.stats.blocks for s in streamers),
        "bytes": sum(s.stats.bytes for s in streamers),
        "metadata_messages": sum(s.stats.metadata_messages for s in streamers),
        "heartbeats": sum(s.stats.heartbeats for s in streamers),
    }


# -- many processes -----------------------------------------------------------------------------
def worker_plans(plan: StreamPlan, workers: int, scratch: Path) -> list[StreamPlan]:
    """The plan of each worker: a contiguous share of the fibers, quiet, its statistics in
    ``scratch`` (merged by the parent), metrics on the parent's port + k; everything else
    (broker, dialect, fiber settings, start time, consumer wait) is the parent's."""
    count = min(workers, len(plan.indices))
    return [replace(plan, indices=tuple(share(plan.indices, k, count)), quiet=True,
                    stats_json=str(scratch / f"worker-{k}.json"), stats_csv=None,
                    metrics_port=plan.metrics_port and plan.metrics_port.shifted(k))
            for k in range(count)]


def merge_worker_stats(files: list[str], target: str | None, csv_target: str | None) -> None:
    """One stats document for the whole run: sums, the slowest fiber, the worst lateness."""
    parts = [json.loads(Path(path).read_text()) for path in files if Path(path).exists()]
    if not parts:
        return
    merged = {
        "fibers": [name for part in parts for name in part["fibers"]],
        "sim_time": min(part["sim_time"] for part in parts),
        "wall_s": max(part["wall_s"] for part in parts),
        **{key: sum(part[key] for part in parts)
           for key in ("blocks", "bytes", "metadata_messages", "heartbeats")},
        "realtime_factor": min(part["realtime_factor"] for part in parts),
        "lateness": {key: (sum if key == "count" else max)(part["lateness"][key] for part in parts)
                     for key in parts[0]["lateness"]},
        "series": merge_rows(part.get("series", []) for part in parts),
        "workers": parts,
    }
    if target is not None:
        Path(target).write_text(json.dumps(merged, indent=1))
    if csv_target is not None:
        write_csv(merged["series"], csv_target)
