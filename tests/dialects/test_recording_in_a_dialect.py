"""Recording and replay work unchanged through another dialect: a file replayed in the
``tagged`` dialect over RabbitMQ (a direct exchange) and tapped in it gives back its samples,
and the ``record``/``replay`` commands take ``--dialect``."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from fibersim.dialects import load_dialect, open_broker
from fibersim.formats import ProdmlReader
from fibersim.recording.replay import build_replay
from fibersim.recording.tap import Tap
from fibersim.transport import BrokerSettings
from tests.recording.helpers import record_small
from tests.scenario.helpers import fibersim

pytestmark = pytest.mark.broker


async def test_a_replay_tapped_in_the_tagged_dialect_gives_back_the_file(
        amqp_url: str, exchange_name: str, tmp_path: Path) -> None:
    record_small(tmp_path / "original.h5", 1.0)
    tagged = load_dialect("tagged")
    broker = BrokerSettings(amqp_url, exchange=exchange_name)
    publisher = open_broker(broker, dialect=tagged)
    listener = open_broker(broker, dialect=tagged)
    async with publisher, listener:
        tap = Tap(listener, "replayed", tmp_path / "again.h5", duration_s=1.0, dialect=tagged)
        await tap.start()
        replay = build_replay(tmp_path / "original.h5", publisher, fiber_id="replayed",
                              speed=math.inf, start_time_ns=None, dialect=tagged)
        await replay.streamer.connect()
        await replay.streamer.run_until(replay.pass_duration_s)
        await asyncio.wait_for(tap.done.wait(), 20)
        tap.close()
    original, again = ProdmlReader(tmp_path / "original.h5"), ProdmlReader(tmp_path / "again.h5")
    assert again.info.n_rows == 500 and not again.gaps and tap.stats.malformed == 0
    np.testing.assert_array_equal(again.read_stored(0, 500), original.read_stored(0, 500))


def test_the_record_command_refuses_an_unknown_dialect(amqp_url: str, tmp_path: Path) -> None:
    completed = fibersim("record", "--from-amqp", amqp_url, "--dialect", "nope",
                         "-o", tmp_path / "x.h5")
    assert completed.code == 2
    assert "unknown dialect 'nope'" in completed.stderr
