"""``fibersim conform`` over the real broker: the built-ins pass every check, a dialect that
changes a field it does not declare fails, and the run against the mock passes in each."""

from __future__ import annotations

import pytest

from fibersim.dialects import load_dialect
from fibersim.dialects.conform import run_conformance
from tests.dialects.lossy import LossyDialect
from tests.scenario.helpers import SCENARIOS, fibersim

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("name", ["fibersim", "tagged"])
async def test_a_built_in_dialect_passes_every_check_losslessly(amqp_url: str,
                                                                name: str) -> None:
    report = await run_conformance(load_dialect(name), amqp_url)
    assert [(check.name, check.detail) for check in report.checks
            if check.verdict != "ok"] == []
    assert len(report.checks) == 21


async def test_a_field_changed_on_the_way_fails_the_check_that_carries_it(amqp_url: str
                                                                          ) -> None:
    report = await run_conformance(LossyDialect(), amqp_url)
    failed = {check.name: check.detail for check in report.checks if check.verdict == "FAIL"}
    assert failed == {"zero PRR (metadata prr 0)": "heartbeat.state changed on the way"}
    assert not report.passed


def test_conform_exits_1_on_a_failed_check(amqp_url: str) -> None:
    completed = fibersim("conform", "--dialect", "tests.dialects.lossy:LossyDialect",
                         "--amqp-url", amqp_url)
    assert completed.code == 1, completed.output
    assert "  FAIL     zero PRR (metadata prr 0)" in completed.stdout
    assert completed.stdout.splitlines()[-1].endswith("1 failed")


def test_conform_needs_a_broker() -> None:
    completed = fibersim("conform", "--dialect", "tagged")
    assert completed.code == 2
    assert "conform needs a RabbitMQ" in completed.stderr


def test_fiber_lost_passes_against_the_mock_in_the_tagged_dialect(amqp_url: str,
                                                                  exchange_name: str) -> None:
    completed = fibersim("run", SCENARIOS / "fiber_lost.yaml", "--amqp-url", amqp_url,
                         "--dialect", "tagged", "--exchange", exchange_name, "--speed", "2")
    assert completed.code == 0, completed.output[-3000:]
    assert f"exchange '{exchange_name}', tagged dialect" in completed.stdout
