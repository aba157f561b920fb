"""``fibersim run``, ``fibersim validate`` and ``fibersim schema``: the scenario front door.

``run`` loads every scenario first (any invalid file: exit 2 before anything starts), then
runs them one after the other. Exit codes: 0 all expectations met, 1 an expectation or event
failed (or the global --timeout hit), 2 invalid scenario or arguments, 3 broker or Focus
Server unreachable, 130/143 interrupted (partial reports are still written).
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import sys
from typing import TYPE_CHECKING

import click

from fibersim.cli.lifecycle import exit_with, metrics_served, run_until_signal
from fibersim.cli.options import (
    DURATION,
    OUTPUT_FILE,
    SPEED,
    START_TIME,
    MetricsAddress,
    broker_options,
    is_quiet,
    make_parents,
    metrics_port_option,
)
from fibersim.errors import InputError
from fibersim.redact import secrets_in
from fibersim.scenario import Scenario, load_scenario
from fibersim.scenario.timeline import describe_anchor, resolve_timeline
from fibersim.units import format_speed

if TYPE_CHECKING:
    from fibersim.scenario.models import MatrixValues
    from fibersim.session.scenario import ScenarioSession


@click.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@broker_options
@click.option("--focus-url", default=None, metavar="URL", envvar="FIBERSIM_FOCUS_URL",
              help="A separately run Focus Server, e.g. https://host/focus-server/ (also"
              " FIBERSIM_FOCUS_URL). Without it: the built-in mock, in this process.")
@click.option("--focus-control-url", default=None, metavar="URL",
              envvar="FIBERSIM_FOCUS_CONTROL_URL",
              help="Base URL of a separately run mock's /_mock interface (state, restart,"
              " store and request-count steps need it with --focus-url; also"
              " FIBERSIM_FOCUS_CONTROL_URL).")
@click.option("--focus-control-token", default=None, metavar="TOKEN",
              envvar=["FIBERSIM_CONTROL_TOKEN", "FIBERSIM_FOCUS_CONTROL_TOKEN"],
              help="X-Control-Token for --focus-control-url (never printed). Also"
              " FIBERSIM_CONTROL_TOKEN, the variable focus-mock reads too"
              " (FIBERSIM_FOCUS_CONTROL_TOKEN still works but is deprecated).")
@click.option("--focus-log-file", default=None, metavar="PATH",
              help="Follow this log file of the separately run server (like tail -F) for log"
              " checks.")
@click.option("--focus-log-cmd", default=None, metavar="COMMAND",
              help="Follow this command's output for log checks, e.g. \"kubectl logs -f"
              " deploy/focus-server -n panda\" (run without a shell).")
@click.option("--strict", is_flag=True,
              help="Checks that could not be made (skipped) and unexpected passes (XPASS)"
              " fail the run.")
@click.option("--tags", default=None, metavar="T1,T2",
              help="Run only scenarios with one of these tags.")
@click.option("--skip-tags", default=None, metavar="T1,T2",
              help="Do not run scenarios with any of these tags.")
@click.option("--speed", type=SPEED, default=None,
              help="Override the scenario's speed: simulated s per wall s, or max.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
              help="Override the scenario's random seed.")
@click.option("--start-time", type=START_TIME, default=None, metavar="TIME",
              help="Timestamp of simulated second 0 (ISO 8601, e.g. 2025-01-01T00:00:00Z, or"
              " epoch seconds); default: the wall clock. With it every message body the"
              " stream publishes is the same from run to run.")
@click.option("--junit", type=OUTPUT_FILE, default=None,
              help="Write JUnit XML: one testsuite per scenario, one testcase per expectation"
              " (missing folders are created).")
@click.option("--report", "reports", type=OUTPUT_FILE, multiple=True,
              help="Write a report; repeatable. *.html: one self-contained page with the"
              " incident as a timeline (docs/reports.md); anything else: the JSON report (seed,"
              " file hash, every event, probe and verdict).")
@click.option("--json", "json_summary", is_flag=True,
              help="Print the JSON report on stdout instead of the console lines.")
@metrics_port_option
@click.option("--allow-exec", is_flag=True, help="Allow 'exec' steps to run their commands.")
@click.option("--dry-run", is_flag=True, help="Print the resolved timelines; run nothing.")
@click.option("--timeout", type=DURATION, default="5m", show_default=True,
              help="Cap on the wall time of the whole run (plus at most --request-timeout and"
              " --shutdown-timeout to write the partial report and close).")
@click.option("--request-timeout", type=DURATION, default="3s", show_default=True,
              help="Cap on each whole HTTP request to the Focus Server (connect, send, the"
              " full answer), however slowly the server drips its answer.")
def run(scenarios: tuple[str, ...], amqp_url: str | None, ca_file: str | None, insecure: bool,
        connect_timeout: float, shutdown_timeout: float, exchange: str | None,
        dialect: str | None, focus_url: str | None, focus_control_url: str | None,
        focus_control_token: str | None, focus_log_file: str | None,
        focus_log_cmd: str | None, strict: bool, tags: str | None, skip_tags: str | None,
        speed: float | None, seed: int | None, start_time: int | None, junit: str | None,
        reports: tuple[str, ...], json_summary: bool, metrics_port: MetricsAddress | None,
        allow_exec: bool, dry_run: bool, timeout: float, request_timeout: float) -> None:
    """Run scenario files: stream the fiber, drive the Focus Server, check expectations.

    \b
    Modes:
      no --amqp-url              embedded broker + built-in mock, all in this process
      --amqp-url                 real RabbitMQ + built-in mock consuming it
      --amqp-url --focus-url     real RabbitMQ + a separately run Focus Server
    \b
    Examples:
      fibersim run scenarios/fiber_lost.yaml
      fibersim run scenarios/*.yaml --junit junit.xml --report report.json
      fibersim run scenarios/fiber_lost.yaml --report out/report.html --report out/report.json
      fibersim run scenarios/healthy.yaml --json > summary.json
      fibersim run scenarios/healthy.yaml --amqp-url amqp://guest:guest@127.0.0.1/
      fibersim run scenarios/fiber_lost.yaml --amqp-url amqp://guest:guest@127.0.0.1/ \
          --dialect tagged
      fibersim run scenarios/incident_full.yaml --strict
      fibersim run scenarios/*.yaml --tags smoke --skip-tags slow
    \b
    A real Focus Server consumes its interrogator's format, not fibersim's: give its broker,
    the dialect that speaks that format (docs/dialects.md) and usually its exchange:
      fibersim run scenarios/fiber_lost.yaml --amqp-url amqps://u:p@broker/ \
          --dialect prisma --exchange prisma --focus-url https://host/focus-server/
    \b
    A check that cannot be made (a log check against a separately run server with no
    --focus-log-file/--focus-log-cmd) is reported as skipped ("N not checked", JUnit
    <skipped>), never as met; --strict makes it a failure.
    \b
    Exit codes: 0 all expectations met (or skipped, xfail), 1 an expectation or event
    failed, 2 invalid scenario or arguments, 3 broker or Focus Server unreachable,
    130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
    See docs/scenarios.md for the file format and the time semantics.
    """
    from fibersim.dialects import load_dialect
    from fibersim.runner.focus_target import Endpoints
    from fibersim.runner.scenario_runner import RunSettings
    from fibersim.session.scenario import Outputs, ScenarioSession
    from fibersim.transport import BrokerSettings

    if request_timeout <= 0 or timeout <= 0:
        raise click.BadParameter("timeouts must be positive", param_hint="--timeout")
    if dialect:
        load_dialect(dialect)  # an unknown --dialect is exit 2, also for --dry-run
    if focus_log_file and focus_log_cmd:
        raise click.BadParameter("give one of --focus-log-file, --focus-log-cmd",
                                 param_hint="--focus-log-cmd")
    if focus_log_cmd is not None:
        try:
            argv = shlex.split(focus_log_cmd)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--focus-log-cmd") from None
        if not argv or shutil.which(argv[0]) is None:
            raise click.BadParameter(f"no program {argv[0] if argv else ''!r} to run",
                                     param_hint="--focus-log-cmd")
    loaded = [(path, load_scenario(path)) for path in scenarios]
    loaded = [(path, scenario) for path, scenario in loaded
              if _selected(scenario.tags, _tag_set(tags), _tag_set(skip_tags))]
    if not loaded:
        click.echo("fibersim: no scenario has the selected tags", err=True)
        return
    if dry_run:
        for path, scenario in loaded:
            for values, variant in scenario.variants():
                click.echo(dry_run_text(path, variant, speed, seed, values))
        return
    make_parents(junit, *reports)
    broker = BrokerSettings(amqp_url, exchange, dialect, ca_file, insecure,
                            connect_timeout_s=connect_timeout,
                            shutdown_timeout_s=shutdown_timeout)
    endpoints = Endpoints(
        focus_url=focus_url, focus_control_url=focus_control_url,
        focus_control_token=focus_control_token, insecure=insecure, ca_file=ca_file,
        request_timeout_s=request_timeout, focus_log_file=focus_log_file,
        focus_log_cmd=focus_log_cmd)
    secrets = secrets_in(amqp_url, focus_url, focus_control_url)
    if focus_control_token:
        secrets.append(focus_control_token)
    session = ScenarioSession(
        loaded, broker, endpoints,
        RunSettings(speed=speed, seed=seed, allow_exec=allow_exec, strict=strict,
                    start_time_ns=start_time),
        secrets, timeout, Outputs(junit, reports, json_summary), quiet=is_quiet(),
        freeze_startup=True)
    with metrics_served(metrics_port):
        exit_with(run_until_signal(_run_session(session)))


async def _run_session(session: ScenarioSession) -> int:
    """The session, then one line per failure on stderr (after the reports)."""
    from fibersim.session.scenario import failure_lines

    code, results = await session.run(sys.stdout, sys.stderr)
    for line in failure_lines(results):
        click.echo(f"fibersim: {line}", err=True)
    return code


def _tag_set(text: str | None) -> set[str]:
    return {tag.strip() for tag in (text or "").split(",") if tag.strip()}


def _selected(tags: list[str], wanted: set[str], skipped: set[str]) -> bool:
    """``--tags``: at least one of them; ``--skip-tags``: none of them."""
    return (not wanted or bool(wanted & set(tags))) and not skipped & set(tags)


def dry_run_text(path: str, scenario: Scenario, speed: float | None, seed: int | None,
                 matrix: MatrixValues | None = None) -> str:
    """The resolved timeline: nominal simulated times, anchors, events and expectations.

    Times after the first expectation are lower bounds (">="): a checkpoint may hold the
    timeline back while it waits for the Focus Server.
    """
    from fibersim.runner.scenario_runner import describe_expectation, describe_watch
    from fibersim.scenario.models import ExpectStep, WatchStep

    config = scenario.fiber_config()
    chosen_speed = scenario.run.speed if speed is None else speed
    named = scenario.name + (
        "[" + ",".join(f"{key}={value}" for key, value in matrix.items()) + "]" if matrix else "")
    lines = [f"scenario {named} ({path}): fiber {config.fiber_id}, "
             f"{config.number_of_channels} channels at {config.prr:g} Hz, dx {config.dx:g} m; "
             f"speed {format_speed(chosen_speed)}, seed "
             f"{scenario.run.seed if seed is None else seed}"]
    held = False
    for entry in resolve_timeline(scenario):
        step = entry.step
        when = f"{'>=' if held else '  '}{entry.nominal_s:7.1f}s"
        if isinstance(step, ExpectStep):
            hold = (f", holds {step.holds_for:g}s" if step.holds_for is not None
                    else f", holds until {step.until}" if step.until else "")
            lines.append(f"  sim {when}  expect  {entry.label}: {describe_expectation(step)}"
                         f" within {step.within:g}s wall{hold} [{describe_anchor(entry)}]")
            held = True
        elif isinstance(step, WatchStep):
            until = step.until or "the end"
            lines.append(f"  sim {when}  watch   {entry.label}: {describe_watch(step)}"
                         f" until {until} [{describe_anchor(entry)}]")
        else:
            lines.append(f"  sim {when}  event   {entry.label}: {step.describe()}"
                         f" [{describe_anchor(entry)}]")
    for event in scenario.cleanup:
        lines.append(f"  finally      event   {event.describe()}")
    sim_s, wall_s = nominal_length(scenario, chosen_speed)
    lines.append(f"  nominal length {sim_s:g} simulated s = {wall_s:.1f}s wall"
                 " plus the Focus Server's reaction times")
    return "\n".join(lines)


def nominal_length(scenario: Scenario, speed: float) -> tuple[float, float]:
    """Simulated and wall seconds a run takes if every expectation is met at once.

    Follows the runner: a step is due when its anchor fired (events and met expectations
    move the timeline); a ``holds_for`` keeps the stream running for that many wall seconds
    (at ``--speed max`` simulated time then runs at real-time pace); storms and backoff
    clients run for their wall ``duration`` and the run waits for them at the end.
    """
    from fibersim.scenario.models import BackoffClient, ExpectStep, Storm

    sim = wall = background_end = 0.0
    fired: dict[str, float] = {}
    pace = 1.0 if math.isinf(speed) else speed
    for entry in resolve_timeline(scenario):
        anchor, step = entry.anchor, entry.step
        due = (sim if anchor.previous else anchor.offset_s if anchor.label is None
               else fired[anchor.label] + anchor.offset_s)
        if due > sim:
            wall += 0.0 if math.isinf(speed) else (due - sim) / speed
            sim = due
        if isinstance(step, ExpectStep) and step.holds_for is not None:
            wall += step.holds_for
            sim += step.holds_for * pace
        if isinstance(step, Storm | BackoffClient):
            background_end = max(background_end, wall + step.duration)
        fired[entry.label] = sim
    if background_end > wall:
        sim += (background_end - wall) * pace
        wall = background_end
    return sim, wall


@click.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
def validate(scenarios: tuple[str, ...]) -> None:
    """Check scenario files (YAML, fields, timeline references) without running them.

    Prints one line per file: ``ok``, or ``file:line: field: message`` on stderr for each
    invalid file; exit 2 if any file is invalid.

    \b
    Examples:
      fibersim validate scenarios/*.yaml
    """
    invalid = 0
    for path in scenarios:
        try:
            scenario = load_scenario(path)
        except InputError as error:
            invalid += 1
            click.echo(f"fibersim: error: {error}", err=True)
            continue
        runs = len(scenario.variants())
        matrix = f", {runs} matrix runs" if runs > 1 else ""
        click.echo(f"{path}: ok ({scenario.name}, {len(scenario.timeline)} steps{matrix})")
    if invalid:
        exit_with(2)


@click.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and CI linting)."""
    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))

