"""JUnit XML and the JSON report: they parse, and their counts and facts match the run."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from fibersim.runner.results import RunResult, delivery_of
from fibersim.transport.base import PublishStats
from tests.scenario.helpers import SCENARIOS, fibersim, write_scenario

HALF_WRONG = """\
    name: half_wrong
    fiber: {channels: 16, prr: 1000}
    timeline:
      - do: connect
      - label: right
        expect: {state: ready}
      - label: wrong
        expect: {live_metadata: {prr: 1.0}}
        within: 0.5s
"""


def junit_suites(path: Path) -> list[ElementTree.Element]:
    root = ElementTree.parse(path).getroot()
    assert root.tag == "testsuites"
    return root.findall("testsuite")


def test_junit_has_one_testcase_per_expectation(fiber_lost_embedded: dict[str, Any]) -> None:
    (suite,) = junit_suites(fiber_lost_embedded["junit"])
    expectations = [record for record in fiber_lost_embedded["result"]["records"]
                    if record["kind"] == "expectation"]
    assert suite.get("name") == "fiber_lost"
    assert int(suite.get("tests", "-1")) == len(suite.findall("testcase")) == len(expectations)
    assert suite.get("failures") == suite.get("errors") == "0"


@pytest.mark.broker
def test_junit_of_the_library_has_one_suite_per_scenario_with_matching_counts(
        library_over_rabbitmq: dict[str, Any]) -> None:
    suites = [suite for junit in library_over_rabbitmq["junit"] for suite in junit_suites(junit)]
    by_name = library_over_rabbitmq["by_name"]
    assert {suite.get("name") for suite in suites} == set(by_name)
    for suite in suites:
        records = by_name[suite.get("name")]["records"]
        expected = sum(1 for record in records if record["kind"] == "expectation")
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase")) == expected


def test_junit_counts_a_failed_expectation_as_a_failure(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    completed = fibersim("run", write_scenario(tmp_path, HALF_WRONG), "--junit", junit)
    assert completed.code == 1
    (suite,) = junit_suites(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    failure = suite.find("testcase[@name='wrong']/failure")
    assert failure is not None and "prr=1000.0" in failure.get("message", "")


def test_the_json_report_identifies_the_run(fiber_lost_embedded: dict[str, Any]) -> None:
    result = fiber_lost_embedded["result"]
    scenario_bytes = (SCENARIOS / "fiber_lost.yaml").read_bytes()
    assert result["sha256"] == hashlib.sha256(scenario_bytes).hexdigest()
    assert result["seed"] == 20251108
    assert result["passed"] is True


def test_the_json_report_has_every_event_probe_and_verdict(
        fiber_lost_embedded: dict[str, Any]) -> None:
    records = fiber_lost_embedded["result"]["records"]
    assert [record["kind"] for record in records] == [
        "event", "expectation", "expectation", "event", "expectation", "expectation",
        "event", "expectation", "expectation"]
    for record in records:
        if record["kind"] == "expectation":
            assert record["verdict"] == "met" and record["probes"]
            assert record["probes"][-1]["ok"] is True
        else:
            assert record["outcome"] == "fired"


def test_the_json_report_is_written_for_a_failed_run(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    fibersim("run", write_scenario(tmp_path, HALF_WRONG), "--report", report)
    document = json.loads(report.read_text())
    assert document["passed"] is False
    verdicts = {record["label"]: record.get("verdict") for record
                in document["scenarios"][0]["records"]}
    assert verdicts == {"step-1": None, "right": "met", "wrong": "failed"}


def test_the_json_report_shows_the_delivery_as_the_publisher_counts_it() -> None:
    stats = PublishStats(published=9, confirmed=7, nacked=1, returned=1, bytes_published=900,
                         reconnects=2, broker_wait_seconds=0.12345,
                         lost_sequences={"fiber-0": [5, 2]},
                         unroutable_sequences={"fiber-1": [8]})
    result = RunResult("s", "s.yaml", "", 1, 1.0, "embedded", delivery=delivery_of(9, stats))
    delivery = result.as_json()["delivery"]
    assert isinstance(delivery, dict)
    assert list(delivery.items()) == [("next_sequence", 9), *stats.as_dict().items()]
