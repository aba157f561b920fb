"""Shared helpers for the signal tests: contexts and rendering a single spec."""

from __future__ import annotations

import numpy as np

from fibersim.signals import SynthesisContext, build_synthesizer


def context(
    n_channels: int = 200, prr: float = 500.0, dx: float = 2.0, gauge: float = 10.0,
    seed: int = 0, start_time_s: float = 0.0,
) -> SynthesisContext:
    return SynthesisContext(
        prr=prr, dx=dx, n_channels=n_channels, gauge_length_meters=gauge, seed=seed,
        start_time_s=start_time_s,
    )


def render(specs: list, ctx: SynthesisContext, seconds: float, first_s: float = 0.0) -> np.ndarray:
    """``seconds`` of the specs' output starting ``first_s`` after sample 0."""
    synthesizer = build_synthesizer(specs, ctx)
    return synthesizer.render_at(round(first_s * ctx.prr), round(seconds * ctx.prr))


def delay_s(a: np.ndarray, b: np.ndarray, rate: float) -> float:
    """Time by which ``b`` lags ``a`` (s), from the cross-correlation peak with parabolic
    interpolation."""
    n = a.size + b.size
    spectrum = np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n)
    xcorr = np.fft.irfft(spectrum, n)
    lag = int(np.argmax(xcorr))
    left, mid, right = xcorr[lag - 1], xcorr[lag], xcorr[(lag + 1) % n]
    lag_f = lag + 0.5 * (left - right) / (left - 2 * mid + right)
    if lag_f > n / 2:
        lag_f -= n
    return lag_f / rate


def fk_velocities(
    data: np.ndarray, rate: float, dx: float, f_lo: float, f_hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Apparent velocity (m/s, positive = towards higher channels) and power of every f-k
    bin with ``f_lo <= f <= f_hi`` and k != 0."""
    spectrum = np.abs(np.fft.rfft2(data, axes=(1, 0))) ** 2  # rfft over time
    f = np.fft.rfftfreq(data.shape[0], 1 / rate)
    k = np.fft.fftfreq(data.shape[1], dx)
    band = (f >= f_lo) & (f <= f_hi)
    ff, kk = np.meshgrid(f[band], k, indexing="ij")
    power = spectrum[band]
    moving = kk != 0
    # numpy's transforms put a wave s(x - v t) at f = -v k.
    return -ff[moving] / kk[moving], power[moving]


def fk_peak_velocity(data: np.ndarray, rate: float, dx: float, f_lo: float, f_hi: float) -> float:
    """The apparent velocity holding the most f-k power (1% wide velocity bins)."""
    velocity, power = fk_velocities(data, rate, dx, f_lo, f_hi)
    edges = np.concatenate([-np.geomspace(1000, 1, 700), np.geomspace(1, 1000, 700)])
    histogram, _ = np.histogram(velocity, edges, weights=power)
    best = int(np.argmax(histogram))
    return float(np.sqrt(abs(edges[best] * edges[best + 1])) * np.sign(edges[best]))
