"""``fibersim chaos``: a scenario's fiber streamed through a randomized network fault schedule,
checked by an independent durable consumer.

The publisher reaches the broker through a ``FaultProxy``; the checker (a durable stream
queue bound to the fiber's data key, ``DurableChecker``) is connected directly, so it sees
what the broker really stored. The schedule is drawn from ``random.Random(seed)`` alone:
the same seed, faults and duration give the same schedule. Faults never overlap, each lasts
0.5-2.5 s, and the last second of the run is calm. At the end the stream is stopped, the
publisher closed within ``--shutdown-timeout`` (what is unconfirmed then is reported lost),
and every published block must be seen by the checker or reported by the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aio_pika

from fibersim.dialects import open_broker
from fibersim.errors import UnreachableError
from fibersim.interrogator import Interrogator
from fibersim.netfaults import (
    Bandwidth,
    Blackhole,
    Direction,
    Fault,
    FaultProxy,
    Latency,
    ResetPeer,
    Slicing,
    SlowClose,
)
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.runner.network_links import proxied_url, proxy_to
from fibersim.scenario import Scenario
from fibersim.session.ledger import DurableChecker, Ledger
from fibersim.transport import BrokerSettings, PublishStats
from fibersim.transport.amqp import DEFAULT_CONNECT_TIMEOUT_S
from fibersim.wire import EXCHANGE

#: Every fault ``--faults`` may name, in the order ``--help`` lists them.
FAULT_NAMES = ("latency", "bandwidth", "blackhole", "reset_peer", "slow_close", "slicing")
#: Shortest and longest fault, and pause between two faults (wall s).
FAULT_LENGTH_S = (0.5, 2.5)
PAUSE_S = (0.3, 1.5)
#: No fault starts before this, and the last CALM_TAIL_S of the run are fault-free.
FIRST_FAULT_S = 0.5
CALM_TAIL_S = 1.0
#: Seconds without a new message before the checker's read ends.
CHECKER_IDLE_S = 1.0


@dataclass(frozen=True)
class ScheduledFault:
    """One fault of the schedule: switched on at ``at_s``, off ``for_s`` later (wall s)."""

    at_s: float
    fault: Fault
    #: None: both directions
    direction: Direction | None
    for_s: float

    def describe(self) -> str:
        """``+  1.23s  latency 120ms +-30ms downstream, for 1.40s``."""
        where = f" {self.direction}" if self.direction else ""
        return f"+{self.at_s:6.2f}s  {self.fault.describe()}{where}, for {self.for_s:.2f}s"

    def as_dict(self) -> dict[str, object]:
        return {"at_s": self.at_s, "fault": self.fault.describe(),
                "direction": self.direction or "both", "for_s": self.for_s}


def plan_schedule(names: Sequence[str], duration_s: float, seed: int) -> list[ScheduledFault]:
    """A schedule of the named faults over ``duration_s`` wall seconds, from ``seed`` only."""
    rng = random.Random(seed)
    schedule: list[ScheduledFault] = []
    at = FIRST_FAULT_S + rng.uniform(0.0, PAUSE_S[0])
    end = duration_s - CALM_TAIL_S
    while end - at >= FAULT_LENGTH_S[0]:
        length = min(rng.uniform(*FAULT_LENGTH_S), end - at)
        fault, direction = _random_fault(rng.choice(list(names)), rng)
        schedule.append(ScheduledFault(round(at, 2), fault, direction, round(length, 2)))
        at += length + rng.uniform(*PAUSE_S)
    return schedule


def _random_fault(name: str, rng: random.Random) -> tuple[Fault, Direction | None]:
    """The fault ``name`` with parameters drawn from ``rng``, and a direction (None: both)."""
    direction: Direction | None = rng.choice([None, "upstream", "downstream"])
    if name == "latency":
        delay = rng.uniform(0.02, 0.5)
        return Latency(round(delay, 3), round(rng.uniform(0, delay / 2), 3)), direction
    if name == "bandwidth":
        return Bandwidth(rng.randrange(20_000, 500_000, 1000)), direction
    if name == "blackhole":
        return Blackhole(), direction
    if name == "reset_peer":
        return ResetPeer(round(rng.uniform(0, 0.5), 2)), None
    if name == "slow_close":
        return SlowClose(round(rng.uniform(0.2, 2.0), 2)), direction
    if name == "slicing":
        return Slicing(rng.randrange(1, 65), round(rng.uniform(0, 0.002), 4)), direction
    raise ValueError(f"unknown fault {name!r} (faults: {', '.join(FAULT_NAMES)})")


@dataclass(frozen=True)
class ChaosSettings:
    """What to run: the broker (the publisher goes through the proxy, the checker not), the
    faults to draw from, the seed and the wall duration."""

    broker: BrokerSettings
    faults: tuple[str, ...]
    seed: int
    duration_s: float


@dataclass
class ChaosReport:
    """The schedule played and the ledger of every fiber."""

    schedule: list[ScheduledFault]
    ledgers: dict[str, Ledger]
    publisher: PublishStats
    #: the checker's queue (deleted by the end of the run)
    checker_queue: str

    @property
    def silent(self) -> int:
        """Blocks neither seen by the checker nor reported by the publisher."""
        return sum(ledger.silent for ledger in self.ledgers.values())

    def as_dict(self) -> dict[str, object]:
        return {"schedule": [item.as_dict() for item in self.schedule],
                "fibers": {fiber: ledger.as_dict() for fiber, ledger in self.ledgers.items()},
                "publisher": self.publisher.as_dict(), "checker_queue": self.checker_queue,
                "silent": self.silent, "passed": self.silent == 0}


async def run_chaos(scenario: Scenario, settings: ChaosSettings,
                    on_line: Callable[[str], None]) -> ChaosReport:
    """Stream ``scenario``'s fiber for the duration through the schedule; the ledger says
    what became of every block. ``on_line`` gets the schedule before anything starts."""
    url = settings.broker.url
    if not url:
        raise ValueError("chaos needs a real broker URL")
    schedule = plan_schedule(settings.faults, settings.duration_s, settings.seed)
    on_line(f"chaos schedule (seed {settings.seed}, {settings.duration_s:g}s):")
    for item in schedule:
        on_line("  " + item.describe())
    if not schedule:
        on_line("  (no fault fits: the run is too short)")
    config = scenario.fiber_config()
    checker = DurableChecker(url, settings.broker.exchange or EXCHANGE, config.fiber_id,
                             queue=f"fibersim-chaos-checker-{uuid.uuid4().hex[:12]}")
    await _declare(checker, settings.broker)
    try:
        async with proxy_to(url, settings.seed) as proxy:
            published, stats = await _stream(scenario, settings, proxy, schedule)
        seen = await checker.drain(idle_s=CHECKER_IDLE_S, recovery_s=10.0)
    finally:
        with contextlib.suppress(Exception):  # drain() deleted it already, unless it failed
            await asyncio.shield(checker.delete())
    ledger = Ledger.of(config.fiber_id, published, stats, seen)
    return ChaosReport(schedule, {config.fiber_id: ledger}, stats, checker.queue)


async def _declare(checker: DurableChecker, broker: BrokerSettings) -> None:
    """Declare the checker's queue, the first contact with the broker: one that cannot be
    reached is ``UnreachableError`` (exit 3), its text without the password."""
    timeout_s = broker.connect_timeout_s or DEFAULT_CONNECT_TIMEOUT_S
    try:
        async with asyncio.timeout(timeout_s):
            await checker.declare()
    except TimeoutError:
        raise UnreachableError(f"cannot connect to {broker.description}: no AMQP answer"
                               f" within {timeout_s:g} s") from None
    except (aio_pika.exceptions.AMQPError, OSError) as error:
        reason = broker.scrubbed(" ".join(str(error).split()))[:300]
        raise UnreachableError(f"cannot connect to {broker.description}:"
                               f" {type(error).__name__}: {reason}") from None


async def _stream(scenario: Scenario, settings: ChaosSettings, proxy: FaultProxy,
                  schedule: list[ScheduledFault]) -> tuple[set[int], PublishStats]:
    """Publish through the proxy while the schedule plays; the sequence numbers handed to
    the publisher, and its accounting once closed."""
    assert settings.broker.url is not None
    transport = open_broker(dataclasses.replace(
        settings.broker, url=proxied_url(settings.broker.url, proxy.port)))
    await transport.connect()
    speed = 1.0 if math.isinf(scenario.run.speed) else scenario.run.speed
    streamer = FiberStreamer(Interrogator(scenario.fiber_config(), scenario.run.start_time_ns),
                             transport, VirtualClock(speed), seed=settings.seed,
                             signals=scenario.fiber.signals)
    try:
        await streamer.prepare()
        await streamer.connect()
        stream = asyncio.create_task(streamer.run_until(math.inf))
        play = asyncio.create_task(_play(schedule, proxy, settings.duration_s))
        await asyncio.wait({stream, play}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stream, play):
            task.cancel()
        await asyncio.gather(play, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stream  # an error of the stream itself is raised here
    finally:
        proxy.clear()
        streamer.close()
        await asyncio.shield(transport.close())
    # blocks are published in sequence order, one at a time: a publish interrupted by the
    # end of the run was never handed to the broker, and is not counted in ``blocks``
    return set(range(streamer.stats.blocks)), transport.stats


async def _play(schedule: list[ScheduledFault], proxy: FaultProxy, duration_s: float) -> None:
    """Switch each fault on and off at its time, then wait for the end of the run."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def until(moment: float) -> None:
        await asyncio.sleep(max(0.0, start + moment - loop.time()))

    for item in schedule:
        await until(item.at_s)
        proxy.set_fault(item.fault, item.direction)
        await until(item.at_s + item.for_s)
        proxy.clear(type(item.fault), item.direction)
    await until(duration_s)
