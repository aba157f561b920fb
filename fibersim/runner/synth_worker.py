"""A fiber's synthesis in a process of its own, rendering a few blocks ahead of the streamer.

Why a process: rendering the default mix costs about 2 ms of numpy per full-rate block, and
numpy releases the GIL only in parts of it; in the streamer's process that work competes
with aio-pika (framing, confirms) for the one interpreter, which capped one fiber at about a
third of what the broker accepts. In its own process the render runs on another core, and it
runs *ahead*: at speed 1 a block is ready long before its deadline, so only the publish
happens at the deadline.

How it stays exact: the worker rebuilds the same ``Synthesizer`` from the same context,
seed and specs, and every source is a pure function of the absolute sample index, so block
``k`` rendered there is bit-identical to block ``k`` rendered in process. Rendered, quantized
blocks land in slots of a shared-memory ring; only small messages (the dataclasses below)
go through the pipe, about one each way per batch of blocks (a message costs both processes
a system call and a pickle):

parent -> worker (``ToWorker``)
    ``Build``: a new synthesizer (start, reconfigure), rendering from its sample 0;
    ``StartSource``/``StopSource``: from ``first_sample`` on, with the synthesizer's
    ``start_source``/``stop_source`` applied there (blocks rendered ahead under the old
    sources are dropped by the parent);
    ``Release``: the parent has copied these slots out (it sends them once a batch's worth
    has gathered, and always before it waits for a block); ``Exit``.
    The worker renders ``BATCH_BLOCKS`` blocks at a time, into a group of adjacent free slots.
worker -> parent (``FromWorker``)
    ``Rendered``: a batch, ``(first_sample, slot)`` in order; ``Failed``: the error's text.

The worker ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides how
to stop) and exits when its pipe closes, so it cannot outlive the streamer's process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import signal
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Literal

import numpy as np

from fibersim.signals import (
    SignalSpec,
    SynthesisContext,
    Synthesizer,
    build_synthesizer,
    source_labels,
)
from fibersim.signals.base import SourceSpec
from fibersim.wire.samples import quantize_int16

#: Blocks rendered in one call, into adjacent slots: a full-rate block (200 rows) pays the
#: sources' per-call overhead for few rows; four of them at once cost a quarter less CPU, and
#: the output is the same whatever the block size.
BATCH_BLOCKS = 4
#: Blocks rendered ahead (two batches): enough to ride out a scheduling hiccup of either
#: process, few enough that a source change discards little work (the ring is ~7.5 MB).
RING_SLOTS = 2 * BATCH_BLOCKS
#: Seconds a closing worker gets to exit on its own before it is terminated.
JOIN_TIMEOUT_S = 2.0

WireDtype = Literal["int16", "float32"]


@dataclass(frozen=True, slots=True)
class Build:
    """Render with a new synthesizer from its sample 0, into the ring ``ring_name``."""

    generation: int
    context: SynthesisContext
    signals: list[SignalSpec] | None
    n_samples: int
    dtype: WireDtype
    scale: float
    ring_name: str
    slot_bytes: int


@dataclass(frozen=True, slots=True)
class StartSource:
    """``Synthesizer.start_source(label, spec)`` at sample ``first_sample``."""

    generation: int
    first_sample: int
    label: str
    spec: SourceSpec


@dataclass(frozen=True, slots=True)
class StopSource:
    """``Synthesizer.stop_source(label)`` at sample ``first_sample``."""

    generation: int
    first_sample: int
    label: str


@dataclass(frozen=True, slots=True)
class Release:
    """The parent is done with these slots."""

    slots: list[int]


@dataclass(frozen=True, slots=True)
class Exit:
    """Stop rendering and exit."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """Blocks rendered under ``generation``: ``(first_sample, slot)`` each, in order."""

    generation: int
    blocks: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Failed:
    """The worker failed while at ``generation``; ``text`` says how."""

    generation: int
    text: str


ToWorker = Build | StartSource | StopSource | Release | Exit
FromWorker = Rendered | Failed


class RenderProcess:
    """The parent's handle on one render worker: hands out rendered blocks in order.

    Stands in for the streamer's ``Synthesizer`` towards scenario events: ``start_source``,
    ``stop_source`` and ``labels`` behave like the synthesizer's (same errors, effective at
    the next block the streamer takes).
    """

    def __init__(self, context: SynthesisContext, signals: list[SignalSpec] | None,
                 n_samples: int, dtype: WireDtype, scale: float, *, nice: int = 0) -> None:
        """``nice``: added to the worker's niceness. A paced stream has blocks to spare in
        the ring but none at the deadline, so its publisher should win the CPU when both
        want it (on a busy 2-core machine that halved the publish jitter's p99)."""
        spawn = multiprocessing.get_context("spawn")
        self._conn, child_conn = spawn.Pipe()
        self._process = spawn.Process(target=_serve, args=(child_conn, nice), daemon=True,
                                      name="fibersim-render")
        self._process.start()
        child_conn.close()  # only the child holds it now: its exit shows here as EOF
        self._ring: SharedMemory | None = None
        self._generation = 0
        self._next_sample = 0
        self._n_samples = n_samples
        self._dtype: WireDtype = dtype
        self._labels: list[str] = []
        #: rendered blocks not taken yet, in order: (generation, first sample, slot)
        self._ready: collections.deque[tuple[int, int, int]] = collections.deque()
        #: slots copied out but not yet handed back (see ``release``)
        self._released: list[int] = []
        # Backstop for owners that never call close(): no worker outlives its streamer.
        self._finalizer = weakref.finalize(self, _shut_down, self._conn, self._process, None)
        self.build(context, signals, n_samples, dtype, scale)

    @property
    def labels(self) -> list[str]:
        return sorted(set(self._labels))

    @property
    def next_sample(self) -> int:
        """The synthesizer sample the next block taken starts at."""
        return self._next_sample

    def build(self, context: SynthesisContext, signals: list[SignalSpec] | None,
              n_samples: int, dtype: WireDtype, scale: float) -> None:
        """Switch to a new synthesizer (a reconfigured fiber) from its sample 0 on."""
        slot_bytes = n_samples * context.n_channels * np.dtype(dtype).itemsize
        self._replace_ring(SharedMemory(create=True, size=slot_bytes * RING_SLOTS))
        assert self._ring is not None
        self._generation += 1
        self._build_generation = self._generation
        self._context = context
        self._next_sample = 0
        self._n_samples, self._dtype = n_samples, dtype
        self._shape = (n_samples, context.n_channels)
        self._slot_bytes = slot_bytes
        self._labels = source_labels(signals)
        self._released.clear()  # slots of the old ring: the worker's new ring starts all free
        self._send(Build(self._generation, context, signals, n_samples, dtype, scale,
                         self._ring.name, slot_bytes))

    def _replace_ring(self, ring: SharedMemory) -> None:
        """Use ``ring`` from now on; every build gets a fresh one, so no slot of the old ring
        is ever handed out twice. The old one is unlinked at once; the worker still maps it
        until it reads the build, which is harmless (the pages go with the last map)."""
        old, self._ring = self._ring, ring
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _shut_down, self._conn, self._process, ring)
        if old is not None:
            old.close()
            old.unlink()

    def start_source(self, label: str, spec: SourceSpec) -> None:
        """As ``Synthesizer.start_source``: ``spec``'s source from the next block on."""
        if label in self._labels:
            raise ValueError(f"signal source {label!r} is already running")
        spec.check(self._context)  # its ValueError here, like the synthesizer's
        self._labels.append(label)
        self._generation += 1
        self._send(StartSource(self._generation, self._next_sample, label, spec))

    def stop_source(self, label: str) -> None:
        """As ``Synthesizer.stop_source``: no more ``label`` from the next block on."""
        if label not in self._labels:
            raise KeyError(f"no running signal source {label!r}")
        self._labels = [name for name in self._labels if name != label]
        self._generation += 1
        self._send(StopSource(self._generation, self._next_sample, label))

    def rewind(self, n_samples: int) -> None:
        """As ``Synthesizer.rewind``. The worker renders from the rewound sample once told
        of the next change, so a rewind must be followed by ``start_source`` or
        ``stop_source`` (the only reason to rewind: a block taken ahead of such a change)."""
        self._next_sample -= n_samples

    async def wait_ready(self) -> None:
        """Wait for the worker's first batch of blocks (once it has started)."""
        if not self._ready:
            await self._fill()

    async def take(self, n_samples: int) -> tuple[np.ndarray, int]:
        """The next block (a view of its ring slot, in the wire dtype) and the slot to
        ``release`` once the view is no longer used. Blocks of older generations are
        dropped on the way."""
        if n_samples != self._n_samples:
            raise ValueError(f"blocks of {self._n_samples} samples were built, not {n_samples}")
        while True:
            if not self._ready:
                await self._fill()
            generation, first, slot = self._ready.popleft()
            if generation != self._generation or first != self._next_sample:
                if generation >= self._build_generation:  # older ones are of an old ring
                    self.release(slot)
                continue
            self._next_sample += n_samples
            assert self._ring is not None
            view = np.ndarray(self._shape, self._dtype, self._ring.buf,
                              offset=slot * self._slot_bytes)
            return view, slot

    async def _fill(self) -> None:
        """Wait for the worker's next batch; raise its error if it failed at the current
        generation (an error of an older one concerns blocks nobody wants any more)."""
        self._hand_back()  # the worker may need these slots for the batch waited for
        while not self._ready:
            match await self._receive():
                case Failed(generation, text):
                    if generation == self._generation:
                        raise RuntimeError(f"render process failed: {text}")
                case Rendered(generation, blocks):
                    self._ready.extend((generation, first, slot) for first, slot in blocks)

    def release(self, slot: int) -> None:
        """Give ``slot`` back to the worker for another block: at once if a batch's worth
        is back, otherwise before the parent next waits for a batch (``_fill``), so the
        worker never waits for a slot the parent no longer uses."""
        self._released.append(slot)
        if len(self._released) >= BATCH_BLOCKS:
            self._hand_back()

    def _hand_back(self) -> None:
        if self._released:
            self._send(Release(self._released))
            self._released = []

    async def _receive(self) -> FromWorker:
        """The worker's next message, waiting on the pipe without blocking the event loop."""
        while not self._conn.poll():
            loop = asyncio.get_running_loop()
            readable: asyncio.Future[None] = loop.create_future()
            fd = self._conn.fileno()
            loop.add_reader(fd, _set_once, readable)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
        try:
            message: FromWorker = self._conn.recv()
        except (EOFError, ConnectionResetError):
            raise RuntimeError(
                f"render process exited unexpectedly (code {self._process.exitcode})"
            ) from None
        return message

    def _send(self, message: ToWorker) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, ConnectionResetError):
            raise RuntimeError(
                f"render process exited unexpectedly (code {self._process.exitcode})"
            ) from None

    def close(self) -> None:
        """Stop the worker and free the ring (idempotent)."""
        self._finalizer()


def _set_once(future: asyncio.Future[None]) -> None:
    """Reader callback: the pipe is readable (it may fire again before the waiter runs)."""
    if not future.done():
        future.set_result(None)


def _shut_down(conn: Connection, process: multiprocessing.process.BaseProcess,
               ring: SharedMemory | None) -> None:
    """Ask the worker to exit, make sure it has, and free the ring."""
    with contextlib.suppress(OSError, ValueError):  # gone already: nothing to ask
        conn.send(Exit())
    process.join(JOIN_TIMEOUT_S)
    if process.is_alive():
        process.terminate()
        process.join(JOIN_TIMEOUT_S)
    conn.close()
    if ring is not None:
        ring.close()
        with contextlib.suppress(FileNotFoundError):
            ring.unlink()


class _Worker:
    """The child's state: the synthesizer, where it renders next, and the free slots."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.synthesizer: Synthesizer | None = None
        self.generation = 0
        self.ring: SharedMemory | None = None
        self.free: set[int] = set()
        self.n_samples = 0
        self.dtype: WireDtype = "int16"
        self.scale = 1.0
        self.slot_bytes = 0
        #: the float block int16 blocks are rendered into, reused (see ``Synthesizer.render``)
        self.scratch = np.empty((0, 0), dtype=np.float32)

    def handle(self, message: ToWorker) -> None:
        match message:
            case Release(slots):
                self.free.update(slots)
            case Build():
                self._build(message)
            case StartSource() | StopSource():
                self.generation = message.generation
                if self.synthesizer is not None:
                    self.synthesizer.next_sample = message.first_sample
                    try:
                        if isinstance(message, StartSource):
                            self.synthesizer.start_source(message.label, message.spec)
                        else:
                            self.synthesizer.stop_source(message.label)
                    except (ValueError, KeyError) as error:
                        self.conn.send(Failed(self.generation, str(error)))

    def _build(self, build: Build) -> None:
        self.generation = build.generation
        self.synthesizer = build_synthesizer(build.signals, build.context)
        self.n_samples, self.dtype, self.scale = build.n_samples, build.dtype, build.scale
        self.slot_bytes = build.slot_bytes
        if self.ring is not None:
            self.ring.close()
        self.ring = SharedMemory(name=build.ring_name)
        self.free = set(range(RING_SLOTS))
        self.scratch = np.empty((BATCH_BLOCKS * build.n_samples, build.context.n_channels),
                                dtype=np.float32)

    def free_group(self) -> int | None:
        """The first slot of a group of ``BATCH_BLOCKS`` free adjacent slots, if any."""
        for start in range(0, RING_SLOTS, BATCH_BLOCKS):
            if self.free.issuperset(range(start, start + BATCH_BLOCKS)):
                return start
        return None

    @property
    def can_render(self) -> bool:
        return self.synthesizer is not None and self.free_group() is not None

    def render_next(self) -> None:
        """Render the synthesizer's next blocks into a group of free slots; announce them."""
        start = self.free_group()
        assert self.synthesizer is not None and self.ring is not None and start is not None
        self.free.difference_update(range(start, start + BATCH_BLOCKS))
        first = self.synthesizer.next_sample
        rows = BATCH_BLOCKS * self.n_samples
        target = np.ndarray(self.scratch.shape, self.dtype, self.ring.buf,
                            offset=start * self.slot_bytes)
        if self.dtype == "int16":
            strain_rate = self.synthesizer.render(rows, out=self.scratch)
            quantize_int16(strain_rate, self.scale, out=target)
        else:
            self.synthesizer.render(rows, out=target)
        del target  # no view may outlive the ring's mapping
        self.conn.send(Rendered(self.generation, [(first + i * self.n_samples, start + i)
                                                  for i in range(BATCH_BLOCKS)]))


def _serve(conn: Connection, nice: int) -> None:
    """The worker's main loop: apply every pending message, then render while slots are free."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    worker = _Worker(conn)
    try:
        while True:
            if not worker.can_render or conn.poll():
                message: ToWorker = conn.recv()
                if isinstance(message, Exit):
                    return
                worker.handle(message)
                continue
            worker.render_next()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent is gone
    except Exception:  # reported to the parent, which raises it
        conn.send(Failed(worker.generation, traceback.format_exc()))
    finally:
        if worker.ring is not None:
            worker.ring.close()
