"""Statistics of a streaming run that every entry point reports the same way."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence


def lateness_summary(series: Iterable[Sequence[float]]) -> dict[str, float]:
    """Percentiles (s) of block publish lateness over all fibers, and how it trends.

    ``trend`` is the median lateness of each fiber's last quarter of blocks minus that of its
    first quarter, worst fiber first: a backlog shows as a positive trend that grows with the
    run, however small the percentiles still are.
    """
    runs = [list(run) for run in series if run]
    values = sorted(value for run in runs for value in run)
    if not values:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0, "jitter_p99": 0.0, "trend": 0.0}
    median = statistics.median(values)
    deviations = sorted(abs(value - median) for value in values)
    trends = [statistics.median(run[-max(1, len(run) // 4):])
              - statistics.median(run[:max(1, len(run) // 4)]) for run in runs]
    return {
        "count": len(values),
        "p50": median,
        "p99": _percentile(values, 0.99),
        "max": values[-1],
        "jitter_p99": _percentile(deviations, 0.99),
        "trend": max(trends),
    }


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
