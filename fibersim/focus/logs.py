"""Log lines in the real Focus Server's format, so log-based tooling works on the mock too.

Server lines look like ``2025-11-08T13:18:33+0000 ERROR pz.focus_server <message>``; access
lines like uvicorn's, ``INFO: "POST /configure HTTP/1.1" 503 Service Unavailable``. Records go
through python logging (logger ``pz.focus_server``), so tests can capture them with caplog and
an embedding program decides where they end up; only the CLI installs a handler.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

#: The real server's logger name; the incident's log lines carry it.
log = logging.getLogger("pz.focus_server")
#: Access lines ("POST /configure HTTP/1.1" 503 ...), a child so one level setting covers both.
access_log = logging.getLogger("pz.focus_server.access")


class FocusServerFormatter(logging.Formatter):
    """Server records as ``<ISO time> <LEVEL> pz.focus_server <msg>``, access records as
    ``<LEVEL>: <msg>`` (what uvicorn prints), both in UTC."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%S+0000")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == access_log.name:
            return f"{record.levelname}: {record.getMessage()}"
        return (f"{self.formatTime(record, self.datefmt)} {record.levelname} "
                f"{log.name} {record.getMessage()}")


def configure_logging(stream: TextIO = sys.stderr, level: int = logging.INFO) -> None:
    """Send the mock's server and access lines to ``stream`` (used by ``fibersim focus-mock``)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FocusServerFormatter())
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
