"""``fibersim calibrate``: fit a background preset to a real recording."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("real_file", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default="site.yaml", show_default=True, help="Site file to write.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the renders the fit compares against.")
def calibrate(real_file: Path, output: Path, seed: int) -> None:
    """Fit a background (noise floor and colour, correlation between channels, level along
    the fibre, faded channels, common mode) to REAL_FILE (any file DASCore reads) and write
    it as a site file, usable in a scenario as a preset:

    \b
        fiber:
          prr: ...      # as printed: the file's rate, dx and gauge length
          signals: [{type: preset, path: site.yaml}]

    Prints the real statistics next to those of the calibrated background rendered on the
    file's geometry, with the tolerance each must meet (docs/signals.md, "Calibrating to a
    site"). Exit code 0 when every fitted statistic is within tolerance, 1 otherwise.

    \b
    Example:
      fibersim calibrate ../shared/reference-das/prodml_2.0.h5 -o site.yaml
      fibersim realism ../shared/reference-das/prodml_2.0.h5 my_site_scenario.yaml
    """
    import yaml

    from fibersim.cli.realism import _number
    from fibersim.signals.calibrate import TOLERANCES, site_document, within
    from fibersim.signals.calibrate import calibrate as fit_background
    from fibersim.signals.realism import STATISTICS, load

    fit = fit_background(load(str(real_file)), seed)
    document = site_document(fit, real_file.name)
    output.write_text(
        f"# fibersim calibrate {real_file.name}: a background fitted on {fit.n_channels}"
        f" channels at {fit.rate:g} Hz, dx {fit.dx:g} m, gauge {fit.gauge_m:g} m\n"
        + yaml.safe_dump(document, sort_keys=False))
    click.echo(f"wrote {output}: fiber prr {fit.rate:g}, dx {fit.dx:g}, gauge_length "
               f"{fit.gauge_m:g}")
    rows = [("statistic", "real", "calibrated", "tolerance", "verdict")]
    failed = False
    for statistic in STATISTICS:
        real, sim = fit.real[statistic.key], fit.simulated[statistic.key]
        verdict = within(statistic.key, real, sim)
        failed |= verdict is False
        tolerance = TOLERANCES.get(statistic.key)
        rows.append((statistic.key, _number(real), _number(sim),
                     "not fitted" if tolerance is None else
                     f"+-max({tolerance[0]:g}, {100 * tolerance[1]:g} %)",
                     {None: "-", True: "within", False: "OUTSIDE"}[verdict]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    if failed:
        raise SystemExit(1)
