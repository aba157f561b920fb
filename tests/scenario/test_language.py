"""Scenario language v2 against the built-in mock: generic HTTP checks, captures and
variables, matchers, log checks on any line, watches, xfail, the ``do: set`` backdoor,
``finally:`` cleanup, exec environment, matrices and tags. One run of a scenario that uses
them all is shared by the tests; each test reads one behaviour from its report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from tests.scenario.helpers import fibersim, interrupt_a_run_once_it_prints, write_scenario

LANGUAGE = """\
    name: language_v2
    fiber: {channels: 128, prr: 2000}
    timeline:
      - {label: up, do: connect}
      - label: ready
        expect:
          state: ready
          http:
            - {path: channels, status: 200, body: {highest_channel: 128}}
            - {path: /focus-server/ack, prefix: false, status: 200}
            - {path: sensors, status: 404, text: {regex: 'Not Found'}}
          configure:
            request: height_200
            status: 200
            body: {job_id: {regex: "."}, frequencies_list: {len: {gt: 1}}}
            capture: {job: body.job_id}
      - name: the captured job is in the mock's list
        expect:
          mock: {jobs.0.job_id: "${job}", jobs: {len: 1}}
          log: {contains: "configured job ${job}", since: start}
      - name: nobody but fibersim's probes configured
        expect:
          requests: {route: POST /configure, count: 0}
      - name: a known bug
        xfail: the mock has no such route
        expect: {http: {path: jobs, status: 200}}
        within: 0.5s
      - name: a bug that is fixed
        xfail: was broken once
        expect: {http: {path: ack, status: 200}}
      - {label: sped_up, do: set, mock: {metadata_timeout: 1s},
         interrogator: {sw_version: "interrogator 9.9"}}
      - name: the backdoor changed both without a restart
        expect:
          mock: {settings.metadata_timeout_s: 1.0, restarts: 0}
          live_metadata: {sw_version: interrogator 9.9}
      - label: flaps
        watch: {transitions: {to: waiting_for_fiber, count: 1}}
        until: again
      - {label: cut, do: disconnect, clean: false}
      - expect:
          state: waiting_for_fiber
          log: {regex: 'state ready -> waiting_for_fiber \\(metadata_timeout\\)$', since: cut}
        within: 4s
      - {label: again, do: connect}
      - name: no crash-loop line was ever logged
        expect:
          state: ready
          log: {contains: "Back-off restarting", since: start, count: 0}
    finally:
      - do: exec
        shell: true
        command: >-
          echo "$FIBERSIM_FOCUS_CONTROL_URL"
          ${FIBERSIM_FOCUS_CONTROL_TOKEN:+token-set}
"""


@pytest.fixture(scope="module")
def language_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("language")
    report, junit = directory / "report.json", directory / "junit.xml"
    completed = fibersim("run", write_scenario(directory, LANGUAGE), "--allow-exec",
                         "--report", report, "--junit", junit)
    result = json.loads(report.read_text())["scenarios"][0]
    return {"completed": completed, "result": result, "junit": junit,
            "by_name": {record["name"]: record for record in result["records"]
                        if record["kind"] == "expectation"},
            "by_label": {record["label"]: record for record in result["records"]}}


def test_the_language_scenario_passes(language_run: dict[str, Any]) -> None:
    completed = language_run["completed"]
    assert completed.code == 0, completed.output[-3000:]


def test_a_capture_is_usable_in_later_matchers_and_log_patterns(
        language_run: dict[str, Any]) -> None:
    ready = language_run["by_label"]["ready"]
    job = ready["captured"]["job"]
    record = language_run["by_name"]["the captured job is in the mock's list"]
    assert record["verdict"] == "met"
    assert f"jobs.0.job_id={job!r}" in record["seen"] and f"configured job {job}" in record["seen"]


def test_fibersims_own_probes_are_not_counted_as_requests(language_run: dict[str, Any]) -> None:
    record = language_run["by_name"]["nobody but fibersim's probes configured"]
    assert record["verdict"] == "met", record["seen"]
    probes = language_run["result"]["focus_status"]["probe_requests"]
    assert probes["POST /configure"]["200"] >= 1


def test_an_xfail_that_fails_is_xfail_and_one_that_holds_is_xpass(
        language_run: dict[str, Any]) -> None:
    assert language_run["by_name"]["a known bug"]["verdict"] == "xfail"
    assert language_run["by_name"]["a bug that is fixed"]["verdict"] == "xpass"
    assert "XFAIL (the mock has no such route)" in language_run["completed"].stdout


def test_the_set_backdoor_changes_mock_and_interrogator_at_run_time(
        language_run: dict[str, Any]) -> None:
    record = language_run["by_name"]["the backdoor changed both without a restart"]
    assert record["verdict"] == "met", record["seen"]


def test_a_watch_counts_transitions_between_its_start_and_until(
        language_run: dict[str, Any]) -> None:
    record = language_run["by_label"]["flaps"]
    assert record["verdict"] == "met", record["seen"]
    assert "1 transition(s): ready->waiting_for_fiber at " in record["seen"]


def test_a_log_check_matches_any_server_line_and_can_want_none(
        language_run: dict[str, Any]) -> None:
    assert language_run["by_name"]["no crash-loop line was ever logged"]["verdict"] == "met"


def test_finally_runs_and_exec_gets_the_control_url_and_token_in_its_environment(
        language_run: dict[str, Any]) -> None:
    (cleanup,) = [record for record in language_run["result"]["records"]
                  if record["kind"] == "event" and record["cleanup"]]
    assert cleanup["outcome"] == "fired"
    assert "/focus-server token-set" in cleanup["detail"]


def test_events_report_when_they_took_effect_and_how_late(language_run: dict[str, Any]) -> None:
    cut = language_run["by_label"]["cut"]
    assert cut["effect_wall_s"] >= cut["wall_s"] and cut["delay_s"] >= 0


def test_reaction_times_count_from_when_the_event_took_effect_on_the_wire(
        language_run: dict[str, Any]) -> None:
    published = language_run["by_label"]["sped_up"]  # set interrogator: new metadata published
    record = language_run["by_name"]["the backdoor changed both without a restart"]
    assert record["due_wall_s"] == pytest.approx(published["effect_wall_s"], abs=1e-6)


def test_the_json_report_gives_each_expectation_its_verdict_want_and_times(
        language_run: dict[str, Any]) -> None:
    record = language_run["by_label"]["ready"]
    assert {"verdict", "want", "seen", "reaction_s", "due_wall_s", "resolved_wall_s"} <= set(
        record)
    assert language_run["result"]["counts"]["xfail"] == 1


def test_junit_reports_xfail_as_skipped(language_run: dict[str, Any]) -> None:
    root = ElementTree.parse(language_run["junit"]).getroot()
    skipped = [case for case in root.iter("testcase") if case.find("skipped") is not None]
    assert [case.get("name") for case in skipped] == ["step-5: a known bug"]


# -- matrix and tags ----------------------------------------------------------------------------
MATRIX = """\
    name: matrix
    tags: [smoke]
    fiber: {channels: 16, prr: 1000}
    matrix: {focus_mock.behaviour: [incident, fixed]}
    timeline:
      - expect: {mock: {behaviour: "${behaviour}"}}
"""


def test_a_matrix_runs_the_file_once_per_value_named_by_it(tmp_path: Path) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    completed = fibersim("run", write_scenario(tmp_path, MATRIX), "--junit", junit,
                         "--report", report)
    assert completed.code == 0, completed.output
    names = ["matrix[behaviour=incident]", "matrix[behaviour=fixed]"]
    assert [suite.get("name") for suite in ElementTree.parse(junit).getroot()] == names
    assert [s["name"] for s in json.loads(report.read_text())["scenarios"]] == names
    assert all(f"{name}: PASSED" in completed.stdout for name in names)


@pytest.mark.parametrize(("options", "runs"), [(["--tags", "smoke"], True),
                                               (["--tags", "nightly"], False),
                                               (["--skip-tags", "smoke"], False)])
def test_tags_select_which_files_run(tmp_path: Path, options: list[str], runs: bool) -> None:
    completed = fibersim("run", write_scenario(tmp_path, MATRIX), *options)
    assert completed.code == 0
    assert ("matrix[behaviour=fixed]: PASSED" in completed.stdout) is runs


# -- cleanup after Ctrl-C -----------------------------------------------------------------------
def test_finally_runs_after_ctrl_c(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: interrupted
        fiber: {channels: 16, prr: 1000}
        timeline:
          - {label: down, do: store_down}
          - expect: {state: zero_prr}
            within: 60s
        finally:
          - do: store_up
    """)
    report = tmp_path / "report.json"
    assert interrupt_a_run_once_it_prints(path, "event   down", report) == 130
    events = [record for record in json.loads(report.read_text())["scenarios"][0]["records"]
              if record["kind"] == "event"]
    assert [(event["what"], event["cleanup"], event["outcome"]) for event in events] == [
        ("store_down", False, "fired"), ("store_up", True, "fired")]
