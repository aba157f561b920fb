"""Runs one scenario: streams the fiber, fires the timeline's events, checks its expectations.

Time semantics (docs/scenarios.md, "Time"):

* The streamer runs continuously in **simulated** time (``StreamDriver``), paced by the
  virtual clock at the run's speed; data timestamps follow the simulated clock.
* Steps run in file order. A step is due at its simulated time (``at``, or ``after`` a label
  counted from when that step actually fired or was met, or right after the previous step).
* An **expectation is a checkpoint**: it is polled until met or until its **wall-clock**
  window (``within``) ends, and the timeline waits for it (and for its ``holds_for``); the
  streamer keeps publishing meanwhile. Events whose time passed during the wait fire at once.
  A hold ``until`` an event runs in the background and ends just before that event fires.
* Wall-clock windows measure how fast the Focus Server reacts, so they are never scaled by
  ``--speed``; the reaction time (due -> first met) is recorded for every expectation.
* At ``--speed max`` simulated time jumps straight to the next event; while a checkpoint waits
  it advances at real-time pace, so the Focus Server keeps receiving a live stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import random
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from fibersim.dialects import DEFAULT_DIALECT, Dialect, DialectError, load_dialect, open_broker
from fibersim.errors import InputError, UnreachableError
from fibersim.interrogator import Interrogator
from fibersim.probes.clients import ClientTally, run_backoff_client, run_storm
from fibersim.probes.expectations import (
    Context,
    Evaluation,
    ExpectationChecker,
    RequestBaseline,
)
from fibersim.probes.http import FocusClient, ProbeError
from fibersim.probes.matching import Verdict
from fibersim.redact import scrub
from fibersim.runner.clock import VirtualClock
from fibersim.runner.focus_target import (
    Endpoints,
    FocusTarget,
    connect,
    open_focus,
)
from fibersim.runner.network_links import NetworkLinks, refusal
from fibersim.runner.results import (
    EventRecord,
    ExpectationRecord,
    Probe,
    RunResult,
    StepRecord,
    delivery_of,
)
from fibersim.runner.streamer import FiberStreamer
from fibersim.runner.watches import StateWatcher
from fibersim.scenario.loader import parse_yaml, step_line
from fibersim.scenario.models import (
    BackoffClient,
    Connect,
    Corrupt,
    Disconnect,
    Duplicate,
    Event,
    Exec,
    ExpectStep,
    FocusRestart,
    Gap,
    MatrixValues,
    Reconfigure,
    Reorder,
    RestorePrr,
    Scenario,
    Set,
    StaleMetadata,
    StaleMetadataEnd,
    StartSource,
    StopSource,
    StoreDown,
    StoreUp,
    Storm,
    WatchStep,
    ZeroPrr,
)
from fibersim.scenario.network import Network
from fibersim.scenario.timeline import Anchor, ResolvedStep, resolve_timeline
from fibersim.transport import BrokerSettings, MemoryBroker
from fibersim.wire import MessageKind

#: Wall seconds between two evaluations of a pending or holding expectation.
POLL_INTERVAL_S = 0.2
#: Simulated seconds the driver advances per step at finite speed (events wait at most this).
DRIVER_STEP_S = 0.1
#: Wall seconds between two reads of the mock's history by a watch.
WATCH_POLL_S = 0.5
#: Wall seconds the ``finally:`` events may take (they also run after Ctrl-C).
CLEANUP_TIMEOUT_S = 60.0
#: Key of the holds and watches that last until the end of the run (not a possible label).
END_OF_RUN = " end"
#: Checks that may be given as a list.
LIST_CHECKS = ("configure", "http", "log")


class EventFailed(Exception):
    """An event could not be carried out; the text says why (the run will exit 1)."""


@dataclass(frozen=True)
class EventScope:
    """What an event's handler acts on: the step's label (for the tallies of the clients it
    starts), the streamer (the interrogator and its faults) and the Focus Server."""

    label: str
    streamer: FiberStreamer
    focus: FocusTarget


@dataclass(frozen=True)
class RunSettings:
    """Per-run overrides and permissions from the command line."""

    speed: float | None = None
    seed: int | None = None
    allow_exec: bool = False
    #: skipped checks and XPASS fail the run
    strict: bool = False
    #: timestamp (ns) of simulated second 0; None: the wall clock at the start
    start_time_ns: int | None = None


class StreamDriver:
    """Keeps the streamer publishing in simulated time, in short steps, so events can be
    applied between steps (under ``lock``) while the timeline waits on the wall clock."""

    def __init__(self, streamer: FiberStreamer) -> None:
        self.streamer = streamer
        self.lock = asyncio.Lock()
        self._progress = asyncio.Condition()
        self._target: float | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def sim_time(self) -> float:
        """Simulated time the stream has been published up to."""
        return self.streamer.sim_time

    def start(self) -> None:
        """Start streaming; simulated time now begins to run on the wall clock."""
        self.streamer.clock.restart(self.streamer.sim_time)
        self._task = asyncio.create_task(self._run(), name="stream-driver")

    async def stop(self) -> None:
        """Stop streaming (the streamer keeps its state)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def reach(self, sim_s: float) -> None:
        """Return once the stream has been published up to simulated time ``sim_s``."""
        async with self._progress:
            self._target = sim_s
            await self._progress.wait_for(lambda: self.sim_time >= sim_s or self._failed())
            self._target = None
        if self._task is not None and self._task.done():
            self._task.result()

    def _failed(self) -> bool:
        return self._task is not None and self._task.done()

    async def _run(self) -> None:
        clock = self.streamer.clock
        while True:
            if clock.is_max_speed:
                target = self._target
                if target is None or target <= self.sim_time:
                    # nothing due: keep a live stream going at real-time pace
                    paused_at = time.monotonic()
                    await asyncio.sleep(DRIVER_STEP_S)
                    target = self.sim_time + (time.monotonic() - paused_at)
            else:
                target = self.sim_time + DRIVER_STEP_S
                await clock.sleep_until(target)
            async with self.lock:
                await self.streamer.run_until(target)
            async with self._progress:
                self._progress.notify_all()


class ScenarioRunner:
    """One run of one scenario file (one matrix combination of it)."""

    def __init__(self, scenario: Scenario, path: str, broker: BrokerSettings,
                 endpoints: Endpoints, settings: RunSettings,
                 on_record: Callable[[StepRecord], None], secrets: list[str],
                 matrix: MatrixValues | None = None) -> None:
        self.scenario = scenario
        self.path = path
        #: the broker the fiber publishes on; its dialect (``--dialect``) overrides the file's
        self.broker = broker
        self.endpoints = endpoints
        self.settings = settings
        self.on_record = on_record
        self.secrets = secrets
        self.steps = resolve_timeline(scenario)
        self.seed = scenario.run.seed if settings.seed is None else settings.seed
        self.speed = scenario.run.speed if settings.speed is None else settings.speed
        #: the dialect as named on the command line or in the file, and the dialect itself
        self.dialect_spec = broker.dialect or scenario.fiber.dialect or DEFAULT_DIALECT
        self.dialect = self._load_dialect()
        self.result = RunResult(
            scenario=scenario.name, file=path, sha256=_sha256(path), seed=self.seed,
            speed=self.speed, mode=endpoints.mode(broker), strict=settings.strict,
            matrix=dict(matrix or {}), tags=list(scenario.tags))
        self._rng = random.Random(self.seed)
        self._links = NetworkLinks([*(e.step for e in self.steps), *scenario.cleanup], self.seed)
        self._wall_start = time.monotonic()
        self._epoch_start = time.time()
        self._fired_sim: dict[str, float] = {}
        #: when each event took effect on the wire (monotonic): reaction times count from it
        self._effects: dict[str, float] = {}
        self._previous_sim = 0.0
        self.context = Context()
        self._background: list[asyncio.Task[None]] = []
        self._holds_until: dict[str, list[tuple[asyncio.Event, asyncio.Task[None]]]] = {}
        self._extra_clients: list[FocusClient] = []
        #: False until the Focus Server answered: a timeout before that means "unreachable"
        self.focus_reached = False
        self.result.warnings.extend(_warnings(scenario, endpoints))

    # -- preflight ----------------------------------------------------------------------------
    def _load_dialect(self) -> Dialect:
        """``--dialect`` (or FIBERSIM_DIALECT) if given, else the scenario's ``fiber.dialect``;
        an unknown one in the file is reported at its line."""
        try:
            return load_dialect(self.dialect_spec)
        except DialectError as error:
            if self.broker.dialect:
                raise  # the option's own one-line error
            try:
                _, lines = parse_yaml(Path(self.path).read_text(), self.path)
            except (OSError, InputError):
                lines = {}
            raise InputError(error.message, file=self.path, field="fiber.dialect",
                             line=lines.get(("fiber", "dialect"))) from None

    def preflight(self) -> None:
        """Refuse, before anything starts, what this run may or cannot do (exit 2)."""
        for entry in self.steps:
            step = entry.step
            if isinstance(step, Exec) and not self.settings.allow_exec:
                self._refuse(entry, "exec steps run commands; refused without --allow-exec")
            if self.endpoints.focus_url and not self.broker.url and isinstance(step, Connect):
                self._refuse(entry, "a separately run Focus Server cannot consume the embedded"
                                    " broker; pass --amqp-url with --focus-url")
            if not self.endpoints.has_control and step.needs_control():
                self._refuse(entry, "needs the mock's status/control interface; pass"
                                    " --focus-control-url (and --focus-control-token) or use"
                                    " the built-in mock")
            if why := refusal(step, self.broker):
                self._refuse(entry, why)
        for position, event in enumerate(self.scenario.cleanup):
            if isinstance(event, Exec) and not self.settings.allow_exec:
                raise InputError("exec steps run commands; refused without --allow-exec",
                                 file=self.path, field=f"finally[{position}]")
            if not self.endpoints.has_control and event.needs_control():
                raise InputError("needs the mock's control interface (--focus-control-url)",
                                 file=self.path, field=f"finally[{position}]")
            if why := refusal(event, self.broker):
                raise InputError(why, file=self.path, field=f"finally[{position}]")

    def _refuse(self, entry: ResolvedStep, message: str) -> None:
        raise InputError(message, file=self.path, line=step_line(self.path, entry.index),
                         field=f"timeline[{entry.index}]")

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> RunResult:
        """Run the timeline; ``self.result`` is filled in live, also if cancelled.

        ``UnreachableError`` (exit 3) names what could not be reached: the Focus Server, the
        broker at the start, or the broker lost during the run."""
        self.preflight()
        broker = MemoryBroker()
        started = time.monotonic()
        try:
            async with (open_focus(self.scenario, self.endpoints, self.broker, broker,
                                   self.dialect_spec) as direct,
                        self._links.routed(self.broker, self.endpoints, direct)
                        as (routed_broker, focus)):
                self.focus_reached = True
                self.result.log_source = focus.logs.description if focus.logs else ""
                transport = open_broker(routed_broker, dialect=self.dialect, broker=broker)
                self.result.broker = f"{transport.description}, {self.dialect.name} dialect"
                self.result.focus = focus.description
                await connect(transport, self.broker)
                start_ns = self.settings.start_time_ns
                streamer = FiberStreamer(
                    Interrogator(self.scenario.fiber_config(),
                                 time.time_ns() if start_ns is None else start_ns), transport,
                    VirtualClock(self.speed), seed=self.seed,
                    signals=self.scenario.fiber.signals, dialect=self.dialect)
                try:
                    # a full-rate fiber renders in a process of its own: start the clock only
                    # once its first block is ready, so the stream is not late from the start
                    await streamer.prepare()
                    await self._run_timeline(focus, streamer)
                    if streamer.interrogator.emits_metadata:
                        await streamer.disconnect()  # like `stream`: consumers hear the end
                finally:
                    streamer.close()
                    await asyncio.shield(transport.close())
                    self.result.delivery = delivery_of(streamer.interrogator.next_sequence,
                                                       transport.stats)
        except UnreachableError as error:
            self.result.unreachable, self.result.error = True, str(error)
            raise
        except (ConnectionError, OSError) as error:
            # the broker went away mid-run (the transport's text hides the password)
            reason = scrub(" ".join(str(error).split()), self.secrets) or type(error).__name__
            self.result.unreachable = True
            self.result.error = f"lost the broker during the run: {reason}"
            raise UnreachableError(self.result.error) from None
        finally:
            self.result.wall_s = time.monotonic() - started
        return self.result

    async def _run_timeline(self, focus: FocusTarget, streamer: FiberStreamer) -> None:
        driver = StreamDriver(streamer)
        checker = ExpectationChecker(focus.client, logs=focus.logs, context=self.context)
        self._wall_start = self.context.run_start = time.monotonic()
        self._epoch_start = self.result.timeline_started_at = time.time()
        self.context.moments["start"] = self._wall_start
        self.context.variables.update(self.result.matrix)  # a matrix on run.seed: its value
        self.context.variables.update(focus_url=focus.client.base_url, seed=self.seed,
                                      scenario=self.scenario.name)
        if focus.client.has_control:
            # without this baseline, request-count checks say so instead of failing the run
            with contextlib.suppress(ProbeError):
                await self._snapshot_requests(focus.client, None)
        driver.start()
        try:
            for entry in self.steps:
                await driver.reach(self._due(entry))
                if isinstance(entry.step, ExpectStep):
                    await self._expectation(entry, entry.step, driver, checker)
                elif isinstance(entry.step, WatchStep):
                    self._start_watch(entry, entry.step, driver, focus)
                else:
                    await self._event(entry, entry.step, driver, focus, self._scheduled(entry,
                                                                                       driver))
            await self._finish_background()
        finally:
            try:
                await asyncio.wait_for(self._cleanup(driver, focus), CLEANUP_TIMEOUT_S)
            except TimeoutError:
                self.result.warnings.append(f"finally: not done within {CLEANUP_TIMEOUT_S:g}s")
            finally:
                await self._stop(driver, streamer, focus)

    async def _cleanup(self, driver: StreamDriver, focus: FocusTarget) -> None:
        """The ``finally:`` events, whatever ended the timeline (failure, timeout, Ctrl-C)."""
        for position, event in enumerate(self.scenario.cleanup):
            entry = ResolvedStep(len(self.steps) + position, event,
                                 Anchor(None, 0.0, previous=True), driver.sim_time)
            await self._event(entry, event, driver, focus, time.monotonic(), cleanup=True)

    async def _stop(self, driver: StreamDriver, streamer: FiberStreamer,
                    focus: FocusTarget) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await driver.stop()
        self.result.sim_s = streamer.sim_time
        self.result.clients = {label: tally.as_json()
                               for label, tally in self.context.tallies.items()}
        for client in self._extra_clients:
            await client.close()
        if focus.client.has_control:
            with contextlib.suppress(ProbeError):
                self.result.focus_status = await focus.client.mock_status()

    def _due(self, entry: ResolvedStep) -> float:
        anchor = entry.anchor
        if anchor.previous:
            return self._previous_sim
        if anchor.label is None:
            return anchor.offset_s
        return self._fired_sim[anchor.label] + anchor.offset_s

    def _scheduled(self, entry: ResolvedStep, driver: StreamDriver) -> float:
        """When the event should have happened (monotonic): the wall time its simulated due
        time mapped to, or now at ``--speed max`` (where simulated time jumps)."""
        if math.isinf(self.speed):
            return time.monotonic()
        return min(time.monotonic(), driver.streamer.clock.wall_deadline(self._due(entry)))

    def _done(self, entry: ResolvedStep, sim_s: float, record: StepRecord) -> None:
        self._previous_sim = sim_s
        self._fired_sim[entry.label] = sim_s
        self.on_record(record)

    def _wall(self, moment: float | None = None) -> float:
        return (time.monotonic() if moment is None else moment) - self._wall_start

    # -- events -------------------------------------------------------------------------------
    async def _event(self, entry: ResolvedStep, step: Event, driver: StreamDriver,
                     focus: FocusTarget, scheduled: float, *, cleanup: bool = False) -> None:
        await self._end_holds(self._holds_until.pop(entry.label, []))
        label = f"finally-{entry.index - len(self.steps) + 1}" if cleanup else entry.label
        record = EventRecord(entry.index, step.label or label, step.describe(), entry.nominal_s,
                             cleanup=cleanup)
        self.result.records.append(record)
        async with driver.lock:
            record.sim_s, record.wall_s = driver.sim_time, self._wall()
            # log checks count from the start of the event: with the embedded broker the
            # mock reacts (and logs) while the event is still being carried out
            self.context.moments[record.label] = time.monotonic()
            try:
                record.detail = await self._apply(entry, step, driver.streamer, focus)
            except (EventFailed, ProbeError) as error:
                record.outcome, record.detail = "failed", str(error)
            effect = time.monotonic()
        record.effect_wall_s = self._wall(effect)
        record.delay_s = max(0.0, effect - scheduled)
        self._effects[record.label] = effect
        if cleanup:
            self.on_record(record)
        else:
            self._done(entry, record.sim_s, record)

    async def _apply(self, entry: ResolvedStep, step: Event, streamer: FiberStreamer,
                     focus: FocusTarget) -> str:
        """Do what the event says (its handler in ``EVENT_HANDLERS``); returns a detail line
        for the reports."""
        detail = await EVENT_HANDLERS[type(step)](self, step,
                                                  EventScope(entry.label, streamer, focus))
        if self._is_since_label(entry.label) and focus.client.has_control:
            await self._snapshot_requests(focus.client, entry.label)
        return detail or ""

    # One handler per event model, each listed once in EVENT_HANDLERS (end of this module).
    async def _connect(self, _: Connect, scope: EventScope) -> None:
        await scope.streamer.connect()

    async def _disconnect(self, step: Disconnect, scope: EventScope) -> None:
        await scope.streamer.disconnect(clean=step.clean)

    async def _zero_prr(self, _: ZeroPrr, scope: EventScope) -> None:
        await scope.streamer.zero_prr()

    async def _restore_prr(self, _: RestorePrr, scope: EventScope) -> None:
        await scope.streamer.restore_prr()

    async def _reconfigure(self, step: Reconfigure, scope: EventScope) -> None:
        await scope.streamer.reconfigure(**step.changes())

    async def _set(self, step: Set, scope: EventScope) -> None:
        """The backdoor: mock settings over its control interface, interrogator settings
        published at once (like reconfigure)."""
        if step.mock is not None and (changes := step.mock.as_settings()):
            answer = await scope.focus.client.request("POST", "_mock/set", changes,
                                                      control=True)
            if answer.status >= 300:
                raise EventFailed(f"POST /_mock/set: HTTP {answer.status} (want 200)"
                                  f" {answer.error_text[:200]!r}")
        if interrogator := step.interrogator_changes():
            await scope.streamer.reconfigure(**interrogator)

    async def _gap(self, step: Gap, scope: EventScope) -> None:
        scope.streamer.faults.skip_blocks += step.blocks

    async def _duplicate(self, step: Duplicate, scope: EventScope) -> None:
        scope.streamer.faults.duplicate_blocks += step.blocks

    async def _reorder(self, step: Reorder, scope: EventScope) -> None:
        scope.streamer.faults.reorder_blocks += step.blocks

    async def _corrupt(self, step: Corrupt, scope: EventScope) -> None:
        if step.message == "data":
            scope.streamer.faults.corrupt_blocks += step.count
            return
        for _ in range(step.count):
            await scope.streamer.publish_malformed(MessageKind(step.message))

    async def _stale_metadata(self, _: StaleMetadata, scope: EventScope) -> None:
        scope.streamer.faults.stale_metadata = True

    async def _stale_metadata_end(self, _: StaleMetadataEnd, scope: EventScope) -> None:
        scope.streamer.faults.stale_metadata = False

    async def _start_source(self, step: StartSource, scope: EventScope) -> None:
        try:
            scope.streamer.start_source(step.source, step.signal)
        except ValueError as error:
            raise EventFailed(str(error)) from None

    async def _stop_source(self, step: StopSource, scope: EventScope) -> None:
        try:
            scope.streamer.stop_source(step.source)
        except KeyError as error:
            raise EventFailed(str(error.args[0])) from None

    async def _mock_control(self, step: FocusRestart | StoreDown | StoreUp,
                            scope: EventScope) -> None:
        answer = await scope.focus.client.control(step.action)
        if answer.status >= 300:
            raise EventFailed(f"POST /_mock/{step.action}: HTTP {answer.status} (want 2xx)")

    def _is_since_label(self, label: str) -> bool:
        return any(isinstance(entry.step, ExpectStep) and entry.step.expect.requests is not None
                   and entry.step.expect.requests.since == label for entry in self.steps)

    async def _snapshot_requests(self, client: FocusClient, label: str | None) -> None:
        status = await client.mock_status()
        self.context.baselines[label] = RequestBaseline(time.monotonic(), status.requests)

    def _new_client(self, focus: FocusTarget) -> FocusClient:
        client = FocusClient(self._links.clients_url or focus.client.base_url,
                             insecure=self.endpoints.insecure,
                             ca_file=self.endpoints.ca_file,
                             timeout_s=self.endpoints.request_timeout_s)
        self._extra_clients.append(client)
        return client

    async def _start_storm(self, step: Storm, scope: EventScope) -> None:
        tally = self.context.tallies[scope.label] = ClientTally()
        clients = [self._new_client(scope.focus) for _ in range(step.clients)]
        self._background.append(asyncio.create_task(run_storm(
            clients, tally, step.duration, (step.interval_min, step.interval_max),
            random.Random(self._rng.random()))))

    async def _start_backoff(self, step: BackoffClient, scope: EventScope) -> None:
        tally = self.context.tallies[scope.label] = ClientTally()
        self._background.append(asyncio.create_task(run_backoff_client(
            self._new_client(scope.focus), tally, step.duration, step.base, step.cap,
            random.Random(self._rng.random()))))

    def _exec_environment(self, focus: FocusTarget) -> dict[str, str]:
        """The command's environment: the Focus Server and its control interface, in every
        mode (the token only here, never on a command line)."""
        env = dict(os.environ, FIBERSIM_FOCUS_URL=focus.client.base_url)
        if focus.control_url:
            env["FIBERSIM_FOCUS_CONTROL_URL"] = focus.control_url
        if focus.control_token:
            env["FIBERSIM_FOCUS_CONTROL_TOKEN"] = focus.control_token
        return env

    async def _network(self, step: Network, _: EventScope) -> str:
        return self._links.apply(step)

    async def _exec(self, step: Exec, scope: EventScope) -> str:
        """Run the command (no shell unless asked), with a timeout; output is scrubbed."""
        focus = scope.focus
        env = self._exec_environment(focus)
        if step.shell:
            assert isinstance(step.command, str)
            process = await asyncio.create_subprocess_shell(
                step.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env=env)
        else:
            argv = shlex.split(step.command) if isinstance(step.command, str) else step.command
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    env=env)
            except OSError as error:
                raise EventFailed(f"exec {argv[0]}: {error.strerror}") from None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), step.timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise EventFailed(f"exec: no exit within {step.timeout:g}s (killed)") from None
        secrets = [*self.secrets, *([focus.control_token] if focus.control_token else [])]
        tail = scrub(output.decode("utf-8", "replace")[-300:], secrets).strip()
        detail = f"exit {process.returncode}" + (f": {' '.join(tail.split())}" if tail else "")
        if step.check and process.returncode != 0:
            raise EventFailed(detail + " (want exit 0)")
        return detail

    # -- expectations ---------------------------------------------------------------------------
    def _reaction_base(self, entry: ResolvedStep) -> float:
        """Reaction times count from when the event the expectation follows took effect on
        the wire (not when the timeline got to the expectation)."""
        anchor = entry.anchor
        reference = (self.steps[entry.index - 1] if anchor.previous and entry.index > 0
                     else next((step for step in self.steps if step.label == anchor.label),
                               None) if anchor.offset_s == 0 else None)
        if reference is not None and not reference.is_expectation:
            moment = self._effects.get(reference.label)
            if moment is not None:
                return moment
        return time.monotonic()

    async def _expectation(self, entry: ResolvedStep, step: ExpectStep, driver: StreamDriver,
                           checker: ExpectationChecker) -> None:
        base = self._reaction_base(entry)
        record = ExpectationRecord(
            entry.index, entry.label, step.name or entry.label, describe_expectation(step),
            entry.nominal_s, step.within, _hold_text(step), due_sim_s=driver.sim_time,
            due_wall_s=self._wall(base), xfail=step.xfail or "")
        self.result.records.append(record)
        due = time.monotonic()
        evaluation = await self._poll_until_met(step, checker, record, due, due + step.within)
        verdict = evaluation.verdict
        record.seen = verdict.seen
        _note_unchecked(record, verdict)
        if not verdict.ok:
            self._resolve(record, ok=False, failure=f"not met within {step.within:g}s wall;"
                                                    f" last seen: {verdict.seen}")
            self._done(entry, driver.sim_time, record)
            return
        record.reaction_s = record.probes[-1].wall_s - record.due_wall_s
        record.met_sim_s = driver.sim_time
        record.captured = evaluation.captured
        self.context.variables.update(evaluation.captured)
        self.context.moments[entry.label] = time.monotonic()
        if step.holds_for is not None:
            await self._hold(step, checker, record, due, time.monotonic() + step.holds_for, None)
            self._done(entry, driver.sim_time, record)
        elif step.until is not None:
            release = asyncio.Event()
            task = asyncio.create_task(self._hold_then_report(step, checker, record, due,
                                                              release))
            self._holds_until.setdefault(step.until, []).append((release, task))
            self._background.append(task)
            self._previous_sim = record.met_sim_s
            self._fired_sim[entry.label] = record.met_sim_s
        else:
            self._resolve(record, ok=True)
            self._done(entry, record.met_sim_s, record)

    def _resolve(self, record: ExpectationRecord, *, ok: bool, failure: str = "") -> None:
        """The final verdict: failed/xfail, or met/xpass, or skipped when part of it could
        not be checked (never "met" for what was not seen)."""
        record.resolved_wall_s = self._wall()
        if not ok:
            record.verdict = "xfail" if record.xfail else "failed"
            record.failure = failure
        elif record.unchecked:
            record.verdict = "skipped"
        else:
            record.verdict = "xpass" if record.xfail else "met"

    async def _poll_until_met(self, step: ExpectStep, checker: ExpectationChecker,
                              record: ExpectationRecord, due: float,
                              deadline: float) -> Evaluation:
        while True:
            evaluation = await checker.evaluate(step.expect, due)
            verdict = evaluation.verdict
            record.add_probe(Probe(self._wall(), verdict.ok, verdict.seen))
            if verdict.ok or time.monotonic() >= deadline:
                return evaluation
            await asyncio.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))

    async def _hold(self, step: ExpectStep, checker: ExpectationChecker,
                    record: ExpectationRecord, due: float, deadline: float | None,
                    release: asyncio.Event | None) -> None:
        """Keep evaluating until ``deadline`` or ``release``; the first miss fails the hold."""
        met_wall = self._wall()
        while True:
            if release is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(release.wait(), POLL_INTERVAL_S)
            else:
                assert deadline is not None
                await asyncio.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            verdict = (await checker.evaluate(step.expect, due)).verdict
            record.add_probe(Probe(self._wall(), verdict.ok, verdict.seen))
            record.seen = verdict.seen
            _note_unchecked(record, verdict)
            if not verdict.ok:
                self._resolve(record, ok=False, failure=(
                    f"met, then stopped holding after {self._wall() - met_wall:.1f}s wall;"
                    f" seen: {verdict.seen}"))
                return
            if (release is not None and release.is_set()) or (
                    deadline is not None and time.monotonic() >= deadline):
                self._resolve(record, ok=True)
                return

    async def _hold_then_report(self, step: ExpectStep, checker: ExpectationChecker,
                                record: ExpectationRecord, due: float,
                                release: asyncio.Event) -> None:
        await self._hold(step, checker, record, due, None, release)
        self.on_record(record)

    # -- watches ----------------------------------------------------------------------------
    def _start_watch(self, entry: ResolvedStep, step: WatchStep, driver: StreamDriver,
                     focus: FocusTarget) -> None:
        """Observe the mock's state in the background until ``until`` fires (or the end)."""
        record = ExpectationRecord(
            entry.index, entry.label, step.name or entry.label, describe_watch(step),
            entry.nominal_s, 0.0, f"until {step.until}" if step.until else "until the end",
            due_sim_s=driver.sim_time, due_wall_s=self._wall(), xfail=step.xfail or "",
            watch=True)
        self.result.records.append(record)
        release = asyncio.Event()
        watcher = StateWatcher(focus.client, step.watch, self._epoch_start)
        task = asyncio.create_task(self._watch(watcher, record, release))
        self._holds_until.setdefault(step.until or END_OF_RUN, []).append((release, task))
        self._background.append(task)
        self.context.moments[entry.label] = time.monotonic()
        self._previous_sim = self._fired_sim[entry.label] = driver.sim_time

    async def _watch(self, watcher: StateWatcher, record: ExpectationRecord,
                     release: asyncio.Event) -> None:
        await watcher.start()
        while not release.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), WATCH_POLL_S)
            await watcher.poll()
            record.add_probe(Probe(self._wall(), watcher.error is None, watcher.progress()))
        verdict = watcher.verdict()
        record.seen = verdict.seen
        self._resolve(record, ok=verdict.ok, failure=verdict.seen)
        self.on_record(record)

    @staticmethod
    async def _end_holds(holds: list[tuple[asyncio.Event, asyncio.Task[None]]]) -> None:
        """Release holds and watches and wait for their final evaluation, so that they judge
        the state just before the event they hold until, never its effect."""
        for release, _ in holds:
            release.set()
        await asyncio.gather(*(task for _, task in holds))

    async def _finish_background(self) -> None:
        """Wait for storms, backoff clients, holds and watches still running at the end."""
        for holds in self._holds_until.values():
            await self._end_holds(holds)
        await asyncio.gather(*self._background)


def _warnings(scenario: Scenario, endpoints: Endpoints) -> list[str]:
    """Settings of this run that cannot do what they say (the run goes on)."""
    warnings: list[str] = []
    if endpoints.focus_url and scenario.focus_mock.model_fields_set:
        warnings.append("focus_mock: settings do not apply to a separately run server"
                        " (--focus-url); start it with the settings you need (fibersim"
                        " focus-mock --help) or use do: set")
    if not endpoints.focus_url and (endpoints.focus_log_file or endpoints.focus_log_cmd):
        warnings.append("--focus-log-file/--focus-log-cmd apply only with --focus-url; log"
                        " checks read the built-in mock's own log")
    if endpoints.focus_url and endpoints.focus_log_file and not Path(
            endpoints.focus_log_file).exists():
        warnings.append(f"--focus-log-file {endpoints.focus_log_file} does not exist (yet):"
                        " log checks see its lines once it is created")
    return warnings


def _note_unchecked(record: ExpectationRecord, verdict: Verdict) -> None:
    for why in verdict.unchecked:
        if why not in record.unchecked:
            record.unchecked.append(why)


def describe_expectation(step: ExpectStep) -> str:
    """The expectation's checks as one compact line: ``state=ready; live_metadata prr=2000``."""
    parts: list[str] = []
    for check, value in step.expect.model_dump(exclude_none=True, by_alias=True).items():
        for item in value if isinstance(value, list) and check in LIST_CHECKS else [value]:
            if isinstance(item, dict):
                fields = " ".join(f"{key}={_compact(inner)}" for key, inner in item.items())
                parts.append(f"{check} {fields}")
            else:
                parts.append(f"{check}={_compact(item)}")
    return "; ".join(parts)


def describe_watch(step: WatchStep) -> str:
    """The watch as one line: ``watch state waiting_for_fiber sometime; transitions ...``."""
    return "watch " + " ".join(f"{key}={_compact(value)}" for key, value
                               in step.watch.model_dump(exclude_none=True, by_alias=True).items())


def _compact(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{_compact(item)}" for key, item in value.items()) + "}"
    text = "null" if value is None else " ".join(str(value).split("\n"))
    return text if len(text) <= 60 else text[:57] + "..."


def _hold_text(step: ExpectStep) -> str:
    if step.holds_for is not None:
        return f"holds {step.holds_for:g}s"
    return f"holds until {step.until}" if step.until else ""


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


#: Carries out one event; returns a detail line for the reports, or None.
EventHandler = Callable[[ScenarioRunner, Event, EventScope], Awaitable[str | None]]
_E = TypeVar("_E", bound=Event)


def _on(kind: type[_E], handler: Callable[[ScenarioRunner, _E, EventScope], Awaitable[str | None]]
        ) -> tuple[type[BaseModel], EventHandler]:
    """One registry entry. mypy checks that the handler takes this model; the entry takes any
    event, so the registry has one type, and checks the pair the registry looked up."""
    async def carry_out(runner: ScenarioRunner, event: Event, scope: EventScope) -> str | None:
        if not isinstance(event, kind):
            raise TypeError(f"{type(event).__name__} event given to the {kind.__name__} handler")
        return await handler(runner, event, scope)

    return kind, carry_out


#: The one event registry: every member of ``scenario.models.Event`` maps to exactly one
#: handler (tests/scenario/test_event_registry.py checks it). A new event is a model in the
#: scenario layer plus one line here (docs/architecture.md, "Where new code goes").
EVENT_HANDLERS: dict[type[BaseModel], EventHandler] = dict([
    _on(Connect, ScenarioRunner._connect),
    _on(Disconnect, ScenarioRunner._disconnect),
    _on(ZeroPrr, ScenarioRunner._zero_prr),
    _on(RestorePrr, ScenarioRunner._restore_prr),
    _on(Reconfigure, ScenarioRunner._reconfigure),
    _on(Set, ScenarioRunner._set),
    _on(Gap, ScenarioRunner._gap),
    _on(Duplicate, ScenarioRunner._duplicate),
    _on(Reorder, ScenarioRunner._reorder),
    _on(Corrupt, ScenarioRunner._corrupt),
    _on(StaleMetadata, ScenarioRunner._stale_metadata),
    _on(StaleMetadataEnd, ScenarioRunner._stale_metadata_end),
    _on(StartSource, ScenarioRunner._start_source),
    _on(StopSource, ScenarioRunner._stop_source),
    _on(FocusRestart, ScenarioRunner._mock_control),
    _on(StoreDown, ScenarioRunner._mock_control),
    _on(StoreUp, ScenarioRunner._mock_control),
    _on(Storm, ScenarioRunner._start_storm),
    _on(BackoffClient, ScenarioRunner._start_backoff),
    _on(Exec, ScenarioRunner._exec),
    _on(Network, ScenarioRunner._network),
])
