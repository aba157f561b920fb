"""Runner stage: the virtual clock and the streamer that puts interrogators on the wire."""

from fibersim.runner.clock import VirtualClock
from fibersim.runner.streamer import FiberStreamer, StreamStats

__all__ = ["FiberStreamer", "StreamStats", "VirtualClock"]
