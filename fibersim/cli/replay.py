"""``fibersim replay``: publish a DAS recording as a live fiber, paced like an interrogator."""

from __future__ import annotations

import asyncio
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fibersim.cli.lifecycle import exit_with, metrics_served, run_until_signal
from fibersim.cli.options import (
    DURATION,
    SPEED,
    MetricsAddress,
    broker_options,
    is_quiet,
    metrics_port_option,
)
from fibersim.cli.progress import live_progress
from fibersim.models import SampleDtype
from fibersim.transport.settings import BrokerSettings

if TYPE_CHECKING:
    from fibersim.dialects import Dialect
    from fibersim.runner import FiberStreamer
    from fibersim.transport import Transport
from fibersim.units import format_speed

_CHANNELS = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


class ChannelRangeType(click.ParamType[tuple[int, int], object]):
    """``first:last``, an inclusive channel range like scenario files' ``[first, last]``."""

    name = "first:last"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        match = _CHANNELS.match(str(value))
        if match is None or int(match[1]) > int(match[2]):
            self.fail(f"{value!r} is not a channel range first:last (e.g. 100:599)", param, ctx)
        return int(match[1]), int(match[2])


@click.command()
@click.argument("file", type=click.Path(exists=True))
@broker_options
@click.option("--fiber-id", default="fiber-0", show_default=True,
              help="Fiber id, used in routing keys (das.<fiber-id>.<kind> in the fibersim"
              " dialect).")
@click.option("--speed", type=SPEED, default="1", show_default=True,
              help="Recorded seconds per wall second: 1 is real time, 10, or max.")
@click.option("--loop", is_flag=True, help="Start over at the end of the file, until stopped.")
@click.option("--duration", type=DURATION, default=None,
              help="Stop after this much stream time [default: one pass of the file].")
@click.option("--channels", type=ChannelRangeType(), default=None,
              help="Inclusive range of the file's channels to publish, e.g. 100:599.")
@click.option("--dtype", type=click.Choice(["int16", "float32"]), default=None,
              help="Sample type on the wire [default: the file's; int16 files keep their"
              " count size as scale].")
@click.option("--original-time", is_flag=True,
              help="Stamp samples with the file's times instead of starting now.")
@metrics_port_option
@click.option("-q", "--quiet", is_flag=True, help="No progress line; summary only.")
def replay(file: str, amqp_url: str | None, ca_file: str | None, insecure: bool,
           connect_timeout: float, shutdown_timeout: float,
           exchange: str | None, dialect: str | None, fiber_id: str, speed: float, loop: bool,
           duration: float | None, channels: tuple[int, int] | None, dtype: SampleDtype | None,
           original_time: bool, metrics_port: MetricsAddress | None, quiet: bool) -> None:
    """Publish a DAS recording (PRODML, or any format DASCore reads) as a live fiber.

    Metadata comes from the file: prr from its time step, dx from its distance step, channel
    count and gauge length. Data blocks, metadata and heartbeats follow docs/wire-protocol.md
    (or --dialect's format), exactly as for a simulated fiber.

    \b
    Examples:
      fibersim replay quake.h5 --amqp-url amqp://guest:guest@127.0.0.1/ --speed 1
      fibersim replay vendor.hdf5 --channels 100:599 --loop --speed max --duration 10m
      fibersim replay quake.h5 --amqp-url amqp://guest:guest@127.0.0.1/ --dialect tagged
      fibersim replay quake.h5 --loop --duration 1h --metrics-port 9108
    """
    from fibersim.dialects import load_dialect, open_broker

    quiet = quiet or is_quiet()
    chosen = load_dialect(dialect)  # an unknown dialect is exit 2 before the file is read
    broker = BrokerSettings(amqp_url, exchange, dialect, ca_file, insecure,
                            connect_timeout_s=connect_timeout, shutdown_timeout_s=shutdown_timeout)
    transport = open_broker(broker, dialect=chosen)
    with metrics_served(metrics_port):
        exit_with(run_until_signal(_replay(Path(file), transport, chosen, fiber_id, speed,
                                           loop, duration, channels, dtype, original_time,
                                           quiet)))


async def _replay(path: Path, transport: Transport, dialect: Dialect, fiber_id: str,
                  speed: float, loop: bool, duration: float | None,
                  channels: tuple[int, int] | None,
                  dtype: SampleDtype | None, original_time: bool, quiet: bool) -> int:
    from fibersim.errors import InputError
    from fibersim.recording.replay import build_replay

    replay = build_replay(path, transport, fiber_id=fiber_id, speed=speed, channels=channels,
                          dtype=dtype, loop=loop, dialect=dialect,
                          start_time_ns=None if original_time else time.time_ns())
    if replay.pass_duration_s <= 0:
        raise InputError("shorter than one data block "
                         f"({replay.streamer.interrogator.config.block_duration_s:g} s)",
                         file=str(path))
    end = duration if duration is not None else (math.inf if loop else replay.pass_duration_s)
    await transport.connect()  # UnreachableError (exit 3) if the broker is not there
    streamer, info = replay.streamer, replay.info
    config = streamer.interrogator.config
    click.echo(f"replaying {path.name} as {fiber_id}: {info.n_channels} channels at "
               f"{info.prr:g} Hz, dx {info.dx:g} m, {info.duration_s:g} s"
               f"{' looped' if loop else ''}, {config.dtype}, at {format_speed(speed)} to "
               f"{transport.description}", err=True)
    try:
        async with live_progress(lambda: _progress_text(streamer, end), enabled=not quiet):
            await streamer.connect()
            await streamer.run_until(end)
            await streamer.disconnect()
    finally:
        await asyncio.shield(transport.close())
        click.echo(_summary_text(streamer, path), err=True)
        if not loop and replay.unsent_rows:
            click.echo(f"note: the last {replay.unsent_rows} samples do not fill a block of "
                       f"{config.samples_per_block} and were not sent", err=True)
    return 1 if transport.stats.lost_sequences else 0



def _progress_text(streamer: FiberStreamer, end: float) -> str:
    stats = streamer.stats
    elapsed = max(1e-9, time.monotonic() - stats.wall_start)
    of = "" if math.isinf(end) else f" of {end:.1f} s"
    return (f"t={streamer.sim_time:8.1f} s{of}  blocks={stats.blocks:7d}  "
            f"{stats.bytes / elapsed / 1e6:7.1f} MB/s  x{stats.sim_time / elapsed:6.1f} real time")


def _summary_text(streamer: FiberStreamer, path: Path) -> str:
    stats, sent = streamer.stats, streamer.transport.stats
    elapsed = max(1e-9, time.monotonic() - stats.wall_start)
    return (f"summary: replayed {stats.sim_time:.1f} s of {path.name} in {elapsed:.2f} s wall ="
            f" real-time factor {stats.sim_time / elapsed:.1f}x; {stats.blocks} blocks,"
            f" {stats.bytes / 1e6:.1f} MB, {stats.metadata_messages} metadata; {sent.summary()}")
