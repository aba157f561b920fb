"""Exit codes and messages when a run cannot pass: a wrong expectation (1), a refused step
(2), an unreachable broker or Focus Server (3), and credentials that must never leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scenario.helpers import (
    SCENARIOS,
    fibersim,
    interrupt_a_run_once_it_prints,
    write_scenario,
)

WRONG_EXPECTATION = """\
    name: wrong_expectation
    fiber: {channels: 16, prr: 1000}
    timeline:
      - do: connect
      - label: ready
        expect: {state: ready}
      - label: wrong_prr
        name: prr is 5000
        expect: {live_metadata: {prr: 5000.0}}
        within: 1s
"""


def test_a_wrong_expectation_exits_1_naming_it_and_what_was_seen(tmp_path: Path) -> None:
    completed = fibersim("run", write_scenario(tmp_path, WRONG_EXPECTATION))
    assert completed.code == 1
    failure_lines = [line for line in completed.output.splitlines() if "FAILED" in line]
    assert any("wrong_prr" in line and "prr=1000.0" in line and "5000" in line
               for line in failure_lines), completed.output


def test_stderr_names_the_failed_expectation_and_what_was_seen(tmp_path: Path) -> None:
    completed = fibersim("run", write_scenario(tmp_path, WRONG_EXPECTATION))
    assert completed.stderr.splitlines() == [
        "fibersim: wrong_expectation: expectation wrong_prr (prr is 5000) failed: not met"
        " within 1s wall; last seen: live_metadata: prr=1000.0 (want 5000.0)"]


def test_the_summary_lists_the_failed_expectation_with_its_verdict(tmp_path: Path) -> None:
    completed = fibersim("run", write_scenario(tmp_path, WRONG_EXPECTATION))
    summary_rows = [line.split() for line in completed.stdout.splitlines()
                    if "wrong_prr" in line and "FAILED" in line.split()]
    assert summary_rows


def test_exec_steps_are_refused_without_allow_exec(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: runs_a_command
        timeline:
          - do: exec
            command: [echo, hello]
    """)
    completed = fibersim("run", path)
    assert completed.code == 2
    assert completed.stderr.strip().count("\n") == 0
    assert "--allow-exec" in completed.stderr and f"{path}:3: timeline[0]:" in completed.stderr


def test_exec_steps_run_without_a_shell_when_allowed(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: runs_a_command
        timeline:
          - do: exec
            command: [echo, "$HOME;not-a-shell"]
    """)
    report = tmp_path / "report.json"
    completed = fibersim("run", path, "--allow-exec", "--report", report)
    assert completed.code == 0, completed.output
    event = json.loads(report.read_text())["scenarios"][0]["records"][0]
    assert event["detail"] == "exit 0: $HOME;not-a-shell"


def test_a_failing_exec_step_fails_the_run(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: runs_a_command
        timeline:
          - do: exec
            command: "false"
    """)
    assert fibersim("run", path, "--allow-exec").code == 1


def test_an_exec_step_is_killed_at_its_timeout(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: hangs
        timeline:
          - do: exec
            command: [sleep, "30"]
            timeout: 0.5s
    """)
    completed = fibersim("run", path, "--allow-exec", timeout=20)
    assert completed.code == 1
    assert "no exit within 0.5s (killed)" in completed.stderr


def test_an_unreachable_broker_exits_3_without_the_password(tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    completed = fibersim("run", SCENARIOS / "healthy.yaml", "--amqp-url",
                         "amqp://guest:s3cr3t-pw@127.0.0.1:1/", "--report", report,
                         "--junit", junit)
    assert completed.code == 3
    assert "unreachable" in completed.stderr
    for text in (completed.output, report.read_text(), junit.read_text()):
        assert "s3cr3t-pw" not in text


@pytest.fixture
def an_external_scenario(tmp_path: Path) -> Path:
    """A scenario without steps of its own: it only asks the Focus Server named on the
    command line."""
    return write_scenario(tmp_path, """\
        name: external
        timeline:
          - expect: {live_metadata: {prr: 0.0}}
    """)


def test_an_unreachable_focus_server_exits_3(an_external_scenario: Path) -> None:
    completed = fibersim("run", an_external_scenario, "--focus-url",
                         "http://127.0.0.1:1/focus-server/", "--timeout", "4s")
    assert completed.code == 3
    assert "unreachable" in completed.stderr


def test_an_unreachable_server_is_named_once_and_the_summary_says_so(
        an_external_scenario: Path) -> None:
    completed = fibersim("run", an_external_scenario, "--focus-url",
                         "http://127.0.0.1:1/focus-server/")
    assert completed.code == 3
    assert completed.stderr.splitlines() == [
        "fibersim: error: Focus Server at http://127.0.0.1:1/focus-server/ unreachable:"
        " GET ack: ConnectError"]
    assert "lost the broker" not in completed.output
    assert "external: UNREACHABLE after" in completed.stdout
    assert "0/0 expectations" not in completed.stdout


def test_control_steps_against_a_separate_server_need_a_control_url(tmp_path: Path) -> None:
    completed = fibersim("run", SCENARIOS / "store_outage_restart.yaml", "--amqp-url",
                         "amqp://guest:guest@127.0.0.1:1/", "--focus-url",
                         "http://127.0.0.1:1/focus-server/")
    assert completed.code == 2
    assert "--focus-control-url" in completed.stderr


@pytest.mark.broker
def test_credentials_in_the_amqp_url_never_appear_in_any_output(
        amqp_url: str, exchange_name: str, tmp_path: Path) -> None:
    from urllib.parse import urlsplit

    password = urlsplit(amqp_url).password
    assert password, "the test broker URL must carry a password"
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    completed = fibersim("run", SCENARIOS / "data_faults.yaml", "--amqp-url", amqp_url,
                         "--exchange", exchange_name, "--report", report, "--junit", junit)
    assert completed.code == 0, completed.output[-2000:]
    assert ":***@" in completed.stdout and ":***@" in report.read_text()
    for text in (completed.stdout, completed.stderr, report.read_text(), junit.read_text()):
        assert f":{password}@" not in text


def test_ctrl_c_writes_the_partial_report_and_exits_130(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert interrupt_a_run_once_it_prints(
        SCENARIOS / "retry_storm.yaml", "event   storm", report) == 130
    scenario = json.loads(report.read_text())["scenarios"][0]
    assert scenario["interrupted"] is True and scenario["records"]


def test_a_separate_server_without_a_broker_url_is_refused_for_connect_steps() -> None:
    completed = fibersim("run", SCENARIOS / "healthy.yaml", "--focus-url", "http://127.0.0.1:1/",
                         "--focus-control-url", "http://127.0.0.1:1/")
    assert completed.code == 2
    assert "pass --amqp-url with --focus-url" in completed.stderr


def test_an_exact_payload_fails_on_keys_it_does_not_list(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, """\
        name: exact
        fiber: {channels: 16, prr: 1000}
        timeline:
          - do: connect
          - label: only_prr
            expect: {live_metadata_exact: {prr: 1000.0}}
            within: 0.5s
    """)
    completed = fibersim("run", path)
    assert completed.code == 1
    assert "expectation only_prr failed" in completed.stderr
    assert "unexpected keys ['dtype', 'dx'," in completed.stderr
