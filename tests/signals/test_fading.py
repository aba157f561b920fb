"""Rayleigh fading: the faded fraction, its drift, dead ranges and internal channels."""

from __future__ import annotations

import numpy as np
import pytest

from fibersim.signals import (
    EarthquakeSpec,
    IncoherentNoiseSpec,
    MachinerySpec,
    RayleighFadingSpec,
    SynthesisContext,
)
from tests.signals.signal_helpers import context, render


@pytest.mark.parametrize("fraction", [0.01, 0.03, 0.05])
def test_fraction_of_noisy_channels_matches_the_configuration(fraction: float) -> None:
    ctx = context(n_channels=3000, prr=500.0, seed=11)
    specs = [IncoherentNoiseSpec(), RayleighFadingSpec(fraction=fraction)]
    fractions = []
    for start in (0.0, 400.0, 800.0):  # independent sets (drift_s is 180 s)
        rms = render(specs, ctx, 0.4, first_s=start).std(axis=0)
        fractions.append(np.mean(rms > 5 * np.median(rms)))
    assert np.mean(fractions) == pytest.approx(fraction, abs=0.25 * fraction + 0.002)


def test_faded_noise_grows_as_one_over_the_amplitude_from_10_to_100_times_normal() -> None:
    ctx = context(n_channels=3000, prr=500.0, seed=12)
    specs = [IncoherentNoiseSpec(level_sigma=0), RayleighFadingSpec(fraction=0.05, wrap=False)]
    rms = render(specs, ctx, 0.4).std(axis=0)
    gains = rms[rms > 5 * np.median(rms)] / np.median(rms)
    assert np.percentile(gains, 10) > 8 and gains.max() < 110
    # gain_min sqrt(threshold / |z|^2), |z|^2 ~ uniform below a small threshold: median
    # gain_min sqrt(2).
    assert np.median(gains) == pytest.approx(10 * np.sqrt(2), rel=0.25)


def test_fading_changes_continuously_not_on_a_clock() -> None:
    ctx = context(n_channels=3000, prr=500.0, seed=16)
    spec = RayleighFadingSpec(fraction=0.05, drift_s=20.0, wrap=False)
    data = render([spec], ctx, 4.0)
    envelope = np.sqrt(np.mean(data.reshape(-1, 50, 3000) ** 2, axis=1))  # 0.1 s windows
    faded = np.flatnonzero(envelope.max(axis=0) > 0)
    steps = np.abs(np.diff(np.log(envelope[:, faded] + 1e-12), axis=0))
    assert faded.size > 50
    # Fading in and out is gradual: no 0.1 s window jumps from nothing to a faded level,
    # and the largest changes are not all at whole seconds.
    on_second = steps[9::10].mean()
    assert on_second < 1.5 * steps.mean()


def test_faded_set_drifts_over_minutes() -> None:
    ctx = context(n_channels=3000, prr=500.0, seed=13)
    specs = [IncoherentNoiseSpec(), RayleighFadingSpec(fraction=0.05, drift_s=120.0)]

    def faded(at: float) -> set[int]:
        rms = render(specs, ctx, 0.2, first_s=at).std(axis=0)
        return set(np.flatnonzero(rms > 5 * np.median(rms)).tolist())

    now, soon, later = faded(0.0), faded(2.0), faded(600.0)
    assert len(now & soon) > 0.8 * len(now)
    assert len(now & later) < 0.3 * len(now)


def test_faded_channels_wrap_at_the_unwrapping_limit() -> None:
    ctx = context(n_channels=2000, prr=500.0, seed=14)
    spec = RayleighFadingSpec(fraction=0.05, gain_min=200, gain_max=300)
    data = render([IncoherentNoiseSpec(), spec], ctx, 0.5)
    limit = 1550e-9 * ctx.prr / (4 * 1.445 * 0.79 * ctx.gauge_length_meters)
    assert np.abs(data).max() <= limit * (1 + 1e-6)
    assert np.abs(data).max() > 0.9 * limit


def test_internal_and_dead_channels_carry_only_their_noise() -> None:
    ctx = context(n_channels=200, prr=500.0, seed=15)
    loud = [MachinerySpec(channel=5, amplitude=1e-4), MachinerySpec(channel=150, amplitude=1e-4)]
    fading = RayleighFadingSpec(
        fraction=0.0, internal_channels=10, internal_gain=0.2, dead=[(140, 160)], dead_gain=30
    )
    flat = IncoherentNoiseSpec(level_sigma=0, loss_db_per_km=0)  # one normal level
    data = render([flat, *loud, fading], ctx, 2.0)
    rms = data.std(axis=0)
    normal = np.median(rms[20:130])
    assert np.allclose(rms[:10] / normal, 0.2, rtol=0.2)
    assert np.allclose(rms[140:161] / normal, 30, rtol=0.2)
    assert rms[12] > 10 * normal  # the machine is still heard outside the internal stretch


def _quake_and_fading(ctx: SynthesisContext, fading: RayleighFadingSpec,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signal as recorded with fading, faded noise alone, signal alone) of a quake under
    the whole fiber: rendering the fading with and without the quake separates them."""
    quake = EarthquakeSpec(origin_time=0.0, distance_m=3000.0, p_amplitude=1e-3)
    with_quake = render([quake, fading], ctx, 1.5, first_s=0.5)
    noise = render([fading], ctx, 1.5, first_s=0.5)
    return with_quake - noise, noise, render([quake], ctx, 1.5, first_s=0.5)


def test_signals_weaken_on_faded_channels_as_the_noise_rises() -> None:
    ctx = context(n_channels=2000, prr=500.0, seed=17)
    recorded, noise, signal = _quake_and_fading(ctx, RayleighFadingSpec(fraction=0.05,
                                                                        wrap=False))
    ratio = np.sqrt(np.sum(recorded**2, axis=0) / np.sum(signal**2, axis=0))
    faded = noise.std(axis=0) > 0
    assert np.allclose(ratio[~faded], 1.0, rtol=1e-5)  # unfaded channels: untouched
    deep = faded & (ratio < 0.9)
    assert deep.sum() > 0.5 * faded.sum() > 20
    # Signal ~ amplitude, noise ~ 1 / amplitude: their product is the same on every
    # deeply faded channel (gain_min times the normal noise), so SNR falls as |z|^2.
    product = ratio[deep] * noise.std(axis=0)[deep]
    assert np.percentile(product, 90) < 1.6 * np.percentile(product, 10)


def test_signal_floor_one_leaves_signals_unweakened() -> None:
    ctx = context(n_channels=500, prr=500.0, seed=18)
    recorded, _, signal = _quake_and_fading(
        ctx, RayleighFadingSpec(fraction=0.05, wrap=False, signal_floor=1.0))
    np.testing.assert_allclose(recorded, signal, atol=1e-6 * np.abs(signal).max())
