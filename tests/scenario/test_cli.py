"""``fibersim validate``, ``fibersim schema`` and ``fibersim run --dry-run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibersim.scenario import Scenario
from tests.scenario.helpers import LIBRARY, SCENARIOS, fibersim, write_scenario


def test_validate_accepts_the_whole_library() -> None:
    completed = fibersim("validate", *LIBRARY)
    assert completed.code == 0, completed.output
    assert completed.stdout.count(": ok (") == len(LIBRARY)


def test_schema_prints_the_json_schema_of_scenario_files() -> None:
    completed = fibersim("schema")
    assert completed.code == 0
    assert json.loads(completed.stdout) == json.loads(
        json.dumps(Scenario.model_json_schema()))


def test_dry_run_prints_the_resolved_timeline_without_running() -> None:
    completed = fibersim("run", "--dry-run", SCENARIOS / "fiber_lost.yaml")
    assert completed.code == 0, completed.output
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("scenario fiber_lost")
    assert "2337 channels at 2000 Hz" in lines[0]
    steps = [line for line in lines if " event " in line or " expect " in line]
    assert len(steps) == 9
    assert "event   cut: disconnect(clean=False) [2s after ready]" in completed.stdout


def test_dry_run_marks_times_after_a_checkpoint_as_lower_bounds() -> None:
    completed = fibersim("run", "--dry-run", SCENARIOS / "fiber_lost.yaml")
    cut = next(line for line in completed.stdout.splitlines() if "cut: disconnect" in line)
    assert "sim >=    2.0s" in cut


def test_dry_run_honours_the_speed_and_seed_overrides() -> None:
    completed = fibersim("run", "--dry-run", "--speed", "4", "--seed", "99",
                         SCENARIOS / "healthy.yaml")
    assert "speed 4x, seed 99" in completed.stdout.splitlines()[0]


@pytest.mark.parametrize(("command", "message"), [
    ("no-such-program -f", "no program 'no-such-program' to run"),
    ("'unterminated", "No closing quotation")])
def test_a_log_command_that_cannot_run_is_refused_before_the_run(
        tmp_path: Path, command: str, message: str) -> None:
    path = write_scenario(tmp_path, "name: x\ntimeline:\n  - expect: {log: hello}\n")
    completed = fibersim("run", path, "--focus-url", "http://127.0.0.1:1/",
                         "--focus-log-cmd", command)
    assert completed.code == 2 and completed.stdout == ""
    assert completed.stderr.strip() == (
        f"fibersim: error: Invalid value for --focus-log-cmd: {message}")
