"""``fibersim stream``: publish one simulated fiber until the duration ends or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import time

import click
from pydantic import ValidationError

from fibersim.cli.lifecycle import exit_with, run_until_signal
from fibersim.cli.options import DURATION, SPEED, amqp_url_option, tls_options
from fibersim.cli.progress import ProgressLine
from fibersim.errors import UnreachableError
from fibersim.models import DEFAULT_CHANNELS, FiberConfig
from fibersim.units import format_speed


@click.command()
@amqp_url_option
@tls_options
@click.option("--exchange", default="fibersim", show_default=True, help="Topic exchange name.")
@click.option("--fiber-id", default="fiber-0", show_default=True,
              help="Fiber id, used in routing keys das.<fiber-id>.<kind>.")
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
              help="Random seed: the same seed gives the same bytes.")
@click.option("--dtype", type=click.Choice(["int16", "float32"]), default="int16",
              show_default=True, help="Sample type on the wire (int16 carries a scale).")
@click.option("--confirm-window", type=click.IntRange(1, 10_000), default=32, show_default=True,
              help="Publishes awaiting a broker confirm at once.")
@click.option("--quiet", is_flag=True, help="No progress line; summary only.")
def stream(amqp_url: str | None, ca_file: str | None, insecure: bool, exchange: str,
           fiber_id: str, channels: int, prr: float, dx: float, duration: float, speed: float,
           seed: int, dtype: str, confirm_window: int, quiet: bool) -> None:
    """Publish a simulated DAS fiber (metadata, data blocks, heartbeats) to RabbitMQ.

    Data blocks of 0.1 simulated s go to das.<fiber-id>.data, metadata (on connect, every
    2 s and on change) to das.<fiber-id>.metadata; see docs/wire-protocol.md.

    \b
    Examples:
      fibersim stream --amqp-url amqp://guest:guest@127.0.0.1/ --duration 10s --speed max
      fibersim stream --fiber-id well-7 --channels 500 --prr 1000 --speed 1
    """
    try:
        config = FiberConfig(fiber_id=fiber_id, number_of_channels=channels, prr=prr, dx=dx,
                             dtype=dtype)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        raise click.BadParameter(first["msg"], param_hint=f"--{first['loc'][0]}") from None
    exit_with(run_until_signal(_stream(config, amqp_url, ca_file, insecure, exchange,
                                       duration, speed, seed, confirm_window, quiet)))


async def _stream(config: FiberConfig, amqp_url: str | None, ca_file: str | None,
                  insecure: bool, exchange: str, duration: float, speed: float, seed: int,
                  confirm_window: int, quiet: bool) -> int:
    from fibersim.interrogator import Interrogator
    from fibersim.runner import FiberStreamer, VirtualClock
    from fibersim.transport import open_transport

    transport = open_transport(amqp_url, exchange=exchange, confirm_window=confirm_window,
                               ca_file=ca_file, insecure=insecure)
    try:
        await transport.connect()
    except ConnectionError as error:
        raise UnreachableError(str(error)) from None
    streamer = FiberStreamer(Interrogator(config, time.time_ns()), transport,
                             VirtualClock(speed), seed=seed)
    click.echo(f"streaming {config.fiber_id}: {config.number_of_channels} channels at "
               f"{config.prr:g} Hz, {config.dtype}, {duration:g} s at {format_speed(speed)} "
               f"to {transport.description}", err=True)
    progress = ProgressLine(lambda: _progress_text(streamer), enabled=not quiet)
    ticker = asyncio.create_task(_tick(progress))
    try:
        await streamer.connect()
        await streamer.run_until(duration)
        await streamer.disconnect()
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        progress.done()
        await asyncio.shield(transport.close())
        click.echo(_summary_text(streamer), err=True)
    return 0 if not transport.stats.lost_sequences else 1


async def _tick(progress: ProgressLine) -> None:
    while True:
        await asyncio.sleep(0.25)
        progress.tick()


def _progress_text(streamer: object) -> str:
    from fibersim.runner import FiberStreamer

    assert isinstance(streamer, FiberStreamer)
    stats = streamer.stats
    elapsed = max(1e-9, time.monotonic() - stats.wall_start)
    return (f"t={streamer.sim_time:8.1f} s  blocks={stats.blocks:7d}  "
            f"{stats.bytes / elapsed / 1e6:7.1f} MB/s  x{stats.sim_time / elapsed:6.1f} real time")


def _summary_text(streamer: object) -> str:
    from fibersim.runner import FiberStreamer

    assert isinstance(streamer, FiberStreamer)
    stats, sent = streamer.stats, streamer.transport.stats
    elapsed = max(1e-9, time.monotonic() - stats.wall_start)
    lost = sent.lost_sequences
    lost_text = f"lost blocks (sequence numbers): {lost}" if lost else "no block lost"
    return (
        f"summary: {stats.sim_time:.1f} simulated s in {elapsed:.2f} s wall = "
        f"real-time factor {stats.sim_time / elapsed:.1f}x; {stats.blocks} blocks, "
        f"{stats.bytes / 1e6:.1f} MB ({stats.bytes / elapsed / 1e6:.1f} MB/s); "
        f"{stats.metadata_messages} metadata, {stats.heartbeats} heartbeats; broker: "
        f"{sent.confirmed} confirmed, {sent.nacked} nacked, {sent.returned} returned "
        f"(unroutable), {sent.failed} failed; {lost_text}"
    )
