"""Runs shared by several test modules: each costs seconds of wall time, so it happens once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.scenario.helpers import LIBRARY, SCENARIOS, fibersim


@pytest.fixture(scope="session")
def library_over_rabbitmq(amqp_url: str, tmp_path_factory: pytest.TempPathFactory
                          ) -> dict[str, Any]:
    """One ``fibersim run`` of the whole library against RabbitMQ, on a fresh exchange."""
    directory = tmp_path_factory.mktemp("library")
    report = directory / "report.json"
    completed = fibersim("run", *LIBRARY, "--amqp-url", amqp_url,
                         "--exchange", f"fibersim-test-{uuid.uuid4().hex[:12]}",
                         "--report", report, "--junit", directory / "junit.xml",
                         timeout=300)
    document = json.loads(report.read_text())
    return {"completed": completed, "junit": directory / "junit.xml", "report": report,
            "by_name": {scenario["scenario"]: scenario for scenario in document["scenarios"]}}


@pytest.fixture(scope="session")
def fiber_lost_embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``fibersim run scenarios/fiber_lost.yaml`` with no broker URL: everything in-process."""
    directory = tmp_path_factory.mktemp("embedded")
    report, junit = directory / "report.json", directory / "junit.xml"
    completed = fibersim("run", SCENARIOS / "fiber_lost.yaml", "--report", report,
                         "--junit", junit)
    return {"completed": completed, "junit": junit, "report": report,
            "result": json.loads(report.read_text())["scenarios"][0]}
