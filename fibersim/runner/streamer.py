"""The streamer puts one simulated interrogator on the wire, paced by the virtual clock.

It asks the interrogator model what is due (data blocks, heartbeats, periodic metadata), has
the synthesizer render the samples, encodes them with the wire dialect and publishes them
through the transport on the dialect's routing keys. Scenario events call its methods
(``disconnect``, ``reconfigure``, faults) between calls to ``run_until``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fibersim.dialects import Dialect, load_dialect
from fibersim.interrogator import BlockSlot, Interrogator
from fibersim.runner.clock import VirtualClock
from fibersim.runner.synth_worker import RenderProcess, quantize_int16
from fibersim.signals import SignalSpec, SynthesisContext, Synthesizer, build_synthesizer
from fibersim.transport import Transport
from fibersim.wire import (
    DataBlock,
    Envelope,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusEvent,
    StatusMessage,
    WireMessage,
)
from fibersim.wire.messages import MetadataReason

log = logging.getLogger(__name__)

DEFAULT_METADATA_INTERVAL_S = 2.0
DEFAULT_HEARTBEAT_INTERVAL_S = 1.0

#: Blocks of at least this many values (samples x channels) are built off the event loop: a
#: thread hop costs tens of microseconds, worth it only when the numpy work is much longer.
OFFLOAD_MIN_VALUES = 65_536
#: Blocks of at least this many values are rendered by default in a process of their own (a
#: full-rate fiber has 200 x 2337): there the render no longer competes with the transport
#: for the GIL and runs ahead of its deadline. Smaller fibers (and tests) stay in process,
#: where a block is cheap and a process start-up (about a second) is not.
RENDER_PROCESS_MIN_VALUES = 262_144
#: Niceness of the render process of a paced (not max-speed) stream: see ``RenderProcess``.
PACED_RENDER_NICE = 10


@dataclass
class FaultPlan:
    """Pending data faults, consumed block by block."""

    skip_blocks: int = 0
    duplicate_blocks: int = 0
    reorder_blocks: int = 0
    corrupt_blocks: int = 0
    stale_metadata: bool = False


@dataclass
class StreamStats:
    """Running totals for progress lines, summaries and reports."""

    blocks: int = 0
    samples: int = 0
    bytes: int = 0
    metadata_messages: int = 0
    heartbeats: int = 0
    skipped_sequences: list[int] = field(default_factory=list)
    wall_start: float = field(default_factory=time.monotonic)
    sim_time: float = 0.0
    #: lateness (s) of recent block publications against their due time, for jitter figures
    lateness: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=100_000)
    )
    #: lateness values ever appended (the deque keeps only the recent ones): lets a metrics
    #: scrape take exactly the values added since the previous scrape
    lateness_total: int = 0

    def realtime_factor(self) -> float:
        elapsed = time.monotonic() - self.wall_start
        return self.sim_time / elapsed if elapsed > 0 else 0.0


#: Every streamer alive in this process, for ``fibersim.metrics`` to read at scrape time
#: (a weak set: it keeps none of them alive).
LIVE_STREAMERS: weakref.WeakSet[FiberStreamer] = weakref.WeakSet()


class FiberStreamer:
    """Publishes one fiber: metadata, data blocks, heartbeats and status announcements."""

    def __init__(
        self,
        interrogator: Interrogator,
        transport: Transport,
        clock: VirtualClock,
        *,
        seed: int = 0,
        signals: list[SignalSpec] | None = None,
        dialect: Dialect | None = None,
        metadata_interval_s: float = DEFAULT_METADATA_INTERVAL_S,
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        render_process: bool | None = None,
    ) -> None:
        """``render_process``: render in a separate process (``RenderProcess``); ``None``
        chooses it for blocks of at least ``RENDER_PROCESS_MIN_VALUES`` values. A streamer
        with a render process must be ``close``d."""
        self.interrogator = interrogator
        self.transport = transport
        self.clock = clock
        self.seed = seed
        self.signals = signals
        self.dialect = dialect or load_dialect()
        #: routing key of each kind, computed once (the data key is used for every block)
        self._keys = {kind: self.dialect.routing_key(kind, self.fiber_id) for kind in MessageKind}
        self.metadata_interval_s = metadata_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.faults = FaultPlan()
        self.stats = StreamStats()
        self.sim_time = 0.0
        self._render_process = render_process
        self.synthesizer: Synthesizer | RenderProcess = self._new_synthesizer(None)
        self._next_heartbeat = 0.0
        self._next_metadata = 0.0
        self._held_back: Envelope | None = None
        #: the next block, rendered and encoded ahead of its deadline (paced runs only)
        self._ahead: tuple[BlockSlot, int, Envelope] | None = None
        #: sources started (spec) or stopped (None) by events, re-applied after a reconfigure
        self._source_events: list[tuple[str, SignalSpec | None]] = []
        transport.on_reconnect(self._announce_again)
        LIVE_STREAMERS.add(self)

    @property
    def fiber_id(self) -> str:
        return self.interrogator.config.fiber_id

    def _new_synthesizer(self, current: Synthesizer | RenderProcess | None
                         ) -> Synthesizer | RenderProcess:
        """A synthesizer for the current configuration, in process or in ``current``'s render
        process (which is reused, or closed if the new configuration renders in process)."""
        config = self.interrogator.config
        context = SynthesisContext.of_fiber(
            config, self.seed,
            self.interrogator.time_of_sample_s(self.interrogator.next_sample_index))
        values = config.samples_per_block * config.number_of_channels
        in_process = (not self._render_process if self._render_process is not None
                      else values < RENDER_PROCESS_MIN_VALUES)
        if in_process:
            if isinstance(current, RenderProcess):
                current.close()
            return build_synthesizer(self.signals, context)
        if isinstance(current, RenderProcess):
            current.build(context, self.signals, config.samples_per_block, config.dtype,
                          config.int16_scale)
            return current
        return RenderProcess(context, self.signals, config.samples_per_block, config.dtype,
                             config.int16_scale,
                             nice=0 if self.clock.is_max_speed else PACED_RENDER_NICE)

    async def prepare(self) -> None:
        """Wait until the first block can be had without waiting for a render process to
        start (a second or so: imports, noise banks), so the run's clock can start after."""
        if isinstance(self.synthesizer, RenderProcess):
            await self.synthesizer.wait_ready()

    def close(self) -> None:
        """Stop the render process, if any (the streamer publishes no more data blocks)."""
        if isinstance(self.synthesizer, RenderProcess):
            self.synthesizer.close()

    # -- scenario events ------------------------------------------------------------------
    async def connect(self) -> None:
        """Interrogator comes up: announce it, then send metadata before any data."""
        self.interrogator.connect(self.sim_time)
        await self._announce()
        self._next_heartbeat = self.sim_time

    async def _announce(self) -> None:
        """A ``connected`` status, then metadata: what a consumer needs before any data."""
        await self._send(StatusMessage(
            fiber_id=self.fiber_id, event=StatusEvent.CONNECTED, sent_at_ns=self._now_ns()))
        await self._send_metadata("connect")

    async def disconnect(self, clean: bool = True) -> None:
        """Interrogator goes away; a clean disconnect says so, a cut cable says nothing."""
        if clean:
            await self._send(StatusMessage(
                fiber_id=self.fiber_id, event=StatusEvent.DISCONNECTED,
                sent_at_ns=self._now_ns()))
        self.interrogator.disconnect()

    async def zero_prr(self) -> None:
        self.interrogator.zero_prr()
        await self._send_metadata("change")

    async def restore_prr(self) -> None:
        self.interrogator.restore_prr(self.sim_time)
        await self._send_metadata("change")

    async def reconfigure(self, **changes: Any) -> None:
        """New prr, dx, channel count, gauge length or sw_version from now on.

        The signal is rebuilt for the new fiber, with the sources that events started or
        stopped still started or stopped (one that no longer fits the fiber is dropped).
        """
        self.interrogator.reconfigure(self.sim_time, **changes)
        self._ahead = None  # rendered by the old synthesizer, for the old fiber
        self.synthesizer = self._new_synthesizer(self.synthesizer)
        for label, spec in self._source_events:
            try:
                self._apply_source_event(label, spec)
            except (ValueError, KeyError) as error:
                log.warning("source %r dropped by the reconfiguration: %s", label, error)
        await self._send_metadata("change")

    def start_source(self, label: str, spec: SignalSpec) -> None:
        """Add a signal source from the next sample on (``ValueError`` if the label exists)."""
        self._apply_source_event(label, spec)
        self._source_events.append((label, spec))

    def stop_source(self, label: str) -> None:
        """Remove a signal source from the next sample on (``KeyError`` if there is none)."""
        self._apply_source_event(label, None)
        self._source_events.append((label, None))

    def _apply_source_event(self, label: str, spec: SignalSpec | None) -> None:
        """Start or stop a source from the next block sent; a block rendered ahead without
        the change is dropped and rendered again (the synthesizer steps back to it)."""
        ahead, self._ahead = self._ahead, None
        rewound = ahead[0].n_samples if ahead is not None else 0
        self.synthesizer.rewind(rewound)
        try:
            if spec is None:
                self.synthesizer.stop_source(label)
            else:
                self.synthesizer.start_source(label, spec)
        except (ValueError, KeyError):
            self.synthesizer.rewind(-rewound)  # nothing changed: keep the block
            self._ahead = ahead
            raise

    async def publish_malformed(self, kind: MessageKind) -> None:
        """Publish the dialect's malformed message of ``kind`` (``corrupt`` events)."""
        await self.transport.publish(self._keys[kind],
                                     self.dialect.malformed(kind, self.fiber_id))

    # -- the clock loop ---------------------------------------------------------------------
    async def run_until(self, sim_end: float) -> None:
        """Publish everything due up to simulated time ``sim_end``, paced by the clock."""
        while True:
            due, action = self._next_due()
            if due > sim_end:
                break
            await self.clock.sleep_until(due)
            await action()
            self.stats.sim_time = self.sim_time  # for progress lines and interrupted runs
        if not self.clock.is_max_speed:
            await self.clock.sleep_until(sim_end)
        self.sim_time = max(self.sim_time, sim_end)
        self.stats.sim_time = self.sim_time

    def _next_due(self) -> tuple[float, Any]:
        """The earliest due action. On a tie the data block goes first: heartbeats and
        periodic metadata fall on whole seconds, like every tenth block, and would make
        that block late by their publishing time."""
        candidates: list[tuple[float, Any]] = [(math.inf, None)]
        if self.interrogator.emits_data:
            candidates.append((self.interrogator.peek_block().end_time_s, self._block))
        if self.interrogator.emits_metadata:
            candidates.append((self._next_heartbeat, self._heartbeat))
            if not self.faults.stale_metadata:
                candidates.append((self._next_metadata, self._periodic_metadata))
        return min(candidates, key=lambda item: item[0])

    async def _heartbeat(self) -> None:
        self.sim_time = max(self.sim_time, self._next_heartbeat)
        self._next_heartbeat += self.heartbeat_interval_s
        last = self.interrogator.next_sequence - 1
        await self._send(Heartbeat(
            fiber_id=self.fiber_id,
            state=self.interrogator.state.value,
            last_sequence=last if last >= 0 else None,
            next_sample_index=self.interrogator.next_sample_index,
            sent_at_ns=self._now_ns(),
        ))
        self.stats.heartbeats += 1

    async def _periodic_metadata(self) -> None:
        self.sim_time = max(self.sim_time, self._next_metadata)
        await self._send_metadata("periodic")

    async def _announce_again(self) -> None:
        """After the transport reconnected: announce again (the transport publishes this
        before any other message on the new connection)."""
        if self.interrogator.emits_metadata:
            await self._announce()

    async def _block(self) -> None:
        slot = self.interrogator.take_block()
        self.sim_time = max(self.sim_time, slot.end_time_s)
        envelope = self._take_ahead(slot) or await self._render_encoded(slot)
        self.stats.lateness.append(self.clock.lateness(slot.end_time_s))
        self.stats.lateness_total += 1
        await self._send_block(slot, envelope)
        if not self.clock.is_max_speed and self.interrogator.emits_data:
            await self._render_ahead()

    async def _render_ahead(self) -> None:
        """Render and encode the next block now, so that at its deadline only the publish
        is left: the render's time (and its variance) stays out of the pacing."""
        slot = self.interrogator.peek_block()
        epoch = self.interrogator.config_epoch
        self._ahead = (slot, epoch, await self._render_encoded(slot))

    def _take_ahead(self, slot: BlockSlot) -> Envelope | None:
        """The block rendered ahead for ``slot``. Its samples are the synthesizer's next ones
        whatever happened since; if a reconnect or a PRR change moved the block in time or
        epoch meanwhile, only its header is rewritten."""
        if self._ahead is None:
            return None
        (rendered_for, rendered_epoch, envelope), self._ahead = self._ahead, None
        epoch = self.interrogator.config_epoch
        if rendered_for == slot and rendered_epoch == epoch:
            return envelope
        block = self.dialect.decode(envelope)
        assert isinstance(block, DataBlock)
        return self.dialect.encode(block.model_copy(update={
            "sequence": slot.sequence, "first_sample_index": slot.first_sample_index,
            "first_sample_time_ns": slot.first_sample_time_ns, "config_epoch": epoch}))

    async def _send_block(self, slot: BlockSlot, envelope: Envelope) -> None:
        """Publish a data block, applying the pending data faults."""
        if self.faults.skip_blocks:
            self.faults.skip_blocks -= 1
            self.stats.skipped_sequences.append(slot.sequence)
            return
        if self.faults.corrupt_blocks:
            self.faults.corrupt_blocks -= 1
            envelope = self.dialect.corrupt(envelope)
        if self.faults.reorder_blocks and self._held_back is None:
            self.faults.reorder_blocks -= 1
            self._held_back = envelope
            return
        await self._publish_block(envelope, slot)
        if self._held_back is not None:
            held, self._held_back = self._held_back, None
            await self.transport.publish(self._keys[MessageKind.DATA], held)
        if self.faults.duplicate_blocks:
            self.faults.duplicate_blocks -= 1
            await self.transport.publish(self._keys[MessageKind.DATA], envelope)

    async def _render_encoded(self, slot: BlockSlot) -> Envelope:
        """The block's envelope: from the render process, or built here.

        A render process has the samples ready in a shared-memory slot, already quantized;
        only the encoder's one copy into the message body happens here. In process, big
        blocks are built in a worker thread: rendering, quantizing and encoding a full-rate
        block is a few milliseconds of numpy, which releases the GIL. Done on the event loop
        it would stall the transport (frames and confirms wait) and every other fiber
        sharing the loop; in a thread it overlaps with them. The synthesizer is only ever
        used by this fiber's coroutine, which awaits the thread, so blocks are still
        rendered one at a time and in order.
        """
        if isinstance(self.synthesizer, RenderProcess):
            samples, ring_slot = await self.synthesizer.take(slot.n_samples)
            try:
                return self.dialect.encode(self._data_block(slot, samples))
            finally:
                del samples  # the worker may overwrite the slot once it is released
                self.synthesizer.release(ring_slot)
        values = slot.n_samples * self.interrogator.config.number_of_channels
        if values < OFFLOAD_MIN_VALUES:
            return self.encode_block(slot)
        return await asyncio.get_running_loop().run_in_executor(None, self.encode_block, slot)

    def encode_block(self, slot: BlockSlot) -> Envelope:
        """Render, quantize and encode the data block of ``slot`` with the in-process
        synthesizer (advances it)."""
        if not isinstance(self.synthesizer, Synthesizer):
            raise TypeError("encode_block needs an in-process synthesizer (render_process=False)")
        strain_rate = self.synthesizer.render(slot.n_samples)
        config = self.interrogator.config
        samples = (quantize_int16(strain_rate, config.int16_scale) if config.dtype == "int16"
                   else strain_rate)
        return self.dialect.encode(self._data_block(slot, samples))

    async def _publish_block(self, envelope: Envelope, slot: BlockSlot) -> None:
        await self.transport.publish(self._keys[MessageKind.DATA], envelope)
        self.stats.blocks += 1
        self.stats.samples += slot.n_samples
        self.stats.bytes += len(envelope.body)

    def _data_block(self, slot: BlockSlot, samples: np.ndarray) -> DataBlock:
        """The block of ``slot`` with ``samples`` already in the wire dtype."""
        config = self.interrogator.config
        scale = config.int16_scale if config.dtype == "int16" else 1.0
        return DataBlock(
            fiber_id=self.fiber_id,
            config_epoch=self.interrogator.config_epoch,
            sequence=slot.sequence,
            first_sample_index=slot.first_sample_index,
            first_sample_time_ns=slot.first_sample_time_ns,
            sample_rate_hz=config.prr,
            channel_start=0,
            scale=scale,
            samples=samples,
        )

    # -- helpers ------------------------------------------------------------------------------
    async def _send_metadata(self, reason: MetadataReason) -> None:
        self._next_metadata = self.sim_time + self.metadata_interval_s
        await self._send(MetadataMessage(
            fiber_id=self.fiber_id,
            config_epoch=self.interrogator.config_epoch,
            reason=reason,
            sent_at_ns=self._now_ns(),
            metadata=self.interrogator.metadata(),
            int16_scale=(self.interrogator.config.int16_scale
                         if self.interrogator.config.dtype == "int16" else None),
        ))
        self.stats.metadata_messages += 1

    async def _send(self, message: WireMessage) -> None:
        envelope = self.dialect.encode(message)
        await self.transport.publish(self._keys[envelope.kind], envelope)

    def _now_ns(self) -> int:
        """Simulated now as an absolute timestamp (ns), consistent with data timestamps."""
        return self.interrogator.start_time_ns + round(self.sim_time * 1e9)

