"""``BrokerSettings``: the one description of "which broker, how", passed from the command
line (or a test, or the bench) down to whatever opens a transport.

It replaces the per-command bundles of URL, exchange, TLS and confirm window. The URL is the
only place a broker password lives: ``repr`` and ``description`` show it redacted, so a
settings object can be logged or put in an error message as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fibersim.redact import redact_url, scrub, secrets_in

#: The environment variable every command (and the bench and worker processes) reads the
#: broker URL from when ``--amqp-url`` is not given: it keeps the password off command lines.
AMQP_URL_ENV = "FIBERSIM_AMQP_URL"
#: Publishes awaiting a broker confirm at once, per connection.
DEFAULT_CONFIRM_WINDOW = 32


@dataclass(frozen=True)
class BrokerSettings:
    """Where and how to reach RabbitMQ; ``url=None`` means fibersim's in-memory broker."""

    url: str | None = None
    #: None: the dialect's own exchange (``fibersim`` for the fibersim dialect)
    exchange: str | None = None
    #: dialect name as the user gave it; None: the default (``FIBERSIM_DIALECT``, fibersim)
    dialect: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    confirm_window: int = DEFAULT_CONFIRM_WINDOW
    #: seconds to connect (and declare) before the broker counts as unreachable; None: the
    #: transport's default
    connect_timeout_s: float | None = None
    #: seconds a closing transport waits for outstanding confirms; None: the default
    shutdown_timeout_s: float | None = None

    @classmethod
    def from_environment(cls) -> BrokerSettings:
        """Default settings on the broker of ``FIBERSIM_AMQP_URL`` (in-memory if unset)."""
        return cls(url=os.environ.get(AMQP_URL_ENV) or None)

    @property
    def description(self) -> str:
        """The broker as fibersim prints it: the URL without its password."""
        return redact_url(self.url) if self.url else "the in-memory broker"

    def __repr__(self) -> str:
        return (f"BrokerSettings({self.description}, exchange={self.exchange!r}, "
                f"dialect={self.dialect!r}, confirm_window={self.confirm_window})")

    def scrubbed(self, text: str) -> str:
        """``text`` (an exception message, a child's stderr) without the broker password."""
        return scrub(text, secrets_in(self.url))

    def child_environment(self) -> dict[str, str]:
        """Environment entries that hand the URL to a child process (never its argv, which
        ``ps`` shows to every user of the machine)."""
        return {AMQP_URL_ENV: self.url} if self.url else {}
