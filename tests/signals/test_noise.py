"""Instrument noise: spectral slopes, level, and common-mode removal by the median."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from fibersim.signals import CommonModeNoiseSpec, IncoherentNoiseSpec
from fibersim.signals.physics import strain_per_radian
from tests.signals.signal_helpers import context, render


def _slope(f: np.ndarray, power: np.ndarray, lo: float, hi: float) -> float:
    band = (f >= lo) & (f <= hi)
    return float(np.polyfit(np.log(f[band]), np.log(power[band]), 1)[0])


@pytest.mark.parametrize(("corner_hz", "alpha"), [(20.0, 1.0), (40.0, 1.5)])
def test_incoherent_spectrum_has_the_configured_slopes(corner_hz: float, alpha: float) -> None:
    # Channels a gauge apart share their noise: 640 of them give ~64 independent spectra.
    ctx = context(n_channels=640, prr=2000.0, dx=1.0)
    spec = IncoherentNoiseSpec(sigma_phi=0.02, corner_hz=corner_hz, alpha=alpha)
    data = render([spec], ctx, 20.0).astype(np.float64)
    f, psd = signal.welch(data, fs=ctx.prr, nperseg=4096, axis=0)
    measured = psd.mean(axis=1)
    model = np.abs(spec.colour(ctx).amplitude(f, ctx.prr)) ** 2
    for lo, hi in [(2.0, 8.0), (100.0, 400.0)]:  # 1/f excess, then blue white phase noise
        assert _slope(f, measured, lo, hi) == pytest.approx(_slope(f, model, lo, hi), abs=0.15)
    assert _slope(f, measured, 100.0, 400.0) == pytest.approx(2.0, abs=0.25)


def test_white_phase_noise_level_in_strain_rate() -> None:
    """sigma_phi rad per sample is k * prr * sqrt(2) * sigma_phi in 1/s (first difference)."""
    ctx = context(n_channels=64, prr=1000.0, gauge=8.0)
    data = render([IncoherentNoiseSpec(sigma_phi=0.03, corner_hz=0.0)], ctx, 8.0)
    expected = strain_per_radian(8.0) * ctx.prr * np.sqrt(2) * 0.03
    assert data.std() == pytest.approx(expected, rel=0.05)


def _band_rms(data: np.ndarray, rate: float, f_hi: float) -> float:
    spectrum = np.fft.rfft(data, axis=0)
    spectrum[np.fft.rfftfreq(data.shape[0], 1 / rate) > f_hi] = 0
    return float(np.fft.irfft(spectrum, data.shape[0], axis=0).std())


@pytest.mark.parametrize("ratio", [1.0, 2.0, 3.0])
def test_common_mode_rms_relative_to_incoherent_below_10_hz(ratio: float) -> None:
    ctx = context(n_channels=32, prr=500.0, seed=2)
    incoherent = render([IncoherentNoiseSpec()], ctx, 60.0).astype(np.float64)
    common = render([CommonModeNoiseSpec(rms_ratio=ratio)], ctx, 60.0).astype(np.float64)
    assert np.all(common == common[:, :1])  # identical on every channel
    got = _band_rms(common[:, :1], ctx.prr, 10.0) / _band_rms(incoherent, ctx.prr, 10.0)
    assert got == pytest.approx(ratio, rel=0.25)


def test_median_removal_takes_out_the_common_mode() -> None:
    # 256 channels: neighbours share their noise over a gauge, so the median of a few dozen
    # gauges would itself carry noise that its removal adds back.
    ctx = context(n_channels=256, prr=500.0, seed=3)
    specs = [IncoherentNoiseSpec(), CommonModeNoiseSpec(rms_ratio=3.0)]
    data = render(specs, ctx, 30.0).astype(np.float64)
    common = render(specs[1:], ctx, 30.0).astype(np.float64)[:, 0]
    residual = data - np.median(data, axis=1, keepdims=True)
    left = residual.T @ common / (common @ common)  # common-mode share left per channel
    assert 1 - np.mean(left**2) >= 0.8
    assert _band_rms(residual, ctx.prr, 10.0) < 0.5 * _band_rms(data, ctx.prr, 10.0)
