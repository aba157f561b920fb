"""The session objects every entry point runs: scenarios (``ScenarioSession``) and fibers
(``StreamSession``), in this process, without the command line."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from fibersim.errors import InputError
from fibersim.models import FiberConfig
from fibersim.runner.focus_target import Endpoints
from fibersim.scenario import load_scenario
from fibersim.session.scenario import Outputs, ScenarioSession
from fibersim.session.stream import StreamPlan, StreamSession
from fibersim.transport import BrokerSettings
from tests.scenario.helpers import write_scenario

PASSWORD = "s3cret-of-the-session"
SMALL = FiberConfig(number_of_channels=8, prr=100.0)

CONNECTS = """
name: connects
fiber: {channels: 8, prr: 100}
run: {speed: max}
timeline:
  - do: connect
  - expect: {state: ready}
    within: 5s
"""


def test_a_scenario_session_runs_its_files_and_writes_the_report(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, CONNECTS)
    report = tmp_path / "report.json"
    session = ScenarioSession([(str(path), load_scenario(path))], BrokerSettings(), Endpoints(),
                              outputs=Outputs(reports=(str(report),)), quiet=True)
    console = io.StringIO()
    code, results = asyncio.run(session.run(console, console))
    assert (code, [result.passed for result in results]) == (0, [True])
    assert json.loads(report.read_text())["scenarios"][0]["name"] == "connects"


def test_a_scenario_session_refuses_the_embedded_broker_for_a_separate_server(
        tmp_path: Path) -> None:
    path = write_scenario(tmp_path, CONNECTS)
    session = ScenarioSession([(str(path), load_scenario(path))], BrokerSettings(),
                              Endpoints(focus_url="http://127.0.0.1:9/"))
    with pytest.raises(InputError, match="cannot consume the embedded broker"):
        session.runners(lambda record: None)


def test_a_scenario_session_never_shows_its_secrets() -> None:
    session = ScenarioSession([], BrokerSettings(f"amqp://u:{PASSWORD}@h/"),
                              Endpoints(focus_control_token=PASSWORD), secrets=[PASSWORD])
    assert PASSWORD not in repr(session)


def test_a_stream_session_publishes_its_plan_and_counts_every_block(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    plan = StreamPlan((0,), "fiber-", 0, None, SMALL, BrokerSettings(), duration=1.0,
                      speed=float("inf"), quiet=True, stats_json=str(stats))
    session = StreamSession(plan)

    async def run() -> None:
        await session.open()
        try:
            await session.publish()
        finally:
            await session.close()

    asyncio.run(run())
    assert session.exit_code() == 0
    assert json.loads(stats.read_text())["blocks"] == 10
    assert session.summary_text().startswith("summary: 1.0 simulated s")
