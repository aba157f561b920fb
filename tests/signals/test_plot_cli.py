"""``fibersim plot`` renders a scenario's waterfall and f-k picture without a broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCENARIO = Path(__file__).parents[2] / "scenarios" / "healthy.yaml"


def test_plot_writes_a_png_of_the_scenario_window(tmp_path: Path) -> None:
    output = tmp_path / "waterfall.png"
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", "plot", str(SCENARIO), "--from", "0s", "--to", "4s",
         "-o", str(output)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_window_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", "plot", str(SCENARIO), "--from", "5s", "--to", "5s",
         "-o", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
