"""Representative messages of every kind, for listings, malformed variants and conformance."""

from __future__ import annotations

import numpy as np

from fibersim.models import FiberConfig
from fibersim.wire import (
    DataBlock,
    Heartbeat,
    MessageKind,
    MetadataMessage,
    StatusEvent,
    StatusMessage,
    WireMessage,
)
from fibersim.wire.messages import MetadataReason

#: 2025-12-01T00:00:00Z, the simulated start of the sample messages.
SAMPLE_START_NS = 1_764_547_200_000_000_000
SAMPLE_CONFIG = FiberConfig(number_of_channels=16, prr=100.0, block_duration_s=0.1)


def sample_metadata(fiber_id: str, *, epoch: int = 0, reason: MetadataReason = "connect",
                    config: FiberConfig = SAMPLE_CONFIG, prr: float | None = None
                    ) -> MetadataMessage:
    """Metadata of a small fiber (``prr`` overrides the config's, e.g. 0 for zero PRR)."""
    return MetadataMessage(fiber_id=fiber_id, config_epoch=epoch, reason=reason,
                           sent_at_ns=SAMPLE_START_NS + epoch, metadata=config.metadata(prr),
                           int16_scale=config.int16_scale)


def sample_block(fiber_id: str, sequence: int, *, epoch: int = 0,
                 config: FiberConfig = SAMPLE_CONFIG, first_sample_index: int | None = None
                 ) -> DataBlock:
    """Block ``sequence`` of a small fiber, with distinct, reproducible samples."""
    rows = config.samples_per_block
    first = sequence * rows if first_sample_index is None else first_sample_index
    rng = np.random.default_rng(sequence)
    samples: np.ndarray
    if config.dtype == "int16":
        samples = rng.integers(-32768, 32768, (rows, config.number_of_channels), dtype=np.int16)
        scale = config.int16_scale
    else:
        samples = rng.standard_normal((rows, config.number_of_channels), dtype=np.float32)
        scale = 1.0
    return DataBlock(fiber_id=fiber_id, config_epoch=epoch, sequence=sequence,
                     first_sample_index=first,
                     first_sample_time_ns=SAMPLE_START_NS + round(first * 1e9 / config.prr),
                     sample_rate_hz=config.prr, channel_start=0, scale=scale, samples=samples)


def sample_message(kind: MessageKind, fiber_id: str) -> WireMessage:
    """One valid message of ``kind``."""
    if kind is MessageKind.METADATA:
        return sample_metadata(fiber_id)
    if kind is MessageKind.DATA:
        return sample_block(fiber_id, 0)
    if kind is MessageKind.HEARTBEAT:
        return Heartbeat(fiber_id=fiber_id, state="connected", last_sequence=0,
                         next_sample_index=SAMPLE_CONFIG.samples_per_block,
                         sent_at_ns=SAMPLE_START_NS)
    return StatusMessage(fiber_id=fiber_id, event=StatusEvent.CONNECTED,
                         sent_at_ns=SAMPLE_START_NS)
