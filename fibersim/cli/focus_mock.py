"""``fibersim focus-mock``: serve the mock Focus Server until Ctrl-C."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click
from pydantic import ValidationError

from fibersim.cli.lifecycle import exit_with, metrics_served, run_until_signal
from fibersim.cli.options import (
    DURATION,
    MetricsAddress,
    amqp_url_option,
    broker_timeout_options,
    dialect_option,
    exchange_option,
    metrics_port_option,
    tls_options,
)
from fibersim.errors import UnreachableError


@click.command()
@amqp_url_option
@exchange_option
@dialect_option
@click.option("--fiber-id", default="fiber-0", show_default=True,
              help="Fiber to consume: binds das.<fiber-id>.* in the fibersim dialect, the"
              " dialect's binding keys in another.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8500, show_default=True,
              help="TCP port; 0 lets the OS choose.")
@click.option("--prefix", default="/focus-server", show_default=True,
              help="Path prefix the API is also served under ('' for none).")
@click.option("--behaviour", type=click.Choice(["incident", "fixed"]), default="incident",
              show_default=True,
              help="incident: the real server, bare 503s included; fixed: structured errors.")
@click.option("--reconfigure-policy", type=click.Choice(["legacy", "adaptive"]),
              default="legacy", show_default=True,
              help="Running jobs on a metadata change: legacy keeps the stale prr (the real"
                   " bug), adaptive rebuilds them.")
@click.option("--store", default=":memory:", show_default=True, metavar="PATH|:memory:",
              help="SQLite file of the recordings index.")
@click.option("--metadata-timeout", type=DURATION, default="10s", show_default=True,
              help="Wall time without fiber metadata after which the fiber counts as lost.")
@click.option("--control/--no-control", default=False, show_default=True,
              help="Serve the mock-only /_mock routes (status, restart, store down/up)."
                   " Off by default: they let any caller restart the mock.")
@metrics_port_option
@click.option("--control-token", envvar="FIBERSIM_CONTROL_TOKEN", default=None, metavar="T",
              help="Require header X-Control-Token: T on /_mock routes; implies --control"
                   " (also FIBERSIM_CONTROL_TOKEN; never printed).")
@tls_options
@broker_timeout_options
def focus_mock(amqp_url: str | None, exchange: str | None, dialect: str | None, fiber_id: str,
               host: str, port: int, prefix: str, behaviour: str, reconfigure_policy: str,
               store: str, metadata_timeout: float, control: bool,
               metrics_port: MetricsAddress | None, control_token: str | None,
               ca_file: str | None, insecure: bool, connect_timeout: float,
               shutdown_timeout: float) -> None:
    """Serve a mock Focus Server that consumes a simulated fiber from RabbitMQ.

    It answers the real server's API (GET /live_metadata, POST /configure, ...) at / and
    under --prefix, from the fiber metadata and data it consumes: "waiting for fiber" until
    metadata arrives, ready with prr > 0, and back to waiting on a disconnect or after
    --metadata-timeout of silence. Logs use the real server's format.

    Without --amqp-url it consumes an embedded in-memory broker that no other process can
    publish to, so it stays "waiting for fiber": only useful to explore the API. Run
    `fibersim stream` against the same broker to feed it.

    \b
    Examples:
      fibersim focus-mock --amqp-url amqp://guest:guest@127.0.0.1/ --control
      fibersim stream --amqp-url amqp://guest:guest@127.0.0.1/ --duration 10m
      curl http://127.0.0.1:8500/focus-server/live_metadata
      curl http://127.0.0.1:8500/focus-server/_mock/status
      fibersim focus-mock --behaviour fixed --reconfigure-policy adaptive --store index.db
      fibersim focus-mock --amqp-url amqp://guest:guest@127.0.0.1/ --dialect tagged
      fibersim focus-mock --amqp-url amqp://guest:guest@127.0.0.1/ --metrics-port 9109
    """
    from fibersim.dialects import DEFAULT_DIALECT, load_dialect
    from fibersim.focus import FocusSettings

    load_dialect(dialect)  # an unknown dialect is exit 2 before anything starts
    try:
        settings = FocusSettings(
            behaviour=behaviour, reconfigure_policy=reconfigure_policy,
            fiber_id=fiber_id, dialect=dialect or DEFAULT_DIALECT, prefix=prefix.rstrip("/"),
            store=store,
            metadata_timeout_s=max(metadata_timeout, 0.001),
            control_enabled=control or control_token is not None,
            control_token=control_token)
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise click.BadParameter(first["msg"], param_hint=option) from None
    transport = TransportSettings(amqp_url, exchange, ca_file, insecure, connect_timeout,
                                  shutdown_timeout)
    with metrics_served(metrics_port):
        exit_with(run_until_signal(_serve(settings, transport, host, port)))


@dataclass(frozen=True)
class TransportSettings:
    """Where the mock consumes from (kept apart from FocusSettings: the mock itself never
    learns broker URLs or credentials)."""

    amqp_url: str | None
    #: None: the dialect's own exchange
    exchange: str | None
    ca_file: str | None
    insecure: bool
    connect_timeout_s: float
    shutdown_timeout_s: float


async def _serve(settings: object, source_settings: TransportSettings, host: str,
                 port: int) -> int:
    from fibersim.dialects import load_dialect, open_dialect_transport
    from fibersim.focus import FocusSettings, serve_focus_mock
    from fibersim.focus.logs import configure_logging

    assert isinstance(settings, FocusSettings)
    configure_logging()
    dialect = load_dialect(settings.dialect)
    amqp_url = source_settings.amqp_url
    transport = open_dialect_transport(dialect, amqp_url, exchange=source_settings.exchange,
                                       ca_file=source_settings.ca_file,
                                       insecure=source_settings.insecure,
                                       connect_timeout_s=source_settings.connect_timeout_s,
                                       shutdown_timeout_s=source_settings.shutdown_timeout_s)
    await transport.connect()  # UnreachableError (exit 3) if the broker is not there
    source = (transport.description if amqp_url
              else "the embedded in-memory broker (nothing else can publish to it)")
    try:
        async with serve_focus_mock(settings, transport, host=host, port=port) as url:
            keys = ", ".join(dialect.binding_keys(settings.fiber_id))
            click.echo(f"mock Focus Server ({settings.behaviour.value}) at {url}, consuming "
                       f"the {dialect.name} dialect on {keys} from {source}",
                       err=True)
            await asyncio.Event().wait()
    except OSError as error:
        raise UnreachableError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    finally:
        await asyncio.shield(transport.close())
    return 0
