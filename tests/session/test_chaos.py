"""``fibersim chaos``: a seeded fault schedule, and a ledger that finds no silent loss."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import aio_pika
import pytest
from click.testing import CliRunner

from fibersim.cli.chaos import chaos
from fibersim.session.chaos import CALM_TAIL_S, FAULT_NAMES, plan_schedule
from tests.scenario.helpers import fibersim, write_scenario

SMALL_FIBER = """\
name: chaos-test
fiber: {fiber_id: chaos-fiber, channels: 16, prr: 500}
timeline:
  - do: connect
"""


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    assert plan_schedule(FAULT_NAMES, 30, seed=7) == plan_schedule(FAULT_NAMES, 30, seed=7)
    assert plan_schedule(FAULT_NAMES, 30, seed=7) != plan_schedule(FAULT_NAMES, 30, seed=8)


def test_scheduled_faults_do_not_overlap_and_leave_the_end_calm() -> None:
    schedule = plan_schedule(["latency", "blackhole"], 60, seed=3)
    ends = [item.at_s + item.for_s for item in schedule]
    starts = [item.at_s for item in schedule]
    assert all(end <= start for end, start in zip(ends[:-1], starts[1:], strict=True))
    assert ends[-1] <= 60 - CALM_TAIL_S + 0.01
    assert {item.fault.describe().split()[0] for item in schedule} == {"latency", "blackhole"}


def test_chaos_without_a_broker_is_refused_in_one_line_with_exit_2(tmp_path: Path) -> None:
    completed = fibersim("chaos", write_scenario(tmp_path, SMALL_FIBER))
    assert completed.code == 2
    assert completed.stderr.count("\n") == 1 and "--amqp-url" in completed.stderr


def test_chaos_help_says_a_broker_url_is_required_not_the_embedded_broker() -> None:
    text = " ".join(CliRunner().invoke(chaos, ["--help"]).output.split())
    assert "Required: this command needs a real broker" in text
    assert "Without it: the embedded in-memory broker" not in text


def test_chaos_against_an_unreachable_broker_exits_3_without_the_password(
        tmp_path: Path) -> None:
    completed = fibersim("chaos", write_scenario(tmp_path, SMALL_FIBER), "--duration", "1s",
                         env={"FIBERSIM_AMQP_URL": "amqp://guest:s3cr3t-pw@127.0.0.1:1/"})
    assert completed.code == 3
    assert "cannot connect to amqp://guest:***@127.0.0.1:1/" in completed.stderr
    assert "s3cr3t-pw" not in completed.output and "Traceback" not in completed.output


@pytest.mark.broker
async def test_chaos_with_a_fixed_seed_loses_nothing_silently_and_deletes_its_queue(
        tmp_path: Path, amqp_url: str) -> None:
    exchange = f"fibersim-test-{uuid.uuid4().hex[:12]}"
    completed = fibersim(
        "chaos", write_scenario(tmp_path, SMALL_FIBER), "--seed", "4", "--duration", "6s",
        "--faults", "latency,blackhole,reset_peer,slicing", "--shutdown-timeout", "2s",
        "--json", "--exchange", exchange, env={"FIBERSIM_AMQP_URL": amqp_url}, timeout=60)
    assert completed.code == 0, completed.stderr
    report = json.loads(completed.stdout)
    ledger = report["fibers"]["chaos-fiber"]
    print("chaos --seed 4 --duration 6s:", ledger)
    assert report["schedule"] and ledger["published"] > 0 and ledger["silent"] == 0
    assert ledger["seen"] + ledger["reported_lost"] >= ledger["published"]
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(report["checker_queue"], passive=True)
        await (await connection.channel()).exchange_delete(exchange)
