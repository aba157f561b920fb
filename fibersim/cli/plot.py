"""``fibersim plot``: render a scenario's signal as a waterfall and an f-k spectrum."""

from __future__ import annotations

from pathlib import Path

import click

from fibersim.cli.options import DURATION, OUTPUT_FILE, make_parents


@click.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "from_s", type=DURATION, default="0s", show_default=True,
              help="Start of the window, in simulated time.")
@click.option("--to", "to_s", type=DURATION, default="30s", show_default=True,
              help="End of the window, in simulated time.")
@click.option("-o", "--output", type=OUTPUT_FILE, default="waterfall.png", show_default=True,
              help="PNG file to write (missing folders are created).")
def plot(scenario: Path, from_s: float, to_s: float, output: str) -> None:
    """Render the fiber signal of SCENARIO (its signals and seed, no broker needed).

    Left: the waterfall (time down, channel across, colour limits at the 99th percentile of
    |strain rate|). Right: the f-k power spectrum, with dashed lines at +-10 and +-30 m/s, where
    traffic should lie.

    \b
    Example:
      fibersim plot scenarios/healthy.yaml --from 0s --to 30s -o waterfall.png
    """
    from fibersim.scenario import load_scenario
    from fibersim.signals import SynthesisContext, build_synthesizer
    from fibersim.signals.plot import render_plot

    if to_s <= from_s:
        raise click.BadParameter(f"must be after --from ({from_s:g} s)", param_hint="--to")
    loaded = load_scenario(scenario)
    make_parents(output)
    context = SynthesisContext.of_fiber(loaded.fiber_config(), loaded.run.seed)
    render_plot(build_synthesizer(loaded.fiber.signals, context), from_s, to_s, Path(output))
    click.echo(f"wrote {output}: {loaded.name}, {from_s:g}-{to_s:g} s, "
               f"{context.n_channels} channels at {context.prr:g} Hz", err=True)
