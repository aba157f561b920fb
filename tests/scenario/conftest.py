"""Runs shared by several test modules: each costs seconds of wall time, so it happens once."""

from __future__ import annotations

import concurrent.futures
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.scenario.helpers import LIBRARY, SCENARIOS, Completed, fibersim


@pytest.fixture(scope="session")
def library_over_rabbitmq(amqp_url: str, tmp_path_factory: pytest.TempPathFactory
                          ) -> dict[str, Any]:
    """The whole library against RabbitMQ: two ``fibersim run`` processes side by side (each
    on a fresh exchange, half of the files each), so the suite stays well under 3 minutes."""
    directory = tmp_path_factory.mktemp("library")
    halves = [LIBRARY[0::2], LIBRARY[1::2]]
    with concurrent.futures.ThreadPoolExecutor(len(halves)) as pool:
        runs = list(pool.map(lambda half: _run_half(amqp_url, directory, *half), halves))
    by_name = {scenario["scenario"]: scenario for completed, report, _ in runs
               for scenario in json.loads(report.read_text())["scenarios"]}
    return {"runs": [completed for completed, _, _ in runs],
            "junit": [junit for _, _, junit in runs], "by_name": by_name}


def _run_half(amqp_url: str, directory: Path, *paths: Path) -> tuple[Completed, Path, Path]:
    tag = uuid.uuid4().hex[:12]
    report, junit = directory / f"report-{tag}.json", directory / f"junit-{tag}.xml"
    completed = fibersim("run", *paths, "--amqp-url", amqp_url, "--exchange",
                         f"fibersim-test-{tag}", "--report", report, "--junit", junit,
                         timeout=300)
    return completed, report, junit


@pytest.fixture(scope="session")
def fiber_lost_embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``fibersim run scenarios/fiber_lost.yaml`` with no broker URL: everything in-process."""
    directory = tmp_path_factory.mktemp("embedded")
    report, junit = directory / "report.json", directory / "junit.xml"
    html = directory / "not-yet-there" / "report.html"  # run creates missing folders
    completed = fibersim("run", SCENARIOS / "fiber_lost.yaml", "--report", report,
                         "--junit", junit, "--report", html)
    return {"completed": completed, "junit": junit, "report": report, "html": html,
            "result": json.loads(report.read_text())["scenarios"][0]}
