"""Runner stage: the virtual clock and the streamer that puts interrogators on the wire."""

from fibersim.runner.clock import VirtualClock
from fibersim.runner.streamer import FaultPlan, FiberStreamer, StreamStats
from fibersim.runner.synth_worker import quantize_int16

__all__ = ["FaultPlan", "FiberStreamer", "StreamStats", "VirtualClock", "quantize_int16"]
