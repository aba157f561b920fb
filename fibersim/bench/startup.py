"""Figure 7: ``fibersim --help`` start-up time versus a bare ``python -c pass``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from fibersim.bench.report import BenchSettings, Row, median_of, ratio

TARGET_S = 0.3


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    return time.perf_counter() - start


def run(settings: BenchSettings) -> list[Row]:
    script = Path(sys.executable).with_name("fibersim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fibersim"]
    repetitions = settings.pick(5, 15)
    baseline = median_of(lambda: _seconds([sys.executable, "-c", "pass"]), repetitions)
    value = median_of(lambda: _seconds([*command, "--help"]), repetitions)
    return [Row("startup", "fibersim --help", value * 1000, "ms", baseline * 1000,
                "python -c pass", ratio(value, baseline), f"< {TARGET_S * 1000:.0f} ms",
                value < TARGET_S)]
