"""Option types and options shared by several commands."""

from __future__ import annotations

import datetime
import decimal
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fibersim.session.addresses import MetricsAddress as MetricsAddress  # re-exported
from fibersim.transport.settings import AMQP_URL_ENV
from fibersim.units import parse_duration, parse_speed


class DurationType(click.ParamType[float, Any]):
    """``30s``, ``250ms``, ``2m``, ``1.5h``, ``1d``, ``1h30m`` or seconds, as float seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class SpeedType(click.ParamType[float, Any]):
    """A positive speed factor or ``max``, converted to float (``inf`` for max)."""

    name = "speed"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return parse_speed(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class StartTimeType(click.ParamType[int, Any]):
    """An absolute start time, converted to integer nanoseconds since the Unix epoch:
    ISO 8601 (``2025-01-01T00:00:00Z``; no zone means UTC) or seconds since the epoch."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            if re.fullmatch(r"\d+(\.\d+)?", text):  # exact: no float rounding
                return int(decimal.Decimal(text) * 1_000_000_000)
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{text!r} is not a time (e.g. 2025-01-01T00:00:00Z or 1735689600)",
                      param, ctx)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class OutputFileType(click.ParamType[str, Any]):
    """A file fibersim will write: checked when the command line is parsed, so a run never
    does its work and then fails to save it.

    Missing parent folders are fine (``make_parents`` creates them just before the run); a
    path that is a folder, or below a file, or in a folder nobody may write to is refused with
    exit 2. The value stays a ``str``.
    """

    name = "file"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        path = Path(value)
        if path.is_dir():
            self.fail(f"{value}: is a folder, not a file", param, ctx)
        ancestor = path.absolute().parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            self.fail(f"{value}: {ancestor} is not a folder", param, ctx)
        if not os.access(ancestor, os.W_OK | os.X_OK):
            self.fail(f"{value}: cannot write in {ancestor}", param, ctx)
        return str(value)


def make_parents(*paths: str | Path | None) -> None:
    """Create the missing parent folders of output files (the ``OUTPUT_FILE`` options)."""
    for path in paths:
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise click.UsageError(f"{path}: cannot create its folder: {error.strerror}"
                                       ) from None


DURATION = DurationType()
SPEED = SpeedType()
START_TIME = StartTimeType()
OUTPUT_FILE = OutputFileType()


def checked_amqp_url(ctx: click.Context, param: click.Parameter, value: str | None
                      ) -> str | None:
    """Refuse a URL that cannot name a broker before anything starts (exit 2)."""
    from fibersim.errors import InputError
    from fibersim.transport.base import check_amqp_url

    if value is None:
        return None
    try:
        return check_amqp_url(value)
    except InputError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _amqp_url(when_absent: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--amqp-url`` (or ``FIBERSIM_AMQP_URL``), its help saying what the command does
    without it (commands differ there; the rest of the option is the same everywhere)."""
    return click.option(
        "--amqp-url",
        envvar=AMQP_URL_ENV,
        default=None,
        metavar="URL",
        callback=checked_amqp_url,
        help="RabbitMQ URL, e.g. amqp://user:pass@host:5672/vhost (also FIBERSIM_AMQP_URL)."
        f" amqps:// verifies TLS. {when_absent} The password is never printed.",
    )


def amqp_url_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--amqp-url``; absent means the embedded in-memory broker."""
    return _amqp_url("Without it: the embedded in-memory broker.")(func)


def required_amqp_url_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--amqp-url`` of a command that needs a real broker; the command refuses to run
    without one (exit 2) rather than fall back to the embedded broker."""
    return _amqp_url("Required: this command needs a real broker (the embedded in-memory"
                     " one has no network link).")(func)


class MetricsAddressType(click.ParamType[MetricsAddress, Any]):
    """``PORT`` (all interfaces, as Prometheus exporters do) or ``HOST:PORT``."""

    name = "[host:]port"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> MetricsAddress:
        if isinstance(value, MetricsAddress):
            return value
        host, _, port = str(value).rpartition(":")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            self.fail(f"{value!r} is not PORT or HOST:PORT (port 0-65535)", param, ctx)
        return MetricsAddress(host or "0.0.0.0", int(port))


def metrics_port_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--metrics-port``: serve Prometheus metrics while the command runs (docs/metrics.md)."""
    return click.option(
        "--metrics-port", type=MetricsAddressType(), default=None, metavar="[HOST:]PORT",
        help="Serve Prometheus metrics (fibersim_* names, docs/metrics.md) at /metrics while"
        " the command runs: PORT on every interface, or HOST:PORT (127.0.0.1:9108 for this"
        " machine only); port 0 lets the OS choose.")(func)


def is_quiet() -> bool:
    """Whether the global ``fibersim -q`` was given (commands print their summary only)."""
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.find_root().params.get("quiet"))


def dialect_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--dialect`` (or ``FIBERSIM_DIALECT``): the wire format spoken on the broker."""
    return click.option(
        "--dialect",
        envvar="FIBERSIM_DIALECT",
        default=None,
        metavar="NAME",
        help="Wire dialect spoken on the broker: an installed name (see `fibersim dialects`)"
        " or module:attribute (also FIBERSIM_DIALECT) [default: fibersim].",
    )(func)


def exchange_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--exchange``, defaulting to the dialect's own exchange."""
    return click.option(
        "--exchange",
        default=None,
        metavar="NAME",
        help="Exchange name [default: the dialect's: fibersim for the fibersim dialect,"
        " e.g. prisma for a real server's].",
    )(func)


def broker_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Everything that describes the broker of a command that streams to or reads from it:
    ``--amqp-url``, ``--ca-file``/``--insecure``, the connect and shutdown timeouts,
    ``--exchange`` and ``--dialect`` (one ``BrokerSettings``), in this order in --help."""
    return amqp_url_option(tls_options(broker_timeout_options(exchange_option(
        dialect_option(func)))))


def broker_timeout_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--connect-timeout`` and ``--shutdown-timeout`` for commands that talk to RabbitMQ."""
    func = click.option(
        "--shutdown-timeout", type=DURATION, default="10s", show_default=True,
        help="At the end, or on Ctrl-C/SIGTERM, longest wait for the broker's outstanding"
        " confirms (also while it blocks publishers); blocks still unconfirmed are then"
        " reported lost by sequence number.")(func)
    return click.option(
        "--connect-timeout", type=DURATION, default="10s", show_default=True,
        help="Longest wait for the broker to answer when connecting (a host that accepts the"
        " TCP connection but never speaks AMQP included); then one line and exit 3.")(func)


def tls_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--ca-file`` and ``--insecure`` for amqps:// and https:// endpoints."""
    func = click.option("--insecure", is_flag=True,
                        help="Skip TLS certificate verification (like curl -k).")(func)
    return click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
                        help="CA bundle to verify amqps:// and https:// servers.")(func)
