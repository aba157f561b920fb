"""Network faults: an asyncio TCP proxy with Toxiproxy-style faults (latency and jitter,
bandwidth, blackhole, reset_peer, slow_close, slicing) switched on and off while connections
are live. Used by ``do: network`` scenario steps and ``fibersim chaos`` (docs/reliability.md).
"""

from fibersim.netfaults.faults import (
    DIRECTIONS,
    FAULT_TYPES,
    Bandwidth,
    Blackhole,
    Direction,
    Fault,
    Latency,
    ResetPeer,
    Slicing,
    SlowClose,
)
from fibersim.netfaults.proxy import FaultProxy

__all__ = ["DIRECTIONS", "FAULT_TYPES", "Bandwidth", "Blackhole", "Direction", "Fault",
           "FaultProxy", "Latency", "ResetPeer", "Slicing", "SlowClose"]
