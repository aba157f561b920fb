"""Where a command serves something besides its main work: ``MetricsAddress`` for
``--metrics-port`` (a stream plan carries it into every worker process)."""

from __future__ import annotations

from typing import NamedTuple


class MetricsAddress(NamedTuple):
    """Where ``--metrics-port`` listens: all interfaces unless a host is given."""

    host: str
    port: int

    def shifted(self, offset: int) -> MetricsAddress:
        """The same host, ``offset`` ports further (worker k of ``stream --workers``)."""
        return MetricsAddress(self.host, self.port + offset)
