"""The two virtual clocks of ``fibersim.timebase``: a ``ManualClock`` moves on when slept on,
a ``SteppedClock`` only when the test advances it, waking its sleepers in deadline order."""

from __future__ import annotations

import asyncio

import pytest

from fibersim.timebase import ManualClock, SteppedClock


async def test_sleeping_on_a_manual_clock_is_time_passing() -> None:
    clock = ManualClock(100.0)
    await clock.sleep(2.5)
    assert clock.monotonic() == 102.5


async def test_a_stepped_clock_sleeper_wakes_only_when_advance_passes_its_deadline() -> None:
    clock = SteppedClock()
    sleeper = asyncio.create_task(clock.sleep(1.0))
    await asyncio.sleep(0)  # the sleeper starts waiting
    await clock.advance(0.75)
    assert not sleeper.done()
    await clock.advance(0.25)
    assert sleeper.done()
    assert clock.monotonic() == pytest.approx(1.0)


async def test_a_stepped_clock_wakes_each_sleeper_at_its_own_deadline_in_order() -> None:
    clock = SteppedClock()
    woke: list[tuple[str, float]] = []

    async def ticker(name: str, period: float) -> None:
        while True:
            await clock.sleep(period)
            woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(ticker("fast", 0.2)), asyncio.create_task(ticker("slow", 0.5))]
    await asyncio.sleep(0)
    await clock.advance(1.0)
    for task in tasks:
        task.cancel()
    assert [name for name, _ in woke] == ["fast", "fast", "slow", "fast", "fast", "slow", "fast"]
    assert [at for _, at in woke] == pytest.approx([0.2, 0.4, 0.5, 0.6, 0.8, 1.0, 1.0])


async def test_neither_clock_goes_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1.0)
    with pytest.raises(ValueError, match="backwards"):
        await SteppedClock().advance(-1.0)
