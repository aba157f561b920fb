"""Realism against real recordings: no repetition, gauge-averaged noise, the reference spread."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fibersim.cli.main import cli
from fibersim.cli.plot import scenario_synthesizer
from fibersim.cli.realism import rendered
from fibersim.scenario import load_scenario
from fibersim.signals import IncoherentNoiseSpec, build_synthesizer
from fibersim.signals.banks import SpatialCorrelation
from fibersim.signals.realism import (
    REFERENCE,
    REFERENCE_FILES,
    STATISTICS,
    Recording,
    channel_repetition,
    compare,
    load,
    measure,
    spread,
)
from tests.signals.signal_helpers import context

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference-das"
HEALTHY = Path(__file__).resolve().parents[2] / "scenarios" / "healthy.yaml"
needs_references = pytest.mark.skipif(
    not REFERENCE_DIR.is_dir(), reason=f"reference recordings not found in {REFERENCE_DIR}")


def _highpassed(data: np.ndarray, rate: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, 0.1 * rate, btype="highpass", fs=rate, output="sos")
    return np.asarray(sosfiltfilt(sos, data.astype(np.float64), axis=0))


@pytest.mark.parametrize("n_channels", [16, 700, 2600, 3000])
def test_noise_never_repeats_at_lags_of_0_2_to_60_s(n_channels: int) -> None:
    ctx = context(n_channels=n_channels, prr=100.0, dx=1.02, seed=4)
    synthesizer = build_synthesizer([IncoherentNoiseSpec()], ctx)
    watched = np.linspace(0, n_channels - 1, 12).astype(int)
    rows = [synthesizer.render(1000)[:, watched] for _ in range(121)]  # 121 s
    series = _highpassed(np.concatenate(rows), ctx.prr)
    peaks = channel_repetition(series, round(0.2 * ctx.prr), round(60 * ctx.prr))
    assert peaks.max() < 0.1


@pytest.mark.parametrize(("dx", "gauge"), [(1.02, 10.0), (4.0, 10.0), (2.5, 5.0), (0.4, 2.0)])
def test_boxcar_gauge_gives_the_triangle_correlation(dx: float, gauge: float) -> None:
    ctx = context(n_channels=400, prr=200.0, dx=dx, gauge=gauge, seed=5)
    spec = IncoherentNoiseSpec(pulse_fraction=0, level_sigma=0, loss_db_per_km=0)
    data = build_synthesizer([spec], ctx).render(4000).astype(np.float64)
    unit = data / data.std(axis=0)
    for lag in range(1, 4):
        measured = np.mean(unit[:, :-lag] * unit[:, lag:])
        assert measured == pytest.approx(max(0.0, 1 - lag * dx / gauge), abs=0.03)


def test_pulse_widens_the_correlation_beyond_the_gauge() -> None:
    wide = SpatialCorrelation(1.0, 10.0, 5.0).at(np.array([5.0]))[0]
    assert wide > 0.5  # the boxcar alone falls to exactly 0.5 at half a gauge


def test_level_varies_along_the_fibre_and_grows_with_distance() -> None:
    ctx = context(n_channels=2000, prr=200.0, dx=5.0, seed=6)
    spec = IncoherentNoiseSpec(level_sigma=0.3, loss_db_per_km=0.5, sections=[(100, 149, 4.0)])
    rms = build_synthesizer([spec], ctx).render(1000).std(axis=0)
    p10, p90 = np.percentile(rms, [10, 90])
    assert 1.5 < p90 / p10 < 5
    assert np.median(rms[-400:]) > 1.5 * np.median(rms[200:600])  # 10 km of 0.5 dB/km
    assert np.median(rms[100:150]) > 2.5 * np.median(rms[150:200])


@needs_references
@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_reference_statistics_are_those_of_the_files(name: str) -> None:
    index = REFERENCE_FILES.index(name)
    measured = measure(load(str(REFERENCE_DIR / name)))
    for key, values in REFERENCE.items():
        expected = values[index]
        if expected is None:
            assert measured[key] is None
        else:
            assert measured[key] == pytest.approx(expected, abs=0.002, rel=0.01)


@pytest.fixture(scope="module")
def healthy() -> Recording:
    """What ``fibersim realism`` compares by default: 60 s of the scenario."""
    return rendered(scenario_synthesizer(load_scenario(HEALTHY)), 60.0, "healthy")


@needs_references
@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_healthy_scenario_is_inside_the_widened_reference_spread(
    name: str, healthy: Recording
) -> None:
    _, rows = compare(load(str(REFERENCE_DIR / name)), healthy)
    assert [row.statistic.key for row in rows if row.verdict == "outside"] == []
    measured = [row for row in rows if row.verdict == "inside"]
    assert len(measured) == len(STATISTICS)  # a simulated fiber shows every statistic


def test_spread_widens_by_a_quarter_of_its_width_each_side() -> None:
    assert spread((1.0, None, 3.0)) == (0.5, 3.5)
    assert spread((None, None)) is None


@needs_references
def test_realism_command_prints_and_writes_json_and_png(tmp_path: Path) -> None:
    report, picture = tmp_path / "r.json", tmp_path / "r.png"
    result = CliRunner().invoke(cli, [
        "realism", str(REFERENCE_DIR / "febus_2.h5"), str(HEALTHY), "--duration", "30s",
        "--json", str(report), "--png", str(picture)])
    assert result.exit_code == 0, result.output
    assert "common_mode_share" in result.output
    rows = json.loads(report.read_text())["rows"]
    assert {row["statistic"] for row in rows} == {s.key for s in STATISTICS}
    assert picture.stat().st_size > 10_000
