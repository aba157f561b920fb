"""Start-up settings of the mock Focus Server, shared by the CLI and the in-process embedding."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from fibersim.models import DEFAULT_CHANNELS


class Behaviour(StrEnum):
    """Which server the mock imitates: the real one with its warts, or the recommended fix."""

    INCIDENT = "incident"
    FIXED = "fixed"


class ReconfigurePolicy(StrEnum):
    """What running jobs do when the fiber's metadata changes mid-stream."""

    LEGACY = "legacy"  # the job keeps the stale prr: its output becomes wrong (the real bug)
    ADAPTIVE = "adaptive"  # the job is rebuilt with the new metadata and says so


class FocusSettings(BaseModel):
    """Everything the mock is started with; defaults reproduce the incident's server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    behaviour: Behaviour = Behaviour.INCIDENT
    reconfigure_policy: ReconfigurePolicy = ReconfigurePolicy.LEGACY
    fiber_id: str = Field("fiber-0", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    dialect: str = Field("fibersim", pattern=r"^[A-Za-z0-9_.:-]{1,200}$",
                         description="Wire dialect consumed: an installed name or"
                                     " module:attribute (see docs/dialects.md).")
    prefix: str = Field("/focus-server", pattern=r"^(/[A-Za-z0-9._-]+)*$",
                        description="Path prefix the API is also served under ('' for none).")
    store: str = Field(":memory:", min_length=1,
                       description="SQLite file of the recordings index, or :memory:.")
    metadata_timeout_s: PositiveFloat = Field(
        10.0, description="Wall seconds without metadata after which the fiber is lost.")
    control_enabled: bool = Field(
        False, description="Serve the mock-only /_mock routes (status, faults): off by default,"
                           " because they can restart the server.")
    control_token: str | None = Field(
        None, min_length=1, description="If set, /_mock routes need X-Control-Token.")
    restart_backoff_initial_s: PositiveFloat = Field(
        0.5, description="First wait of the crash loop before the core is started again.")
    restart_backoff_max_s: PositiveFloat = Field(4.0, description="Cap of the doubling wait.")
    channels: PositiveInt = Field(
        DEFAULT_CHANNELS, le=100_000,
        description="Channel count announced before any metadata arrives.")
    max_message_bytes: PositiveInt = Field(
        64 * 1024 * 1024,
        description="Larger messages are rejected unread (a full-rate 0.1 s block is ~1 MB).")
