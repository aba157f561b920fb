"""A scenario run ends its stream like ``fibersim stream`` does: with a ``disconnected``
status, so a consumer hears the end instead of waiting for a metadata timeout (issue 14)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.helpers import a_queue_bound_to, bodies_left_in
from tests.scenario.helpers import fibersim, write_scenario

pytestmark = pytest.mark.broker


def test_a_scenario_run_ends_with_a_disconnected_status(amqp_url: str, exchange_name: str,
                                                        tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: short
        fiber: {channels: 16, prr: 500}
        timeline:
          - do: connect
          - expect: {state: ready}
            within: 5s
    """)

    async def run_and_listen() -> list[str]:
        async with a_queue_bound_to(amqp_url, exchange_name, "das.*.status") as queue:
            completed = await asyncio.to_thread(
                fibersim, "run", path, "--amqp-url", amqp_url, "--exchange", exchange_name)
            assert completed.code == 0, completed.stderr
            return [body.decode() for body in await bodies_left_in(queue)]

    events = asyncio.run(run_and_listen())
    assert '"event":"connected"' in events[0] and '"event":"disconnected"' in events[-1]
