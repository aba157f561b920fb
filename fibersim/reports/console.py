"""Console output: one line per event and expectation as it happens, then a summary table."""

from __future__ import annotations

from typing import TextIO

from fibersim.runner.results import (
    EventRecord,
    ExpectationRecord,
    ExpectationVerdict,
    RunResult,
    StepRecord,
)
from fibersim.units import format_speed


def step_line(record: StepRecord) -> str:
    """``sim  12.0s  wall   3.41s  <what>  <verdict>`` for one event or expectation."""
    if isinstance(record, EventRecord):
        verdict = {"fired": "", "failed": "  FAILED: ", "refused": "  REFUSED: "}[record.outcome]
        detail = f"{verdict}{record.detail}" if verdict else (
            f"  ({record.detail})" if record.detail else "")
        late = (f"  [took effect {record.delay_s:.2f}s after its scheduled time]"
                if record.delay_s is not None and record.delay_s >= 0.05 else "")
        kind = "finally " if record.cleanup else "event   "
        return (f"  sim {record.sim_s:7.1f}s  wall {record.wall_s:7.2f}s  {kind}"
                f"{record.label}: {record.what}{detail}{late}")
    return (f"  sim {record.due_sim_s:7.1f}s  wall {record.due_wall_s:7.2f}s  expect  "
            f"{record.label}: {record.what}  {verdict_text(record)}")


def verdict_text(record: ExpectationRecord) -> str:
    """``MET in 1.23s (holds 5s)``, ``FAILED: <what was seen>``, ``SKIPPED: not checked: ...``,
    ``XFAIL (reason): ...`` or ``XPASS (reason)``."""
    hold = f", {record.hold}" if record.hold else ""
    reaction = f" in {record.reaction_s:.2f}s" if record.reaction_s is not None else ""
    if record.verdict == "met":
        return f"MET{reaction}{hold}"
    if record.verdict == "failed":
        return f"FAILED: {record.failure}"
    if record.verdict == "skipped":
        return f"SKIPPED: {'; '.join(record.unchecked)} (the rest held{reaction}{hold})"
    if record.verdict == "xfail":
        return f"XFAIL ({record.xfail}): {record.failure}"
    if record.verdict == "xpass":
        return f"XPASS ({record.xfail}): held{reaction} although marked xfail"
    return "PENDING (run ended first)"


class ConsoleReporter:
    """Writes live lines and the summary to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, result: RunResult, description: str) -> None:
        """The scenario's header line and its warnings, before its first step."""
        self._print(f"scenario {result.name}: {description}")
        for warning in result.warnings:
            self._print(f"  warning: {warning}")

    def record(self, record: StepRecord) -> None:
        """One line as soon as an event fired or an expectation was resolved."""
        self._print(step_line(record))

    def summary(self, result: RunResult) -> None:
        """The verdict line and a table of every expectation with its reaction time."""
        expectations = result.expectations
        if result.unreachable:
            evaluated = sum(1 for record in expectations if record.verdict != "pending")
            self._print(f"{result.name}: UNREACHABLE after {result.wall_s:.1f}s wall"
                        f" ({evaluated} of {len(result.expectations)} expectations evaluated"
                        " before; the error follows)")
            return
        verdict = "PASSED" if result.passed else ("INTERRUPTED" if result.interrupted
                                                  else "FAILED")
        counts = [f"{result.count('met')}/{len(expectations)} expectations met"]
        shown_as: dict[ExpectationVerdict, str] = {
            "skipped": "not checked", "failed": "failed", "xfail": "xfail", "xpass": "xpass",
            "pending": "pending"}
        for name, shown in shown_as.items():
            if result.count(name):
                counts.append(f"{result.count(name)} {shown}")
        strict = " (--strict)" if result.strict else ""
        self._print(
            f"{result.name}: {verdict}{strict}: {', '.join(counts)},"
            f" {len(result.failed_events)} event(s) failed; {result.wall_s:.1f}s wall,"
            f" {result.sim_s:.1f}s simulated, seed {result.seed},"
            f" speed {format_speed(result.speed)}, mode {result.mode}")
        if result.broker or result.focus:
            logs = f"; log checks read {result.log_source}" if result.log_source else (
                "; no log source: log checks are not checked")
            self._print(f"  fiber on {result.broker}; {result.focus}{logs}")
        if result.error:
            self._print(f"  error: {result.error}")
        if not expectations:
            return
        width = max(len(record.label) for record in expectations)
        self._print(f"  {'#':>3}  {'expectation':<{width}}  {'verdict':<7}  {'reaction':>8}"
                    "  seen")
        for record in expectations:
            reaction = f"{record.reaction_s:.2f}s" if record.reaction_s is not None else "-"
            self._print(f"  {record.index + 1:>3}  {record.label:<{width}}  "
                        f"{record.verdict.upper():<7}  {reaction:>8}  {record.seen[:140]}")
        for event in result.failed_events:
            self._print(f"  event {event.label} {event.outcome}: {event.detail}")
