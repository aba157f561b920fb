"""The ``do: network`` step: a Toxiproxy-style fault on one link of the run.

A *link* is a TCP path the run routes through an in-process fault proxy when (and only when)
a step names it: ``broker`` (the publisher's AMQP connection) or ``focus`` (the HTTP clients
and probes to the Focus Server). docs/scenarios.md, "Network faults", has the details.

It extends the step classes of ``models``, which imports it once they exist and puts
``Network`` in its ``Event`` union (the package imports ``models`` first, so importing this
module directly works too).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fibersim.netfaults import (
    Bandwidth,
    Blackhole,
    Direction,
    Fault,
    Latency,
    ResetPeer,
    Slicing,
    SlowClose,
)
from fibersim.scenario.models import Duration, _Event

FaultName = Literal["latency", "bandwidth", "blackhole", "reset_peer", "slow_close", "slicing",
                    "clear"]
#: fault -> (parameters it needs, parameters it may have)
PARAMETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "latency": (frozenset({"latency"}), frozenset({"jitter"})),
    "bandwidth": (frozenset({"rate"}), frozenset()),
    "blackhole": (frozenset(), frozenset()),
    "reset_peer": (frozenset(), frozenset({"timeout"})),
    "slow_close": (frozenset({"delay"}), frozenset()),
    "slicing": (frozenset({"size"}), frozenset({"delay"})),
    "clear": (frozenset(), frozenset()),
}
_ALL_PARAMETERS = ("latency", "jitter", "rate", "timeout", "delay", "size")


class Network(_Event):
    """A network fault on a link, switched on now (``clear``: every fault of the link off)."""

    do: Literal["network"]
    link: Literal["broker", "focus"] = Field(
        description="broker: the publisher's AMQP connection; focus: the HTTP clients and"
                    " probes to the Focus Server.")
    fault: FaultName
    direction: Literal["both", "upstream", "downstream"] = Field(
        "both", description="upstream: toward the broker or server; downstream: back.")
    latency: Duration | None = Field(None, gt=0, le=60, description="latency: added delay.")
    jitter: Duration | None = Field(None, ge=0, le=60,
                                    description="latency: +- this much, uniform, seeded.")
    rate: int | None = Field(None, ge=1, le=10**10, description="bandwidth: bytes per second.")
    timeout: Duration | None = Field(None, ge=0, le=3600,
                                     description="reset_peer: reset connections this much later.")
    delay: Duration | None = Field(None, ge=0, le=60,
                                   description="slow_close: close delay; slicing: between pieces.")
    size: int | None = Field(None, ge=1, le=65536, description="slicing: bytes per piece.")
    probes: bool = Field(
        True, description="focus link: false spares the run's own probes; only the storm and"
                          " backoff clients suffer the fault.")
    duration: Duration | None = Field(
        None, alias="for", gt=0, le=3600,
        description="Wall seconds, then this fault is switched off again.")

    @model_validator(mode="after")
    def _parameters_fit_the_fault(self) -> Network:
        needs, may = PARAMETERS[self.fault]
        given = {name for name in _ALL_PARAMETERS if getattr(self, name) is not None}
        if missing := needs - given:
            raise ValueError(f"{self.fault} needs {', '.join(sorted(missing))}")
        if extra := given - needs - may:
            raise ValueError(f"{', '.join(sorted(extra))} does not apply to {self.fault}")
        if self.fault in ("reset_peer", "clear") and self.direction != "both":
            raise ValueError(f"{self.fault} acts on whole connections: no direction")
        if self.fault == "clear" and self.duration is not None:
            raise ValueError("clear has no 'for'")
        if self.link == "broker" and not self.probes:
            raise ValueError("probes: false applies to the focus link only")
        return self

    def to_fault(self) -> Fault | None:
        """The proxy's fault (None for ``clear``)."""
        match self.fault:
            case "latency":
                assert self.latency is not None
                return Latency(self.latency, self.jitter or 0.0)
            case "bandwidth":
                assert self.rate is not None
                return Bandwidth(self.rate)
            case "blackhole":
                return Blackhole()
            case "reset_peer":
                return ResetPeer(self.timeout or 0.0)
            case "slow_close":
                assert self.delay is not None
                return SlowClose(self.delay)
            case "slicing":
                assert self.size is not None
                return Slicing(self.size, self.delay or 0.0)
        return None

    @property
    def proxy_direction(self) -> Direction | None:
        """The direction as the proxy names it (None: both)."""
        return None if self.direction == "both" else self.direction

    def describe(self) -> str:
        """``network(broker: latency 200ms +-50ms, both ways, for 5s)``."""
        fault = self.to_fault()
        text = fault.describe() if fault is not None else "clear"
        if self.direction != "both":
            text += f" {self.direction}"
        if not self.probes:
            text += ", clients only"
        if self.duration is not None:
            text += f", for {self.duration:g}s"
        return f"network({self.link}: {text})"
