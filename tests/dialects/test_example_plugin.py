"""The example plug-in (examples/dialect-plugin) installs on its own, registers its dialect
through the ``fibersim.dialects`` entry point, conforms, and runs the incident scenario
against the mock over the real broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenario.helpers import REPO, SCENARIOS, Completed, fibersim

PLUGIN = REPO / "examples" / "dialect-plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The plug-in pip-installed (no network: no dependencies, no build isolation) into a
    directory of its own; fibersim subprocesses see it through PYTHONPATH, so the test venv
    itself is left as it was."""
    target = tmp_path_factory.mktemp("plugin")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(PLUGIN)],
                   check=True, capture_output=True, timeout=120)
    return {"PYTHONPATH": str(target)}


def run(plugin_env: dict[str, str], *args: str | Path) -> Completed:
    return fibersim(*args, env=plugin_env)


def test_the_installed_plugin_is_listed_by_its_entry_point(plugin_env: dict[str, str]) -> None:
    completed = run(plugin_env, "dialects")
    assert "compact: example plug-in" in completed.stdout
    assert "from      plug-in fibersim-compact-dialect" in completed.stdout


@pytest.mark.broker
def test_the_plugin_conforms_and_names_what_it_cannot_carry(plugin_env: dict[str, str],
                                                            amqp_url: str) -> None:
    completed = run(plugin_env, "conform", "--dialect", "compact", "--amqp-url", amqp_url)
    assert completed.code == 0, completed.output
    limited = [line for line in completed.stdout.splitlines() if line.startswith("  limited ")]
    assert [line.split()[1] for line in limited] == ["reconfiguration:", "reconnect:"]
    assert all("data.sequence not carried" in line for line in limited)
    assert "  data.sequence: not on the wire" in completed.stdout
    assert "FAIL" not in completed.stdout


@pytest.mark.broker
def test_fiber_lost_passes_against_the_mock_in_the_plugin_dialect(
        plugin_env: dict[str, str], amqp_url: str, exchange_name: str) -> None:
    completed = run(plugin_env, "run", SCENARIOS / "fiber_lost.yaml", "--amqp-url", amqp_url,
                    "--dialect", "compact", "--exchange", exchange_name, "--speed", "2")
    assert completed.code == 0, completed.output[-3000:]
    assert "compact dialect" in completed.stdout
