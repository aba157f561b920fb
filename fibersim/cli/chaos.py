"""``fibersim chaos``: a seeded, randomized network fault schedule between fibersim and the
broker, with an independent durable consumer checking that no block is lost silently."""

from __future__ import annotations

import json

import click

from fibersim.cli.lifecycle import exit_with, run_until_signal
from fibersim.cli.options import (
    DURATION,
    broker_timeout_options,
    exchange_option,
    required_amqp_url_option,
    tls_options,
)
from fibersim.errors import InputError
from fibersim.scenario import load_scenario
from fibersim.session.chaos import FAULT_NAMES, ChaosReport, ChaosSettings, run_chaos
from fibersim.transport.settings import BrokerSettings
from fibersim.units import format_ranges


def _fault_names(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in FAULT_NAMES]
    if unknown or not names:
        raise click.BadParameter(f"{', '.join(unknown) or 'none given'}: choose from"
                                 f" {','.join(FAULT_NAMES)}")
    return names


@click.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--faults", default=",".join(FAULT_NAMES), show_default=True,
              callback=_fault_names, metavar="F1,F2",
              help="Faults the schedule draws from (comma-separated).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Seed of the schedule and the signal [default: the scenario's run.seed].")
@click.option("--duration", type=DURATION, default="30s", show_default=True,
              help="Wall time the fiber streams while the schedule plays.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the schedule and the ledger as one JSON document on stdout.")
@required_amqp_url_option
@tls_options
@broker_timeout_options
@exchange_option
def chaos(scenario: str, faults: tuple[str, ...], seed: int | None, duration: float,
          as_json: bool, amqp_url: str | None, ca_file: str | None, insecure: bool,
          connect_timeout: float, shutdown_timeout: float, exchange: str | None) -> None:
    """Stream a scenario's fiber through random network faults; check nothing is lost silently.

    \b
    The publisher reaches the broker through an in-process fault proxy; a schedule of
    faults (latency with jitter, bandwidth, blackhole, reset_peer, slow_close, slicing), drawn
    from --seed alone, is played on it: faults do not overlap, each lasts 0.5-2.5 s, and the
    last second is calm. Same seed, faults and duration: same schedule, printed first.
    Meanwhile a durable stream queue bound to the fiber's data key, read by a client of its
    own connected directly to the broker, records what the broker really stored (the queue
    is deleted at the end). Only the fiber: section of the scenario is used (and run.speed,
    run.seed); its timeline is not run.
    \b
    At the end the stream stops, the publisher closes within --shutdown-timeout, and the
    ledger says per fiber how many blocks were published, confirmed, reported lost,
    reported unroutable, seen by the checker, and silent (neither seen nor reported).
    \b
    Example (about 12 s):
      fibersim chaos scenarios/healthy.yaml --amqp-url amqp://guest:guest@127.0.0.1/ \\
          --faults latency,reset_peer,slicing --seed 7 --duration 10s
    \b
    Exit codes: 0 no block silent, 1 silent blocks (a line names their sequence numbers),
    2 invalid arguments or no --amqp-url, 3 broker unreachable, 130/143 interrupted.
    See docs/reliability.md, "Network faults".
    """
    if not amqp_url:
        raise InputError("chaos needs a real broker: give --amqp-url or FIBERSIM_AMQP_URL"
                         " (the embedded broker has no network to put faults on)",
                         field="--amqp-url")
    loaded = load_scenario(scenario)
    settings = ChaosSettings(
        BrokerSettings(url=amqp_url, exchange=exchange, ca_file=ca_file, insecure=insecure,
                       connect_timeout_s=connect_timeout, shutdown_timeout_s=shutdown_timeout),
        faults, loaded.run.seed if seed is None else seed, duration)
    # with --json the schedule is part of the document instead
    say = (lambda _: None) if as_json else click.echo

    async def main() -> int:
        report = await run_chaos(loaded, settings, say)
        if as_json:
            click.echo(json.dumps(report.as_dict(), indent=2))
        else:
            _print_ledger(report)
        for fiber, ledger in report.ledgers.items():
            if ledger.silent_sequences:
                click.echo(f"fibersim: chaos: {fiber}: {ledger.silent} blocks silently lost"
                           f" (sequence numbers {format_ranges(ledger.silent_sequences)})",
                           err=True)
        return 0 if report.silent == 0 else 1

    exit_with(run_until_signal(main()))


def _print_ledger(report: ChaosReport) -> None:
    click.echo(f"{'fiber':<20} {'published':>9} {'confirmed':>9} {'lost':>6} {'unroutable':>10}"
               f" {'seen':>6} {'silent':>6}")
    for fiber, ledger in report.ledgers.items():
        click.echo(f"{fiber:<20} {ledger.published:>9} {ledger.confirmed:>9}"
                   f" {ledger.reported_lost:>6} {ledger.reported_unroutable:>10}"
                   f" {ledger.seen:>6} {ledger.silent:>6}")
    stats = report.publisher
    click.echo(f"publisher: {stats.reconnects} reconnects; {stats.summary()}")
    click.echo("no block lost silently" if report.silent == 0
               else f"{report.silent} blocks lost silently")
