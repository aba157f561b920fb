"""Third run mode: RabbitMQ plus a separately run Focus Server (here ``fibersim focus-mock`` in
its own process), with the mock's control interface behind a token."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenario.helpers import REPO, SCENARIOS, fibersim, write_scenario

TOKEN = "control-t0ken-xyz"


@pytest.fixture
def separate_mock(amqp_url: str, exchange_name: str) -> Iterator[str]:
    """``fibersim focus-mock`` on a free port, consuming ``exchange_name``; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fibersim", "focus-mock", "--port", "0", "--amqp-url", amqp_url,
         "--exchange", exchange_name, "--metadata-timeout", "3s", "--control-token", TOKEN],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    url = None
    for line in process.stderr:  # ends at EOF if the mock dies: no hang
        match = re.search(r" at (http://\S+), consuming", line)
        if match:
            url = match.group(1)
            break
    try:
        assert url, "the mock did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.broker
def test_a_scenario_passes_against_a_separately_run_mock(
        amqp_url: str, exchange_name: str, separate_mock: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    completed = fibersim("run", SCENARIOS / "zero_prr.yaml", "--amqp-url", amqp_url,
                         "--exchange", exchange_name, "--focus-url", separate_mock + "/",
                         "--focus-control-url", separate_mock, "--focus-control-token", TOKEN,
                         "--report", report)
    assert completed.code == 0, completed.output[-3000:]
    result = json.loads(report.read_text())["scenarios"][0]
    assert result["mode"] == "external"
    assert "log not checked (Focus Server not in this process)" in completed.stdout
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
