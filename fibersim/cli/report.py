"""``fibersim report``: render earlier JSON reports as the self-contained HTML page.

One JSON report gives the same page as ``fibersim run --report x.html``; two or more are put
side by side (before/after a fix), with a table of every expectation's verdict and reaction
time in each run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fibersim.cli.options import OUTPUT_FILE, make_parents
from fibersim.errors import InputError

if TYPE_CHECKING:
    from fibersim.reports.html import JsonObject


@click.command()
@click.argument("reports", nargs=-1, required=True, metavar="REPORT.json...",
                type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=OUTPUT_FILE, default="report.html", show_default=True,
              help="HTML file to write (missing folders are created).")
@click.option("--title", "titles", multiple=True, metavar="TEXT",
              help="Column title of each report, in order (default: the file names).")
def report(reports: tuple[str, ...], output: str, titles: tuple[str, ...]) -> None:
    """Render JSON reports of `fibersim run --report x.json` as one HTML page.

    The page needs no network to open: its charts and style are inline. Several reports are
    shown side by side, with a table comparing each expectation across the runs.

    \b
    Examples:
      fibersim run scenarios/fiber_lost.yaml --report out/report.json
      fibersim report out/report.json -o out/report.html
      fibersim report before.json after.json --title before --title after -o compare.html
    """
    from fibersim.reports.html import write_html_report

    if titles and len(titles) != len(reports):
        raise click.BadParameter(f"give one per report ({len(reports)}), or none",
                                 param_hint="--title")
    documents = [_load(path) for path in reports]
    make_parents(output)
    write_html_report(documents, output, list(titles) or [Path(path).name for path in reports])
    click.echo(f"wrote {output}: {len(documents)} report(s)", err=True)


def _load(path: str) -> JsonObject:
    """A JSON report document; anything else is bad input (exit 2, one line)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read it: {error}", file=path) from None
    except json.JSONDecodeError as error:
        raise InputError(f"not JSON: {error.msg}", file=path, line=error.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("scenarios"), list):
        raise InputError("not a fibersim JSON report (no 'scenarios' list)", file=path)
    return document
