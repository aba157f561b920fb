"""Bench rows, settings shared by every figure, and the table/JSON the command writes."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from fibersim.transport.settings import BrokerSettings

T = TypeVar("T")


@dataclass(frozen=True)
class BenchSettings:
    """What the command line chose; figures pick their durations with ``pick``."""

    broker: BrokerSettings
    quick: bool = False
    pacing_seconds: float | None = None

    @property
    def amqp_url(self) -> str:
        """The broker every figure that needs one measures against."""
        return broker_url(self.broker)

    def pick(self, quick: T, full: T) -> T:
        return quick if self.quick else full


@dataclass(frozen=True)
class Row:
    """One line of the table: a measured value, its same-run baseline and the verdict."""

    figure: str
    metric: str
    value: float | None
    unit: str
    baseline: float | None
    baseline_label: str
    ratio: float | None
    target: str
    passed: bool
    note: str = ""


def ratio(value: float, baseline: float) -> float | None:
    return value / baseline if baseline > 0 and math.isfinite(baseline) else None


def median_of(measure: Callable[[], float], repetitions: int, warmup: int = 1) -> float:
    """Median of ``repetitions`` calls after ``warmup`` discarded ones."""
    for _ in range(warmup):
        measure()
    return statistics.median(measure() for _ in range(repetitions))


def broker_url(broker: BrokerSettings | None = None) -> str:
    """The URL of ``broker`` (default: ``FIBERSIM_AMQP_URL``, how helper processes get it)."""
    url = (broker or BrokerSettings.from_environment()).url
    if url is None:
        raise RuntimeError("this figure needs a RabbitMQ: --amqp-url or FIBERSIM_AMQP_URL")
    return url


def child_env(url: str) -> dict[str, str]:
    """The environment of a helper process (or ``fibersim`` run) measuring on ``url``."""
    return {**os.environ, **BrokerSettings(url).child_environment()}


def fibersim_command(*args: str) -> list[str]:
    """``fibersim <args>`` with this interpreter, independent of PATH."""
    return [sys.executable, "-m", "fibersim", *args]


def run_quiet(command: Sequence[str], timeout: float, **kwargs: object) -> None:
    """Run a helper process and raise with its stderr's last line if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(command[2:5])} exited {result.returncode}: {last}")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 0.01 <= abs(value) < 100_000:
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.2e}"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table (also valid Markdown)."""
    header = ("figure", "metric", "value", "baseline", "ratio", "target", "result")
    lines = [header] + [(
        row.figure,
        row.metric,
        f"{_number(row.value)} {row.unit}".strip(),
        f"{_number(row.baseline)} ({row.baseline_label})" if row.baseline_label else "-",
        _number(row.ratio),
        row.target,
        ("PASS" if row.passed else "FAIL") + (f" ({row.note})" if row.note else ""),
    ) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([render(lines[0]), rule, *(render(line) for line in lines[1:])])


def write_json(rows: Sequence[Row], path: str, settings: BenchSettings) -> None:
    document = {"quick": settings.quick, "rows": [asdict(row) for row in rows]}
    Path(path).write_text(json.dumps(document, indent=1))
