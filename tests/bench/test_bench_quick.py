"""Smoke test of ``fibersim bench``: it runs and produces every row. The numbers are not
checked here -- they depend on the machine; docs/performance.md has the measured table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fibersim.bench import FIGURES
from fibersim.bench.report import Row, format_table


def test_the_table_lists_every_row_with_its_verdict() -> None:
    rows = [Row("startup", "fibersim --help", 52.0, "ms", 21.0, "python -c pass", 2.5,
                "< 300 ms", True),
            Row("focus", "error", None, "", None, "", None, "-", False, "RuntimeError: x")]
    table = format_table(rows).splitlines()
    assert len(table) == 4 and "PASS" in table[2] and "FAIL (RuntimeError: x)" in table[3]


def test_an_unknown_figure_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "fibersim", "bench", "--only", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--only" in result.stderr


@pytest.mark.broker
def test_quick_bench_produces_every_figure(amqp_url: str, tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", "bench", "--quick", "--amqp-url", amqp_url,
         "--json", str(report)],
        capture_output=True, text=True, timeout=900)
    assert result.returncode in (0, 1), result.stderr
    rows = json.loads(report.read_text())["rows"]
    assert [row["figure"] for row in rows if row["metric"] == "error"] == []
    assert {row["figure"] for row in rows} == set(FIGURES)
    assert all(row["value"] is not None and row["target"] for row in rows)
