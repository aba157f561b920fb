"""Earthquakes: hyperbolic P and S moveouts at the configured velocities and S/P ratio."""

from __future__ import annotations

import numpy as np
import pytest

from fibersim.signals import EarthquakeSpec
from tests.signals.signal_helpers import context, delay_s, render

DISTANCE = 4000.0
HALF_APERTURE = 2000.0  # fitted channels: far enough for a clear hyperbola, P before S


def _quake(vp: float, vs: float, s_to_p: float) -> tuple[np.ndarray, np.ndarray, float]:
    ctx = context(n_channels=801, prr=1000.0, dx=10.0)
    spec = EarthquakeSpec(
        origin_time=0.0, distance_m=DISTANCE, vp=vp, vs=vs, s_to_p=s_to_p, coda_s=0.08
    )
    data = render([spec], ctx, 3.5).astype(np.float64)
    x = (np.arange(ctx.n_channels) - ctx.n_channels // 2) * ctx.dx
    return data, x, ctx.prr


def _fit_velocity(data: np.ndarray, x: np.ndarray, rate: float, t0: float, t1: float) -> float:
    """Velocity from relative delays (vs the nearest channel) regressed on sqrt(x^2 + d^2)."""
    rows = slice(round(t0 * rate), round(t1 * rate))
    centre = x.size // 2
    channels = np.flatnonzero(np.abs(x) <= HALF_APERTURE)[::10]
    delays = [delay_s(data[rows, centre], data[rows, c], rate) for c in channels]
    path = np.hypot(x[channels], DISTANCE) - DISTANCE
    slowness = np.polyfit(path, delays, 1)[0]
    return 1 / slowness


@pytest.mark.parametrize(("vp", "vs"), [(6000.0, 3500.0), (7500.0, 4200.0), (5200.0, 3000.0)])
def test_p_and_s_velocities_are_recovered(vp: float, vs: float) -> None:
    data, x, rate = _quake(vp, vs, 3.0)
    far = np.hypot(HALF_APERTURE, DISTANCE)
    p_first, s_first = DISTANCE / vp, DISTANCE / vs
    p_last = min(far / vp + 0.3, s_first - 0.02)
    assert far / vp < s_first - 0.1  # the windows separate the phases
    assert _fit_velocity(data, x, rate, p_first - 0.05, p_last) == pytest.approx(vp, rel=0.1)
    s_last = far / vs + 0.3
    assert _fit_velocity(data, x, rate, s_first - 0.05, s_last) == pytest.approx(vs, rel=0.1)


@pytest.mark.parametrize("ratio", [2.0, 3.5, 5.0])
def test_s_to_p_amplitude_ratio(ratio: float) -> None:
    data, x, rate = _quake(6000.0, 3500.0, ratio)
    centre = data[:, x.size // 2]
    p = np.abs(centre[: round((DISTANCE / 6000 + 0.45) * rate)]).max()
    s = np.abs(centre[round((DISTANCE / 3500 - 0.05) * rate) :]).max()
    assert s / p == pytest.approx(ratio, rel=0.05)


def test_p_arrives_first_at_the_closest_channel() -> None:
    data, x, rate = _quake(6000.0, 3500.0, 3.0)
    onset = np.argmax(np.abs(data) > 1e-3 * np.abs(data).max(), axis=0) / rate
    assert onset[x.size // 2] == onset.min()
    assert onset[x.size // 2] == pytest.approx(DISTANCE / 6000, abs=0.005)
    np.testing.assert_allclose(onset, np.hypot(x, DISTANCE) / 6000, atol=0.005)
