"""The interrogator as a device model: state, configuration and counters, and no I/O.

Like a Lewis device, the model knows nothing about AMQP or codecs; the streamer (runner stage)
asks it what is due and publishes it. Sample times always derive from the sample counter and
an anchor (the last point where the PRR changed), never from accumulated sleeps, so the
stream's clock cannot drift however long it runs. The device owns all its states and faults
(disconnected, zero PRR, and the pending data and metadata faults of ``FaultPlan``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict, Unpack

from fibersim.models import FiberConfig, FiberMetadata, SampleDtype

NS_PER_S = 1_000_000_000


class ConfigChanges(TypedDict, total=False):
    """What a reconfiguration may change: ``FiberConfig`` fields by name, each optional.

    Typed keyword arguments of ``Interrogator.reconfigure`` and ``FiberStreamer.reconfigure``
    (and what a scenario's ``reconfigure`` event produces), so a misspelt or mistyped change
    is a type error where it is written, not a validation error at run time.
    """

    prr: float
    dx: float
    number_of_channels: int
    gauge_length_meters: float
    sw_version: str
    fiber_description: str
    dtype: SampleDtype


@dataclass
class FaultPlan:
    """Faults the device has been told to commit, pending: data faults are consumed block by
    block as the streamer publishes; ``stale_metadata`` holds until cleared."""

    skip_blocks: int = 0
    duplicate_blocks: int = 0
    reorder_blocks: int = 0
    corrupt_blocks: int = 0
    stale_metadata: bool = False


class InterrogatorState(StrEnum):
    """What the interrogator is doing, as the Focus Server would observe it."""

    DISCONNECTED = "disconnected"  # nothing on the wire
    CONNECTED = "connected"  # metadata, data and heartbeats
    ZERO_PRR = "zero_prr"  # metadata with prr 0 and heartbeats; no data (no pulses)


@dataclass(frozen=True)
class BlockSlot:
    """Where the next data block sits in the stream."""

    sequence: int
    first_sample_index: int
    first_sample_time_ns: int
    n_samples: int
    end_time_s: float


class Interrogator:
    """A simulated DAS interrogator driven by simulated time (seconds since the run start)."""

    def __init__(self, config: FiberConfig, start_time_ns: int) -> None:
        self.config = config
        self.start_time_ns = start_time_ns
        self.state = InterrogatorState.DISCONNECTED
        #: faults of the device besides its states (zero PRR, disconnected)
        self.faults = FaultPlan()
        self.config_epoch = 0
        self.next_sequence = 0
        self.next_sample_index = 0
        self._anchor_index = 0
        self._anchor_time_s = 0.0

    # -- state transitions -------------------------------------------------------------------
    def connect(self, now_s: float) -> None:
        """Start pulsing: samples resume at the current simulated time."""
        self._reanchor(now_s)
        self.state = InterrogatorState.CONNECTED

    def disconnect(self) -> None:
        self.state = InterrogatorState.DISCONNECTED

    def zero_prr(self) -> None:
        """Keep announcing metadata, but with prr 0 and no data (incident's zero-PRR state)."""
        self.state = InterrogatorState.ZERO_PRR
        self.config_epoch += 1

    def restore_prr(self, now_s: float) -> None:
        self._reanchor(now_s)
        self.state = InterrogatorState.CONNECTED
        self.config_epoch += 1

    def reconfigure(self, now_s: float, **changes: Unpack[ConfigChanges]) -> None:
        """Apply new settings (prr, dx, channels, ...) from ``now_s``; bumps the epoch."""
        self._reanchor(now_s)
        self.config = FiberConfig.model_validate({**self.config.model_dump(), **changes})
        self.config_epoch += 1

    def _reanchor(self, now_s: float) -> None:
        """Anchor the clock at the next sample, first skipping samples that fell due while no
        data was sent (disconnected or zero PRR), so sample indices keep measuring time."""
        next_time = self.time_of_sample_s(self.next_sample_index)
        skipped = max(0, math.ceil((now_s - next_time) * self.config.prr - 1e-6))
        self._anchor_time_s = next_time + skipped / self.config.prr
        self.next_sample_index += skipped
        self._anchor_index = self.next_sample_index

    # -- what is on the wire -----------------------------------------------------------------
    @property
    def emits_data(self) -> bool:
        return self.state is InterrogatorState.CONNECTED

    @property
    def emits_metadata(self) -> bool:
        return self.state is not InterrogatorState.DISCONNECTED

    def metadata(self) -> FiberMetadata:
        zero = self.state is InterrogatorState.ZERO_PRR
        return self.config.metadata(prr=0.0 if zero else None)

    def time_of_sample_s(self, index: int) -> float:
        """Simulated time (s since start) of a sample, from the counter and the anchor."""
        return self._anchor_time_s + (index - self._anchor_index) / self.config.prr

    def time_of_sample_ns(self, index: int) -> int:
        """Absolute timestamp (ns since the epoch) of a sample; exact integer arithmetic."""
        offset_ns = (index - self._anchor_index) * NS_PER_S / self.config.prr
        return self.start_time_ns + round(self._anchor_time_s * NS_PER_S) + round(offset_ns)

    def peek_block(self) -> BlockSlot:
        """The next block, without consuming it."""
        n = self.config.samples_per_block
        first = self.next_sample_index
        return BlockSlot(
            sequence=self.next_sequence,
            first_sample_index=first,
            first_sample_time_ns=self.time_of_sample_ns(first),
            n_samples=n,
            end_time_s=self.time_of_sample_s(first + n),
        )

    def take_block(self) -> BlockSlot:
        """Consume the next block: advances the sequence number and the sample counter."""
        slot = self.peek_block()
        self.next_sequence += 1
        self.next_sample_index += slot.n_samples
        return slot
