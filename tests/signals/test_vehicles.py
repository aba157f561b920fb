"""Vehicle moveouts: the speed read back from the data matches the configured speed."""

from __future__ import annotations

import numpy as np
import pytest

from fibersim.signals import VehiclesSpec
from fibersim.signals.realism import channel_repetition
from fibersim.signals.traffic import TrafficStop
from tests.signals.signal_helpers import (
    context,
    delay_s,
    fk_peak_velocity,
    fk_velocities,
    render,
)


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


def _one_way(**stops: object) -> VehiclesSpec:
    return VehiclesSpec(rate_per_hour=30, directions="forward", speed_min=15, speed_max=15,
                        speed_wander=0, lanes=1, **stops)


def test_a_stop_sign_delays_vehicles_past_the_line_by_braking_waiting_and_accelerating(
) -> None:
    ctx = context(n_channels=500, prr=10.0, dx=2.0, seed=5)
    stop = TrafficStop(channel=250, cycle_s=0, dwell_s=10)
    free = render([_one_way()], ctx, 240.0).astype(np.float64)
    halting = render([_one_way(stops=[stop])], ctx, 240.0).astype(np.float64)
    assert np.abs(free[:, 400]).max() > 0
    # Braking starts v^2 / (2 decel) = 45 m before the line: unchanged before that.
    np.testing.assert_array_equal(halting[:, :200], free[:, :200])
    # Late by half the braking time (15 / 2.5 s), the halt, half the acceleration (15 / 1.5).
    late = delay_s(free[:, 400], halting[:, 400], ctx.prr)
    assert late == pytest.approx(6 / 2 + 10 + 10 / 2, abs=0.3)


def test_a_halted_vehicle_strains_nothing_at_the_line() -> None:
    ctx = context(n_channels=500, prr=10.0, dx=2.0, seed=5)
    data = render([_one_way(stops=[TrafficStop(channel=250, cycle_s=0, dwell_s=60)])], ctx,
                  600.0)
    at_line = np.abs(data[:, 250])
    quiet = np.flatnonzero(at_line == 0)
    assert at_line.max() > 0
    # Every vehicle stands 60 s over the line: the channel sees neither load change nor
    # tyre noise for most of that time.
    longest = max(len(run) for run in np.split(quiet, np.flatnonzero(np.diff(quiet) > 1) + 1))
    assert longest >= 55 * ctx.prr


@pytest.mark.parametrize(("arrival", "waits"), [(10.0, 30.0), (39.0, 1.0), (45.0, None),
                                                 (95.0, 35.0)])
def test_a_traffic_light_holds_vehicles_arriving_at_red_until_green(
        arrival: float, waits: float | None) -> None:
    light = TrafficStop(channel=0, cycle_s=90, red_s=40)  # red 0-40 s, 90-130 s, ...
    assert light.dwell(arrival, arrival) == waits


def _median_tyre_velocity(tyre_wave_speed: float) -> float:
    """Power-weighted median |f / k| of the tyre band (5-20 Hz), tyre noise alone."""
    ctx = context(n_channels=400, prr=100.0, dx=2.0, seed=6)
    spec = VehiclesSpec(rate_per_hour=120, tyre_wave_speed=tyre_wave_speed, strain=1e-12,
                        tyre_decay_m=15, speed_wander=0)
    velocity, power = fk_velocities(render([spec], ctx, 60.0).astype(np.float64), ctx.prr,
                                    ctx.dx, 5.0, 20.0)
    order = np.argsort(np.abs(velocity))
    share = np.cumsum(power[order]) / power.sum()
    return float(np.abs(velocity[order][np.searchsorted(share, 0.5)]))


@pytest.mark.parametrize("wave_speed", [150.0, 400.0])
def test_tyre_noise_radiates_on_a_cone_at_the_surface_wave_speed(wave_speed: float) -> None:
    assert _median_tyre_velocity(wave_speed) == pytest.approx(wave_speed, rel=0.2)


def test_tyre_noise_without_propagation_is_felt_at_once() -> None:
    assert _median_tyre_velocity(0.0) > 1000


@pytest.mark.parametrize("wave_speed", [0.0, 250.0])
def test_a_vehicle_tyre_noise_never_repeats_while_it_passes(wave_speed: float) -> None:
    """A slow vehicle fills a channel with its tyre noise for minutes; at 1 kHz its bank
    column (2^15 samples) would repeat after 33 s, within the lags that must stay clean."""
    ctx = context(n_channels=3, prr=1000.0, dx=2.0, seed=7)
    spec = VehiclesSpec(rate_per_hour=20, directions="forward", speed_min=0.2, speed_max=0.2,
                        speed_wander=0, lanes=1, strain=1e-12, tyre_decay_m=30,
                        tyre_wave_speed=wave_speed)
    series = render([spec], ctx, 150.0, first_s=600.0)[:, 1:2].astype(np.float64)
    assert np.abs(series).max() > 0
    peaks = channel_repetition(series, round(0.2 * ctx.prr), round(60 * ctx.prr))
    assert peaks.max() < 0.1
