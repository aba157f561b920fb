"""The signal-source interface and the synthesizer that composes sources block by block.

A source adds its strain rate (1/s, float32) into a (time, channel) block in place. Sources
keep their own state (filter memories, random streams, event positions) so that consecutive
calls produce a seamless signal and the result does not depend on how the time axis is cut
into blocks: ``render(1000)`` equals ``render(400)`` followed by ``render(600)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class SynthesisContext:
    """What every source needs to know about the fiber it is drawn on."""

    prr: float
    dx: float
    n_channels: int
    gauge_length_meters: float
    seed: int
    start_time_s: float = 0.0  # simulated time of the synthesizer's sample 0

    def rng(self, salt: int) -> np.random.Generator:
        """An independent, reproducible random stream for one source (``salt`` tells them apart)."""
        return np.random.default_rng([self.seed, salt])


class SignalSource(Protocol):
    """A physical contribution to the recording."""

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        """Add this source's samples ``first_sample ..`` into ``block`` (time, channel), in place.

        Calls come with consecutive ``first_sample`` values; a source may rely on that.
        """


class Synthesizer:
    """Sums sources into consecutive float32 blocks and counts samples."""

    def __init__(self, context: SynthesisContext, sources: list[SignalSource]) -> None:
        self.context = context
        self.sources = sources
        self.next_sample = 0

    def render(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of strain rate, shape (n_samples, n_channels), float32."""
        block = np.zeros((n_samples, self.context.n_channels), dtype=np.float32)
        for source in self.sources:
            source.add_to(block, self.next_sample)
        self.next_sample += n_samples
        return block
