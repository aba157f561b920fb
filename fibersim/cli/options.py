"""Option types and options shared by several commands."""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable
from typing import Any

import click

from fibersim.units import parse_duration, parse_speed


class DurationType(click.ParamType[float, Any]):
    """``30s``, ``250ms``, ``2m``, ``1.5h`` or seconds, converted to float seconds."""

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


DURATION = DurationType()
SPEED = SpeedType()
START_TIME = StartTimeType()


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


def amqp_url_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--amqp-url`` (or ``FIBERSIM_AMQP_URL``); absent means the embedded in-memory broker."""
    return click.option(
        "--amqp-url",
        envvar="FIBERSIM_AMQP_URL",
        default=None,
        metavar="URL",
        callback=checked_amqp_url,
        help="RabbitMQ URL, e.g. amqp://user:pass@host:5672/vhost (also FIBERSIM_AMQP_URL)."
        " amqps:// verifies TLS. Without it: the embedded in-memory broker."
        " The password is never printed.",
    )(func)


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
