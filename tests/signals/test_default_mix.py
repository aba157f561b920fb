"""The default (urban_road) mix as a geophysicist would check it."""

from __future__ import annotations

import numpy as np

from fibersim.signals import VehiclesSpec
from tests.signals.signal_helpers import context, fk_velocities, render


def test_low_frequency_f_k_energy_lies_on_the_traffic_velocities() -> None:
    ctx = context(n_channels=800, prr=200.0, dx=2.0, seed=0)
    data = render(None, ctx, 120.0).astype(np.float64)
    data -= np.median(data, axis=1, keepdims=True)  # common-mode removal
    velocity, power = fk_velocities(data, ctx.prr, ctx.dx, 0.05, 0.8)
    traffic = VehiclesSpec()
    on_road = (np.abs(velocity) >= 0.9 * traffic.speed_min) & (
        np.abs(velocity) <= 1.1 * traffic.speed_max
    )
    assert power[on_road].sum() > 0.7 * power.sum()
    forward, backward = power[on_road & (velocity > 0)].sum(), power[on_road & (velocity < 0)].sum()
    assert min(forward, backward) > 0.01 * (forward + backward)  # traffic both ways


def test_noise_floor_is_blue_and_machines_make_spectral_lines() -> None:
    ctx = context(n_channels=400, prr=2000.0, dx=1.02, seed=0)
    data = render(None, ctx, 4.0).astype(np.float64)
    # Median over channels: faded channels (saturated, flat spectra) are not the floor.
    spectrum = np.median(np.abs(np.fft.rfft(data, axis=0)) ** 2, axis=1)
    f = np.fft.rfftfreq(data.shape[0], 1 / ctx.prr)

    def band(lo: float, hi: float) -> float:
        return float(np.median(spectrum[(f >= lo) & (f <= hi)]))

    assert band(400, 600) > 10 * band(40, 60)  # blue: white phase noise differentiated
    machine = int(0.31 * ctx.n_channels)
    line = (np.abs(np.fft.rfft(data[:, machine])) ** 2)[np.argmin(np.abs(f - 29.5))]
    assert line > 100 * np.median(np.abs(np.fft.rfft(data[:, machine])) ** 2)
