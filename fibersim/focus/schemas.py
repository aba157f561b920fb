"""Request and response bodies of the HTTP API (docs/focus-mock.md, focus-server-api.md).

Field names follow the real server's JSON exactly, camelCase included, because existing
clients send and read them verbatim.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

#: Epoch seconds accepted in requests: from 1970 up to year 2286, so arithmetic stays exact.
EpochSeconds = Annotated[int, Field(ge=0, le=10_000_000_000)]


class DisplayInfo(BaseModel):
    height: int = Field(gt=0, le=100_000, description="Lines on the client's canvas.")


class ChannelRange(BaseModel):
    min: int = Field(ge=0, le=1_000_000)
    max: int = Field(ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> ChannelRange:
        if self.min > self.max:
            raise ValueError("channels.min must not exceed channels.max")
        return self


class FrequencyRange(BaseModel):
    min: int = Field(ge=0, le=1_000_000)
    max: int = Field(ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> FrequencyRange:
        if self.min > self.max:
            raise ValueError("frequencyRange.min must not exceed frequencyRange.max")
        return self


def _as_int(value: int | str) -> int:
    return int(value)


#: Existing clients send the view type as "0"/"1"/"2" or as an integer; both mean the same.
ViewType = Annotated[Literal[0, 1, 2, "0", "1", "2"], AfterValidator(_as_int)]


class ConfigureRequest(BaseModel):
    """POST /configure. Live when both times are null, historic when both are epoch seconds."""

    displayTimeAxisDuration: float | None = Field(None, gt=0, le=86_400)
    nfftSelection: int | None = Field(None, ge=0, le=1 << 20)
    displayInfo: DisplayInfo
    channels: ChannelRange
    frequencyRange: FrequencyRange | None = None
    start_time: EpochSeconds | None = None
    end_time: EpochSeconds | None = None
    view_type: ViewType

    @model_validator(mode="after")
    def _time_window(self) -> ConfigureRequest:
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("start_time and end_time must both be null (live) or both set")
        if self.start_time is not None and self.end_time is not None \
                and self.start_time > self.end_time:
            raise ValueError("start_time must not be after end_time")
        return self


class ConfigureResponse(BaseModel):
    status: str = Field(description='"" in incident behaviour, "success" in fixed.')
    job_id: str
    stream_port: int
    stream_url: str
    view_type: str
    channel_amount: int
    stream_amount: int
    channel_to_stream_index: dict[str, int]
    frequencies_list: list[float]
    frequencies_amount: int
    lines_dt: float | None
    metadata: dict[str, object]


class ErrorBody(BaseModel):
    error: str


class NotReadyBody(ErrorBody):
    """Fixed behaviour's 503: names the state and the missing metadata fields."""

    state: str
    missing: list[str]


class AckResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelsResponse(BaseModel):
    lowest_channel: int
    highest_channel: int


class SensorsResponse(BaseModel):
    sensors: list[int]


class TimeRangeRequest(BaseModel):
    start_time: float = Field(ge=0, le=1e10)
    end_time: float = Field(ge=0, le=1e10)


class DeletedJob(BaseModel):
    job_id: str
    deleted: bool = True


class TransitionBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    at: float = Field(description="Epoch seconds (the mock's clock).")
    from_: str = Field(alias="from")
    to: str
    reason: str


class MessageCounts(BaseModel):
    metadata: int
    data: int
    heartbeat: int
    status: int


class Counters(BaseModel):
    messages: MessageCounts
    rejected: int
    blocks: int
    gaps: int
    missing_blocks: int
    duplicates: int
    reordered: int
    resyncs: int


class JobSummary(BaseModel):
    """One job as the status shows it: its plan, its output so far and what happened to it."""

    job_id: str
    view_type: str
    prr: float
    live: bool
    nfft: int
    internal_nfft: int
    stream_port: int
    lines: int
    dropped_blocks: int
    rebuilds: int
    stale: bool
    consumer_attached: bool


class RuntimeSettings(BaseModel):
    """The settings ``POST /_mock/set`` can change, as they are now (no bounds: the start-up
    settings were validated already)."""

    behaviour: Literal["incident", "fixed"]
    metadata_timeout_s: float
    reconfigure_policy: Literal["legacy", "adaptive"]
    restart_backoff_initial_s: float
    restart_backoff_max_s: float
    max_message_bytes: int


#: The mock's states, as ``FiberState`` values.
StateName = Literal["ready", "waiting_for_fiber", "zero_prr", "store_down", "restarting"]


# The one status model: the domain builds it (``FocusMock.status()``), the HTTP layer serves
# it, and readers of the JSON parse it back with ``MockStatus.model_validate``. Its JSON is
# ``model_dump(mode="json", by_alias=True)`` (``from_`` is ``from``). The docstring is the
# OpenAPI description, hence this comment.
class MockStatus(BaseModel):
    """GET /_mock/status: what a scenario reads to check and time the mock's reactions."""

    state: StateName
    state_since: float
    transitions: list[TransitionBody]
    behaviour: Literal["incident", "fixed"]
    reconfigure_policy: Literal["legacy", "adaptive"]
    metadata: dict[str, object] | None = Field(
        description="The last metadata the running core received, as GET /live_metadata"
                    " serves it; null when none or after a loss.")
    counters: Counters
    restarts: int
    store: Literal["up", "down"]
    requests: dict[str, dict[str, int]]
    probe_requests: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Requests marked X-Fibersim-Probe (fibersim's own"
        " checks), counted apart so they do not inflate the clients' counts.")
    jobs: list[JobSummary]
    settings: RuntimeSettings = Field(description="The settings POST /_mock/set can change.")


class MockSettingsChange(BaseModel):
    """POST /_mock/set: the mock settings that can change while it runs (the backdoor)."""

    model_config = ConfigDict(extra="forbid")

    behaviour: Literal["incident", "fixed"] | None = None
    metadata_timeout_s: float | None = Field(None, gt=0, le=3600)
    reconfigure_policy: Literal["legacy", "adaptive"] | None = None
    restart_backoff_initial_s: float | None = Field(None, gt=0, le=600)
    restart_backoff_max_s: float | None = Field(None, gt=0, le=3600)
    max_message_bytes: int | None = Field(None, ge=1, le=1024**3)


class JobLines(BaseModel):
    """GET /_mock/jobs/{job_id}/lines: the newest waterfall lines of a live job."""

    job_id: str
    prr: float
    unit: str
    frequencies: list[float]
    channel_groups: list[tuple[int, int]]
    lines_total: int
    lines: list[list[list[float]]] = Field(description="[line][channel group][bin]")
