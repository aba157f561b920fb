"""``do: network`` steps: faults on the broker link and the focus link of a run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fibersim.errors import InputError
from fibersim.runner.focus_target import Endpoints
from fibersim.runner.results import ExpectationRecord, RunResult
from fibersim.runner.scenario_runner import RunSettings, ScenarioRunner
from fibersim.scenario import load_scenario
from fibersim.session.ledger import DurableChecker, Ledger
from fibersim.transport import BrokerSettings, PublishStats
from tests.scenario.helpers import write_scenario

FIBER = "fiber: {fiber_id: net-fiber, channels: 16, prr: 500}\n"


async def run_text(tmp_path: Path, text: str, endpoints: Endpoints,
                   broker: BrokerSettings | None = None) -> RunResult:
    path = write_scenario(tmp_path, text)
    runner = ScenarioRunner(load_scenario(path), str(path), broker or BrokerSettings(),
                            endpoints, RunSettings(), lambda record: None, [])
    return await runner.run()


def expectation(result: RunResult, label: str) -> ExpectationRecord:
    record = next(record for record in result.records if record.label == label)
    assert isinstance(record, ExpectationRecord)
    return record


def test_a_network_step_without_its_fault_parameter_is_refused_at_its_line(
        tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "name: t\ntimeline:\n  - do: connect\n  - do: network\n"
                                    "    link: focus\n    fault: latency\n")
    with pytest.raises(InputError) as error:
        load_scenario(path)
    assert str(error.value) == f"{path}:4: timeline[1]: latency needs latency"


async def test_a_broker_link_fault_on_the_embedded_broker_is_refused_before_the_run(
        tmp_path: Path) -> None:
    text = "name: t\ntimeline:\n  - do: connect\n  - do: network\n    link: broker\n" \
           "    fault: blackhole\n"
    with pytest.raises(InputError, match=r":4: timeline\[1\]: a broker-link fault needs a real"):
        await run_text(tmp_path, text, Endpoints())


async def test_a_blackholed_focus_link_fails_a_probe_in_time_and_clearing_it_heals(
        tmp_path: Path) -> None:
    result = await run_text(tmp_path, "name: t\n" + FIBER + """\
timeline:
  - do: connect
  - {label: before, expect: {live_metadata: {prr: 500}}, within: 10s}
  - {do: network, link: focus, fault: blackhole}
  - {label: cut, expect: {live_metadata: {prr: 500}}, within: 1s}
  - {do: network, link: focus, fault: clear}
  - {label: healed, expect: {live_metadata: {prr: 500}}, within: 5s}
""", Endpoints(request_timeout_s=0.5))
    assert [expectation(result, label).verdict for label in ("before", "cut", "healed")] == [
        "met", "failed", "met"]
    assert "no complete answer within 0.5s" in expectation(result, "cut").failure
    assert result.wall_s < 8


async def test_latency_on_the_focus_link_shows_in_the_probes_reaction_time(
        tmp_path: Path) -> None:
    result = await run_text(tmp_path, "name: t\n" + FIBER + """\
timeline:
  - do: connect
  - {expect: {live_metadata: {prr: 500}}, within: 10s}
  - {do: network, link: focus, fault: latency, latency: 300ms, direction: downstream}
  - {label: slow, expect: {live_metadata: {prr: 500}}, within: 5s}
""", Endpoints())
    slow = expectation(result, "slow")
    assert slow.verdict == "met"
    assert slow.reaction_s is not None and slow.reaction_s >= 0.3


@pytest.mark.broker
async def test_resets_slicing_and_latency_on_the_broker_link_lose_no_block_silently(
        tmp_path: Path, amqp_url: str, exchange_name: str) -> None:
    checker = DurableChecker(amqp_url, exchange_name, "net-fiber",
                             queue=f"{exchange_name}-{uuid.uuid4().hex[:6]}")
    await checker.declare()
    try:
        result = await run_text(tmp_path, "name: t\n" + FIBER + """\
run: {speed: 1}
timeline:
  - do: connect
  - {at: 0.5s, do: network, link: broker, fault: reset_peer, for: 0.3s}
  - {at: 1.5s, do: network, link: broker, fault: slicing, size: 7, for: 1s}
  - {at: 2s, do: network, link: broker, fault: latency, latency: 100ms, jitter: 50ms}
  - {at: 3s, do: network, link: broker, fault: clear}
  - {at: 3.5s, expect: {live_metadata: {prr: 500}}, within: 5s}
""", Endpoints(), BrokerSettings(amqp_url, exchange=exchange_name, shutdown_timeout_s=2.0))
        seen = await checker.drain(idle_s=1.0)
    finally:
        await checker.delete()
    delivery = result.delivery
    assert delivery is not None
    stats = PublishStats(lost_sequences=delivery["lost_sequences"],
                         unroutable_sequences=delivery["unroutable_sequences"])
    ledger = Ledger.of("net-fiber", set(range(delivery["next_sequence"])), stats, seen)
    print(ledger.line("scenario: reset_peer, slicing, latency on the broker link"))
    assert delivery["reconnects"] >= 1
    assert ledger.silent == 0, ledger.line("broker link")


async def test_with_probes_false_only_the_storm_clients_suffer_the_fault(
        tmp_path: Path) -> None:
    result = await run_text(tmp_path, "name: t\n" + FIBER + """\
timeline:
  - do: connect
  - {do: network, link: focus, fault: blackhole, probes: false}
  - {label: storm, do: storm, clients: 2, duration: 1s, interval_min: 0.1s, interval_max: 0.2s}
  - {label: probe, expect: {live_metadata: {prr: 500}}, within: 5s}
""", Endpoints(request_timeout_s=0.3))
    assert expectation(result, "probe").verdict == "met"
    answers = result.clients["storm"]["answers"]
    assert isinstance(answers, dict) and answers
    assert all(answer.endswith("-> no answer") for answer in answers), answers
