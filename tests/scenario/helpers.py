"""Running the ``fibersim`` command as users and CI do: a subprocess, exit code and output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
LIBRARY = sorted(SCENARIOS.glob("*.yaml"))


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def fibersim(*args: str | Path, timeout: float = 120.0,
             env: dict[str, str] | None = None) -> Completed:
    """Run ``python -m fibersim ARGS`` in the repo, without the caller's AMQP/Focus env (plus
    ``env``, if given)."""
    env = {**{key: value for key, value in os.environ.items()
              if not key.startswith("FIBERSIM_")}, **(env or {})}
    process = subprocess.run(
        [sys.executable, "-m", "fibersim", *map(str, args)], capture_output=True, text=True,
        timeout=timeout, cwd=REPO, env=env)
    return Completed(process.returncode, process.stdout, process.stderr)


def write_scenario(directory: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def interrupt_a_run_once_it_prints(scenario: Path, marker: str, report: Path) -> int:
    """Run ``scenario`` writing ``report``, press Ctrl-C (SIGINT) as soon as a line of its
    output contains ``marker``, and return its exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fibersim", "run", str(scenario), "--report", str(report)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # ends at EOF if the run dies early: no hang
        if marker in line:
            break
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)
