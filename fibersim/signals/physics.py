"""Optical constants and the conversions every source shares (see das-physics.md).

Sources work in physical units (phase in rad, strain, m, s) and output strain rate (1/s).
"""

from __future__ import annotations

import math

import numpy as np

WAVELENGTH_M = 1550e-9
GROUP_INDEX = 1.445
PHOTOELASTIC_XI = 0.79


def strain_per_radian(gauge_length_m: float) -> float:
    """Strain for 1 rad of optical phase over one gauge: lambda / (4 pi n xi L_g)."""
    return WAVELENGTH_M / (4 * math.pi * GROUP_INDEX * PHOTOELASTIC_XI * gauge_length_m)


def wrap_threshold(prr: float, gauge_length_m: float) -> float:
    """Strain rate (1/s) at which the phase moves by pi between pulses and unwrapping fails."""
    return math.pi * strain_per_radian(gauge_length_m) * prr


def gauge_taps(dx: float, gauge_length_m: float) -> int:
    """Channels averaged by one gauge (at least 1)."""
    return max(1, round(gauge_length_m / dx))


def gauge_average(field: np.ndarray, taps: int) -> np.ndarray:
    """Spatial boxcar over ``taps`` channels along the last axis (zero beyond the edges).

    A channel measures the strain averaged over its gauge, a sinc in wavenumber with nulls at
    wavelengths L_g/m. The sum runs over shifted slices in a fixed order, so each output value
    depends only on its neighbours' values, never on where the array starts: results are
    identical whichever window of channels a block happens to cover. The work is done on a
    channel-major copy so that every shifted add is one long contiguous run.
    """
    if taps == 1:
        return field
    source = np.ascontiguousarray(np.moveaxis(field, -1, 0))
    out = np.zeros_like(source)
    n = source.shape[0]
    left = (taps - 1) // 2
    for shift in range(-left, taps - left):
        lo, hi = max(0, -shift), min(n, n - shift)
        if lo < hi:
            out[lo:hi] += source[lo + shift : hi + shift]
    out *= np.float32(1.0 / taps)
    return np.moveaxis(out, 0, -1)


def sample_times(first_sample: int, n: int, prr: float) -> np.ndarray:
    """Seconds since sample 0 of samples ``first_sample .. first_sample + n`` (float64)."""
    return np.arange(first_sample, first_sample + n, dtype=np.float64) / prr


def correlated_lognormal(rng: np.random.Generator, n: int, sigma: float,
                         length_channels: float) -> np.ndarray:
    """``n`` log-normal factors, median 1, ``exp(sigma * g)`` with ``g`` a unit Gaussian
    field smoothed over ``length_channels`` (a Gaussian kernel): neighbours alike."""
    if sigma == 0:
        return np.ones(n)
    width = max(1.0, length_channels)
    reach = int(3 * width)
    white = rng.standard_normal(n + 2 * reach)
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / width) ** 2)
    field = np.convolve(white, taps / np.sqrt(np.sum(taps**2)), "valid")
    return np.asarray(np.exp(sigma * field))
