"""``fibersim record``: write a scenario's fiber, or a live stream, to a PRODML file.

Two sources, one file format: ``fibersim record SCENARIO -o out.h5`` renders the scenario's
signals offline (no broker, as fast as the CPU allows); ``fibersim record --from-amqp URL``
taps a live fibersim stream. The layout is in docs/recording.md.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from fibersim.cli.lifecycle import exit_with, run_until_signal
from fibersim.cli.options import (
    DURATION,
    OUTPUT_FILE,
    broker_timeout_options,
    checked_amqp_url,
    dialect_option,
    exchange_option,
    is_quiet,
    make_parents,
    tls_options,
)
from fibersim.cli.progress import ProgressLine, live_progress
from fibersim.formats.model import Compression
from fibersim.models import SampleDtype
from fibersim.transport.settings import AMQP_URL_ENV, BrokerSettings

if TYPE_CHECKING:
    from fibersim.dialects import Dialect
    from fibersim.transport import Transport

#: ``--compression`` choices and the HDF5 filter each selects.
COMPRESSIONS: dict[str, Compression] = {"none": None, "gzip": "gzip", "lzf": "lzf"}


@click.command()
@click.argument("scenario", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=OUTPUT_FILE,
              help="PRODML file to write (replaced if it exists; missing folders are created).")
@click.option("--from", "from_s", type=DURATION, default=None,
              help="Scenario: first simulated time to record [default: 0s].")
@click.option("--to", "to_s", type=DURATION, default=None,
              help="Scenario: simulated time to record up to [default: 60s].")
@click.option("--compression", type=click.Choice(list(COMPRESSIONS)), default="none",
              show_default=True,
              help="HDF5 compression of the samples; none is readable by every HDF5 tool,"
              " lzf needs h5py.")
@click.option("--dtype", type=click.Choice(["float32", "int16"]), default=None,
              help="Sample type in the file [default: float32 for a scenario, the stream's"
              " own for a tap]. int16 stores counts; RawDataUnit gives their size.")
@click.option("--from-amqp", "amqp_url", metavar="URL", default=None, envvar=AMQP_URL_ENV,
              callback=checked_amqp_url,
              help="Tap a live stream on this RabbitMQ instead of rendering a scenario (also"
              " FIBERSIM_AMQP_URL, which keeps the password off the command line; a SCENARIO"
              " argument takes precedence over the variable).")
@tls_options
@broker_timeout_options
@exchange_option
@dialect_option
@click.option("--fiber-id", default="fiber-0", show_default=True,
              help="Tap: fiber to record (routing keys das.<fiber-id>.* in the fibersim"
              " dialect).")
@click.option("--duration", type=DURATION, default=None,
              help="Tap: stream time to record, gaps included [default: 60s].")
@click.option("-q", "--quiet", is_flag=True, help="No progress line; summary only.")
def record(scenario: str | None, output: str, from_s: float | None, to_s: float | None,
           compression: str, dtype: SampleDtype | None, amqp_url: str | None, ca_file: str | None,
           insecure: bool, connect_timeout: float, shutdown_timeout: float,
           exchange: str | None, dialect: str | None, fiber_id: str,
           duration: float | None,
           quiet: bool) -> None:
    """Write a scenario's fiber, or a live stream, to a PRODML 2.1 HDF5 file that DASCore,
    xdas and other DAS tools read.

    \b
    Examples:
      fibersim record scenarios/quake.yaml -o quake.h5 --from 10s --to 70s
      fibersim record scenarios/quake.yaml -o quake.h5 --dtype int16 --compression gzip
      fibersim record --from-amqp amqp://guest:guest@127.0.0.1/ --fiber-id fiber-0 \\
          -o live.h5 --duration 60s
      fibersim record --from-amqp amqp://guest:guest@127.0.0.1/ --dialect tagged -o live.h5
      FIBERSIM_AMQP_URL=amqp://user:secret@host/ fibersim record -o live.h5 --duration 10s

    --exchange and --dialect apply to --from-amqp (the tap) only.
    """
    quiet = quiet or is_quiet()
    chosen = COMPRESSIONS[compression]
    make_parents(output)
    source = click.get_current_context().get_parameter_source("amqp_url")
    if scenario is not None and source is ParameterSource.ENVIRONMENT:
        amqp_url = None  # the variable names a broker for taps; a scenario needs none
    if (scenario is None) == (amqp_url is None):
        raise click.UsageError("give either a SCENARIO file or --from-amqp URL")
    if scenario is not None:
        if duration is not None:
            raise click.UsageError("--duration is for --from-amqp; use --from/--to")
        exit_with(_record_scenario(Path(scenario), Path(output), from_s or 0.0,
                                   60.0 if to_s is None else to_s, chosen, dtype or "float32",
                                   quiet))
    if from_s is not None or to_s is not None:
        raise click.UsageError("--from/--to are for a SCENARIO; a tap records --duration")
    assert amqp_url is not None
    from fibersim.dialects import load_dialect, open_broker

    chosen_dialect = load_dialect(dialect)  # an unknown one is exit 2 before anything starts
    broker = BrokerSettings(amqp_url, exchange, dialect, ca_file, insecure,
                            connect_timeout_s=connect_timeout, shutdown_timeout_s=shutdown_timeout)
    transport = open_broker(broker, dialect=chosen_dialect)
    exit_with(run_until_signal(_tap(transport, chosen_dialect, fiber_id, Path(output),
                                    60.0 if duration is None else duration, chosen, dtype,
                                    quiet)))


def _record_scenario(scenario_path: Path, output: Path, from_s: float, to_s: float,
                     compression: Compression, dtype: SampleDtype, quiet: bool) -> int:
    from fibersim.recording.offline import record_fiber
    from fibersim.scenario import load_scenario

    if to_s <= from_s:
        raise click.BadParameter(f"must be after --from ({from_s:g} s)", param_hint="--to")
    scenario = load_scenario(scenario_path)
    config = scenario.fiber_config()
    wall_start = time.monotonic()
    done = [0, 1]

    def on_block(rows: int, total: int) -> None:
        done[:] = [rows, total]
        progress.tick()

    progress = ProgressLine(lambda: _offline_progress(done[0], done[1], config.prr, wall_start),
                            enabled=not quiet)
    click.echo(f"recording {scenario_path.name}: {config.number_of_channels} channels at "
               f"{config.prr:g} Hz, {from_s:g}-{to_s:g} s, {dtype} to {output}", err=True)
    info = record_fiber(config, scenario.fiber.signals, scenario.run.seed, output,
                        start_time_ns=scenario.run.start_time_ns,
                        from_s=from_s, to_s=to_s, dtype=dtype, compression=compression,
                        on_block=on_block)
    progress.done()
    elapsed = max(1e-9, time.monotonic() - wall_start)
    click.echo(f"summary: wrote {output}: {info.n_rows} samples x {info.n_channels} channels"
               f" ({info.duration_s:g} s at {info.prr:g} Hz, dx {info.dx:g} m), {dtype},"
               f" {_size(output)}, in {elapsed:.2f} s = {info.duration_s / elapsed:.1f}x real"
               " time", err=True)
    return 0


def _offline_progress(rows: int, total: int, prr: float, wall_start: float) -> str:
    elapsed = max(1e-9, time.monotonic() - wall_start)
    return (f"t={rows / prr:8.1f} s of {total / prr:.1f} s  {100 * rows / total:5.1f}%  "
            f"x{rows / prr / elapsed:6.1f} real time")


async def _tap(transport: Transport, dialect: Dialect, fiber_id: str, output: Path,
               duration: float,
               compression: Compression, dtype: SampleDtype | None, quiet: bool) -> int:
    from fibersim.recording.tap import Tap

    await transport.connect()  # UnreachableError (exit 3) if the broker is not there
    tap = Tap(transport, fiber_id, output, duration_s=duration,
              dtype=dtype, compression=compression, dialect=dialect)
    wall_start = time.monotonic()
    try:
        async with live_progress(tap.progress_text, enabled=not quiet):
            await tap.start()
            click.echo(f"recording {fiber_id} from {transport.description} to {output}, "
                       f"{duration:g} s of stream time", err=True)
            await tap.done.wait()
    finally:
        await asyncio.shield(transport.close())
        tap.close()
        click.echo(tap.summary_text(time.monotonic() - wall_start), err=True)
    return 0


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"
