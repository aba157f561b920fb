"""The pacing figure's drift: the block clock against the wall clock, not the delivery delay."""

from __future__ import annotations

import random

import pytest

from fibersim.bench.pacing import envelope_drift


def arrivals(true_drift_s: float, seconds: float = 60.0) -> list[tuple[float, float]]:
    """10 Hz arrival offsets: a clock drifting by ``true_drift_s`` over the run, plus a
    delivery delay of 1-3 ms with slow deliveries of up to 40 ms at the very end."""
    rng = random.Random(7)
    points = []
    for tick in range(int(seconds * 10)):
        when = tick / 10
        delay = rng.uniform(0.001, 0.003)
        if when > seconds - 3:
            delay += rng.uniform(0.0, 0.04)
        points.append((when, 0.02 + true_drift_s * when / seconds + delay))
    return points


def test_slow_deliveries_at_the_end_are_not_drift() -> None:
    assert abs(envelope_drift(arrivals(0.0))) < 0.001


@pytest.mark.parametrize("true_drift_s", [0.01, -0.01])
def test_a_drifting_block_clock_is_measured(true_drift_s: float) -> None:
    assert envelope_drift(arrivals(true_drift_s)) == pytest.approx(true_drift_s, abs=0.001)
