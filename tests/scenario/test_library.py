"""The scenario library passes against the built-in mock, over the real RabbitMQ and over the
embedded broker, each scenario within 30 s of wall time at its default speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fibersim.scenario import load_scenario
from tests.scenario.helpers import LIBRARY, SCENARIOS, fibersim

INCIDENT_STATES = {"healthy", "fiber_lost", "never_connected", "zero_prr", "reconfiguration",
                   "flapping_fiber", "store_outage_restart", "retry_storm", "data_faults"}
#: The whole incident, every stage, in one file.
FULL_INCIDENT = "incident_full"
#: Scenarios that exist for their signal (record/replay sources), not for an incident state.
SIGNAL_SCENARIOS = {"quake"}


def test_the_library_has_one_scenario_per_incident_state_and_the_full_incident() -> None:
    assert {path.stem for path in LIBRARY} == INCIDENT_STATES | SIGNAL_SCENARIOS | {FULL_INCIDENT}


@pytest.mark.broker
@pytest.mark.parametrize("name", sorted(INCIDENT_STATES | SIGNAL_SCENARIOS | {FULL_INCIDENT}))
def test_scenario_passes_over_rabbitmq_in_under_30_s(
        library_over_rabbitmq: dict[str, Any], name: str) -> None:
    result = library_over_rabbitmq["by_name"][name]
    failures = [record["failure"] for record in result["records"]
                if record["kind"] == "expectation" and record["verdict"] != "met"]
    assert result["passed"], failures or result["error"]
    assert result["mode"] == "broker+mock"
    assert result["wall_s"] < 30


@pytest.mark.broker
def test_a_passing_library_run_exits_0(library_over_rabbitmq: dict[str, Any]) -> None:
    for completed in library_over_rabbitmq["runs"]:
        assert completed.code == 0, completed.output[-3000:]


def test_fiber_lost_passes_over_the_embedded_broker(fiber_lost_embedded: dict[str, Any]
                                                    ) -> None:
    completed, result = fiber_lost_embedded["completed"], fiber_lost_embedded["result"]
    assert completed.code == 0, completed.output[-3000:]
    assert result["mode"] == "embedded"
    assert result["wall_s"] < 30


def test_fiber_lost_reports_the_reaction_times_of_detection_and_recovery(
        fiber_lost_embedded: dict[str, Any]) -> None:
    records = {record["label"]: record for record in fiber_lost_embedded["result"]["records"]}
    assert 0 < records["lost"]["reaction_s"] < 6
    assert 0 < records["recovered"]["reaction_s"] < 6
    assert "reaction" in fiber_lost_embedded["completed"].stdout


def test_fiber_lost_uses_the_incident_fiber() -> None:
    config = load_scenario(SCENARIOS / "fiber_lost.yaml").fiber_config()
    assert (config.number_of_channels, config.prr) == (2337, 2000.0)


def test_the_full_incident_passes_embedded_asserting_every_stage(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    completed = fibersim("run", SCENARIOS / "incident_full.yaml", "--strict", "--report", report)
    assert completed.code == 0, completed.output[-3000:]
    result = json.loads(report.read_text())["scenarios"][0]
    assert result["mode"] == "embedded" and result["counts"]["met"] == 13
