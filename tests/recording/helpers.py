"""Helpers shared by the recording tests: a small fiber, a test signal and recorded files.

The recordings carry ``WavesSpec``, a test-only signal that is a plain function of sample and
channel, so these tests pin down the recording machinery and not the physics sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from fibersim.formats import RecordingInfo
from fibersim.models import FiberConfig, SampleDtype
from fibersim.recording.offline import record_fiber
from fibersim.signals import SynthesisContext, build_synthesizer
from fibersim.signals.base import Stage

#: 2024-05-01T12:00:00Z
START_NS = 1_714_564_800_000_000_000
SEED = 11
#: Channel 0 sits 100 m down the fiber, i.e. locus 50 at dx 2 m.
SMALL_FIBER = FiberConfig(fiber_id="rec-fiber", number_of_channels=48, prr=500.0, dx=2.0,
                          gauge_length_meters=8.0, fiber_start_meters=100.0, dtype="float32")
#: Strain rate amplitude of the test waves: well inside the int16 full scale (1e-4 1/s).
AMPLITUDE = 3e-5


class WavesSpec(BaseModel):
    """A test signal: ``AMPLITUDE * sin(0.05 sample + 0.3 channel)``."""

    type: Literal["test_waves"] = "test_waves"
    label: str | None = None

    def build(self, context: SynthesisContext) -> Waves:
        return Waves()


class Waves:
    stage = Stage.SPARSE

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        samples = np.arange(first_sample, first_sample + block.shape[0])[:, None]
        channels = np.arange(block.shape[1])[None, :]
        block += (AMPLITUDE * np.sin(0.05 * samples + 0.3 * channels)).astype(np.float32)


def waves(config: FiberConfig, n_samples: int, first_sample: int = 0) -> np.ndarray:
    """What a fiber carrying the test waves publishes, rendered without any stream."""
    synthesizer = build_synthesizer([WavesSpec()],  # type: ignore[list-item]
                                    SynthesisContext.of_fiber(config, SEED))
    synthesizer.next_sample = first_sample
    return synthesizer.render(n_samples)


def record_small(path: Path, seconds: float, dtype: SampleDtype = "float32",
                 config: FiberConfig = SMALL_FIBER, from_s: float = 0.0) -> RecordingInfo:
    """``seconds`` of the small fiber carrying the test waves, written to ``path``."""
    return record_fiber(config, [WavesSpec()], SEED, path,  # type: ignore[list-item]
                        start_time_ns=START_NS, from_s=from_s, to_s=seconds, dtype=dtype)
