"""Many fibers: fleet selection (--fibers, --fiber-ids, --instance), one process publishing
several fibers on one connection, and --workers splitting them over processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fibersim.session.fleet import (
    parse_instance,
    parse_ranges,
    select_fibers,
    share,
)
from fibersim.session.stats import lateness_summary
from fibersim.units import format_ranges

SMALL = ["--channels", "32", "--prr", "500", "--speed", "max", "--quiet"]


def fibersim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fibersim", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_ranges_parse_and_format_back() -> None:
    assert parse_ranges("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11]
    assert format_ranges([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"
    for bad in ("3-1", "a", "1,1", "-2"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


@pytest.mark.parametrize("spec, hostname, expected", [
    ("3/8", None, (3, 8)),
    ("fibersim-3/8", None, (3, 8)),
    ("hostname/8", "fibersim-5", (5, 8)),
])
def test_instance_from_number_pod_name_or_hostname(spec: str, hostname: str | None,
                                                   expected: tuple[int, int]) -> None:
    assert parse_instance(spec, hostname=hostname) == expected


@pytest.mark.parametrize("spec", ["8/8", "3", "x/2", "fibersim/2", "1/0"])
def test_a_bad_instance_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_instance(spec, hostname="laptop")


def test_instances_split_a_fleet_into_disjoint_contiguous_shares() -> None:
    assert select_fibers(128, None, "3/8") == list(range(48, 64))
    shares = [select_fibers(10, None, f"{i}/3") for i in range(3)]
    assert [len(s) for s in shares] == [3, 3, 4]
    assert sorted(i for s in shares for i in s) == list(range(10))
    assert share([5, 6, 7], 1, 3) == [6]
    with pytest.raises(ValueError):
        select_fibers(2, None, "0/3")  # of 2 fibers in 3 shares, share 0 is empty


def test_lateness_summary_reports_percentiles_jitter_and_trend() -> None:
    steady = [0.001] * 40
    growing = [i * 0.01 for i in range(40)]
    summary = lateness_summary([steady, growing])
    assert summary["count"] == 80 and summary["max"] == pytest.approx(0.39)
    assert summary["trend"] == pytest.approx(0.3, abs=0.02)
    assert lateness_summary([steady])["trend"] == 0.0


def test_one_process_publishes_every_fiber_with_its_own_seed(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result = fibersim("stream", "--fibers", "3", "--duration", "1s", *SMALL,
                      "--stats-json", str(stats))
    assert result.returncode == 0, result.stderr
    document = json.loads(stats.read_text())
    assert document["fibers"] == ["fiber-0", "fiber-1", "fiber-2"]
    assert document["blocks"] == 30 and "3 fibers" in result.stderr


def test_fiber_id_and_a_fleet_option_do_not_mix() -> None:
    result = fibersim("stream", "--fiber-id", "well-7", "--fibers", "2")
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_workers_split_the_fibers_and_merge_their_stats(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result = fibersim("stream", "--fiber-ids", "4-7", "--workers", "2", "--duration", "1s",
                      *SMALL, "--stats-json", str(stats))
    assert result.returncode == 0, result.stderr
    document = json.loads(stats.read_text())
    assert sorted(document["fibers"]) == ["fiber-4", "fiber-5", "fiber-6", "fiber-7"]
    assert [w["fibers"] for w in document["workers"]] == [["fiber-4", "fiber-5"],
                                                           ["fiber-6", "fiber-7"]]
    assert document["blocks"] == 40


@pytest.mark.broker
def test_instances_on_one_broker_publish_disjoint_fibers(amqp_url: str,
                                                          exchange_name: str) -> None:
    import aio_pika

    async def scenario() -> Counter[str]:
        connection = await aio_pika.connect(amqp_url)
        seen: Counter[str] = Counter()
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC,
                                                      durable=True)
            queue = await channel.declare_queue("", exclusive=True)
            await queue.bind(exchange, "das.*.data")

            async def count(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                seen[message.routing_key or ""] += 1

            await queue.consume(count, no_ack=True)
            env = {**os.environ, "FIBERSIM_AMQP_URL": amqp_url}
            runs = [await asyncio.create_subprocess_exec(
                sys.executable, "-m", "fibersim", "stream", "--exchange", exchange_name,
                "--fibers", "3", "--instance", f"{i}/2", "--duration", "1s", *SMALL, env=env,
                stderr=asyncio.subprocess.DEVNULL) for i in range(2)]
            assert [await run.wait() for run in runs] == [0, 0]
            for _ in range(50):
                if sum(seen.values()) >= 30:
                    break
                await asyncio.sleep(0.1)
            await exchange.delete()
        finally:
            await connection.close()
        return seen

    seen = asyncio.run(scenario())
    assert seen == {f"das.fiber-{i}.data": 10 for i in range(3)}
