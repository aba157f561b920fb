"""pytest plugin shipped with fibersim (entry point ``pytest11``, active once installed).

For test suites that need a configured Focus Server job, so that they wait for a live fiber
instead of failing (or hammering the server) while it is "waiting for fiber":

``focus_ready``
    Waits like ``fibersim wait-ready`` (exponential backoff, full jitter) for the Focus Server
    given by ``--fibersim-focus-url`` / ``FIBERSIM_FOCUS_URL``; then returns its URL and live
    metadata. If the fiber never becomes ready the test is skipped, or failed with
    ``--fibersim-not-ready=fail``.

``fibersim_scenario``
    Runs ``fibersim run <--fibersim-scenario>`` in the background for the whole session (for
    example a long healthy stream into the real broker) and stops it, Ctrl-C style, at the
    end; the handle gives the process and its JSON report.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # not at plugin load: pytest loads the plugin in every session
    from fibersim.probes.http import JsonDocument
    from fibersim.reports.files import ReportDocument


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fibersim", "fibersim: Focus Server readiness and background scenarios")
    group.addoption("--fibersim-focus-url", default=os.environ.get("FIBERSIM_FOCUS_URL"),
                    help="Focus Server base URL for the focus_ready fixture.")
    group.addoption("--fibersim-ready-timeout", default="120s",
                    help="How long focus_ready waits for a live fiber (default 120s).")
    group.addoption("--fibersim-not-ready", choices=("skip", "fail"), default="skip",
                    help="What focus_ready does when the fiber never becomes ready.")
    group.addoption("--fibersim-insecure", action="store_true",
                    help="Skip TLS verification of the Focus Server (like curl -k).")
    group.addoption("--fibersim-scenario", default=None,
                    help="Scenario file that fibersim_scenario runs in the background.")
    group.addoption("--fibersim-amqp-url", default=None,
                    help="Broker for the background scenario (default: FIBERSIM_AMQP_URL).")


@dataclass(frozen=True)
class FocusReady:
    """A Focus Server that has live fiber metadata."""

    base_url: str
    #: ``GET /live_metadata`` as the server answered it
    metadata: dict[str, JsonDocument]


@pytest.fixture(scope="session")
def focus_ready(pytestconfig: pytest.Config) -> FocusReady:
    """The Focus Server, once its live metadata shows a fiber (prr > 0, no sentinel)."""
    from fibersim.probes.http import FocusClient
    from fibersim.probes.readiness import wait_until_ready
    from fibersim.units import parse_duration

    base_url = pytestconfig.getoption("fibersim_focus_url")
    if not base_url:
        pytest.skip("no Focus Server given (--fibersim-focus-url or FIBERSIM_FOCUS_URL)")
    timeout_s = parse_duration(pytestconfig.getoption("fibersim_ready_timeout"))

    async def wait() -> tuple[JsonDocument, str]:
        client = FocusClient(base_url, insecure=pytestconfig.getoption("fibersim_insecure"))
        try:
            result = await wait_until_ready(client, timeout_s)
            body = (await client.live_metadata()).body if result.ready else None
        finally:
            await client.close()
        return body, result.last_seen

    metadata, last_seen = asyncio.run(wait())
    if not isinstance(metadata, dict):  # None unless ready (fiber metadata is a JSON object)
        message = f"Focus Server not ready after {timeout_s:g} s: {last_seen}"
        if pytestconfig.getoption("fibersim_not_ready") == "fail":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return FocusReady(base_url, metadata)


@dataclass
class BackgroundScenario:
    """A ``fibersim run`` process running for the test session."""

    process: subprocess.Popen[bytes]
    report_path: Path

    def stop(self, timeout_s: float = 30.0) -> int:
        """Interrupt the run (it writes its partial report) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def report(self) -> ReportDocument | None:
        """The run's JSON report (``fibersim run --report``), once written."""
        if not self.report_path.exists():
            return None
        report: ReportDocument = json.loads(self.report_path.read_text())
        return report


@pytest.fixture(scope="session")
def fibersim_scenario(pytestconfig: pytest.Config,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundScenario]:
    """``fibersim run`` of ``--fibersim-scenario`` in the background for the whole session."""
    scenario = pytestconfig.getoption("fibersim_scenario")
    if not scenario:
        pytest.skip("no background scenario given (--fibersim-scenario)")
    report = tmp_path_factory.mktemp("fibersim") / "report.json"
    command = [sys.executable, "-m", "fibersim", "run", scenario, "--report", str(report)]
    from fibersim.transport.settings import BrokerSettings  # not at plugin load: it is slow

    # the broker goes in the child's environment (BrokerSettings), never on its command line
    broker = BrokerSettings(pytestconfig.getoption("fibersim_amqp_url"))
    focus_url = pytestconfig.getoption("fibersim_focus_url")
    if focus_url:
        command += ["--focus-url", focus_url]
    handle = BackgroundScenario(
        subprocess.Popen(command, env={**os.environ, **broker.child_environment()}), report)
    try:
        yield handle
    finally:
        handle.stop()
