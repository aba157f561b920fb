"""The documented time semantics: simulated schedule, wall-clock windows, checkpoints that
hold the timeline back while the stream keeps flowing, ``after`` counted from what actually
happened, holds ``until`` an event judged just before it fires, and ``--speed``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fibersim.runner.focus_target import Endpoints
from fibersim.runner.results import EventRecord, ExpectationRecord, RunResult
from fibersim.runner.scenario_runner import RunSettings, ScenarioRunner
from fibersim.scenario import load_scenario
from fibersim.transport import BrokerSettings
from tests.scenario.helpers import write_scenario

SMALL_FIBER = "fiber: {channels: 16, prr: 1000}\n"


async def run_after_connect(tmp_path: Path, steps: str, speed: float | None = None,
                            settings: str = "") -> RunResult:
    """Run, in this process (embedded broker and mock), a scenario of a small fiber whose
    timeline is a ``connect`` followed by ``steps`` (YAML list items); ``settings`` are
    top-level sections to add."""
    path = write_scenario(tmp_path, "name: t\n" + SMALL_FIBER + settings
                          + "timeline:\n  - do: connect\n" + steps)
    runner = ScenarioRunner(load_scenario(path), str(path), BrokerSettings(), Endpoints(),
                            RunSettings(speed=speed), lambda record: None, [])
    return await runner.run()


def by_label(result: RunResult) -> dict[str, EventRecord | ExpectationRecord]:
    return {record.label: record for record in result.records}


@pytest.fixture(scope="module")
def held_back(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An event due at 1 s behind a checkpoint that needs about 2.5 s of streamed data."""
    result = asyncio.run(run_after_connect(tmp_path_factory.mktemp("held"), """\
  - label: plenty
    expect: {mock: {counters.messages.data: {ge: 25}}}
    within: 10s
  - label: late
    at: 1s
    do: gap
"""))
    return by_label(result)


def test_a_checkpoint_holds_back_later_events_while_the_stream_keeps_flowing(
        held_back: dict[str, Any]) -> None:
    assert held_back["plenty"].verdict == "met"
    assert held_back["late"].sim_s >= 2.4  # due at 1 s, released only when 25 blocks arrived


def test_an_overdue_event_fires_as_soon_as_the_checkpoint_is_met(held_back: dict[str, Any]
                                                                 ) -> None:
    assert held_back["late"].sim_s - held_back["plenty"].met_sim_s < 0.3


async def test_after_counts_from_when_the_referenced_step_was_met(tmp_path: Path) -> None:
    result = await run_after_connect(tmp_path, """\
  - label: plenty
    expect: {mock: {counters.messages.data: {ge: 15}}}
    within: 10s
  - label: then
    after: plenty + 1s
    do: gap
""")
    records = by_label(result)
    waited = records["then"].sim_s - records["plenty"].met_sim_s
    assert 0.95 <= waited <= 1.3


async def test_a_hold_until_an_event_is_judged_just_before_that_event_fires(
        tmp_path: Path) -> None:
    result = await run_after_connect(tmp_path, """\
  - label: stays_ready
    expect: {state: ready}
    until: cut
  - label: cut
    at: 1.5s
    do: disconnect
""")
    record = by_label(result)["stays_ready"]
    assert record.verdict == "met" and record.hold == "holds until cut"
    assert len(record.probes) > 3


async def test_an_event_due_during_a_hold_waits_until_the_hold_ends(tmp_path: Path) -> None:
    result = await run_after_connect(tmp_path, """\
  - label: stays_ready
    expect: {state: ready}
    holds_for: 3s
  - at: 1s
    do: disconnect
""")
    records = by_label(result)
    assert records["stays_ready"].verdict == "met"  # the disconnect came after the hold
    assert records["step-3"].wall_s >= 2.9


async def test_speed_scales_simulated_time_but_not_wall_windows(tmp_path: Path) -> None:
    result = await run_after_connect(tmp_path, """\
  - label: later
    at: 4s
    do: gap
  - label: seen
    expect: {mock: {counters.missing_blocks: {ge: 1}}}
    within: 2s
""", speed=4.0)
    records = by_label(result)
    assert records["later"].sim_s >= 4.0
    assert records["later"].wall_s < 1.6
    assert records["seen"].verdict == "met"


async def test_reaction_time_is_measured_from_when_the_expectation_became_due(
        tmp_path: Path) -> None:
    result = await run_after_connect(tmp_path, settings="focus_mock: {metadata_timeout: 1s}\n",
                                     steps="""\
  - expect: {state: ready}
  - label: cut
    at: 0.5s
    do: disconnect
    clean: false
  - label: lost
    expect: {state: waiting_for_fiber}
    within: 5s
""")
    lost = by_label(result)["lost"]
    assert isinstance(lost, ExpectationRecord) and lost.reaction_s is not None
    assert 0.3 < lost.reaction_s < 2.5  # the mock's 1 s metadata timeout, seen from the cut
