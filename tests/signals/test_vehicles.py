"""Vehicle moveouts: the speed read back from the data matches the configured speed."""

from __future__ import annotations

import numpy as np
import pytest

from fibersim.signals import VehiclesSpec
from tests.signals.signal_helpers import context, fk_peak_velocity, render


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("speed", [10.0, 18.0, 30.0])
def test_speed_from_the_f_k_peak(speed: float, direction: str) -> None:
    """The quasi-static load (< 1 Hz) puts the energy on the line f = v k."""
    ctx = context(n_channels=1000, prr=10.0, dx=2.0, seed=3)
    spec = VehiclesSpec(
        rate_per_hour=120, speed_min=speed, speed_max=speed, directions=direction
    )
    data = render([spec], ctx, 150.0).astype(np.float64)
    assert np.abs(data).max() > 0
    expected = speed if direction == "forward" else -speed
    assert fk_peak_velocity(data, ctx.prr, ctx.dx, 0.05, 1.0) == pytest.approx(expected, rel=0.1)


def test_both_directions_is_the_sum_of_each_direction() -> None:
    ctx = context(n_channels=100, prr=100.0, dx=2.0, seed=4)
    spec = VehiclesSpec(rate_per_hour=600)
    both = render([spec], ctx, 30.0)
    forward = render([spec.model_copy(update={"directions": "forward"})], ctx, 30.0)
    backward = render([spec.model_copy(update={"directions": "backward"})], ctx, 30.0)
    assert np.abs(forward).max() > 0 and np.abs(backward).max() > 0
    np.testing.assert_allclose(both, forward + backward, rtol=1e-5, atol=1e-12)


def test_trucks_scale_the_same_traffic_by_their_factor() -> None:
    ctx = context(n_channels=100, prr=100.0, dx=2.0, seed=4)
    cars = VehiclesSpec(rate_per_hour=600, truck_fraction=0.0)
    trucks = cars.model_copy(
        update={"truck_fraction": 1.0, "truck_factor_min": 6.0, "truck_factor_max": 6.0}
    )
    car_data = render([cars], ctx, 30.0)
    truck_data = render([trucks], ctx, 30.0)
    assert np.abs(car_data).max() > 0
    np.testing.assert_allclose(truck_data, 6 * car_data, rtol=1e-4, atol=1e-12)
