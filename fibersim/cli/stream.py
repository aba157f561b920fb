"""``fibersim stream``: publish simulated fibers until the duration ends or Ctrl-C.

One process can publish many fibers (``--fibers N``): N streamers share one transport (one
broker connection) and one virtual clock, so they stay in step and the broker sees one client.
``--workers K`` spreads the fibers over K processes, each publishing a disjoint share, which
is how a full-rate fleet uses more than one core. Several machines or pods split a fleet the
same way with ``--instance I/N`` (or explicit ``--fiber-ids``): fiber names are
``<prefix><index>``, so instances never publish the same fiber.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from fibersim.cli.lifecycle import exit_with, metrics_served, run_until_signal
from fibersim.cli.options import (
    DURATION,
    OUTPUT_FILE,
    SPEED,
    START_TIME,
    MetricsAddress,
    amqp_url_option,
    broker_timeout_options,
    dialect_option,
    exchange_option,
    is_quiet,
    make_parents,
    metrics_port_option,
    tls_options,
)
from fibersim.cli.progress import live_progress
from fibersim.cli.series import PerSecond, merge_rows, write_csv
from fibersim.models import DEFAULT_CHANNELS, FiberConfig
from fibersim.units import format_ranges, format_speed

if TYPE_CHECKING:
    from fibersim.dialects import Dialect
    from fibersim.runner import FiberStreamer
    from fibersim.transport import PublishStats, Transport

#: Largest fleet ``--fibers`` accepts; far above what one machine sustains at full rate.
MAX_FIBERS = 10_000
#: Up to this many full-rate fibers in one process each get a render process (the streamer's
#: default); more render in threads of the one process. A render process holds its own noise
#: banks (about 150 MB RSS), and with more fibers than cores the processes only take turns.
RENDER_PROCESSES_MAX = max(1, (os.cpu_count() or 1) - 1)
#: Seconds between two route probes of ``--wait-for-consumer``.
CONSUMER_POLL_S = 0.5
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class StreamPlan:
    """Everything a stream process needs; a ``--workers`` parent hands each child a copy."""

    indices: tuple[int, ...]
    prefix: str
    seed: int
    #: ``--fiber-id``: the one fiber's name, instead of ``<prefix><index>``
    single_name: str | None
    config: FiberConfig
    amqp_url: str | None
    ca_file: str | None
    insecure: bool
    #: None: the dialect's own exchange
    exchange: str | None
    #: ``--dialect`` as given (None: fibersim); workers get the same spelling
    dialect: str | None
    duration: float
    speed: float
    confirm_window: int
    quiet: bool
    stats_json: str | None
    connect_timeout: float = 10.0
    shutdown_timeout: float = 10.0
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


@click.command()
@amqp_url_option
@tls_options
@broker_timeout_options
@exchange_option
@dialect_option
@click.option("--fiber-id", default=None,
              help="Name of a single fiber (default fiber-0); routing keys das.<fiber-id>.<kind>"
              " in the fibersim dialect."
              " Not combinable with --fibers, --fiber-ids or --instance.")
@click.option("--fibers", type=click.IntRange(1, MAX_FIBERS), default=None,
              help="Fleet size N: fibers <prefix>0 .. <prefix>N-1 (with --instance: the fleet"
              " this process takes its share of).")
@click.option("--fiber-ids", default=None, metavar="RANGES",
              help="Fiber indices to publish, e.g. 0-15 or 0-3,8,10-11.")
@click.option("--fiber-prefix", default="fiber-", show_default=True,
              help="Fiber names are <prefix><index>.")
@click.option("--instance", envvar="FIBERSIM_INSTANCE", default=None, metavar="I/N",
              help="Publish share I of N of the fleet (also FIBERSIM_INSTANCE). I is a number,"
              " a name ending in -<ordinal> (a StatefulSet pod name, e.g. fibersim-3) or the word"
              " 'hostname' (this host's name, which is the pod name in a StatefulSet).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes to spread this share of fibers over (one per core).")
@click.option("--channels", type=click.IntRange(1, 100_000), default=DEFAULT_CHANNELS,
              show_default=True, help="Channels (loci) per sample.")
@click.option("--prr", type=click.FloatRange(0, 200_000, min_open=True), default=2000.0,
              show_default=True, help="Pulse repetition rate = samples per second (Hz).")
@click.option("--dx", type=click.FloatRange(0, 1000, min_open=True), default=1.02,
              show_default=True, help="Channel spacing (m).")
@click.option("--duration", type=DURATION, default="30s", show_default=True,
              help="Simulated time to publish (30s, 2m, 1h).")
@click.option("--speed", type=SPEED, default="1", show_default=True,
              help="Simulated seconds per wall second: 1 is real time, 10, or max.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Random seed: the same seed gives the same samples (with --start-time the same"
              " message bodies); fiber <i> uses seed+i.")
@click.option("--dtype", type=click.Choice(["int16", "float32"]), default="int16",
              show_default=True, help="Sample type on the wire (int16 carries a scale).")
@click.option("--confirm-window", type=click.IntRange(1, 10_000), default=32, show_default=True,
              help="Publishes awaiting a broker confirm at once (per process).")
@click.option("--start-time", type=START_TIME, default=None, metavar="TIME",
              help="Timestamp of the first sample (ISO 8601, e.g. 2025-01-01T00:00:00Z, or"
              " epoch seconds); default: the wall clock at the start. With it (and --seed) the"
              " message bodies are byte-identical from run to run.")
@click.option("--wait-for-consumer", type=DURATION, default=None, metavar="TIMEOUT",
              help="Before publishing, wait up to TIMEOUT (e.g. 30s) until a queue is bound to"
              " every fiber's data routing key; exit 3 if none is. Blocks the broker returns"
              " as unroutable then also make the exit code 1.")
@click.option("--stats-json", type=OUTPUT_FILE, default=None,
              help="Write run statistics (throughput, block publish lateness, a per-second"
              " series of rates) as JSON here.")
@click.option("--stats-csv", type=OUTPUT_FILE, default=None,
              help="Write the per-second series (messages, blocks, bytes, confirms per s) as"
              " CSV here, for spreadsheets.")
@metrics_port_option
@click.option("-q", "--quiet", is_flag=True, help="No progress line; summary only.")
def stream(amqp_url: str | None, ca_file: str | None, insecure: bool, connect_timeout: float,
           shutdown_timeout: float, exchange: str | None,
           dialect: str | None, fiber_id: str | None, fibers: int | None, fiber_ids: str | None,
           fiber_prefix: str, instance: str | None, workers: int, channels: int, prr: float,
           dx: float, duration: float, speed: float, seed: int, dtype: str, confirm_window: int,
           start_time: int | None, wait_for_consumer: float | None,
           stats_json: str | None, stats_csv: str | None, metrics_port: MetricsAddress | None,
           quiet: bool) -> None:
    """Publish simulated DAS fibers (metadata, data blocks, heartbeats) to RabbitMQ.

    Data blocks of 0.1 simulated s go to das.<fiber>.data, metadata (on connect, every
    2 s and on change) to das.<fiber>.metadata; see docs/wire-protocol.md. Another --dialect
    publishes another format on its own topology (docs/dialects.md).

    \b
    Examples:
      fibersim stream --amqp-url amqp://guest:guest@127.0.0.1/ --duration 10s --speed max
      fibersim stream --fiber-id well-7 --channels 500 --prr 1000 --speed 1
      fibersim stream --fibers 8 --workers 2 --duration 1h         # fiber-0 .. fiber-7
      fibersim stream --fibers 128 --instance 3/8                  # fiber-48 .. fiber-63
      fibersim stream --dialect tagged --duration 10s              # exchange das-tagged
      fibersim stream --wait-for-consumer 30s --start-time 2025-01-01T00:00:00Z --seed 7
      fibersim stream --duration 10s --speed max --stats-csv out/rates.csv
      fibersim stream --duration 1h --metrics-port 9108   # Prometheus at :9108/metrics

    With --workers K and --metrics-port P, worker k serves its fibers' metrics on P+k.

    Every block is either confirmed by the broker or listed in the summary by fiber and
    sequence number: lost (nacked, connection lost, unconfirmed at shutdown) or not
    delivered (returned: no queue bound). Exit 0, 1 if blocks were lost (or, with
    --wait-for-consumer, not delivered), 2 bad input, 3 broker unreachable, 130/143 on
    Ctrl-C/SIGTERM.
    """
    from fibersim.dialects import load_dialect

    quiet = quiet or is_quiet()
    load_dialect(dialect)  # an unknown dialect is exit 2 before anything starts
    if fiber_id is not None and (fibers, fiber_ids, instance) != (None, None, None):
        raise click.UsageError("--fiber-id names one fiber; use --fiber-ids, --fibers or"
                               " --instance (not both) for several")
    try:
        config = FiberConfig(fiber_id=fiber_id or f"{fiber_prefix}0", number_of_channels=channels,
                             prr=prr, dx=dx, dtype=dtype)
        indices = [0] if fiber_id is not None else select_fibers(fibers, fiber_ids, instance)
        for index in indices[:1] + indices[-1:]:  # the longest name is the largest index
            FiberConfig(fiber_id=fiber_id or f"{fiber_prefix}{index}")
    except ValidationError as error:
        first = error.errors()[0]
        raise click.BadParameter(first["msg"], param_hint=f"--{first['loc'][0]}") from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    make_parents(stats_json, stats_csv)
    plan = StreamPlan(tuple(indices), fiber_prefix, seed, fiber_id, config, amqp_url, ca_file,
                      insecure, exchange, dialect, duration, speed, confirm_window, quiet,
                      stats_json, connect_timeout, shutdown_timeout, wait_for_consumer,
                      start_time, stats_csv, metrics_port)
    if workers > 1 and len(indices) > 1:
        exit_with(run_until_signal(_run_workers(plan, workers)))
    with metrics_served(metrics_port):
        exit_with(run_until_signal(_stream(plan)))


# -- choosing fibers ------------------------------------------------------------------------------
def parse_ranges(text: str) -> list[int]:
    """``"0-3,8,10-11"`` -> ``[0, 1, 2, 3, 8, 10, 11]``; sorted, duplicates rejected."""
    indices: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"--fiber-ids: {part!r} is not an index or a range like 0-15")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"--fiber-ids: range {part!r} runs backwards")
        if last - first + 1 + len(indices) > MAX_FIBERS:
            raise ValueError(f"--fiber-ids: more than {MAX_FIBERS} fibers")
        indices.extend(range(first, last + 1))
    if len(set(indices)) != len(indices):
        raise ValueError("--fiber-ids: an index appears twice")
    return sorted(indices)


def parse_instance(spec: str, hostname: str | None = None) -> tuple[int, int]:
    """``"3/8"``, ``"fibersim-3/8"`` or ``"hostname/8"`` -> ``(3, 8)``.

    A StatefulSet names its pods ``<name>-<ordinal>`` and sets each pod's hostname to that
    name, so a pod finds its share without any per-pod configuration.
    """
    which, slash, count_text = spec.rpartition("/")
    if not slash or not count_text.isdigit() or int(count_text) < 1:
        raise ValueError(f"--instance {spec!r}: expected I/N, e.g. 3/8, fibersim-3/8, hostname/8")
    if which == "hostname":
        which = hostname if hostname is not None else socket.gethostname()
    if which.isdigit():
        index = int(which)
    else:
        ordinal = _ORDINAL.search(which)
        if ordinal is None:
            raise ValueError(f"--instance: {which!r} does not end in -<ordinal> (like fibersim-3)")
        index = int(ordinal.group(1))
    count = int(count_text)
    if index >= count:
        raise ValueError(f"--instance: no instance {index} among {count} (0..{count - 1})")
    return index, count


def share(items: Sequence[int], index: int, count: int) -> list[int]:
    """Contiguous share ``index`` of ``count`` of ``items``; shares differ by at most one."""
    return list(items[index * len(items) // count:(index + 1) * len(items) // count])


def select_fibers(fibers: int | None, fiber_ids: str | None, instance: str | None) -> list[int]:
    """The fiber indices this process publishes, from the fleet options."""
    if fibers is not None and fiber_ids is not None:
        raise ValueError("give either --fibers (a fleet of N) or --fiber-ids, not both")
    fleet = parse_ranges(fiber_ids) if fiber_ids is not None else list(range(fibers or 1))
    if instance is None:
        return fleet
    index, count = parse_instance(instance)
    mine = share(fleet, index, count)
    if not mine:
        raise ValueError(f"--instance {index}/{count}: no fiber left among {len(fleet)}")
    return mine


# -- one process, many fibers -------------------------------------------------------------------
async def _stream(plan: StreamPlan) -> int:
    from fibersim.dialects import load_dialect, open_dialect_transport
    from fibersim.interrogator import Interrogator
    from fibersim.runner import FiberStreamer, VirtualClock

    dialect = load_dialect(plan.dialect)
    transport = open_dialect_transport(dialect, plan.amqp_url, exchange=plan.exchange,
                                       confirm_window=plan.confirm_window, ca_file=plan.ca_file,
                                       insecure=plan.insecure,
                                       connect_timeout_s=plan.connect_timeout,
                                       shutdown_timeout_s=plan.shutdown_timeout)
    await transport.connect()  # UnreachableError (exit 3) if the broker is not there
    if plan.wait_for_consumer is not None:
        try:
            await _wait_for_consumer(transport, dialect, plan)
        except BaseException:
            await asyncio.shield(transport.close())
            raise
    clock = VirtualClock(plan.speed)
    start_ns = time.time_ns()
    render_process = None if len(plan.fibers) <= RENDER_PROCESSES_MAX else False
    streamers = [
        FiberStreamer(Interrogator(plan.config.model_copy(update={"fiber_id": name}), start_ns),
                      transport, clock, seed=seed, render_process=render_process,
                      dialect=dialect)
        for name, seed in zip(plan.fibers, plan.seeds, strict=True)
    ]
    config = plan.config
    click.echo(f"streaming {_fiber_list(plan.fibers)}: {config.number_of_channels} channels at "
               f"{config.prr:g} Hz, {config.dtype}, {plan.duration:g} s at "
               f"{format_speed(plan.speed)} to {transport.description}", err=True)
    # Building the synthesizers (and starting render processes) took time that no block
    # should be late for, and that must not appear as an offset between block timestamps and
    # the wall clock: start both clocks once the first blocks are ready.
    series = PerSecond(lambda: _counters(streamers, transport))
    try:
        async with series.running(), live_progress(lambda: _progress_text(streamers, series),
                                                   enabled=not plan.quiet):
            await asyncio.gather(*(streamer.prepare() for streamer in streamers))
            # Everything imported and built so far lives until the end: move it out of the
            # collector's reach. A full collection over it takes 15-30 ms, which would land
            # on some block's deadline as a pacing spike; later collections see only the
            # few objects each block creates.
            gc.freeze()
            clock.restart()
            start_ns = time.time_ns() if plan.start_time_ns is None else plan.start_time_ns
            for streamer in streamers:
                streamer.interrogator.start_time_ns = start_ns
                streamer.stats.wall_start = time.monotonic()
            series.restart()
            for streamer in streamers:
                await streamer.connect()
            await asyncio.gather(*(streamer.run_until(plan.duration) for streamer in streamers))
            for streamer in streamers:
                await streamer.disconnect()
    finally:
        _close(streamers)
        await asyncio.shield(transport.close())
        click.echo(_summary_text(streamers, transport), err=True)
        if plan.stats_json is not None:
            Path(plan.stats_json).write_text(
                json.dumps(_stats(streamers, transport, series.rows), indent=1))
        if plan.stats_csv is not None:
            write_csv(series.rows, plan.stats_csv)
    return _exit_code(transport.stats, plan)


def _exit_code(stats: PublishStats, plan: StreamPlan) -> int:
    """1 if a block was lost, or not delivered although a consumer was required."""
    undelivered = stats.lost_sequences or (
        plan.wait_for_consumer is not None and stats.unroutable_sequences)
    return 1 if undelivered else 0


async def _wait_for_consumer(transport: Transport, dialect: Dialect, plan: StreamPlan) -> None:
    """Return once every fiber's data routing key has a queue bound; exit 3 otherwise."""
    from fibersim.errors import UnreachableError
    from fibersim.wire import MessageKind

    assert plan.wait_for_consumer is not None
    keys = [dialect.routing_key(MessageKind.DATA, fiber) for fiber in plan.fibers]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + plan.wait_for_consumer
    announced = False
    while keys:
        keys = [key for key in keys if not await transport.has_route(key)]
        if not keys:
            return
        if loop.time() >= deadline:
            raise UnreachableError(f"no consumer: no queue bound to {keys[0]}"
                                   f"{f' (and {len(keys) - 1} more)' if len(keys) > 1 else ''}"
                                   f" after {plan.wait_for_consumer:g} s")
        if not announced:
            click.echo(f"waiting up to {plan.wait_for_consumer:g} s for a consumer of {keys[0]}",
                       err=True)
            announced = True
        await asyncio.sleep(min(CONSUMER_POLL_S, max(0.0, deadline - loop.time())))


def _close(streamers: Sequence[FiberStreamer]) -> None:
    """End the render processes (also on Ctrl-C/SIGTERM, which the worker processes ignore
    or do not get: the parent decides when they stop)."""
    for streamer in streamers:
        streamer.close()


def _fiber_list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} fibers ({names[0]} .. {names[-1]})"


def _progress_text(streamers: Sequence[FiberStreamer], series: PerSecond) -> str:
    totals = _totals(streamers)
    return (f"t={totals['sim_time']:8.1f} s  blocks={totals['blocks']:7d}  "
            f"{series.latest('messages_per_s'):8.0f} msg/s  "
            f"{totals['bytes'] / totals['wall_s'] / 1e6:7.1f} MB/s  "
            f"x{totals['sim_time'] / totals['wall_s']:6.1f} real time")


def _counters(streamers: Sequence[FiberStreamer], transport: Transport) -> dict[str, float]:
    """The cumulative counters the per-second series is made of."""
    blocks = sum(s.stats.blocks for s in streamers)
    return {"sim_time": min(s.sim_time for s in streamers), "blocks": blocks,
            "messages": blocks + sum(s.stats.metadata_messages + s.stats.heartbeats
                                     for s in streamers),
            "bytes": sum(s.stats.bytes for s in streamers),
            "confirmed": transport.stats.confirmed}


def _totals(streamers: Sequence[FiberStreamer]) -> dict[str, Any]:
    """Totals over the streamers; simulated time is the slowest fiber's."""
    wall = max(1e-9, time.monotonic() - min(s.stats.wall_start for s in streamers))
    return {
        "sim_time": min(s.stats.sim_time for s in streamers),
        "wall_s": wall,
        "blocks": sum(s.stats.blocks for s in streamers),
        "bytes": sum(s.stats.bytes for s in streamers),
        "metadata_messages": sum(s.stats.metadata_messages for s in streamers),
        "heartbeats": sum(s.stats.heartbeats for s in streamers),
    }


def _summary_text(streamers: Sequence[FiberStreamer], transport: Transport) -> str:
    totals, sent = _totals(streamers), transport.stats
    wall = totals["wall_s"]
    fibers = f"{len(streamers)} fibers, " if len(streamers) > 1 else ""
    return (
        f"summary: {fibers}{totals['sim_time']:.1f} simulated s in {wall:.2f} s wall = "
        f"real-time factor {totals['sim_time'] / wall:.1f}x; {totals['blocks']} blocks, "
        f"{totals['bytes'] / 1e6:.1f} MB ({totals['bytes'] / wall / 1e6:.1f} MB/s); "
        f"{totals['metadata_messages']} metadata, {totals['heartbeats']} heartbeats; "
        f"{sent.summary()}"
    )


def _stats(streamers: Sequence[FiberStreamer], transport: Transport,
           series: list[dict[str, float]]) -> dict[str, Any]:
    """The ``--stats-json`` document of one process."""
    totals = _totals(streamers)
    return {
        "fibers": [s.fiber_id for s in streamers],
        **totals,
        "realtime_factor": totals["sim_time"] / totals["wall_s"],
        "lateness": lateness_summary(
            [list(s.stats.lateness) for s in streamers]),
        "transport": transport.stats.as_dict(),
        "series": series,
    }


def lateness_summary(series: Iterable[Sequence[float]]) -> dict[str, float]:
    """Percentiles (s) of block publish lateness over all fibers, and how it trends.

    ``trend`` is the median lateness of each fiber's last quarter of blocks minus that of its
    first quarter, worst fiber first: a backlog shows as a positive trend that grows with the
    run, however small the percentiles still are.
    """
    runs = [list(run) for run in series if run]
    values = sorted(value for run in runs for value in run)
    if not values:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "jitter_p99": 0.0, "trend": 0.0}
    median = statistics.median(values)
    deviations = sorted(abs(value - median) for value in values)
    trends = [statistics.median(run[-max(1, len(run) // 4):])
              - statistics.median(run[:max(1, len(run) // 4)]) for run in runs]
    return {
        "count": len(values),
        "p50": median,
        "p99": _percentile(values, 0.99),
        "max": values[-1],
        "jitter_p99": _percentile(deviations, 0.99),
        "trend": max(trends),
    }


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- many processes -----------------------------------------------------------------------------
async def _run_workers(plan: StreamPlan, workers: int) -> int:
    """Split the fibers into ``workers`` contiguous shares, one ``fibersim stream`` each."""
    count = min(workers, len(plan.indices))
    shares = [share(plan.indices, k, count) for k in range(count)]
    with tempfile.TemporaryDirectory(prefix="fibersim-workers-") as scratch:
        stats_files = [str(Path(scratch) / f"worker-{k}.json") for k in range(count)]
        click.echo(f"streaming {_fiber_list(plan.fibers)} with {count} worker processes",
                   err=True)
        # the parent hands each worker its share explicitly: the environment must not select
        # fibers again (FIBERSIM_INSTANCE of a StatefulSet pod, FIBERSIM_STREAM_* options)
        env = {key: value for key, value in os.environ.items()
               if key != "FIBERSIM_INSTANCE" and not key.startswith("FIBERSIM_STREAM_")}
        if plan.amqp_url:
            env["FIBERSIM_AMQP_URL"] = plan.amqp_url  # not on the command line: ps shows that
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "fibersim", "stream",
                *_worker_args(plan, indices, stats_files[k], k), env=env)
            for k, indices in enumerate(shares)
        ]
        try:
            codes = [await process.wait() for process in processes]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.terminate()
            for process in processes:
                await process.wait()
        if plan.stats_json is not None or plan.stats_csv is not None:
            _merge_worker_stats(stats_files, plan.stats_json, plan.stats_csv)
    return max(codes)


def _worker_args(plan: StreamPlan, indices: list[int], stats_json: str,
                 worker: int = 0) -> list[str]:
    """Command-line arguments of a worker publishing fibers ``indices`` of the plan's fleet."""
    config = plan.config
    args = ["--fiber-prefix", plan.prefix,
            "--fiber-ids", format_ranges(indices), "--seed", str(plan.seed),
            "--channels", str(config.number_of_channels), "--prr", repr(config.prr),
            "--dx", repr(config.dx), "--dtype", config.dtype,
            "--duration", repr(plan.duration),
            "--speed", "max" if math.isinf(plan.speed) else repr(plan.speed),
            "--confirm-window", str(plan.confirm_window), "--stats-json", stats_json, "--quiet",
            "--connect-timeout", repr(plan.connect_timeout),
            "--shutdown-timeout", repr(plan.shutdown_timeout)]
    if plan.exchange:
        args += ["--exchange", plan.exchange]
    if plan.dialect:
        args += ["--dialect", plan.dialect]
    if plan.wait_for_consumer is not None:
        args += ["--wait-for-consumer", repr(plan.wait_for_consumer)]
    if plan.start_time_ns is not None:
        seconds, nanoseconds = divmod(plan.start_time_ns, 1_000_000_000)
        args += ["--start-time", f"{seconds}.{nanoseconds:09d}"]
    if plan.metrics_port is not None:
        args += ["--metrics-port", plan.metrics_port.shifted(worker)]
    if plan.ca_file:
        args += ["--ca-file", plan.ca_file]
    if plan.insecure:
        args.append("--insecure")
    return args


def _merge_worker_stats(files: list[str], target: str | None, csv_target: str | None) -> None:
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
