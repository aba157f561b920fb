"""Report files: JUnit XML (one testsuite per scenario, one testcase per expectation) and the
JSON timeline (seed, scenario file hash, every event, probe and verdict)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from fibersim.runner.results import ExpectationRecord, RunResult
from fibersim.units import format_speed

if TYPE_CHECKING:
    from fibersim.probes.http import JsonDocument


class ReportDocument(TypedDict):
    """The JSON report: did every run pass, and each run (``RunResult.as_json()``)."""

    passed: bool
    scenarios: list[dict[str, JsonDocument]]


def write_junit(results: list[RunResult], path: str | Path) -> None:
    """JUnit XML that CI systems display: a failed expectation is a ``failure``, a failed
    event or an interrupted run an ``error`` testcase of its own."""
    suites = ElementTree.Element("testsuites")
    for result in results:
        cases = [_expectation_case(result, record) for record in result.expectations]
        for event in result.failed_events:
            case = ElementTree.Element("testcase", classname=result.name,
                                       name=f"event {event.label}", time="0")
            ElementTree.SubElement(case, "error", message=event.detail[:500],
                                   type=event.outcome).text = event.what
            cases.append(case)
        if result.error or result.interrupted:
            case = ElementTree.Element("testcase", classname=result.name, name="run",
                                       time=f"{result.wall_s:.3f}")
            ElementTree.SubElement(case, "error", message=result.error or "interrupted",
                                   type="run")
            cases.append(case)
        failures = sum(1 for case in cases if case.find("failure") is not None)
        errors = sum(1 for case in cases if case.find("error") is not None)
        skipped = sum(1 for case in cases if case.find("skipped") is not None)
        suite = ElementTree.SubElement(
            suites, "testsuite", name=result.name, tests=str(len(cases)),
            failures=str(failures), errors=str(errors), skipped=str(skipped),
            time=f"{result.wall_s:.3f}", file=result.file)
        properties = ElementTree.SubElement(suite, "properties")
        for name, value in (("seed", result.seed), ("sha256", result.sha256),
                            ("mode", result.mode), ("speed", format_speed(result.speed)),
                            ("strict", result.strict), *sorted(result.matrix.items())):
            ElementTree.SubElement(properties, "property", name=name, value=str(value))
        suite.extend(cases)
    tree = ElementTree.ElementTree(suites)
    ElementTree.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _expectation_case(result: RunResult, record: ExpectationRecord) -> ElementTree.Element:
    case = ElementTree.Element(
        "testcase", classname=result.name, name=f"{record.label}: {record.name}"
        if record.name != record.label else record.label,
        time=f"{record.reaction_s or 0.0:.3f}")
    strict = result.strict
    if record.verdict == "failed":
        ElementTree.SubElement(case, "failure", message=record.failure[:500],
                               type="expectation").text = record.what
    elif record.verdict == "skipped":
        why = "not checked: " + "; ".join(record.unchecked)
        if strict:
            ElementTree.SubElement(case, "failure", message=f"{why} (--strict)"[:500],
                                   type="skipped")
        else:
            ElementTree.SubElement(case, "skipped", message=why[:500])
    elif record.verdict == "xfail":
        ElementTree.SubElement(case, "skipped", message=f"xfail: {record.xfail}"[:500])
    elif record.verdict == "xpass" and strict:
        ElementTree.SubElement(case, "failure", message=f"xpass: {record.xfail}"[:500],
                               type="xpass")
    elif record.verdict == "pending":
        ElementTree.SubElement(case, "error", message="not evaluated: the run ended first",
                               type="pending")
    ElementTree.SubElement(case, "system-out").text = (
        f"verdict: {record.verdict}\nwant: {record.want}\nreaction: {record.reaction_s}\n"
        f"seen: {record.seen}")
    return case


def report_document(results: list[RunResult]) -> ReportDocument:
    """The JSON report: ``{"scenarios": [<RunResult.as_json()>, ...], "passed": bool}``."""
    return {"passed": all(result.passed for result in results),
            "scenarios": [result.as_json() for result in results]}


def write_json_report(results: list[RunResult], path: str | Path) -> None:
    """The JSON report file (``report_document``)."""
    Path(path).write_text(json.dumps(report_document(results), indent=2, default=str) + "\n",
                          encoding="utf-8")
