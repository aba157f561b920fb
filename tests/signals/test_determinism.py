"""Block-size independence, seed determinism, placement and start/stop of sources."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from fibersim.signals import (
    DEFAULT_SIGNALS,
    CommonModeNoiseSpec,
    EarthquakeSpec,
    FootstepsSpec,
    IncoherentNoiseSpec,
    MachinerySpec,
    OceanSpec,
    PhaseWrapSpec,
    PresetSpec,
    RayleighFadingSpec,
    SignalSpec,
    VehiclesSpec,
    build_synthesizer,
)
from fibersim.signals.traffic import TrafficStop
from tests.signals.signal_helpers import context

SPECS = {
    "incoherent_noise": [IncoherentNoiseSpec()],
    "common_mode_noise": [CommonModeNoiseSpec()],
    "rayleigh_fading": [
        IncoherentNoiseSpec(),
        RayleighFadingSpec(fraction=0.05, tick_s=0.1, internal_channels=5, dead=[(50, 60)]),
    ],
    "phase_wrap": [MachinerySpec(amplitude=3e-4, channel=20), PhaseWrapSpec()],
    "vehicles": [VehiclesSpec(rate_per_hour=2000)],
    "footsteps": [FootstepsSpec(rate_per_hour=3000)],
    "earthquake": [EarthquakeSpec(origin_time=0.2, distance_m=500)],
    "machinery": [MachinerySpec()],
    "ocean": [OceanSpec()],
    "urban_road": None,
    "subsea": [PresetSpec(name="subsea")],
    # Signals weakened on faded channels whose sensitivity changes every 50 samples, and
    # vehicles halting at a stop sign.
    "faded_signals": [
        VehiclesSpec(rate_per_hour=2000, stops=[TrafficStop(channel=60, cycle_s=0, dwell_s=0.5)]),
        EarthquakeSpec(origin_time=0.2, distance_m=500),
        RayleighFadingSpec(fraction=0.2, tick_s=0.1, wrap=False),
    ],
}
SIZES = [1, 7, 333, 64, 1, 129, 500, 465]  # 1500 samples in odd pieces


@pytest.mark.parametrize("name", SPECS)
def test_output_does_not_depend_on_block_sizes(name: str) -> None:
    ctx = context(n_channels=120, prr=500.0, seed=5)
    whole = build_synthesizer(SPECS[name], ctx).render(sum(SIZES))
    pieces = build_synthesizer(SPECS[name], ctx)
    assert np.array_equal(whole, np.concatenate([pieces.render(n) for n in SIZES]))
    assert whole.dtype == np.float32
    assert np.any(whole != 0)


@pytest.mark.parametrize("name", SPECS)
def test_same_seed_same_output_other_seed_differs(name: str) -> None:
    first = build_synthesizer(SPECS[name], context(n_channels=120, seed=1)).render(1500)
    again = build_synthesizer(SPECS[name], context(n_channels=120, seed=1)).render(1500)
    other = build_synthesizer(SPECS[name], context(n_channels=120, seed=2)).render(1500)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_default_mix_is_urban_road_preset() -> None:
    assert [PresetSpec(name="urban_road")] == DEFAULT_SIGNALS
    labels = build_synthesizer(None, context()).labels
    assert labels == ["preset"]


def test_scenario_yaml_list_parses_into_specs() -> None:
    adapter = TypeAdapter(list[SignalSpec])
    specs = adapter.validate_python(
        [
            {"type": "preset", "name": "urban_road"},
            {"type": "earthquake", "origin_time": 12, "channels": [100, 900], "s_to_p": 4},
            {"type": "vehicles", "label": "convoy", "start": 5, "end": 60},
        ]
    )
    assert [spec.type for spec in specs] == ["preset", "earthquake", "vehicles"]
    with pytest.raises(ValidationError):
        adapter.validate_python([{"type": "vehicles", "speeed": 3}])


def test_channel_range_and_time_window_confine_a_source() -> None:
    ctx = context(n_channels=100, prr=200.0)
    spec = IncoherentNoiseSpec(channels=(10, 19), start=1.0, end=2.0)
    data = build_synthesizer([spec], ctx).render(600)
    assert np.all(data[:, :10] == 0) and np.all(data[:, 20:] == 0)
    assert np.all(data[:200] == 0) and np.all(data[400:] == 0)
    assert np.all(np.std(data[200:400, 10:20], axis=0) > 0)


def test_window_is_on_the_simulated_clock() -> None:
    ctx = context(n_channels=10, prr=100.0, start_time_s=1000.0)
    data = build_synthesizer([IncoherentNoiseSpec(start=1001.0)], ctx).render(200)
    assert np.all(data[:100] == 0) and np.all(data[100:].std(axis=0) > 0)


def test_start_and_stop_source_take_effect_at_the_next_sample() -> None:
    ctx = context(n_channels=30, prr=200.0)
    synthesizer = build_synthesizer([IncoherentNoiseSpec(label="floor")], ctx)
    before = synthesizer.render(37)
    synthesizer.start_source("pump", MachinerySpec(channel=15, amplitude=1e-3))
    during = synthesizer.render(50)
    synthesizer.stop_source("pump")
    synthesizer.stop_source("floor")
    after = synthesizer.render(20)
    reference = build_synthesizer([IncoherentNoiseSpec()], ctx).render(107)
    assert np.array_equal(before, reference[:37])
    assert np.abs(during[:, 15]).max() > 100 * np.abs(reference[37:87, 15]).max()
    assert np.all(after == 0)
    with pytest.raises(KeyError):
        synthesizer.stop_source("pump")


def test_started_source_matches_a_source_present_from_the_start() -> None:
    """Starting mid-run gives the same samples as having had the source all along."""
    ctx = context(n_channels=40, prr=200.0)
    spec = VehiclesSpec(rate_per_hour=3000)
    late = build_synthesizer([], ctx)
    late.render(100)
    late.start_source("traffic", spec)
    assert np.array_equal(late.render(300), build_synthesizer([spec], ctx).render(400)[100:])


def test_a_placed_preset_confines_all_its_parts() -> None:
    ctx = context(n_channels=100, prr=200.0)
    data = build_synthesizer([PresetSpec(name="urban_road", channels=(10, 49))], ctx).render(400)
    assert np.all(data[:, :10] == 0) and np.all(data[:, 50:] == 0)
    assert np.all(data[:, 10:50].std(axis=0) > 0)


def test_stopping_the_fading_stops_weakening_the_signals() -> None:
    ctx = context(n_channels=200, prr=500.0, seed=6)
    quake = EarthquakeSpec(origin_time=0.0, distance_m=1000, p_amplitude=1e-3)
    fading = RayleighFadingSpec(label="fading", fraction=0.2, wrap=False)
    synthesizer = build_synthesizer([quake, fading], ctx)
    faded = synthesizer.render(500)
    synthesizer.stop_source("fading")
    after = synthesizer.render(500)
    alone = build_synthesizer([quake], ctx).render(1000)
    assert not np.allclose(faded, alone[:500])
    np.testing.assert_array_equal(after, alone[500:])
