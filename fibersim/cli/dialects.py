"""``fibersim dialects`` and ``fibersim conform``: the installed wire dialects, and checking one."""

from __future__ import annotations

import click

from fibersim.cli.lifecycle import exit_with, run_until_signal
from fibersim.cli.options import dialect_option, tls_options


@click.command()
@click.option("--names", is_flag=True, help="Only the names, one per line (for scripts).")
@click.option("--fiber-id", default="fiber-0", show_default=True,
              help="Fiber the routing keys are shown for.")
def dialects(names: bool, fiber_id: str) -> None:
    """List the installed wire dialects and each one's topology.

    A dialect is the format a Focus Server's interrogator speaks: how every message is encoded
    and where it goes on the broker. Built-ins are `fibersim` (docs/wire-protocol.md) and
    `tagged`; packages add more through the `fibersim.dialects` entry-point group (see
    docs/dialects.md). Any command that talks to a broker takes `--dialect NAME`.

    \b
    Examples:
      fibersim dialects
      fibersim dialects --names
      fibersim conform --dialect tagged --amqp-url amqp://guest:guest@127.0.0.1/
    """
    from fibersim.dialects import DialectError, installed_dialects, load_dialect
    from fibersim.dialects.samples import sample_message
    from fibersim.wire import MessageKind

    for entry in installed_dialects():
        if names:
            click.echo(entry.name)
            continue
        try:
            dialect = load_dialect(entry.name)
        except DialectError as error:  # one broken plug-in must not hide the others
            click.echo(f"{entry.name}: cannot be loaded ({entry.origin}): {error.message}")
            continue
        topology = dialect.topology
        click.echo(f"{entry.name}: {dialect.summary}")
        click.echo(f"  from      {entry.origin} ({entry.target})")
        click.echo(f"  exchange  {topology.exchange} ({topology.exchange_type}"
                   f"{', durable' if topology.durable else ''}), delivery mode"
                   f" {topology.delivery_mode}")
        click.echo(f"  binds     {', '.join(dialect.binding_keys(fiber_id))}")
        for kind in MessageKind:
            envelope = dialect.encode(sample_message(kind, fiber_id))
            headers = ", ".join(envelope.headers) or "no headers"
            click.echo(f"  {kind.value:<9} key {dialect.routing_key(kind, fiber_id)}, "
                       f"{envelope.content_type}, {headers}")
        for field, consequence in dialect.limits.items():
            click.echo(f"  limit     {field}: {consequence}")


@click.command()
@dialect_option
@click.option("--amqp-url", envvar="FIBERSIM_AMQP_URL", default=None, metavar="URL",
              help="RabbitMQ to check over (also FIBERSIM_AMQP_URL); required: the point is"
              " the real broker. The password is never printed.")
@tls_options
@click.option("--exchange", default=None, metavar="NAME",
              help="Exchange to use [default: a private, auto-deleted one, so nothing live is"
              " fed; name the dialect's own only on a broker nobody consumes from].")
def conform(dialect: str | None, amqp_url: str | None, ca_file: str | None, insecure: bool,
            exchange: str | None) -> None:
    """Check a dialect end to end over a real RabbitMQ, and print a checklist.

    Every message kind, every fault event (gap, duplicate, reorder, corrupt messages, zero
    PRR), a reconfiguration, a disconnect and a reconnect are encoded with the dialect,
    published on its routing keys, consumed through its binding keys and decoded. Each line
    says ok (lossless, or malformed and rejected), limited (only fields the dialect declares
    it cannot carry differ: the line says what a consumer cannot see) or FAIL.

    \b
    Exit codes: 0 no failure, 1 a check failed, 2 unknown dialect or no broker given,
    3 broker unreachable.
    \b
    Examples:
      fibersim conform --dialect tagged --amqp-url amqp://guest:guest@127.0.0.1/
      FIBERSIM_AMQP_URL=amqp://guest:guest@127.0.0.1/ fibersim conform --dialect my_pkg:Dialect
    """
    from fibersim.dialects import load_dialect

    chosen = load_dialect(dialect)
    if not amqp_url:
        raise click.UsageError("conform needs a RabbitMQ: --amqp-url URL or FIBERSIM_AMQP_URL")
    exit_with(run_until_signal(_conform(chosen, amqp_url, exchange, ca_file, insecure)))


async def _conform(dialect: object, amqp_url: str, exchange: str | None, ca_file: str | None,
                   insecure: bool) -> int:
    from fibersim.dialects import Dialect
    from fibersim.dialects.conform import run_conformance

    assert isinstance(dialect, Dialect)
    report = await run_conformance(dialect, amqp_url, exchange=exchange, ca_file=ca_file,
                                   insecure=insecure)
    for line in report.lines():
        click.echo(line)
    return 0 if report.passed else 1
