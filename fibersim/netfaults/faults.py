"""The faults a ``FaultProxy`` can apply, in the style of Toxiproxy's toxics.

Each is a small frozen value; ``describe()`` is its one-line text for schedules and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: client -> target, and target -> client
Direction = Literal["upstream", "downstream"]
DIRECTIONS: tuple[Direction, Direction] = ("upstream", "downstream")


def _seconds(value: float) -> str:
    return f"{value * 1000:g}ms" if value < 1 else f"{value:g}s"


@dataclass(frozen=True)
class Latency:
    """Every chunk is forwarded ``delay_s`` (+- up to ``jitter_s``, uniform) after it arrived."""

    delay_s: float
    jitter_s: float = 0.0

    def describe(self) -> str:
        jitter = f" +-{_seconds(self.jitter_s)}" if self.jitter_s else ""
        return f"latency {_seconds(self.delay_s)}{jitter}"


@dataclass(frozen=True)
class Bandwidth:
    """At most ``bytes_per_s`` forwarded per second."""

    bytes_per_s: int

    def describe(self) -> str:
        return f"bandwidth {self.bytes_per_s} B/s"


@dataclass(frozen=True)
class Blackhole:
    """Data is read and dropped: the connection stays open, nothing arrives. When the last
    blackhole is cleared, every connection that lost bytes is reset (see
    ``FaultProxy.clear``): real TCP never resumes a stream with a hole in it."""

    def describe(self) -> str:
        return "blackhole"


@dataclass(frozen=True)
class ResetPeer:
    """Every connection is reset (TCP RST) ``timeout_s`` after the fault is switched on or the
    connection is accepted, whichever is later; both peers see "connection reset by peer"."""

    timeout_s: float = 0.0

    def describe(self) -> str:
        return f"reset_peer after {_seconds(self.timeout_s)}" if self.timeout_s else "reset_peer"


@dataclass(frozen=True)
class SlowClose:
    """When a peer closes, the close reaches the other side ``delay_s`` later."""

    delay_s: float

    def describe(self) -> str:
        return f"slow_close {_seconds(self.delay_s)}"


@dataclass(frozen=True)
class Slicing:
    """Data is forwarded in pieces of ``size_bytes`` with ``delay_s`` between them."""

    size_bytes: int
    delay_s: float = 0.0

    def describe(self) -> str:
        every = f" every {_seconds(self.delay_s)}" if self.delay_s else ""
        return f"slicing {self.size_bytes} B{every}"


Fault = Latency | Bandwidth | Blackhole | ResetPeer | SlowClose | Slicing
#: name (as in scenario files and ``fibersim chaos --faults``) -> fault type
FAULT_TYPES: dict[str, type[Fault]] = {
    "latency": Latency, "bandwidth": Bandwidth, "blackhole": Blackhole,
    "reset_peer": ResetPeer, "slow_close": SlowClose, "slicing": Slicing}
