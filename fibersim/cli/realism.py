"""``fibersim realism``: a real recording and a simulated one, statistic by statistic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from fibersim.cli.options import DURATION

if TYPE_CHECKING:
    from fibersim.signals import Synthesizer
    from fibersim.signals.realism import Recording, Row


def simulated_recording(source: Path | None, duration_s: float) -> Recording:
    """``duration_s`` of a scenario's fiber (timeline source events applied), a recording
    file's first patch, or (``None``) the default fiber and mix."""
    from fibersim.cli.plot import scenario_synthesizer
    from fibersim.models import FiberConfig
    from fibersim.signals import SynthesisContext, build_synthesizer
    from fibersim.signals.realism import load

    if source is not None and source.suffix.lower() not in (".yaml", ".yml"):
        return load(str(source))
    if source is None:
        config = FiberConfig()
        synthesizer = build_synthesizer(None, SynthesisContext.of_fiber(config, 0))
        name = "default mix"
    else:
        from fibersim.scenario import load_scenario

        synthesizer = scenario_synthesizer(load_scenario(source))
        name = str(source)
    return rendered(synthesizer, duration_s, name)


#: Most channels of a simulated fiber that are measured (a contiguous middle stretch), and
#: most samples rendered in all: bounds the memory of a long comparison of a long fiber.
MAX_CHANNELS = 512
MAX_VALUES = 40_000_000


def rendered(synthesizer: Synthesizer, duration_s: float, name: str) -> Recording:
    """Up to ``duration_s`` of the synthesizer's output from t = 0, rendered a second at a
    time, keeping a middle stretch of at most ``MAX_CHANNELS`` channels."""
    from fibersim.signals.realism import Recording

    context = synthesizer.context
    keep = min(context.n_channels, MAX_CHANNELS)
    first = (context.n_channels - keep) // 2
    total = min(round(duration_s * context.prr), MAX_VALUES // keep)
    step = max(1, round(context.prr))
    parts = [synthesizer.render_at(start, min(step, total - start))[:, first:first + keep]
             for start in range(0, total, step)]
    return Recording(np.concatenate(parts), context.prr, context.dx,
                     context.gauge_length_meters, name)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def format_table(rows: list[Row]) -> str:
    """The console table: statistic, real, simulated, reference spread, verdict."""
    header = ("statistic", "real", "simulated", "reference spread +25%", "verdict")
    lines = [header]
    for row in rows:
        bounds = "-" if row.bounds is None else (
            f"<= {_number(row.bounds[1])}" if row.statistic.upper_only
            else f"{_number(row.bounds[0])} .. {_number(row.bounds[1])}")
        lines.append((row.statistic.key, _number(row.real), _number(row.simulated), bounds,
                      row.verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     for line in lines)


def write_png(rows: list[Row], path: Path, title: str) -> None:
    """One panel per statistic: the widened reference spread as a band, real and simulated
    values as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.0 * len(rows) + 1))
    for ax, row in zip(axes, rows, strict=True):
        values = [v for v in (row.real, row.simulated) if v is not None]
        if row.bounds is not None:
            ax.axvspan(row.bounds[0], row.bounds[1], color="0.85")
            values.extend(row.bounds)
        if row.real is not None:
            ax.plot(row.real, 0, "o", color="tab:blue", label="real")
        if row.simulated is not None:
            ax.plot(row.simulated, 0, "x", color="tab:red", ms=10, mew=2, label="simulated")
        if values:
            lo, hi = min(values), max(values)
            pad = 0.1 * (hi - lo or abs(hi) or 1.0)
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_yticks([])
        ax.set_ylabel(row.statistic.key, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_title(f"{row.statistic.title}: {row.verdict}", fontsize=8, loc="left")
    axes[0].legend(loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@click.command()
@click.argument("real_file", type=click.Path(exists=True, path_type=Path))
@click.argument("simulated", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--duration", "duration_s", type=DURATION, default="60s", show_default=True,
              help="Simulated time rendered from a scenario (from t = 0; at most "
                   f"{MAX_VALUES // 1_000_000}M samples of at most {MAX_CHANNELS} channels).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rows as JSON to this file.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the comparison as a PNG.")
def realism(real_file: Path, simulated: Path | None, duration_s: float,
            json_path: Path | None, png_path: Path | None) -> None:
    """Compare REAL_FILE (any file DASCore reads) with SIMULATED: a scenario (.yaml, its
    signals and timeline source events rendered for --duration), a recording file, or, when
    omitted, the default fiber and mix.

    Both are measured at the lower of their sample rates (the faster is resampled with an
    anti-alias filter). Statistics: repetition of the noise, noise correlation of adjacent
    channels and its length in gauge lengths, level along the fibre (p90/p10 of the
    high-band rms), kurtosis, PSD slopes, faded fraction and common-mode share (see
    docs/signals.md). Each simulated value is judged against the spread of four real
    instruments' reference files widened by 25 % of its width on each side: inside, outside
    or skipped (not measurable on this record). Exit code 0 when nothing is outside, 1
    otherwise.

    \b
    Examples:
      fibersim realism ../shared/reference-das/prodml_2.0.h5 scenarios/healthy.yaml
      fibersim realism site.h5 sim.h5 --json realism.json --png realism.png
    """
    from fibersim.signals.realism import compare, load

    real = load(str(real_file))
    sim = simulated_recording(simulated, duration_s)
    rate, rows = compare(real, sim)
    click.echo(f"{real_file} vs {sim.name}, compared at {rate:g} Hz")
    click.echo(format_table(rows))
    if json_path is not None:
        json_path.write_text(json.dumps({
            "real": str(real_file), "simulated": sim.name, "rate_hz": rate,
            "rows": [{"statistic": r.statistic.key, "description": r.statistic.title,
                      "real": r.real, "simulated": r.simulated,
                      "spread": None if r.bounds is None else list(r.bounds),
                      "verdict": r.verdict} for r in rows]}, indent=2) + "\n")
    if png_path is not None:
        write_png(rows, png_path, f"{real_file.name} vs {sim.name} at {rate:g} Hz")
    if any(row.verdict == "outside" for row in rows):
        raise SystemExit(1)
