"""``fibersim run --timeout`` bounds the whole run, end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.scenario.helpers import fibersim, write_scenario


def test_a_run_longer_than_timeout_ends_in_time_with_exit_1_and_says_so(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: endless
        fiber: {channels: 16, prr: 500}
        timeline:
          - do: connect
          - {expect: {live_metadata: {prr: 12345}}, within: 10m}
        """)
    report = tmp_path / "report.json"
    started = time.monotonic()
    completed = fibersim("run", path, "--timeout", "3s", "--request-timeout", "1s",
                         "--report", report, timeout=60)
    elapsed = time.monotonic() - started
    assert completed.code == 1
    assert elapsed < 3 + 1 + 5, f"took {elapsed:.1f}s"  # + request timeout + start-up
    assert "took longer than --timeout 3s" in completed.output
    assert json.loads(report.read_text())["scenarios"][0]["error"] == (
        "the run took longer than --timeout 3s")
