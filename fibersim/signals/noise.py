"""Instrument noise: incoherent phase noise per channel and common-mode laser noise.

Both read precomputed coloured-noise banks (see ``banks``), which is what keeps a 2337-channel
fiber at 2 kHz far faster than real time.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat

from fibersim.signals.banks import BankReader, PhaseNoise, PowerLaw, band_rms, noise_bank
from fibersim.signals.base import PlacedSpec, Stage, SynthesisContext

#: Bank for per-channel noise: 2 s x up to 2560 columns (40 MB as float32 at 2 kHz). Rows
#: as long as the fiber matter: numpy pays ~40 ns per row of a strided 2-D add, so reading
#: a fiber-wide bank row costs a fraction of reading five 512-column pieces of it.
INCOHERENT_ROWS = 4096
INCOHERENT_MAX_COLS = 2560


class IncoherentNoiseSpec(PlacedSpec):
    """White phase noise per channel with a 1/f excess below a corner, as strain rate.

    ``{type: incoherent_noise, sigma_phi: 0.01, corner_hz: 20}``
    """

    type: Literal["incoherent_noise"] = "incoherent_noise"
    sigma_phi: float = Field(0.01, ge=0, description="White phase noise (rad per sample).")
    corner_hz: float = Field(20.0, ge=0, description="Below this the 1/f excess dominates (Hz).")
    alpha: float = Field(1.0, ge=0, le=2, description="Exponent of the phase excess 1/f^alpha.")

    def colour(self, context: SynthesisContext) -> PhaseNoise:
        return PhaseNoise(self.sigma_phi, self.corner_hz, self.alpha, context.gauge_length_meters)

    def make(self, context: SynthesisContext) -> IncoherentNoise:
        return IncoherentNoise(self, context)


class IncoherentNoise:
    """Reads the phase-noise bank into every channel (gain 1: the bank is in 1/s already)."""

    stage = Stage.DENSE
    _SALT = 11

    def __init__(self, spec: IncoherentNoiseSpec, context: SynthesisContext) -> None:
        width = min(context.n_channels, INCOHERENT_MAX_COLS)
        bank = noise_bank(spec.colour(context), context.prr, context.seed, INCOHERENT_ROWS, width)
        # Remap every ~2 s (all but a crossfade of the bank): crossfades cost double reads.
        crossfade = 128
        self._reader = BankReader(
            bank, context.n_channels, (context.seed, self._SALT, context.channel_offset),
            INCOHERENT_ROWS - crossfade, crossfade,
        )

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        self._reader.add_to(block, first_sample, 1.0)

    def write_to(self, block: np.ndarray, first_sample: int, base: np.ndarray) -> None:
        """``block`` = ``base`` (rows, 1) + this noise, in one pass (see ``Placed.write_to``)."""
        self._reader.add_to(block, first_sample, 1.0, base)


class CommonModeNoiseSpec(PlacedSpec):
    """Laser frequency/phase drift: one 1/f strain-rate series added to every channel.

    Its level is set relative to the incoherent noise it competes with: ``rms_ratio`` times the
    rms, below ``reference_hz``, of incoherent noise with ``sigma_phi`` and ``corner_hz``.
    ``{type: common_mode_noise, rms_ratio: 2}``
    """

    type: Literal["common_mode_noise"] = "common_mode_noise"
    rms_ratio: float = Field(2.0, ge=0, description="Rms relative to incoherent noise (1-3).")
    reference_hz: PositiveFloat = Field(10.0, description="Band [0, reference_hz] compared (Hz).")
    alpha: float = Field(1.0, ge=0, le=2, description="Strain-rate power ~ 1/f^alpha.")
    f_min: PositiveFloat = Field(0.05, description="Lowest frequency with 1/f power (Hz).")
    f_max: PositiveFloat = Field(100.0, description="Roll-off frequency (Hz).")
    sigma_phi: float = Field(0.01, ge=0, description="Reference incoherent phase noise (rad).")
    corner_hz: float = Field(20.0, ge=0, description="Reference incoherent 1/f corner (Hz).")

    def make(self, context: SynthesisContext) -> CommonModeNoise:
        return CommonModeNoise(self, context)


class CommonModeNoise:
    """One long 1/f series (131 s bank at 2 kHz, remapped every 33 s) broadcast to all channels."""

    stage = Stage.UNIFORM
    _SALT = 12
    _ROWS = 2**18

    def __init__(self, spec: CommonModeNoiseSpec, context: SynthesisContext) -> None:
        colour = PowerLaw(spec.alpha, spec.f_min, spec.f_max)
        bank = noise_bank(colour, context.prr, context.seed, self._ROWS, 1)
        reference = band_rms(
            PhaseNoise(spec.sigma_phi, spec.corner_hz, 1.0, context.gauge_length_meters),
            context.prr, 0.0, spec.reference_hz,
        )
        own = band_rms(colour, context.prr, 0.0, spec.reference_hz)
        self._gain = float(spec.rms_ratio * reference / own)
        self._reader = BankReader(bank, 1, (context.seed, self._SALT), self._ROWS // 4, 2048)

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        series = np.zeros((block.shape[0], 1), dtype=np.float32)
        self._reader.add_to(series, first_sample, self._gain)
        block += series  # broadcast over the channels (the block may be a single column)
