"""The first signal source: band-limited incoherent noise plus common-mode noise.

Incoherent noise is independent per channel; common-mode noise is one series added to every
channel (laser drift). Both are white Gaussian noise through a Butterworth filter whose state
is carried across blocks, so the series is seamless and independent of the block size.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat
from scipy import signal

from fibersim.signals.base import SynthesisContext


class BandNoiseSpec(BaseModel):
    """``{type: band_noise, rms: 3e-7, low_hz: 1, high_hz: 400, common_mode_rms: 3e-7}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["band_noise"] = "band_noise"
    rms: float = Field(3e-7, ge=0, description="Incoherent strain-rate rms per channel (1/s).")
    low_hz: PositiveFloat = Field(1.0, description="Lower band edge (Hz).")
    high_hz: PositiveFloat = Field(400.0, description="Upper band edge (Hz), below prr/2.")
    common_mode_rms: float = Field(3e-7, ge=0, description="Common-mode rms (1/s).")
    common_mode_high_hz: PositiveFloat = Field(10.0, description="Common-mode bandwidth (Hz).")

    def build(self, context: SynthesisContext) -> BandNoise:
        return BandNoise(self, context)


class BandNoise:
    """Band-limited Gaussian noise per channel, plus a low-passed common-mode series."""

    _SALT_INCOHERENT = 1
    _SALT_COMMON = 2

    def __init__(self, spec: BandNoiseSpec, context: SynthesisContext) -> None:
        nyquist = context.prr / 2
        high = min(spec.high_hz, 0.45 * context.prr)
        low = min(spec.low_hz, high / 2)
        self._band = signal.butter(4, [low / nyquist, high / nyquist], "bandpass", output="sos")
        self._band_state = np.zeros((self._band.shape[0], 2, context.n_channels))
        self._band_gain = spec.rms * _white_to_rms_gain(self._band)
        cm_high = min(spec.common_mode_high_hz, 0.45 * context.prr)
        self._common = signal.butter(2, cm_high / nyquist, "lowpass", output="sos")
        self._common_state = np.zeros((self._common.shape[0], 2))
        self._common_gain = spec.common_mode_rms * _white_to_rms_gain(self._common)
        self._rng_incoherent = context.rng(self._SALT_INCOHERENT)
        self._rng_common = context.rng(self._SALT_COMMON)
        self._n_channels = context.n_channels

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        n = block.shape[0]
        white = self._rng_incoherent.standard_normal((n, self._n_channels), dtype=np.float32)
        banded, self._band_state = signal.sosfilt(self._band, white, axis=0, zi=self._band_state)
        block += (banded * self._band_gain).astype(np.float32, copy=False)
        common_white = self._rng_common.standard_normal(n)
        common, self._common_state = signal.sosfilt(
            self._common, common_white, zi=self._common_state
        )
        block += (common * self._common_gain).astype(np.float32)[:, None]


def _white_to_rms_gain(sos: np.ndarray) -> float:
    """Gain that makes unit white noise through ``sos`` come out with unit rms."""
    impulse = np.zeros(8192)
    impulse[0] = 1.0
    response = signal.sosfilt(sos, impulse)
    return float(1.0 / np.sqrt(np.sum(response**2)))
