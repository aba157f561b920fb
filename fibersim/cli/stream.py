"""``fibersim stream``: publish simulated fibers until the duration ends or Ctrl-C.

One process can publish many fibers (``--fibers N``): N streamers share one transport (one
broker connection) and one virtual clock, so they stay in step and the broker sees one client.
``--workers K`` spreads the fibers over K processes, each publishing a disjoint share, which
is how a full-rate fleet uses more than one core. Several machines or pods split a fleet the
same way with ``--instance I/N`` (or explicit ``--fiber-ids``): fiber names are
``<prefix><index>``, so instances never publish the same fiber.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from fibersim.cli.lifecycle import exit_with, metrics_served, run_until_signal
from fibersim.cli.options import (
    DURATION,
    OUTPUT_FILE,
    SPEED,
    START_TIME,
    MetricsAddress,
    broker_options,
    is_quiet,
    make_parents,
    metrics_port_option,
)
from fibersim.cli.progress import live_progress
from fibersim.models import DEFAULT_CHANNELS, FiberConfig
from fibersim.session.fleet import MAX_FIBERS, select_fibers
from fibersim.transport.settings import BrokerSettings

if TYPE_CHECKING:
    from fibersim.session.stream import StreamPlan


@click.command()
@broker_options
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
    from fibersim.session.stream import StreamPlan

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
    broker = BrokerSettings(amqp_url, exchange, dialect, ca_file, insecure, confirm_window,
                            connect_timeout, shutdown_timeout)
    plan = StreamPlan(tuple(indices), fiber_prefix, seed, fiber_id, config, broker, duration,
                      speed, quiet, stats_json, wait_for_consumer, start_time, stats_csv,
                      metrics_port)
    if workers > 1 and len(indices) > 1:
        exit_with(run_until_signal(_run_workers(plan, workers)))
    with metrics_served(metrics_port):
        exit_with(run_until_signal(_stream(plan)))


# -- one process, many fibers -------------------------------------------------------------------
async def _stream(plan: StreamPlan) -> int:
    """One ``StreamSession``, its lines on stderr: start, progress, summary."""
    from fibersim.session.stream import StreamSession

    session = StreamSession(plan, notify=lambda line: click.echo(line, err=True),
                            freeze_startup=True)
    await session.open()
    click.echo(session.start_text(), err=True)
    try:
        async with live_progress(session.progress_text, enabled=not plan.quiet):
            await session.publish()
    finally:
        await session.close()
        click.echo(session.summary_text(), err=True)
    return session.exit_code()


# -- many processes -----------------------------------------------------------------------------
async def _run_workers(plan: StreamPlan, workers: int) -> int:
    """Split the fibers into ``workers`` contiguous shares, one worker process each."""
    from fibersim.session.stream import fiber_list, merge_worker_stats, worker_plans
    from fibersim.session.workers import run_in_processes

    with tempfile.TemporaryDirectory(prefix="fibersim-workers-") as scratch:
        plans = worker_plans(plan, workers, Path(scratch))
        click.echo(f"streaming {fiber_list(plan.fibers)} with {len(plans)} worker processes",
                   err=True)
        codes = await run_in_processes(_worker, plans, "fibersim-stream")
        if plan.stats_json is not None or plan.stats_csv is not None:
            merge_worker_stats([p.stats_json for p in plans if p.stats_json], plan.stats_json,
                               plan.stats_csv)
    return max(codes)


def _worker(plan: StreamPlan) -> int:
    """A worker process: its share, with the command's tuning, metrics and one-line errors."""
    from fibersim.errors import FibersimError
    from fibersim.session.tuning import retain_freed_heap

    retain_freed_heap()
    try:
        with metrics_served(plan.metrics_port):
            return run_until_signal(_stream(plan))
    except FibersimError as error:
        click.echo(f"fibersim: error: {error}", err=True)
        return error.exit_code
