"""Command-line conventions: durations people write, output folders, options from the
environment, a global -q, machine-readable output, and help that tells the truth."""

from __future__ import annotations

import csv
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fibersim.cli.main import cli
from fibersim.cli.options import MetricsAddressType
from fibersim.units import parse_duration

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"


def fibersim(*args: str | Path, env: dict[str, str] | None = None,
             cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("FIBERSIM_")}
    return subprocess.run([sys.executable, "-m", "fibersim", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**clean, **(env or {})})


@pytest.mark.parametrize(("text", "seconds"), [
    ("1d", 86400.0), ("1h30m", 5400.0), ("1d 12h", 129600.0), ("366d", 366 * 86400.0),
    ("250ms", 0.25), ("2min", 120.0), ("10", 10.0)])
def test_durations_accept_days_and_compounds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1h30", "367d", "1x", "", "h"])
def test_durations_refuse_what_they_would_have_to_guess(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_output_folders_are_created(tmp_path: Path) -> None:
    output = tmp_path / "a" / "b" / "waterfall.png"
    completed = fibersim("plot", SCENARIOS / "healthy.yaml", "--to", "1s", "-o", output)
    assert completed.returncode == 0, completed.stderr
    assert output.is_file()


def test_an_output_path_below_a_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    completed = fibersim("run", SCENARIOS / "healthy.yaml", "--report",
                         tmp_path / "file" / "report.json")
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "is not a folder" in completed.stderr
    assert completed.stdout == ""  # the scenario did not start


def test_stream_writes_a_per_second_series_as_csv_and_json(tmp_path: Path) -> None:
    completed = fibersim("stream", "--channels", "32", "--duration", "2.5s", "--stats-csv",
                         tmp_path / "out" / "rates.csv", "--stats-json",
                         tmp_path / "out" / "stats.json", "-q")
    assert completed.returncode == 0, completed.stderr
    with open(tmp_path / "out" / "rates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 2
    # 0.1 s blocks at real time: about 10 a second
    assert 8 <= statistics.median(float(row["blocks_per_s"]) for row in rows) <= 12
    assert float(rows[0]["messages_per_s"]) > float(rows[0]["blocks_per_s"])
    series = json.loads((tmp_path / "out" / "stats.json").read_text())["series"]
    assert [row["wall_s"] for row in series] == [float(row["wall_s"]) for row in rows]


def test_every_option_can_come_from_the_environment() -> None:
    completed = fibersim("stream", "--channels", "16", "--speed", "max",
                         env={"FIBERSIM_STREAM_DURATION": "1.5s"})
    assert completed.returncode == 0, completed.stderr
    assert "summary: 1.5 simulated s" in completed.stderr


def test_help_names_the_variable_of_every_option() -> None:
    completed = fibersim("stream", "--help")
    assert "FIBERSIM_STREAM_DURATION" in completed.stdout
    assert "FIBERSIM_AMQP_URL" in completed.stdout


@pytest.mark.parametrize("variable", ["FIBERSIM_CONTROL_TOKEN", "FIBERSIM_FOCUS_CONTROL_TOKEN"])
def test_run_and_focus_mock_read_one_control_token_variable(
        variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """FIBERSIM_CONTROL_TOKEN for both; the old name of run's variable still works."""
    monkeypatch.setenv(variable, "t0ken")
    root = click.Context(cli, info_name="fibersim", auto_envvar_prefix="FIBERSIM")
    for name, args, param in (("run", ["x.yaml"], "focus_control_token"),
                              ("focus-mock", [], "control_token")):
        command = cli.get_command(root, name)
        assert command is not None
        if name == "focus-mock" and variable != "FIBERSIM_CONTROL_TOKEN":
            continue
        assert command.make_context(name, args, parent=root).params[param] == "t0ken"


def test_run_help_lists_every_exit_code() -> None:
    text = fibersim("run", "--help").stdout
    for code in ("0 all", "1 an", "2 invalid", "3 broker", "130", "143"):
        assert code in text


def test_dry_run_counts_holds_in_the_nominal_length() -> None:
    completed = fibersim("run", SCENARIOS / "healthy.yaml", "--dry-run")
    assert "nominal length 4 simulated s = 4.0s wall" in completed.stdout


def test_run_json_prints_the_report_on_stdout_and_quiet_drops_step_lines(
        tmp_path: Path) -> None:
    completed = fibersim("-q", "run", SCENARIOS / "data_faults.yaml", "--speed", "max",
                         "--json")
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["passed"] and document["scenarios"][0]["scenario"] == "data_faults"
    assert " sim " not in completed.stderr and "data_faults: PASSED" in completed.stderr


def test_replay_of_a_file_that_is_not_das_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a recording\n")
    completed = fibersim("replay", tmp_path / "notes.txt", "--duration", "1s")
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "pint" not in completed.stderr


def test_shell_completion_as_the_readme_sets_it_up_completes_commands() -> None:
    script = fibersim(env={"_FIBERSIM_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "complete " in script.stdout
    completed = fibersim(env={"_FIBERSIM_COMPLETE": "bash_complete",
                              "COMP_WORDS": "fibersim st", "COMP_CWORD": "1"})
    assert "stream" in completed.stdout.split()[-1]


def test_workers_publish_the_share_the_environment_chose_once(tmp_path: Path) -> None:
    """A StatefulSet pod sets FIBERSIM_INSTANCE and runs --workers 2: the workers publish
    exactly the pod's share, not a share of a share."""
    completed = fibersim("stream", "--fibers", "16", "--workers", "2", "--channels", "8",
                         "--duration", "0.5s", "--speed", "max", "--stats-json",
                         tmp_path / "stats.json", env={"FIBERSIM_INSTANCE": "1/4"})
    assert completed.returncode == 0, completed.stderr
    fibers = json.loads((tmp_path / "stats.json").read_text())["fibers"]
    assert sorted(fibers) == ["fiber-4", "fiber-5", "fiber-6", "fiber-7"]


def test_scenario_files_cite_nothing_outside_the_repository() -> None:
    for path in SCENARIOS.glob("*.yaml"):
        assert "/work/" not in path.read_text() and "/home/" not in path.read_text(), path


def test_every_scenario_file_the_docs_name_exists() -> None:
    texts = [(REPO / "README.md").read_text()] + [
        path.read_text() for path in (REPO / "docs").glob("*.md")]
    texts += [fibersim(name, "--help").stdout for name in ("record", "replay", "run", "plot")]
    named = {match for text in texts for match in re.findall(r"scenarios/(\w+)\.yaml", text)}
    assert named and all((SCENARIOS / f"{name}.yaml").is_file() for name in named), named


@pytest.mark.parametrize(("text", "address"), [
    ("9108", ("0.0.0.0", 9108)), ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("localhost:9108", ("localhost", 9108))])
def test_metrics_port_takes_a_port_or_host_and_port(text: str, address: tuple[str, int]) -> None:
    assert MetricsAddressType().convert(text, None, None) == address


def test_a_bad_metrics_port_is_refused_in_one_line() -> None:
    completed = fibersim("stream", "--metrics-port", "99999")
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1
