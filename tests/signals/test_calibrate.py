"""Calibrating a background to a real recording, and using it as a preset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fibersim.cli.main import cli
from fibersim.cli.plot import scenario_synthesizer
from fibersim.cli.realism import rendered
from fibersim.scenario import load_scenario
from fibersim.signals.calibrate import TOLERANCES, calibrate, within
from fibersim.signals.realism import load, measure, resample
from tests.signals.test_realism import REFERENCE_DIR, needs_references


@needs_references
@pytest.mark.parametrize("name", ["prodml_2.0.h5", "febus_2.h5"])
def test_calibrated_background_matches_its_file_within_the_tolerances(name: str) -> None:
    fit = calibrate(load(str(REFERENCE_DIR / name)))
    judged = {key: within(key, fit.real[key], fit.simulated[key]) for key in TOLERANCES}
    assert [key for key, ok in judged.items() if ok is False] == []
    assert sum(ok is True for ok in judged.values()) >= 4


@needs_references
def test_a_site_file_is_a_preset_a_scenario_can_use(tmp_path: Path) -> None:
    real_path = REFERENCE_DIR / "febus_2.h5"
    site = tmp_path / "site.yaml"
    result = CliRunner().invoke(cli, ["calibrate", str(real_path), "-o", str(site)])
    assert result.exit_code == 0, result.output
    fitted_on = yaml.safe_load(site.read_text())["fitted_on"]
    scenario = tmp_path / "site_scenario.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "my-site",
        "fiber": {"channels": fitted_on["channels"], "prr": round(fitted_on["prr"], 3),
                  "dx": fitted_on["dx"], "gauge_length": fitted_on["gauge_length"],
                  "signals": [{"type": "preset", "path": str(site)}]},
        "timeline": [{"do": "connect"}]}))
    simulated = rendered(scenario_synthesizer(load_scenario(scenario)), 4.0, "site")
    real, sim = measure(load(str(real_path))), measure(resample(simulated, 1050.0))
    assert [key for key in TOLERANCES if within(key, real[key], sim[key]) is False] == []


def test_a_missing_site_file_is_a_one_line_error(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nfiber:\n  signals: [{type: preset, path: nowhere.yaml}]\n"
                        "timeline: [{do: connect}]\n")
    result = subprocess.run([sys.executable, "-m", "fibersim", "validate", str(scenario)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "s.yaml:3" in result.stderr
    assert "nowhere.yaml" in result.stderr
