"""The four kinds of message that cross the wire, independent of how they are encoded.

A codec turns these into bytes and back; nothing else in fibersim looks at bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fibersim.models import FiberMetadata

#: Version of the message schemas described in docs/wire-protocol.md.
SCHEMA_VERSION = 1


class MessageKind(StrEnum):
    """The last word of every routing key: ``<prefix>.<fiber_id>.<kind>``."""

    METADATA = "metadata"
    DATA = "data"
    HEARTBEAT = "heartbeat"
    STATUS = "status"


MetadataReason = Literal["connect", "change", "periodic"]
#: Interrogator states a heartbeat reports (a disconnected interrogator sends none).
HeartbeatState = Literal["connected", "zero_prr"]


class MetadataMessage(BaseModel):
    """Fiber metadata, published on connect, on every change and periodically."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    fiber_id: str
    config_epoch: int = Field(ge=0, description="Increments on every metadata change.")
    reason: MetadataReason
    sent_at_ns: int
    metadata: FiberMetadata
    #: only int16 streams carry it (a float32 stream omits the key)
    int16_scale: float | None = Field(
        default=None, gt=0, exclude_if=lambda value: value is None,
        description="Strain rate (1/s) of one int16 count.")


class DataBlock(BaseModel):
    """A block of samples: ``samples`` is (time, channel), C order, float32 or int16.

    Physical strain rate (1/s) = ``samples * scale``; ``scale`` is 1.0 for float32.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)

    fiber_id: str
    config_epoch: int = Field(ge=0)
    sequence: int = Field(ge=0)
    first_sample_index: int = Field(ge=0)
    first_sample_time_ns: int
    sample_rate_hz: float = Field(gt=0)
    channel_start: int = Field(ge=0)
    scale: float = Field(gt=0)
    samples: np.ndarray

    @model_validator(mode="after")
    def _check_samples(self) -> DataBlock:
        if self.samples.ndim != 2 or self.samples.dtype not in (np.int16, np.float32):
            raise ValueError("samples must be a 2-D int16 or float32 array (time, channel)")
        return self

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[1])

    def strain_rate(self) -> np.ndarray:
        """Samples in physical units (1/s) as float32."""
        if self.samples.dtype == np.float32:
            return self.samples
        return self.samples.astype(np.float32) * np.float32(self.scale)


class Heartbeat(BaseModel):
    """Sent every simulated second while connected, so silence means a dead link."""

    model_config = ConfigDict(frozen=True)

    fiber_id: str
    state: HeartbeatState
    last_sequence: int | None
    next_sample_index: int
    sent_at_ns: int


class StatusEvent(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class StatusMessage(BaseModel):
    """An explicit connect/disconnect announcement (a clean disconnect sends one)."""

    model_config = ConfigDict(frozen=True)

    fiber_id: str
    event: StatusEvent
    sent_at_ns: int


WireMessage = MetadataMessage | DataBlock | Heartbeat | StatusMessage


def kind_of(message: WireMessage) -> MessageKind:
    """The routing-key kind of a message."""
    if isinstance(message, DataBlock):
        return MessageKind.DATA
    if isinstance(message, MetadataMessage):
        return MessageKind.METADATA
    if isinstance(message, Heartbeat):
        return MessageKind.HEARTBEAT
    return MessageKind.STATUS


def routing_key(prefix: str, fiber_id: str, kind: MessageKind) -> str:
    """``<prefix>.<fiber_id>.<kind>``, e.g. ``das.fiber-0.data``."""
    return f"{prefix}.{fiber_id}.{kind.value}"
