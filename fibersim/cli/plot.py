"""``fibersim plot``: render a scenario's signal as a waterfall and an f-k spectrum."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fibersim.cli.options import DURATION, OUTPUT_FILE, make_parents
from fibersim.signals import PlacedSpec, SignalSpec, source_labels

if TYPE_CHECKING:
    from fibersim.scenario.models import Scenario
    from fibersim.signals import Synthesizer


def scenario_synthesizer(scenario: Scenario) -> Synthesizer:
    """The fiber's synthesizer with the timeline's ``start_source``/``stop_source`` events
    applied at their times, so a picture shows what a run of the scenario streams.

    Times follow the timeline's anchors; an expectation that must hold for a while
    (``holds_for``) holds the following steps back by that long, as in a run where it is met
    at once.
    """
    from fibersim.scenario.models import ExpectStep, StartSource, StopSource
    from fibersim.scenario.timeline import resolve_timeline
    from fibersim.signals import DEFAULT_SIGNALS, SynthesisContext, build_synthesizer

    base = DEFAULT_SIGNALS if scenario.fiber.signals is None else scenario.fiber.signals
    windows = [_Window(label, spec) for label, spec in zip(source_labels(base), base,
                                                          strict=True)]
    done: dict[str, float] = {}
    clock = 0.0
    for entry in resolve_timeline(scenario):
        step, anchor = entry.step, entry.anchor
        if anchor.label is not None:
            clock = done.get(anchor.label, clock) + anchor.offset_s
        elif not anchor.previous:
            clock = max(clock, anchor.offset_s)
        if isinstance(step, StartSource):
            windows.append(_Window(step.source, step.signal, clock))
        elif isinstance(step, StopSource):
            for window in windows:
                if window.label == step.source and window.end is None:
                    window.end = clock
        elif isinstance(step, ExpectStep) and step.holds_for:
            clock += step.holds_for
        done[entry.label] = clock
    context = SynthesisContext.of_fiber(scenario.fiber_config(), scenario.run.seed)
    return build_synthesizer([window.placed() for window in windows], context)


@dataclass
class _Window:
    """A source and the simulated times the timeline runs it (None: from/to the ends)."""

    label: str
    spec: SignalSpec
    start: float | None = None
    end: float | None = None

    def placed(self) -> SignalSpec:
        """The spec confined to the window as well as to its own ``start``/``end`` (a
        recording has no window of its own: it is confined to the timeline's)."""
        if not isinstance(self.spec, PlacedSpec):
            return self.spec
        update: dict[str, float] = {}
        if self.start is not None:
            update["start"] = max(self.start, self.spec.start or self.start)
        if self.end is not None:
            update["end"] = min(self.end, self.end if self.spec.end is None else self.spec.end)
        return self.spec.model_copy(update=update)


@click.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "from_s", type=DURATION, default="0s", show_default=True,
              help="Start of the window, in simulated time.")
@click.option("--to", "to_s", type=DURATION, default="30s", show_default=True,
              help="End of the window, in simulated time.")
@click.option("-o", "--output", type=OUTPUT_FILE, default="waterfall.png", show_default=True,
              help="PNG file to write (missing folders are created).")
def plot(scenario: Path, from_s: float, to_s: float, output: str) -> None:
    """Render the fiber signal of SCENARIO (its signals, seed and the timeline's
    start_source/stop_source events; no broker needed).

    Left: the waterfall (time down, channel across, colour limits at the 99th percentile of
    |strain rate|). Right: the f-k power spectrum in DASCore's sign convention (forward
    transforms over time and distance, as ``patch.dft``: a wave moving towards higher
    channels lies at k < 0 for f > 0), with dashed lines at +-10 and +-30 m/s, where traffic
    should lie.

    \b
    Example:
      fibersim plot scenarios/healthy.yaml --from 0s --to 30s -o waterfall.png
    """
    from fibersim.scenario import load_scenario
    from fibersim.signals.plot import render_plot

    if to_s <= from_s:
        raise click.BadParameter(f"must be after --from ({from_s:g} s)", param_hint="--to")
    loaded = load_scenario(scenario)
    make_parents(output)
    synthesizer = scenario_synthesizer(loaded)
    context = synthesizer.context
    render_plot(synthesizer, from_s, to_s, Path(output))
    click.echo(f"wrote {output}: {loaded.name}, {from_s:g}-{to_s:g} s, "
               f"{context.n_channels} channels at {context.prr:g} Hz", err=True)
