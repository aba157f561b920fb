"""Third run mode: RabbitMQ plus a separately run Focus Server (here ``fibersim focus-mock`` in
its own process), with the mock's control interface behind a token."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenario.helpers import REPO, SCENARIOS, Completed, fibersim, write_scenario

TOKEN = "control-t0ken-xyz"


@pytest.fixture
def mock_log(tmp_path: Path) -> Path:
    """Where the separately run mock writes its log (its stderr), as a deployment would."""
    return tmp_path / "focus-mock.log"


@pytest.fixture
def separate_mock(amqp_url: str, exchange_name: str, mock_log: Path) -> Iterator[str]:
    """``fibersim focus-mock`` on a free port, consuming ``exchange_name``, logging to
    ``mock_log``; yields its URL."""
    with mock_log.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fibersim", "focus-mock", "--port", "0", "--amqp-url",
             amqp_url, "--exchange", exchange_name, "--metadata-timeout", "3s",
             "--control-token", TOKEN], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    url = None
    deadline = time.monotonic() + 30
    while url is None and process.poll() is None and time.monotonic() < deadline:
        match = re.search(r" at (http://\S+), consuming", mock_log.read_text())
        url = match.group(1) if match else None
        time.sleep(0.1)
    try:
        assert url, "the mock did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_against(separate_mock: str, amqp_url: str, exchange_name: str, scenario: Path,
                *options: str | Path) -> Completed:
    return fibersim("run", scenario, "--amqp-url", amqp_url, "--exchange", exchange_name,
                    "--focus-url", separate_mock + "/", "--focus-control-url", separate_mock,
                    "--focus-control-token", TOKEN, *options)


@pytest.mark.broker
def test_the_full_incident_passes_against_a_separate_mock_following_its_log_file(
        amqp_url: str, exchange_name: str, separate_mock: str, mock_log: Path,
        tmp_path: Path) -> None:
    completed = run_against(separate_mock, amqp_url, exchange_name,
                            SCENARIOS / "incident_full.yaml", "--focus-log-file", mock_log,
                            "--strict")
    assert completed.code == 0, completed.output[-3000:]
    assert "13/13 expectations met" in completed.stdout


@pytest.mark.broker
def test_the_full_incident_without_a_log_source_skips_its_log_checks(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    completed = run_against(separate_mock, amqp_url, exchange_name,
                            SCENARIOS / "incident_full.yaml", "--junit", junit)
    assert completed.code == 0, completed.output[-3000:]
    assert "9 not checked" in completed.stdout
    (suite,) = ElementTree.parse(junit).getroot()
    assert suite.get("skipped") == "9" and suite.get("failures") == "0"
    skipped = [case.find("skipped") for case in suite.iter("testcase")]
    assert all("no log source" in element.get("message", "") for element in skipped
               if element is not None)


LOGGED = """    name: logged
    fiber: {channels: 16, prr: 1000}
    focus_mock: {metadata_timeout: 1s}
    timeline:
      - do: connect
      - expect:
          state: ready
          log: {regex: 'INFO pz\\.focus_server state \\w+ -> ready \\(metadata\\)$', since: start}
        within: 5s
"""


@pytest.mark.broker
def test_strict_fails_a_run_whose_log_checks_cannot_be_made(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    completed = run_against(separate_mock, amqp_url, exchange_name,
                            write_scenario(tmp_path, LOGGED), "--strict")
    assert completed.code == 1
    assert "FAILED (--strict): 0/1 expectations met, 1 not checked" in completed.stdout


@pytest.mark.broker
def test_a_focus_mock_section_that_cannot_apply_is_warned_about(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    completed = run_against(separate_mock, amqp_url, exchange_name,
                            write_scenario(tmp_path, LOGGED))
    assert "warning: focus_mock: settings do not apply to a separately run server" in (
        completed.stdout)


@pytest.mark.broker
def test_log_checks_can_follow_a_commands_output(
        amqp_url: str, exchange_name: str, separate_mock: str, mock_log: Path,
        tmp_path: Path) -> None:
    completed = run_against(separate_mock, amqp_url, exchange_name,
                            write_scenario(tmp_path, LOGGED), "--focus-log-cmd",
                            f"tail -n 0 -F {mock_log}", "--strict")
    assert completed.code == 0, completed.output[-2000:]
    assert "log checks read log command tail" in completed.stdout


@pytest.mark.broker
def test_a_scenario_passes_against_a_separately_run_mock(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    completed = run_against(separate_mock, amqp_url, exchange_name, SCENARIOS / "zero_prr.yaml",
                            "--report", report)
    assert completed.code == 0, completed.output[-3000:]
    result = json.loads(report.read_text())["scenarios"][0]
    assert result["mode"] == "external"
    assert TOKEN not in completed.output + report.read_text()


@pytest.mark.broker
def test_a_wrong_control_token_fails_the_state_checks_with_the_http_status(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: wrong_token
        timeline:
          - expect: {state: waiting_for_fiber}
            within: 1s
    """)
    completed = fibersim("run", path, "--amqp-url", amqp_url, "--exchange", exchange_name,
                         "--focus-url", separate_mock, "--focus-control-url", separate_mock,
                         "--focus-control-token", "wrong")
    assert completed.code == 1
    assert re.search(r"last seen: mock status: HTTP 40[13]", completed.stderr), completed.stderr
