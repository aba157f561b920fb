"""Replay: a recording file becomes a live fiber, paced like an interrogator.

Nothing here publishes by itself: replay is a ``FiberStreamer`` whose fiber is configured
from the file (prr, dx, channels, gauge length, int16 scale) and whose only signal is the
recording, so replayed data travels the exact path simulated data does (blocks, metadata,
heartbeats, faults, confirms).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fibersim.dialects import Dialect
from fibersim.interrogator import Interrogator
from fibersim.models import SampleDtype
from fibersim.recording.model import RecordingInfo
from fibersim.recording.reader import open_recording
from fibersim.recording.source import RecordingSpec
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import Transport


@dataclass(frozen=True)
class Replay:
    """A streamer set up to play a recording, and how long one pass of it lasts."""

    streamer: FiberStreamer
    info: RecordingInfo
    #: Simulated seconds of whole blocks in one pass; a trailing partial block is not sent.
    pass_duration_s: float

    @property
    def unsent_rows(self) -> int:
        """Rows at the end of the file that do not fill a block, hence are not replayed."""
        return self.info.n_rows % self.streamer.interrogator.config.samples_per_block


def build_replay(path: str | Path, transport: Transport, *, fiber_id: str, speed: float,
                 start_time_ns: int | None, channels: tuple[int, int] | None = None,
                 dtype: SampleDtype | None = None, loop: bool = False,
                 dialect: Dialect | None = None) -> Replay:
    """A replay of ``path`` (channels ``[first, last]`` inclusive) on ``transport``.

    Samples are stamped from ``start_time_ns`` on, or with the file's own times when it is
    None (useful to line the stream up with the original file or other data of that day).
    """
    spec = RecordingSpec(path=Path(path), channels=channels, loop=loop)
    reader = open_recording(spec.path, spec.channel_slice)
    info = reader.info
    reader.close()
    config = info.fiber_config(fiber_id, dtype)
    start = info.start_time_ns if start_time_ns is None else start_time_ns
    streamer = FiberStreamer(Interrogator(config, start), transport, VirtualClock(speed),
                             signals=[spec], dialect=dialect)
    blocks = info.n_rows // config.samples_per_block
    # Half a sample past the last block's end, so float rounding cannot leave it undue.
    end = (blocks * config.samples_per_block + 0.5) / config.prr
    return Replay(streamer, info, end)
