"""The dialect interface: built-ins round-trip every message kind, discovery finds them by name,
entry point or module:attribute, and a bad name is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from fibersim.dialects import DialectError, load_dialect
from fibersim.dialects.conform import differences
from fibersim.dialects.fibersim_dialect import FibersimDialect
from fibersim.dialects.samples import sample_block, sample_message
from fibersim.runner.focus_target import Endpoints
from fibersim.runner.scenario_runner import RunSettings, ScenarioRunner
from fibersim.scenario import load_scenario
from fibersim.transport import BrokerSettings
from fibersim.wire import FibersimCodec, MessageKind, WireFormatError
from tests.scenario.helpers import SCENARIOS, fibersim, write_scenario

BUILT_INS = ["fibersim", "tagged"]


@pytest.mark.parametrize("name", BUILT_INS)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_a_built_in_dialect_round_trips_every_kind_losslessly(name: str,
                                                              kind: MessageKind) -> None:
    dialect = load_dialect(name)
    message = sample_message(kind, "fiber-0")
    assert differences(message, dialect.decode(dialect.encode(message))) == []


@pytest.mark.parametrize("name", BUILT_INS)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_a_built_in_dialect_rejects_its_malformed_variant_of_every_kind(
        name: str, kind: MessageKind) -> None:
    dialect = load_dialect(name)
    with pytest.raises(WireFormatError):
        dialect.decode(dialect.malformed(kind, "fiber-0"))


@pytest.mark.parametrize("name", BUILT_INS)
def test_a_built_in_dialect_rejects_a_corrupted_data_block(name: str) -> None:
    dialect = load_dialect(name)
    with pytest.raises(WireFormatError):
        dialect.decode(dialect.corrupt(dialect.encode(sample_block("fiber-0", 3))))


def test_the_fibersim_dialect_encodes_with_the_codec_itself() -> None:
    """Choosing the default dialect adds no call or copy to the data-block path."""
    assert FibersimDialect.encode is FibersimCodec.encode
    assert FibersimDialect.decode is FibersimCodec.decode


def test_the_fibersim_dialect_keeps_the_documented_routing_keys() -> None:
    dialect = load_dialect()
    assert dialect.routing_key(MessageKind.DATA, "fiber-0") == "das.fiber-0.data"
    assert dialect.binding_keys("fiber-0") == ["das.fiber-0.*"]
    assert (dialect.topology.exchange, dialect.topology.exchange_type) == ("fibersim", "topic")


def test_the_tagged_dialect_tells_kinds_on_one_routing_key_apart_by_a_header() -> None:
    dialect = load_dialect("tagged")
    keys = {dialect.routing_key(kind, "fiber-0") for kind in MessageKind}
    types = {dialect.encode(sample_message(kind, "fiber-0")).headers["msg-type"]
             for kind in MessageKind}
    assert keys == {"fiber-0"}
    assert types == {"fiber-info", "chunk", "keep-alive", "status"}


def test_the_tagged_dialect_carries_float_headers_at_full_precision() -> None:
    """pamqp would send a float header as a 32-bit float and round the int16 scale."""
    envelope = load_dialect("tagged").encode(sample_block("fiber-0", 0))
    assert isinstance(envelope.headers["scale"], str)


def test_a_dialect_is_found_by_module_and_attribute() -> None:
    assert load_dialect("fibersim.dialects.tagged:TaggedDialect").name == "tagged"


def test_an_unknown_dialect_names_the_installed_ones() -> None:
    with pytest.raises(DialectError, match="unknown dialect 'nope'; installed: fibersim, tagged"):
        load_dialect("nope")


def test_a_target_that_is_not_a_dialect_is_refused() -> None:
    with pytest.raises(DialectError, match=r"is not a fibersim\.dialects\.Dialect"):
        load_dialect("fibersim.models:DEFAULT_CHANNELS")


def test_a_dialect_that_cannot_be_imported_is_refused_in_one_line() -> None:
    with pytest.raises(DialectError, match="cannot load dialect 'no_such_module:X'"):
        load_dialect("no_such_module:X")


def test_dialects_lists_each_built_in_with_its_topology() -> None:
    completed = fibersim("dialects")
    assert completed.code == 0, completed.output
    assert "exchange  das-tagged (direct, durable), delivery mode 2" in completed.stdout
    assert "data      key das.fiber-0.data, application/vnd.fibersim.block" in completed.stdout


def test_dialects_names_prints_one_name_per_line() -> None:
    completed = fibersim("dialects", "--names")
    assert completed.stdout.splitlines()[:2] == BUILT_INS


@pytest.mark.parametrize("command", [["stream", "--duration", "1s"],
                                     ["focus-mock", "--port", "0"],
                                     ["run", str(SCENARIOS / "healthy.yaml")],
                                     ["replay", str(SCENARIOS / "healthy.yaml")],
                                     ["conform"]])
def test_an_unknown_dialect_option_is_one_line_and_exit_2(command: list[str]) -> None:
    completed = fibersim(*command, "--dialect", "nope")
    assert completed.code == 2
    assert completed.stderr.strip().splitlines() == [
        "fibersim: error: dialect: unknown dialect 'nope'; installed: fibersim, tagged"
        " (or give module:attribute)"]


def test_the_dialect_environment_variable_is_the_option() -> None:
    completed = fibersim("stream", "--duration", "1s", env={"FIBERSIM_DIALECT": "nope"})
    assert completed.code == 2
    assert "unknown dialect 'nope'" in completed.stderr


FIBER_WITH_DIALECT = """\
    name: tagged-fiber
    fiber:
      channels: 16
      prr: 100
      dialect: {dialect}
    run:
      speed: 2
    timeline:
      - do: connect
      - expect:
          state: ready
          live_metadata: {{prr: 100.0, number_of_channels: 16}}
        within: 5s
      - do: disconnect
      - expect:
          state: waiting_for_fiber
        within: 5s
"""


def test_an_unknown_dialect_in_a_scenario_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, FIBER_WITH_DIALECT.format(dialect="nope"))
    completed = fibersim("run", path)
    assert completed.code == 2
    assert completed.stderr.startswith(f"fibersim: error: {path}:5: fiber.dialect: unknown"
                                       " dialect 'nope'")


def _runner(path: Path, cli_dialect: str | None) -> ScenarioRunner:
    return ScenarioRunner(load_scenario(path), str(path),
                          BrokerSettings(dialect=cli_dialect), Endpoints(), RunSettings(),
                          lambda record: None, [])


def test_a_scenario_chooses_its_dialect_and_the_option_overrides_it(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, FIBER_WITH_DIALECT.format(dialect="tagged"))
    assert _runner(path, None).dialect.name == "tagged"
    assert _runner(path, "fibersim").dialect.name == "fibersim"


def test_a_scenario_in_a_dialect_runs_against_the_embedded_mock(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, FIBER_WITH_DIALECT.format(dialect="tagged"))
    completed = fibersim("run", path)
    assert completed.code == 0, completed.output[-2000:]
    assert "tagged dialect" in completed.stdout


def test_stream_workers_speak_the_parent_s_dialect_on_its_exchange(tmp_path: Path) -> None:
    from fibersim.models import FiberConfig
    from fibersim.session.stream import StreamPlan, worker_plans
    from fibersim.transport import BrokerSettings

    broker = BrokerSettings("amqp://h/", exchange="lab", dialect="tagged")
    plan = StreamPlan((0, 1), "fiber-", 0, None, FiberConfig(), broker, 1.0, 1.0, True, None)
    shares = worker_plans(plan, 2, tmp_path)
    assert [share.indices for share in shares] == [(0,), (1,)]
    assert {share.broker for share in shares} == {broker}
