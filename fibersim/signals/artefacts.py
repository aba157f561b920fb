"""Phase-wrap (saturation) artefacts of the interrogator's phase unwrapping.

The interrogator measures the phase change between pulses modulo 2 pi. When the true change
exceeds pi (a strain rate above ``lambda * PRR / (4 n xi L_g)``, ~68e-6 1/s at 2 kHz and
10 m) the unwrapper picks the wrong branch and the reported strain rate aliases into
``[-T, T]``: loud events turn into striped, sign-flipping patches.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from fibersim.signals.base import PlacedSpec, Stage, SynthesisContext
from fibersim.signals.physics import wrap_threshold


class PhaseWrapSpec(PlacedSpec):
    """``{type: phase_wrap}``: alias strain rates above the unwrapping limit (runs last)."""

    type: Literal["phase_wrap"] = "phase_wrap"
    threshold: float | None = Field(
        None, gt=0, description="Limit (1/s); default lambda*PRR/(4 n xi L_g)."
    )

    def make(self, context: SynthesisContext) -> PhaseWrap:
        limit = self.threshold or wrap_threshold(context.prr, context.gauge_length_meters)
        return PhaseWrap(limit)


class PhaseWrap:
    """Wraps ``x`` to ``x - 2T round(x / 2T)`` wherever ``|x| > T``."""

    stage = Stage.POST

    def __init__(self, threshold: float) -> None:
        self.threshold = np.float32(threshold)

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        # Column extremes find the few channels (loud or faded) that need the fix.
        hot = np.flatnonzero(
            (block.max(axis=0) > self.threshold) | (block.min(axis=0) < -self.threshold)
        )
        if hot.size:
            block[:, hot] = wrapped(block[:, hot], self.threshold)


def wrapped(values: np.ndarray, threshold: float | np.floating) -> np.ndarray:
    """``values`` aliased into [-threshold, threshold] as a failed phase unwrap would."""
    period = np.float32(2 * threshold)
    return values - period * np.round(values / period)
