"""Instrument noise: incoherent phase noise per channel and common-mode laser noise.

Both read precomputed coloured-noise banks (see ``banks``), which is what keeps a 2337-channel
fiber at 2 kHz far faster than real time.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat

from fibersim.signals.banks import (
    BankReader,
    PhaseNoise,
    PowerLaw,
    SpatialCorrelation,
    TabulatedColour,
    band_rms,
    noise_bank,
)
from fibersim.signals.base import PlacedSpec, Stage, SynthesisContext
from fibersim.signals.physics import correlated_lognormal

#: Bank for per-channel noise: 2 s x up to 2560 columns (40 MB as float32 at 2 kHz). Rows
#: as long as the fiber matter: numpy pays ~40 ns per row of a strided 2-D add, so reading
#: a fiber-wide bank row costs a fraction of reading five 512-column pieces of it.
INCOHERENT_ROWS = 4096
INCOHERENT_MAX_COLS = 2560
#: Extra bank columns a fiber-wide read may start at (see ``BankReader.pieces``): each
#: channel's noise comes from 17 columns in turn, which averages out most of the fine
#: spectral structure of one finite bank column (it would show as autocorrelation at short
#: lags in decimated data), at the price of a level flicker of ~4 % between segments.
SPARE_COLS = 16
#: Samples between remappings of the bank and of their crossfades: at most half the bank,
#: so each segment's offset has ~2000 choices (see ``banks``).
_SEGMENT = 1792
_CROSSFADE = 256


class IncoherentNoiseSpec(PlacedSpec):
    """Phase noise per metre of fibre, averaged over the gauge, with a level that varies
    along the fibre; white phase noise with a 1/f excess below a corner, as strain rate.

    ``{type: incoherent_noise, sigma_phi: 0.01, corner_hz: 20, level_sigma: 0.3}``
    """

    type: Literal["incoherent_noise"] = "incoherent_noise"
    sigma_phi: float = Field(0.01, ge=0, description="White phase noise (rad per sample).")
    corner_hz: float = Field(100.0, ge=0, description="Below this the 1/f excess dominates (Hz).")
    alpha: float = Field(
        2.0, ge=0, le=2, description="Exponent of the phase excess 1/f^alpha (2: a random walk "
        "of the phase, flat in strain rate below the corner, as real interrogators record).")
    spectrum: list[tuple[PositiveFloat, PositiveFloat]] | None = Field(
        None, min_length=2, description="Measured one-sided PSD [[f_hz, (1/s)^2/Hz], ...] "
        "(fibersim calibrate): replaces sigma_phi, corner_hz, alpha and the roll-off.")
    rolloff_hz: float = Field(
        0.0, ge=0, description="Low-pass corner of the interrogator's output (Hz, 0: none).")
    rolloff_order: float = Field(2.0, gt=0, le=8, description="Order of that low-pass.")
    pulse_fraction: float = Field(
        0.5, ge=0, le=4, description="Pulse length in gauge lengths: widens the correlation "
        "between channels beyond the gauge's triangle (0: the boxcar gauge alone).")
    white_fraction: float = Field(
        0.0, ge=0, le=1, description="Share of the noise variance independent from channel to "
        "channel (electronics after the gauge average).")
    spatially_white: bool = Field(
        False, description="Independent channels (no gauge averaging of the noise).")
    level_sigma: float = Field(
        0.3, ge=0, le=2, description="Log-normal sigma of the noise level along the fibre.")
    level_length_m: PositiveFloat = Field(
        30.0, description="Correlation length of that level variation (m).")
    loss_db_per_km: float = Field(
        0.2, ge=0, le=10, description="One-way optical loss: noise grows with distance.")
    sections: list[tuple[int, int, float]] = Field(
        default_factory=list, description="Badly coupled stretches: [first, last, noise gain] "
        "(channels inclusive, range-relative), e.g. a bridge or a conduit.")

    def colour(self, context: SynthesisContext) -> PhaseNoise | TabulatedColour:
        if self.spectrum is not None:
            ordered = sorted(self.spectrum)
            return TabulatedColour(tuple(f for f, _ in ordered), tuple(p for _, p in ordered))
        return PhaseNoise(self.sigma_phi, self.corner_hz, self.alpha, context.gauge_length_meters,
                          self.rolloff_hz, self.rolloff_order)

    def spatial(self, context: SynthesisContext) -> SpatialCorrelation | None:
        """How neighbouring channels' noise correlates (None: independent channels)."""
        if self.spatially_white:
            return None
        gauge = context.gauge_length_meters
        return SpatialCorrelation(context.dx, gauge, self.pulse_fraction * gauge,
                                  self.white_fraction)

    def make(self, context: SynthesisContext) -> IncoherentNoise:
        return IncoherentNoise(self, context)


def level_profile(spec: IncoherentNoiseSpec, context: SynthesisContext) -> np.ndarray:
    """Noise gain of every channel, rms 1 over the range (``sigma_phi`` stays the average).

    The product of a log-normal sensitivity (a Gaussian field smoothed over
    ``level_length_m``, so neighbours within tens of metres are alike), the two-way optical
    loss up to the channel (noise amplitude ~ 1 / sqrt(backscattered power)) and the gains of
    the badly coupled sections. Drawn per absolute channel, so a sub-range of a fiber gets
    the same profile as the same channels of the whole fiber.
    """
    n, dx = context.n_channels, context.dx
    absolute = context.channel_offset + np.arange(n)
    gain = np.ones(n)
    if spec.level_sigma > 0:
        gain *= correlated_lognormal(context.rng((13, context.channel_offset)), n,
                                     spec.level_sigma, spec.level_length_m / dx)
    gain *= 10 ** (2 * spec.loss_db_per_km * absolute * dx / 1000 / 20)
    for first, last, factor in spec.sections:
        gain[max(0, first) : max(0, last + 1)] *= factor
    return np.asarray(gain / np.sqrt(np.mean(gain**2)))


class IncoherentNoise:
    """Reads the gauge-averaged phase-noise bank into every channel, scaled by the level
    profile (the bank is in 1/s already)."""

    stage = Stage.DENSE
    _SALT = 11

    def __init__(self, spec: IncoherentNoiseSpec, context: SynthesisContext) -> None:
        n = context.n_channels
        width = min(n + SPARE_COLS, INCOHERENT_MAX_COLS) if n < INCOHERENT_MAX_COLS else (
            INCOHERENT_MAX_COLS)
        # One fiber-wide group reads channel c from column c + (0..SPARE_COLS): the level is
        # baked into the bank (free per sample) as a profile over the bank's columns, which a
        # channel sees shifted by at most SPARE_COLS channels from segment to segment (a
        # level flicker of a few %). Wider fibers roll columns between groups, so their
        # level is applied on read (a pass more).
        baked = width >= n
        profile = level_profile(spec, dataclasses.replace(context, n_channels=width)
                                if baked else context)
        flat = bool(np.all(profile == 1.0))
        bank = noise_bank(spec.colour(context), context.prr, context.seed, INCOHERENT_ROWS,
                          width, spec.spatial(context),
                          None if flat or not baked else tuple(profile.tolist()))
        self._reader = BankReader(
            bank, n, (context.seed, self._SALT, context.channel_offset),
            _SEGMENT, _CROSSFADE, None if flat or baked else profile,
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
    corner_hz: float = Field(100.0, ge=0, description="Reference incoherent 1/f corner (Hz).")
    spectrum: list[tuple[PositiveFloat, PositiveFloat]] | None = Field(
        None, min_length=2, description="Measured one-sided PSD [[f_hz, (1/s)^2/Hz], ...] of "
        "the common mode (fibersim calibrate), scaled by rms_ratio; replaces alpha, f_min, "
        "f_max and the reference.")
    phase_alpha: float = Field(
        2.0, ge=0, le=2, description="Reference incoherent phase excess exponent.")

    def make(self, context: SynthesisContext) -> CommonModeNoise:
        return CommonModeNoise(self, context)


class CommonModeNoise:
    """One long 1/f series (131 s bank at 2 kHz, remapped every 33 s) broadcast to all channels."""

    stage = Stage.UNIFORM
    _SALT = 12
    _ROWS = 2**18

    def __init__(self, spec: CommonModeNoiseSpec, context: SynthesisContext) -> None:
        self._reader = BankReader(
            noise_bank(self._colour(spec), context.prr, context.seed, self._ROWS, 1), 1,
            (context.seed, self._SALT), self._ROWS // 4, 2048)
        self._gain = self._level(spec, context)

    @staticmethod
    def _colour(spec: CommonModeNoiseSpec) -> PowerLaw | TabulatedColour:
        if spec.spectrum is None:
            return PowerLaw(spec.alpha, spec.f_min, spec.f_max)
        ordered = sorted(spec.spectrum)
        return TabulatedColour(tuple(f for f, _ in ordered), tuple(p for _, p in ordered))

    def _level(self, spec: CommonModeNoiseSpec, context: SynthesisContext) -> float:
        """Gain on the bank: ``rms_ratio`` times the tabulated level, or the level that makes
        the rms below ``reference_hz`` ``rms_ratio`` times the reference noise's."""
        colour = self._colour(spec)
        if isinstance(colour, TabulatedColour):
            return float(spec.rms_ratio)
        reference = band_rms(
            PhaseNoise(spec.sigma_phi, spec.corner_hz, spec.phase_alpha,
                       context.gauge_length_meters),
            context.prr, 0.0, spec.reference_hz,
        )
        own = band_rms(colour, context.prr, 0.0, spec.reference_hz)
        return float(spec.rms_ratio * reference / own)

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        series = np.zeros((block.shape[0], 1), dtype=np.float32)
        self._reader.add_to(series, first_sample, self._gain)
        block += series  # broadcast over the channels (the block may be a single column)
