"""The signal-source interface, source placement, and the synthesizer that composes sources.

A source adds its strain rate (1/s, float32) into a (time, channel) block in place. Every
source in this package is a *pure function of the absolute sample index*: what it adds to
sample ``i`` is computed from ``i`` alone, with element-wise float operations and no state
carried from one call to the next. That is what makes the output bit-for-bit independent of
how the time axis is cut into blocks (``render(1000)`` equals ``render(400)`` then
``render(600)``), lets a source be gated by a time window, and lets scenario events start and
stop sources at any sample.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fibersim.models import FiberConfig


@dataclass(frozen=True)
class SynthesisContext:
    """What every source needs to know about the fiber (or the stretch of it) it is drawn on."""

    prr: float
    dx: float
    n_channels: int
    gauge_length_meters: float
    seed: int
    start_time_s: float = 0.0  # simulated time of the synthesizer's sample 0
    channel_offset: int = 0  # fiber channel of this context's channel 0 (placement)

    @classmethod
    def of_fiber(cls, config: FiberConfig, seed: int, start_time_s: float = 0.0
                 ) -> SynthesisContext:
        """The context of a whole configured fiber."""
        return cls(prr=config.prr, dx=config.dx, n_channels=config.number_of_channels,
                   gauge_length_meters=config.gauge_length_meters, seed=seed,
                   start_time_s=start_time_s)

    def rng(self, salt: int | tuple[int, ...]) -> np.random.Generator:
        """An independent, reproducible random stream for one source (``salt`` tells them apart)."""
        extra = salt if isinstance(salt, tuple) else (salt,)
        return np.random.default_rng([self.seed, *extra])

    def restricted(self, first: int, last: int) -> SynthesisContext:
        """The context of channels ``first..last`` (inclusive) of this one."""
        return dataclasses.replace(
            self, n_channels=last - first + 1, channel_offset=self.channel_offset + first
        )

    def sample_of(self, time_s: float) -> int:
        """The first sample at or after simulated time ``time_s``."""
        return math.ceil(round((time_s - self.start_time_s) * self.prr, 6))


class Stage(IntEnum):
    """When the synthesizer runs a source within a block.

    DENSE sources cover every sample; they run first, row-chunk by row-chunk, so that the
    block makes a single trip through memory while they add to it in cache. UNIFORM sources
    add the same series to every channel; when they span the whole fiber their sum is what
    each chunk is initialised with (instead of zeros), which saves a pass. SPARSE sources
    touch a small part of the block and run once per block (their per-call overhead is
    high). POST sources rewrite what the others produced (dead channels, saturation) last.
    """

    UNIFORM = 0
    DENSE = 1
    SPARSE = 2
    POST = 3


class SignalSource(Protocol):
    """A physical contribution to the recording."""

    @property
    def stage(self) -> Stage:
        """When the synthesizer runs this source within a block."""

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        """Add samples ``first_sample ..`` into ``block`` (time, channel), in place."""


class SourceSpec(Protocol):
    """What ``Synthesizer.start_source`` takes: a scenario description that builds a source.

    ``PlacedSpec`` subclasses are one kind; a recording (``fibersim.recording``) is another,
    which is why this is a protocol and not the base class.
    """

    @property
    def label(self) -> str | None:
        """The name scenario events use for the source, if the file gives one."""

    def check(self, context: SynthesisContext) -> None:
        """Raise ``ValueError`` if the source cannot be built on ``context``, without
        building it (a render process checks in its owner, where the error can be shown)."""

    def build(self, context: SynthesisContext) -> SignalSource:
        """The source on ``context``, placed on its channels and time window."""


@runtime_checkable
class Drainable(Protocol):
    """A source of events (vehicles) that can stop new arrivals while the events already
    under way run their course: how traffic "stops" without the field being cut off,
    which would put a broadband step on every channel a vehicle is near."""

    def drained(self, stop_sample: int) -> SignalSource:
        """This source without the events that start at or after ``stop_sample``."""


@runtime_checkable
class Weakening(Protocol):
    """A source that weakens coherent signals where it acts (Rayleigh fading: a faded
    channel measures every signal with less than its normal sensitivity)."""

    def weaken(self, field: np.ndarray, first_channel: int, first_sample: int) -> None:
        """Scale ``field`` in place: rows are samples ``first_sample ..``, columns channels
        ``first_channel ..`` in the synthesizer context's numbering (``channel_offset`` of
        the source's context plus its own column)."""


class Sensitivity:
    """The weakening sources active in a synthesizer, each within its sample window.

    The synthesizer keeps it up to date as sources start and stop, and hands it to every
    ``CoherentSource``; the weakening then depends only on the sample and channel indices,
    like everything else, so it is independent of the block size.
    """

    def __init__(self) -> None:
        #: (source, begin, end): each weakens samples ``[begin, end)``.
        self.parts: tuple[tuple[Weakening, int, int], ...] = ()

    def weaken(self, field: np.ndarray, first_channel: int, first_sample: int) -> None:
        """Apply every active weakening to ``field`` (see ``Weakening.weaken``)."""
        for source, begin, end in self.parts:
            a = max(0, begin - first_sample)
            b = min(field.shape[0], end - first_sample)
            if a < b:
                source.weaken(field[a:b], first_channel, first_sample + a)


class CoherentSource:
    """Base of the sources of coherent signals (vehicles, walkers, earthquakes, machinery).

    They add what they radiate through ``add_field``, which first weakens it on faded
    channels: the faded noise is drawn separately, so only the signal must be scaled, and
    scaling the few faded columns of each small field costs far less than snapshotting
    the faded columns of the whole block around the signal stage.
    """

    stage = Stage.SPARSE
    #: Set by the synthesizer that renders the source; none outside one.
    sensitivity = Sensitivity()

    def __init__(self, context: SynthesisContext) -> None:
        self._channel_offset = context.channel_offset

    def add_field(self, block: np.ndarray, first_sample: int, row: int, column: int,
                  field: np.ndarray) -> None:
        """``block[row:, column:] += field`` (``field`` is scaled in place first)."""
        self.sensitivity.weaken(field, self._channel_offset + column, first_sample + row)
        block[row : row + field.shape[0], column : column + field.shape[1]] += field

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Placed:
    """A source confined to a channel slice and a window of absolute samples ``[begin, end)``."""

    inner: SignalSource
    first_channel: int
    stop_channel: int
    begin: int = 0
    end: int = 2**62

    @property
    def stage(self) -> Stage:
        return self.inner.stage

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        a = max(0, self.begin - first_sample)
        b = min(block.shape[0], self.end - first_sample)
        if a < b:
            self.inner.add_to(block[a:b, self.first_channel : self.stop_channel], first_sample + a)

    def write_to(self, block: np.ndarray, first_sample: int, base: np.ndarray) -> bool:
        """Set ``block`` to ``base`` (one value per row) plus this source, if the source can
        (it has a ``write_to``) and covers every sample and channel of ``block``.

        Returns whether it did. Writing saves the pass that would first fill the block with
        ``base``: a broadcast copy that costs almost as much as reading a noise bank.
        """
        write = getattr(self.inner, "write_to", None)
        covers = (
            self.first_channel == 0
            and self.stop_channel == block.shape[1]
            and self.begin <= first_sample
            and first_sample + block.shape[0] <= self.end
        )
        if write is None or not covers:
            return False
        write(block, first_sample, base)
        return True


@dataclass(frozen=True)
class SourceGroup:
    """Several placed sources built from one spec (a preset); the synthesizer flattens it."""

    parts: tuple[Placed, ...]
    stage: Stage = Stage.SPARSE

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        for part in sorted(self.parts, key=lambda p: p.stage):
            part.add_to(block, first_sample)


class PlacedSpec(BaseModel):
    """Fields every source spec shares: a label and where/when the source is active.

    ``channels`` is an inclusive ``[first, last]`` fiber-channel range; ``start``/``end`` are
    simulated times in seconds on the synthesizer's clock (``start_time_s + sample / prr``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str | None = Field(None, description="Name for start_source/stop_source events.")
    channels: tuple[int, int] | None = Field(
        None, description="Inclusive channel range [first, last]; default the whole fiber."
    )
    start: float | None = Field(None, description="Active from this simulated time (s).")
    end: float | None = Field(None, description="Active until this simulated time (s).")

    def channel_range(self, context: SynthesisContext) -> tuple[int, int]:
        """The inclusive channels of ``context`` the source covers; ValueError if none.

        Separate from ``build`` so that a spec can be checked without building its source.
        """
        first, last = self.channels if self.channels is not None else (0, context.n_channels - 1)
        first, last = max(0, first), min(context.n_channels - 1, last)
        if first > last:
            raise ValueError(f"channels {self.channels} lie outside 0..{context.n_channels - 1}")
        return first, last

    def check(self, context: SynthesisContext) -> None:
        self.channel_range(context)

    def build(self, context: SynthesisContext) -> Placed | SourceGroup:
        """The source this spec describes, confined to its channels and time window.

        For an event source (``Drainable``) ``end`` stops new events; those under way finish.
        """
        first, last = self.channel_range(context)
        begin = 0 if self.start is None else max(0, context.sample_of(self.start))
        end = 2**62 if self.end is None else context.sample_of(self.end)
        inner = self.make(context.restricted(first, last))
        if isinstance(inner, Drainable) and self.end is not None:
            inner, end = inner.drained(end), 2**62
        if isinstance(inner, SourceGroup):
            return SourceGroup(tuple(_confine(p, first, begin, end) for p in inner.parts))
        return Placed(inner, first, last + 1, begin, end)

    def make(self, context: SynthesisContext) -> SignalSource:
        """The unplaced source on ``context`` (its channel 0 is the range's first channel)."""
        raise NotImplementedError


def _confine(part: Placed, first: int, begin: int, end: int) -> Placed:
    """``part`` (placed within a sub-range starting at ``first``) placed on the whole fiber."""
    return dataclasses.replace(
        part,
        first_channel=part.first_channel + first,
        stop_channel=part.stop_channel + first,
        begin=max(part.begin, begin),
        end=min(part.end, end),
    )


#: Elements per ufunc buffer while rendering (numpy's default is 8192): at most one row of a
#: fiber of 1024 channels or more, so per-row broadcasts are not buffered (``render_at``).
_UFUNC_BUFSIZE = 1024


def _spans(source: SignalSource, width: int) -> bool:
    """Whether a placed source covers all ``width`` channels."""
    return isinstance(source, Placed) and source.first_channel == 0 and source.stop_channel == width


def _parts(source: SignalSource) -> Iterable[SignalSource]:
    return source.parts if isinstance(source, SourceGroup) else (source,)


def _from_sample(part: SignalSource, sample: int, width: int) -> Placed:
    """``part`` active from ``sample`` on; a source that is not placed (a recording) is
    placed on all ``width`` channels first."""
    placed = part if isinstance(part, Placed) else Placed(part, 0, width)
    return dataclasses.replace(placed, begin=max(placed.begin, sample))


#: Label of stopped event sources whose last events are still under way.
_DRAINING = ""


class Synthesizer:
    """Sums sources into consecutive float32 blocks and counts samples.

    Sources carry labels so scenario events can start and stop them; a change takes effect at
    the synthesizer's next sample.
    """

    #: Rows per chunk for DENSE sources: ~1.8 MB of a 2337-channel block stays in L2.
    CHUNK_ROWS = 192

    def __init__(
        self,
        context: SynthesisContext,
        sources: list[SignalSource],
        labels: list[str] | None = None,
    ) -> None:
        self.context = context
        self.next_sample = 0
        self._active: list[tuple[str, SignalSource]] = []
        self._sensitivity = Sensitivity()
        names = labels if labels is not None else [f"source{i}" for i in range(len(sources))]
        for label, source in zip(names, sources, strict=True):
            self._add(label, source)

    @property
    def sources(self) -> list[SignalSource]:
        """The active (flattened, placed) sources in the order they are summed."""
        return [source for _, source in self._active]

    @property
    def labels(self) -> list[str]:
        return sorted({label for label, _ in self._active if label != _DRAINING})

    def _add(self, label: str, source: SignalSource) -> None:
        self._active.extend((label, part) for part in _parts(source))
        self._active.sort(key=lambda item: item[1].stage)  # stable: keeps insertion order
        self._update_sensitivity()

    def _update_sensitivity(self) -> None:
        """Point every coherent source at this synthesizer's active weakening sources."""
        self._sensitivity.parts = tuple(
            (s.inner, s.begin, s.end) for _, s in self._active
            if isinstance(s, Placed) and isinstance(s.inner, Weakening))
        for _, source in self._active:
            if isinstance(source, Placed) and isinstance(source.inner, CoherentSource):
                source.inner.sensitivity = self._sensitivity

    def start_source(self, label: str, spec: SourceSpec) -> None:
        """Add ``spec``'s source from the next sample on (its own start/end still apply).

        Like every source, it adds what it has at the absolute sample index: a recording
        started at sample ``n`` plays from its row ``n`` (or ``n`` modulo its length).
        """
        if label in self.labels:
            raise ValueError(f"signal source {label!r} is already running")
        source = spec.build(self.context)
        now, width = self.next_sample, self.context.n_channels
        self._add(label, SourceGroup(tuple(_from_sample(p, now, width) for p in _parts(source))))

    def stop_source(self, label: str) -> None:
        """Remove the source(s) labelled ``label`` from the next sample on; event sources
        (``Drainable``: traffic) start no new events, and those under way finish."""
        if label not in self.labels:
            raise KeyError(f"no running signal source {label!r}")
        kept: list[tuple[str, SignalSource]] = []
        for name, source in self._active:
            if name != label:
                kept.append((name, source))
            elif isinstance(source, Placed) and isinstance(source.inner, Drainable):
                drained = dataclasses.replace(source, inner=source.inner.drained(self.next_sample))
                kept.append((_DRAINING, drained))
        self._active = kept
        self._update_sensitivity()

    def rewind(self, n_samples: int) -> None:
        """Step back so the last ``n_samples`` are rendered again: exact, since every
        source is a function of the sample index (a block rendered ahead and not sent)."""
        self.next_sample -= n_samples

    def render(self, n_samples: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``n_samples`` of strain rate, shape (n_samples, n_channels), float32.

        ``out`` (C-contiguous, that shape, float32) receives the block instead of a fresh
        array: a caller that renders block after block into the same buffer saves a page
        fault per 4 KiB of every block, a sizeable share of a full-rate render.
        """
        block = self.render_at(self.next_sample, n_samples, out)
        self.next_sample += n_samples
        return block

    def render_at(self, first: int, n_samples: int, out: np.ndarray | None = None) -> np.ndarray:
        """Samples ``first ..`` of the active sources without moving the synthesizer on.

        Possible because every source is a pure function of the sample index; plots use it
        to draw any window. ``out`` as for ``render``; every value of it is overwritten.
        """
        width = self.context.n_channels
        if out is None:
            block = np.empty((n_samples, width), dtype=np.float32)
        elif out.shape != (n_samples, width) or out.dtype != np.float32:
            raise ValueError(f"out must be float32 {(n_samples, width)}, not {out.dtype} "
                             f"{out.shape}")
        else:
            block = out
        # numpy's ufunc iterator copies every operand through its buffers when a buffer can
        # hold several rows of a broadcast operation such as (rows, 1) + (rows, channels),
        # which doubles the cost of the sources' per-row adds; a buffer shorter than two rows
        # makes it run its fast loops on the operands in place, row by row.
        bufsize = np.setbufsize(_UFUNC_BUFSIZE)
        try:
            return self._render_into(block, first, n_samples)
        finally:
            np.setbufsize(bufsize)

    def _render_into(self, block: np.ndarray, first: int, n_samples: int) -> np.ndarray:
        """Fill ``block`` with samples ``first ..`` (see ``render_at``)."""
        width = block.shape[1]
        uniform = [s for _, s in self._active if s.stage == Stage.UNIFORM and _spans(s, width)]
        dense = [s for _, s in self._active if s.stage <= Stage.DENSE and s not in uniform]
        # The uniform sources' sum for the whole block at once: one call each, not one per chunk.
        bases = np.zeros((n_samples, 1), dtype=np.float32)
        for source in uniform:
            source.add_to(bases, first)  # a (rows, 1) view of every channel
        for row in range(0, n_samples, self.CHUNK_ROWS):
            chunk = block[row : row + self.CHUNK_ROWS]
            base = bases[row : row + self.CHUNK_ROWS]
            # The first dense source (instrument noise) writes base + itself when it can;
            # the sum is the same either way (float addition commutes).
            wrote = bool(dense) and isinstance(dense[0], Placed) and dense[0].write_to(
                chunk, first + row, base
            )
            if not wrote:
                chunk[...] = base
            for source in dense[1:] if wrote else dense:
                source.add_to(chunk, first + row)
        for _, source in self._active:  # sorted by stage: SPARSE, then POST
            if source.stage > Stage.DENSE:
                source.add_to(block, first)
        return block
