"""Option types and options shared by several commands."""

from __future__ import annotations

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


DURATION = DurationType()
SPEED = SpeedType()


def amqp_url_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--amqp-url`` (or ``FIBERSIM_AMQP_URL``); absent means the embedded in-memory broker."""
    return click.option(
        "--amqp-url",
        envvar="FIBERSIM_AMQP_URL",
        default=None,
        metavar="URL",
        help="RabbitMQ URL, e.g. amqp://user:pass@host:5672/vhost (also FIBERSIM_AMQP_URL)."
        " amqps:// verifies TLS. Without it: the embedded in-memory broker."
        " The password is never printed.",
    )(func)


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
