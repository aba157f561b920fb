"""``fibersim bench``: the issue-6 performance figures, each against a same-run baseline.

Figures run one after another (never in parallel: they would measure each other), each with
its own warm-up and repetitions; see docs/performance.md for what each one measures.
"""

from __future__ import annotations

import importlib

import click

from fibersim.cli.lifecycle import exit_with

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


@click.command()
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the table as JSON to this file.")
@click.option("--quick", is_flag=True,
              help="Short runs (about 3 minutes in all): a smoke test, not the reference figures.")
@click.option("--amqp-url", envvar="FIBERSIM_AMQP_URL", default=DEFAULT_URL, show_default=True,
              metavar="URL", help="RabbitMQ to measure against (also FIBERSIM_AMQP_URL); the bench"
              " uses private, temporary exchanges only.")
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Run only this figure (repeatable): synthesis, end_to_end, many_fibers,"
              " pacing, memory, focus, startup.")
@click.option("--pacing-seconds", type=click.FloatRange(1, 3600), default=None,
              help="Length of the pacing run (default 60 s, --quick 10 s); 600 is the 10-minute"
              " check.")
def bench(json_path: str | None, quick: bool, amqp_url: str, only: tuple[str, ...],
          pacing_seconds: float | None) -> None:
    """Measure throughput, pacing, memory and start-up against baselines of the same run.

    Prints a table (figure, value, baseline, ratio, target, pass/fail). Exit code 0 when every
    row passes, 1 otherwise. Needs a RabbitMQ for end_to_end, many_fibers, pacing and focus.
    """
    from fibersim.bench import FIGURES
    from fibersim.bench.report import BenchSettings, Row, format_table, write_json
    from fibersim.transport import BrokerSettings

    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        raise click.BadParameter(f"unknown figure {unknown[0]!r}; known: {', '.join(FIGURES)}",
                                 param_hint="--only")
    broker = BrokerSettings(amqp_url)
    settings = BenchSettings(broker, quick=quick, pacing_seconds=pacing_seconds)
    rows: list[Row] = []
    for name, module in FIGURES.items():
        if only and name not in only:
            continue
        click.echo(f"bench: {name} ...", err=True)
        try:
            rows.extend(importlib.import_module(module).run(settings))
        except Exception as error:  # one broken figure must not hide the others
            message = broker.scrubbed(str(error))[:160]
            rows.append(Row(name, "error", None, "", None, "", None, "-", False,
                            f"{type(error).__name__}: {message}"))
    click.echo(format_table(rows))
    if json_path is not None:
        write_json(rows, json_path, settings)
    exit_with(0 if all(row.passed for row in rows) else 1)
