"""The mock Focus Server without HTTP: supervisor, core, wire consumer and bookkeeping.

``FocusMock`` plays two roles that are separate processes in production. The *core* is the
Focus Server itself: it holds the fiber metadata, the jobs and the recordings writer, and it
dies on a restart (losing metadata and jobs). The *supervisor* (Kubernetes in production)
restarts a core that failed to start, with exponential back-off, counting restarts. Counters,
state history and the store survive restarts, so a scenario can observe a crash loop from
outside. The wire consumer is subscribed once; while no core runs, messages are dropped, like
messages sent to a server that is not there.

Every wait and every age (metadata timeout, unconsumed-job TTL, crash-loop back-off, the
watchdog period, state stamps) is read off the ``Clock`` the mock is given, so a test can run
it on virtual time. The watchdog and the crash loop sleep in the background, so that clock's
sleepers must wake only when the test advances it (``fibersim.timebase.SteppedClock``);
``ManualClock``, whose ``sleep`` advances time itself, would let them run time away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import weakref
from dataclasses import dataclass
from typing import Self

import numpy as np

from fibersim.dialects import load_dialect
from fibersim.focus.jobs import (
    Job,
    JobPlan,
    JobRequest,
    JobRequestError,
    JobTable,
    Waterfall,
    plan_job,
)
from fibersim.focus.logs import log
from fibersim.focus.schemas import (
    Counters,
    JobSummary,
    MessageCounts,
    MockSettingsChange,
    MockStatus,
    RuntimeSettings,
    TransitionBody,
)
from fibersim.focus.sequence import Arrival, SequenceTracker
from fibersim.focus.settings import Behaviour, FocusSettings, ReconfigurePolicy
from fibersim.focus.states import FiberState, StateMachine, Transition
from fibersim.focus.store import RecordingIndexer, RecordingStore, StoreSelectionTimeoutError
from fibersim.models import FiberMetadata
from fibersim.timebase import SYSTEM_CLOCK, Clock
from fibersim.transport import Delivery, Transport
from fibersim.wire import (
    PROBE_CONTENT_TYPE,
    DataBlock,
    Envelope,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusEvent,
    StatusMessage,
    WireFormatError,
    WireMessage,
    kind_of,
)

#: How often the watchdog checks the metadata timeout, flushes the index and expires jobs.
WATCHDOG_PERIOD_S = 0.2
#: The real server drops a live job nobody consumes after about this long (incident only).
UNCONSUMED_JOB_TTL_S = 50.0
#: The int16 scale assumed before any metadata message says otherwise (FiberConfig default).
DEFAULT_INT16_SCALE = 1e-4 / 32767.0
#: The only field the real server names when it refuses a job for lack of metadata.
MISSING_FIELDS = ["prr"]


class FiberNotReadyError(Exception):
    """POST /configure while prr is 0 or missing: the incident's 503."""

    def __init__(self, state: FiberState) -> None:
        super().__init__("Cannot proceed: Missing required fiber metadata fields: "
                         + ", ".join(MISSING_FIELDS))
        self.state = state


class ServerDownError(Exception):
    """No core is running (crash loop or restart): every real API call answers 503."""


class ChannelRangeError(ValueError):
    """Requested channels outside [lowest_channel, highest_channel]: a 422."""


@dataclass
class Core:
    """What one run of the Focus Server process holds; all of it is lost on restart."""

    indexer: RecordingIndexer
    jobs: JobTable
    metadata: FiberMetadata | None = None
    int16_scale: float = DEFAULT_INT16_SCALE
    last_metadata_at: float = 0.0


@dataclass(frozen=True)
class CountersSnapshot:
    """A mock's state and counters as another thread may read them (the metrics scrape):
    copies, so the scrape never iterates a structure the event loop is changing."""

    state: FiberState
    #: the bounded history, oldest first (the mock keeps the last ``MAX_TRANSITIONS``)
    transitions: tuple[Transition, ...]
    counters: Counters
    restarts: int
    #: clients' requests by route and status code (fibersim's probes not counted)
    requests: dict[str, dict[str, int]]


#: Every mock alive in this process, for ``fibersim.metrics`` to read at scrape time.
LIVE_MOCKS: weakref.WeakSet[FocusMock] = weakref.WeakSet()


class FocusMock:
    """Consumes one fiber's wire messages and answers what the HTTP layer asks."""

    def __init__(self, settings: FocusSettings, transport: Transport | None, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.dialect = load_dialect(settings.dialect)
        self.machine = StateMachine(clock)
        self.store = RecordingStore(settings.store)
        self.sequence = SequenceTracker()
        self.messages: dict[MessageKind, int] = dict.fromkeys(MessageKind, 0)
        self.rejected = 0
        self.blocks = 0
        self.restarts = 0
        self.requests: collections.defaultdict[str, collections.Counter[str]] = (
            collections.defaultdict(collections.Counter))
        self.probe_requests: collections.defaultdict[str, collections.Counter[str]] = (
            collections.defaultdict(collections.Counter))
        self.channels = settings.channels
        self.core: Core | None = None
        self._crash_loop: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._flush_failing = False
        with contextlib.suppress(StoreSelectionTimeoutError):
            self.core = self._boot()
        LIVE_MOCKS.add(self)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to the fiber's messages in the dialect's topology and start the background
        checks."""
        if self.transport is not None:
            await self.transport.subscribe(self.dialect.binding_keys(self.settings.fiber_id),
                                           self.handle)
        self._watchdog = asyncio.create_task(self._watch(), name="focus-mock-watchdog")
        if self.core is None:
            self._restart("store_unreachable_at_boot")

    async def stop(self) -> None:
        for task in (self._watchdog, self._crash_loop):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._flush()
        self.store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _boot(self) -> Core:
        """Start a core: like the real server, it connects to its store first or dies."""
        self.store.ping()
        self.store.close_open_recordings()
        self.sequence.forget_position()
        log.info("Focus Server started for fiber %s; recordings store %s",
                 self.settings.fiber_id, self.store.address)
        return Core(indexer=RecordingIndexer(self.store), jobs=JobTable(self.clock))

    # -- supervisor ----------------------------------------------------------------------------
    def restart(self) -> None:
        """Kill the core and start a new one now (POST /_mock/restart)."""
        if self.core is not None:
            self._flush()
            self.core = None
        self._restart("restart_requested")

    def _restart(self, reason: str) -> None:
        if self._crash_loop is not None:
            self._crash_loop.cancel()
            self._crash_loop = None
        self.restarts += 1
        if not self._try_start(reason):
            self._crash_loop = asyncio.get_running_loop().create_task(
                self._back_off(), name="focus-mock-crash-loop")

    def _try_start(self, reason: str) -> bool:
        self.machine.enter(FiberState.RESTARTING, reason)
        try:
            self.core = self._boot()
        except StoreSelectionTimeoutError as error:
            log.error("fibersim.focus.store.StoreSelectionTimeoutError: %s", error)
            log.error("Focus Server exited with code 1 (restart %d)", self.restarts)
            self.machine.enter(FiberState.STORE_DOWN, "store_unreachable")
            return False
        self.machine.enter(FiberState.WAITING_FOR_FIBER, "core_started")
        return True

    async def _back_off(self) -> None:
        """The crash loop: wait, doubling up to the cap, and start again until it works."""
        delay = self.settings.restart_backoff_initial_s
        while True:
            log.info("Back-off restarting failed Focus Server in %.1f s", delay)
            await self.clock.sleep(delay)
            delay = min(delay * 2, self.settings.restart_backoff_max_s)
            self.restarts += 1
            if self._try_start("backoff_elapsed"):
                self._crash_loop = None
                return

    def set_store_reachable(self, reachable: bool) -> None:
        """POST /_mock/store/up|down: a running core notices only when it next writes."""
        self.store.reachable = reachable
        log.warning("recordings store %s is now %s", self.store.address,
                    "reachable" if reachable else "unreachable")

    async def _watch(self) -> None:
        while True:
            await self.clock.sleep(WATCHDOG_PERIOD_S)
            self.tick()
            self._flush()
            self._expire_unconsumed_jobs()

    def _flush(self) -> None:
        if self.core is None:
            return
        try:
            self.core.indexer.flush()
        except StoreSelectionTimeoutError as error:
            if not self._flush_failing:
                log.error("cannot update the recordings index: %s", error)
            self._flush_failing = True
        else:
            self._flush_failing = False

    def _expire_unconsumed_jobs(self) -> None:
        if self.core is None or self.settings.behaviour is not Behaviour.INCIDENT:
            return
        for job_id in self.core.jobs.expire_unconsumed(UNCONSUMED_JOB_TTL_S):
            log.info("removed job %s: no consumer attached", job_id)

    # -- wire consumer -------------------------------------------------------------------------
    async def handle(self, delivery: Delivery) -> None:
        """Transport callback; never raises, so one bad message cannot stop the consumer."""
        self.ingest(delivery.envelope)

    def ingest(self, envelope: Envelope) -> None:
        """Decode and apply one message (dropped while no core runs).

        A refused message is logged with the kind the dialect decoded, or as of unknown kind
        when it could not be decoded: the envelope's kind is only guessed from the routing
        key, which names no kind in a dialect with one key per fiber."""
        core = self.core
        if core is None or envelope.content_type == PROBE_CONTENT_TYPE:
            return  # no server running, or a publisher's route probe (ignored by protocol)
        if len(envelope.body) > self.settings.max_message_bytes:
            self._reject(None, f"{len(envelope.body)} bytes exceed the "
                               f"{self.settings.max_message_bytes}-byte limit")
            return
        try:
            message = self.dialect.decode(envelope)
        except WireFormatError as error:
            self._reject(None, str(error))
            return
        except Exception as error:  # a decoder gap: still a message refused, and counted
            self._reject(None, f"unexpected {type(error).__name__}")
            log.debug("unexpected error while decoding a message", exc_info=True)
            return
        try:
            self._apply(core, envelope, message)
        except Exception as error:  # a bug applying it: refused, counted, consumer alive
            self._reject(message, f"unexpected {type(error).__name__}")
            log.debug("unexpected error while applying a message", exc_info=True)

    def _apply(self, core: Core, envelope: Envelope, message: WireMessage) -> None:
        if isinstance(message, DataBlock):
            if core.metadata is not None and (
                    block_end := message.channel_start + message.n_channels
            ) > core.metadata.number_of_channels:
                self._reject(message, f"block {message.sequence} reaches channel "
                                      f"{block_end - 1} of a fiber of "
                                      f"{core.metadata.number_of_channels}")
                return
            self.messages[MessageKind.DATA] += 1
            session = envelope.headers.get("x-fibersim-session")
            self._on_data(core, message, session if isinstance(session, str) else None)
        elif isinstance(message, MetadataMessage):
            self.messages[MessageKind.METADATA] += 1
            self._on_metadata(core, message)
        elif isinstance(message, Heartbeat):
            self.messages[MessageKind.HEARTBEAT] += 1
        else:
            self.messages[MessageKind.STATUS] += 1
            self._on_status(core, message)

    def _reject(self, message: WireMessage | None, reason: str) -> None:
        """Count a refused message and log it (``message``: what was decoded, if anything)."""
        self.rejected += 1
        what = "message of unknown kind" if message is None else f"{kind_of(message)} message"
        log.warning("rejected malformed %s: %s", what, reason)

    def _on_metadata(self, core: Core, message: MetadataMessage) -> None:
        metadata, previous = message.metadata, core.metadata
        core.last_metadata_at = self.clock.monotonic()
        if message.int16_scale is not None:  # a float32 stream has none
            core.int16_scale = message.int16_scale
        core.metadata = metadata
        if metadata.number_of_channels > 0:
            self.channels = metadata.number_of_channels
        if metadata.is_waiting:
            self._lose_fiber(core, "waiting_metadata")
        elif metadata.prr <= 0:
            self._go(FiberState.ZERO_PRR, "zero_prr")
        elif self.machine.state is FiberState.READY:
            if previous is not None and previous != metadata:
                self.machine.enter(FiberState.READY, "reconfigured")
                self._follow_reconfiguration(core, metadata)
        else:
            reason = "prr_restored" if self.machine.state is FiberState.ZERO_PRR else "metadata"
            self._go(FiberState.READY, reason)

    def _on_status(self, core: Core, message: StatusMessage) -> None:
        if message.event is StatusEvent.DISCONNECTED:
            self._lose_fiber(core, "disconnected")

    def _lose_fiber(self, core: Core, reason: str) -> None:
        core.metadata = None
        core.indexer.end_recording()
        self._go(FiberState.WAITING_FOR_FIBER, reason)

    def _go(self, state: FiberState, reason: str) -> None:
        if self.machine.state is not state:
            self.machine.enter(state, reason)

    def tick(self) -> None:
        """Apply the metadata timeout; called by the watchdog and before every read."""
        core = self.core
        if (core is not None and self.machine.state in (FiberState.READY, FiberState.ZERO_PRR)
                and self.clock.monotonic() - core.last_metadata_at
                > self.settings.metadata_timeout_s):
            self._lose_fiber(core, "metadata_timeout")

    def _on_data(self, core: Core, block: DataBlock, session: str | None) -> None:
        self.blocks += 1
        if self.sequence.observe(block.sequence, session) in (Arrival.DUPLICATE, Arrival.REORDERED):
            return  # late or repeated data cannot go back into a live stream
        start_s = block.first_sample_time_ns / 1e9
        core.indexer.on_data(start_s, start_s + block.n_samples / block.sample_rate_hz)
        jobs = core.jobs.live()
        if not jobs:
            return
        samples = block.samples
        counts_per_unit = 1.0 if samples.dtype == np.int16 else 1.0 / core.int16_scale
        for job in jobs:
            assert job.waterfall is not None
            job.waterfall.feed(samples, block.channel_start, counts_per_unit)

    def _follow_reconfiguration(self, core: Core, metadata: FiberMetadata) -> None:
        """Running jobs after a metadata change, as the reconfigure policy says."""
        for job in core.jobs.live():
            if self.settings.reconfigure_policy is ReconfigurePolicy.LEGACY:
                job.stale = job.plan.prr != metadata.prr
                continue
            old_prr = job.plan.prr
            try:
                plan = plan_job(_fitted(job.request, metadata), metadata.prr)
            except JobRequestError as error:
                core.jobs.remove(job.job_id)
                log.warning("job %s removed: cannot follow the new metadata: %s",
                            job.job_id, error)
                continue
            job.plan, job.waterfall = plan, Waterfall(plan)
            job.metadata = metadata.live_metadata_json()
            job.rebuilds += 1
            log.info("job %s rebuilt for the new fiber metadata: prr %g Hz (was %g Hz)",
                     job.job_id, metadata.prr, old_prr)

    # -- what the HTTP layer asks --------------------------------------------------------------
    def running_core(self) -> Core:
        if self.core is None:
            raise ServerDownError(f"Focus Server is not running ({self.machine.state.value})")
        return self.core

    def live_metadata(self) -> FiberMetadata:
        core = self.running_core()
        self.tick()
        if core.metadata is not None and self.machine.state in (FiberState.READY,
                                                                 FiberState.ZERO_PRR):
            return core.metadata
        return FiberMetadata.waiting(self.channels)

    def live_metadata_bytes(self) -> bytes:
        """The exact compact JSON of GET /live_metadata (byte-for-byte as the real server)."""
        return json.dumps(self.live_metadata().live_metadata_json(),
                          separators=(",", ":")).encode()

    def configure(self, request: JobRequest, summary: str) -> Job:
        """POST /configure: validate against the fiber, plan, and create the job."""
        core = self.running_core()
        log.info("got configuration: %s", summary)
        if request.channel_min < 1 or request.channel_max > self.channels:
            raise ChannelRangeError(
                f"channels {request.channel_min}..{request.channel_max} outside 1..{self.channels}")
        metadata = self.live_metadata()
        if not metadata.is_ready:
            error = FiberNotReadyError(self.machine.state)
            log.error("Cannot configure job - validation failed: %s", error)
            raise error
        plan = plan_job(request, metadata.prr)
        if not request.is_live:
            self._require_recording(core, request)
        job = core.jobs.add(request, plan, metadata.live_metadata_json())
        log.info("configured job %s (view %d, %d channels, nfft %d, internal nfft %d)",
                 job.job_id, request.view_type, plan.channel_amount, plan.nfft,
                 plan.internal_nfft)
        return job

    def _require_recording(self, core: Core, request: JobRequest) -> None:
        assert request.start_time is not None and request.end_time is not None
        if not self.recordings_in(request.start_time, request.end_time):
            raise JobRequestError(404, "No recording found in given time range")

    def recordings_in(self, start_s: float, end_s: float) -> list[tuple[float, float]]:
        """Recordings overlapping the window; raises StoreSelectionTimeoutError if down."""
        core = self.running_core()
        core.indexer.flush()
        return self.store.overlapping(start_s, end_s)

    def all_recordings(self) -> list[tuple[float, float]]:
        self.running_core().indexer.flush()
        return self.store.all_recordings()

    def job(self, job_id: str) -> Job | None:
        return self.running_core().jobs.get(job_id)

    def delete_job(self, job_id: str) -> bool:
        return self.running_core().jobs.remove(job_id)

    def attach_consumer(self, job_id: str) -> Job | None:
        """A client reads a live job's output (``GET /_mock/jobs/{id}/lines``): the job is
        consumed from now on, so the incident's TTL no longer removes it. None if there is no
        such live job."""
        return self.running_core().jobs.attach_consumer(job_id)

    def record_request(self, route: str, status: int, *, probe: bool = False) -> None:
        """Count one request; fibersim's own probes apart from the clients' requests."""
        (self.probe_requests if probe else self.requests)[route][str(status)] += 1

    def reset_request_counts(self) -> None:
        """Zero the request counters, the clients' and the probes' (``/_mock/requests/reset``)."""
        self.requests.clear()
        self.probe_requests.clear()

    def update_settings(self, change: MockSettingsChange) -> None:
        """Change running settings (validated like at start-up) without a restart."""
        changes = change.model_dump(exclude_none=True)
        self.settings = FocusSettings.model_validate({**self.settings.model_dump(), **changes})
        log.warning("mock settings changed at run time: %s",
                    ", ".join(f"{key}={value}" for key, value in sorted(changes.items())))

    def status(self) -> MockStatus:
        """The GET /_mock/status body (shape documented in docs/focus-mock.md)."""
        self.tick()
        core = self.core
        metadata = core.metadata if core is not None else None
        return MockStatus(
            state=self.machine.state.value,
            state_since=self.machine.since,
            transitions=[TransitionBody(at=t.at, from_=t.from_state.value, to=t.to_state.value,
                                        reason=t.reason) for t in self.machine.transitions],
            behaviour=self.settings.behaviour.value,
            reconfigure_policy=self.settings.reconfigure_policy.value,
            metadata=metadata.live_metadata_json() if metadata is not None else None,
            counters=self._counters(),
            restarts=self.restarts,
            store="up" if self.store.reachable else "down",
            requests=_copied(self.requests),
            probe_requests=_copied(self.probe_requests),
            jobs=[_job_summary(job) for job in core.jobs] if core is not None else [],
            settings=RuntimeSettings.model_validate(self.settings.model_dump(
                mode="json", include=set(RuntimeSettings.model_fields))),
        )


    def counters_snapshot(self) -> CountersSnapshot:
        """State and counters for a reader on another thread. Unlike ``status()`` it changes
        nothing (no ``tick()``: the state is as of the last event), and every container is
        copied in one C-level step under the GIL, never iterated while the loop changes it."""
        return CountersSnapshot(self.machine.state, tuple(self.machine.transitions),
                                self._counters(), self.restarts, _copied(self.requests))

    def _counters(self) -> Counters:
        """The message and sequence counters (fixed keys: safe to read from another thread)."""
        sequence = self.sequence
        return Counters(
            messages=MessageCounts.model_validate(
                {kind.value: count for kind, count in dict(self.messages).items()}),
            rejected=self.rejected, blocks=self.blocks, gaps=sequence.gaps,
            missing_blocks=sequence.missing_blocks, duplicates=sequence.duplicates,
            reordered=sequence.reordered, resyncs=sequence.resyncs)


def _copied(requests: collections.defaultdict[str, collections.Counter[str]]
            ) -> dict[str, dict[str, int]]:
    """Request counters as plain dicts; the routes are listed in one step first, since the
    event loop may add a route while another thread copies them."""
    return {route: dict(counts) for route, counts in list(requests.items())}


def _fitted(request: JobRequest, metadata: FiberMetadata) -> JobRequest:
    """The request narrowed to what the new fiber can serve (adaptive rebuilds)."""
    nyquist = metadata.prr / 2
    high = request.frequency_max
    return dataclasses.replace(
        request,
        channel_max=min(request.channel_max, metadata.number_of_channels),
        channel_min=min(request.channel_min, metadata.number_of_channels),
        frequency_max=None if high is None else min(high, nyquist),
    )


def _job_summary(job: Job) -> JobSummary:
    plan: JobPlan = job.plan
    waterfall = job.waterfall
    return JobSummary(
        job_id=job.job_id,
        view_type=str(job.request.view_type),
        prr=plan.prr,
        live=job.request.is_live,
        nfft=plan.nfft,
        internal_nfft=plan.internal_nfft,
        stream_port=job.stream_port,
        lines=waterfall.lines_total if waterfall else 0,
        dropped_blocks=waterfall.dropped_blocks if waterfall else 0,
        rebuilds=job.rebuilds,
        stale=job.stale,
        consumer_attached=job.consumer_attached,
    )
