"""docker-compose.yml is a valid Compose file wiring RabbitMQ, the mock and a scenario run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.scenario.helpers import REPO


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("docker-compose is required under CI=true")
        pytest.skip("docker-compose not installed")
    return binary


def test_docker_compose_accepts_the_file() -> None:
    completed = subprocess.run([_compose_binary(), "-f", "docker-compose.yml", "config", "-q"],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def test_docker_compose_accepts_the_load_profile() -> None:
    completed = subprocess.run(
        [_compose_binary(), "-f", "docker-compose.yml", "--profile", "load", "config", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def test_the_scenario_service_waits_for_healthy_broker_and_mock() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "healthcheck" in services["rabbitmq"] and "healthcheck" in services["focus-mock"]
    assert services["fibersim"]["depends_on"] == {
        "rabbitmq": {"condition": "service_healthy"},
        "focus-mock": {"condition": "service_healthy"}}
    mock_command = services["focus-mock"]["command"]
    assert mock_command[0] == "focus-mock" and "0.0.0.0" in mock_command


def test_the_load_streamer_is_off_unless_its_profile_is_asked_for() -> None:
    streamer = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["streamer"]
    assert streamer["profiles"] == ["load"]
    assert "FIBERSIM_AMQP_URL" in streamer["environment"]
    assert "fibersim stream --fibers" in streamer["command"][0]
