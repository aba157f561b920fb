"""``ScenarioSession``: scenario files run one after the other on one broker and one Focus
Server, with their console lines, JUnit file and reports.

This is what ``fibersim run`` does once its options are parsed; it lives here so that any
entry point (a command, a test, the bench) runs scenarios the same way: every file and matrix
variant is checked before the first starts (a refused step is exit 2 before anything
streams), start-up objects are frozen once (``session.tuning``), a global timeout bounds the
whole session, and the reports are written also when it is interrupted or times out.
Freezing start-up objects (``session.tuning``) changes the whole process, so it is the entry
point's explicit choice (``freeze_startup``), as in ``StreamSession``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from fibersim.errors import UnreachableError
from fibersim.reports import ConsoleReporter, write_json_report, write_junit
from fibersim.reports.files import report_document
from fibersim.runner.focus_target import Endpoints
from fibersim.runner.results import RunResult, StepRecord
from fibersim.runner.scenario_runner import RunSettings, ScenarioRunner
from fibersim.scenario import Scenario
from fibersim.session.tuning import freeze_startup_objects
from fibersim.transport import BrokerSettings


@dataclass(frozen=True)
class Outputs:
    """Where a session puts its results besides the console."""

    junit: str | None = None
    reports: tuple[str, ...] = ()
    #: the JSON report on ``stdout`` (the console lines then go to ``stderr``)
    json_summary: bool = False


@dataclass
class ScenarioSession:
    """Loaded scenario files (path, scenario) and where and how to run them."""

    scenarios: Sequence[tuple[str, Scenario]]
    broker: BrokerSettings
    endpoints: Endpoints
    settings: RunSettings = field(default_factory=RunSettings)
    #: texts no report or error may show (passwords in URLs, the control token)
    secrets: list[str] = field(default_factory=list, repr=False)
    #: wall seconds the whole session may take
    timeout_s: float = 300.0
    outputs: Outputs = field(default_factory=Outputs)
    #: no step lines on the console (summaries still)
    quiet: bool = False
    #: freeze start-up objects before the first run (``session.tuning``): a process-wide
    #: change, so an explicit opt-in of the entry point (the ``run`` command makes it)
    freeze_startup: bool = False

    def runners(self, on_record: Callable[[StepRecord], None]) -> list[ScenarioRunner]:
        """One runner per file and matrix variant, each checked (``preflight``): an
        ``InputError`` here means nothing has started."""
        runners = [ScenarioRunner(variant, path, self.broker, self.endpoints, self.settings,
                                  on_record, self.secrets, matrix=values)
                   for path, scenario in self.scenarios
                   for values, variant in scenario.variants()]
        for runner in runners:
            runner.preflight()
        return runners

    async def run(self, stdout: TextIO, stderr: TextIO) -> tuple[int, list[RunResult]]:
        """Run every variant in order; returns the exit code (0 all met, 1 a failure or the
        timeout) and the results. ``UnreachableError`` (exit 3) and cancellation propagate,
        after the reports of what ran are written."""
        console = ConsoleReporter(stderr if self.outputs.json_summary else stdout)
        runners = self.runners((lambda _: None) if self.quiet else console.record)
        if self.freeze_startup:
            freeze_startup_objects()
        results: list[RunResult] = []
        code = 0
        current = runners[0]
        try:
            async with asyncio.timeout(self.timeout_s):
                for current in runners:
                    results.append(current.result)
                    console.start(current.result, current.scenario.description.strip())
                    await current.run()
                    console.summary(current.result)
                    code = max(code, 0 if current.result.passed else 1)
        except TimeoutError:
            if not current.focus_reached:
                unreachable = UnreachableError(
                    f"Focus Server unreachable: no answer within --timeout {self.timeout_s:g}s")
                current.result.error, current.result.unreachable = str(unreachable), True
                console.summary(current.result)
                raise unreachable from None
            current.result.error = f"the run took longer than --timeout {self.timeout_s:g}s"
            console.summary(current.result)
            code = 1
        except UnreachableError:
            # the summary says what was reached; the caller prints the error itself, once
            console.summary(results[-1])
            raise
        except asyncio.CancelledError:
            if results:
                results[-1].interrupted = True
                console.summary(results[-1])
            raise
        finally:
            self._write_outputs(results, stdout)
        return code, results

    def _write_outputs(self, results: list[RunResult], stdout: TextIO) -> None:
        if self.outputs.junit:
            write_junit(results, self.outputs.junit)
        write_reports(results, self.outputs.reports)
        if self.outputs.json_summary:
            stdout.write(json_report_text(results) + "\n")
            stdout.flush()


def failure_lines(results: list[RunResult]) -> list[str]:
    """One line per failed expectation and failed event, for the end of the output."""
    lines: list[str] = []
    for result in results:
        for failed in result.expectations:
            if failed.verdict == "failed":
                named = f" ({failed.name})" if failed.name != failed.label else ""
                lines.append(f"{result.name}: expectation {failed.label}{named} failed:"
                             f" {failed.failure}")
        lines.extend(f"{result.name}: event {event.label} failed: {event.detail}"
                     for event in result.failed_events)
    return lines


def write_reports(results: list[RunResult], paths: tuple[str, ...]) -> None:
    """Each report in the format its name asks for: HTML for ``*.html``, else JSON."""
    for path in paths:
        if path.lower().endswith((".html", ".htm")):
            from fibersim.reports.html import write_html_report

            write_html_report([json.loads(json_report_text(results))], path)
        else:
            write_json_report(results, path)


def json_report_text(results: list[RunResult]) -> str:
    """The JSON report document as text (what ``--report x.json`` writes)."""
    return json.dumps(report_document(results), indent=2, default=str)
