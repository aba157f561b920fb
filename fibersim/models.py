"""The fiber data model shared by every stage: the simulator, the wire codec and the mock.

``FiberConfig`` is what an interrogator is set up with; ``FiberMetadata`` is what it announces
on the wire and what a Focus Server answers on ``GET /live_metadata``. Keeping both here, and
nothing else, is what lets the mock Focus Server depend on the simulator's models without
depending on the simulator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

#: The sentinel the real Focus Server puts in ``sw_version`` and ``fiber_description`` while it
#: has no fiber metadata (incident section 1).
WAITING_FOR_FIBER = "waiting for fiber"

#: Channel count of the incident's fiber; also the default everywhere.
DEFAULT_CHANNELS = 2337
#: Most channels a fiber may have, in a configuration or on the wire (memory is sized by it).
MAX_CHANNELS = 100_000

SampleDtype = Literal["int16", "float32"]


class FiberConfig(BaseModel):
    """How a simulated interrogator is set up. Defaults are the incident's healthy fiber."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fiber_id: str = Field(
        "fiber-0",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Identifier used in routing keys; letters, digits, '_' and '-'.",
    )
    number_of_channels: PositiveInt = Field(
        DEFAULT_CHANNELS, le=MAX_CHANNELS, description="Channels (loci) per time sample."
    )
    prr: PositiveFloat = Field(
        2000.0, le=200_000.0, description="Pulse repetition rate = time samples per second (Hz)."
    )
    dx: PositiveFloat = Field(1.02, le=1000.0, description="Channel spacing in metres.")
    gauge_length_meters: PositiveFloat = Field(10.0, le=1000.0, description="Gauge length (m).")
    fiber_start_meters: float = Field(0.0, ge=0.0, description="Distance of channel 0 (m).")
    sw_version: str = Field("fibersim-interrogator 0.1.0", min_length=1, max_length=200)
    fiber_description: str = Field("simulated fiber", min_length=1, max_length=500)
    dtype: SampleDtype = Field("int16", description="Sample type on the wire.")
    int16_full_scale: PositiveFloat = Field(
        1e-4,
        description=(
            "Strain rate (1/s) that maps to int16 32767. The default is above the phase-wrap"
            " threshold (about 6.8e-5 1/s at 2 kHz, 10 m gauge), so clipping only hits"
            " artefacts."
        ),
    )
    block_duration_s: PositiveFloat = Field(
        0.1, le=10.0, description="Simulated seconds per data block (message)."
    )

    @property
    def samples_per_block(self) -> int:
        """Time samples per data message; at least one."""
        return max(1, round(self.prr * self.block_duration_s))

    @property
    def fiber_length_meters(self) -> float:
        """Length covered by the channels, rounded to whole metres like the real server."""
        return float(round(self.number_of_channels * self.dx))

    @property
    def int16_scale(self) -> float:
        """Physical strain rate (1/s) of one int16 count."""
        return self.int16_full_scale / 32767.0

    def metadata(self, prr: float | None = None) -> FiberMetadata:
        """The metadata this interrogator announces; ``prr`` overrides for the zero-PRR state."""
        return FiberMetadata(
            dx=self.dx,
            prr=self.prr if prr is None else prr,
            fiber_start_meters=float(round(self.fiber_start_meters)),
            fiber_length_meters=self.fiber_length_meters,
            sw_version=self.sw_version,
            number_of_channels=self.number_of_channels,
            fiber_description=self.fiber_description,
            num_samples_per_trace=self.samples_per_block,
            dtype=self.dtype,
            gauge_length_meters=self.gauge_length_meters,
        )


class FiberMetadata(BaseModel):
    """Fiber metadata as the Focus Server exposes it on ``GET /live_metadata``.

    The first seven fields are the real server's payload, in its order; the last three are the
    optional extras the API allows. ``waiting()`` builds the incident's sentinel payload, which
    must serialise byte-for-byte as in the incident report (see ``live_metadata_json``).
    """

    # Unknown keys are ignored (a newer interrogator may announce more), non-finite numbers
    # refused: the metadata is served again as JSON, which has no NaN or Infinity.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    dx: float = Field(ge=0.0)
    prr: float = Field(ge=0.0)
    fiber_start_meters: float | None
    fiber_length_meters: float | None
    sw_version: str
    number_of_channels: int = Field(ge=0, le=MAX_CHANNELS)
    fiber_description: str
    num_samples_per_trace: int | None = None
    dtype: SampleDtype | None = None
    gauge_length_meters: float | None = None

    @classmethod
    def waiting(cls, number_of_channels: int = DEFAULT_CHANNELS) -> FiberMetadata:
        """The "waiting for fiber" payload of incident section 1."""
        return cls(
            dx=0.0,
            prr=0.0,
            fiber_start_meters=None,
            fiber_length_meters=None,
            sw_version=WAITING_FOR_FIBER,
            number_of_channels=number_of_channels,
            fiber_description=WAITING_FOR_FIBER,
        )

    @property
    def is_waiting(self) -> bool:
        """True for the sentinel payload (no fiber metadata known)."""
        return self.sw_version == WAITING_FOR_FIBER or self.fiber_description == WAITING_FOR_FIBER

    @property
    def is_ready(self) -> bool:
        """What the recommended client checks before configuring: prr > 0 and no sentinel."""
        return self.prr > 0 and not self.is_waiting

    def live_metadata_json(self) -> dict[str, object]:
        """The ``GET /live_metadata`` body: the seven core keys, extras only when known."""
        return self.model_dump(exclude_none=False, exclude={
            name for name in ("num_samples_per_trace", "dtype", "gauge_length_meters")
            if getattr(self, name) is None
        })
