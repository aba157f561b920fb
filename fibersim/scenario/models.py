"""Pydantic models of a scenario file: the single source of truth for validation and the schema.

A scenario is a fiber, run settings, optional settings for the embedded mock Focus Server, and
a timeline of steps. A step is either an *event* (``do: <name>``: something fibersim does to
the fiber, the broker traffic, the mock or the outside world) or an *expectation*
(``expect: {...}``: something the Focus Server must show, within a wall-clock window).
docs/scenarios.md describes every field; ``fibersim schema`` prints the JSON Schema built
from these classes, so the two cannot disagree about what is accepted.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
    model_validator,
)

from fibersim.models import FiberConfig, SampleDtype
from fibersim.recording.model import parse_iso_ns
from fibersim.signals import SignalSpec
from fibersim.units import parse_duration, parse_speed

_LABEL = r"[A-Za-z][A-Za-z0-9_-]{0,63}"
_AFTER = re.compile(rf"^\s*({_LABEL})\s*(?:\+\s*(.+?))?\s*$")

#: Most steps a timeline may have: far beyond any sensible scenario, small enough to bound work.
MAX_STEPS = 1000


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("expected a duration like 12s, 250ms or 2m")
    return parse_duration(value)


def _speed(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("expected a positive number or 'max'")
    return parse_speed(value)


#: Seconds, written ``12s``, ``250ms``, ``2m`` or as a number of seconds.
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string",
                               "pattern": r"^\s*\d*\.?\d+\s*(ms|s|m|min|h)?\s*$"}],
                    "description": "Duration: 12s, 250ms, 2m, 1.5h or seconds."}),
]
#: Simulated seconds per wall second; ``max`` (infinity) means as fast as possible.
Speed = Annotated[
    float,
    BeforeValidator(_speed),
    PlainSerializer(lambda v: "max" if math.isinf(v) else v, return_type=Any),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "max"}]}),
]
Label = Annotated[str, Field(pattern=f"^{_LABEL}$",
                             description="Step name: a letter, then letters, digits, _ or -.")]


def _fiber_field(name: str, **overrides: Any) -> Any:
    """A field with ``FiberConfig``'s constraints and default, so both reject the same values."""
    field = copy.copy(FiberConfig.model_fields[name])
    for key, value in overrides.items():
        setattr(field, key, value)
    return field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- fiber, run and mock settings ---------------------------------------------------------------
class FiberSection(_Strict):
    """The simulated interrogator; defaults are the incident's healthy fiber (2337 ch, 2 kHz)."""

    fiber_id: str = _fiber_field("fiber_id")
    channels: int = _fiber_field("number_of_channels")
    prr: float = _fiber_field("prr")
    dx: float = _fiber_field("dx")
    gauge_length: float = _fiber_field("gauge_length_meters")
    fiber_start: float = _fiber_field("fiber_start_meters")
    sw_version: str = _fiber_field("sw_version")
    description: str = _fiber_field("fiber_description")
    dtype: SampleDtype = _fiber_field("dtype")
    block_duration: float = _fiber_field("block_duration_s")
    signals: list[SignalSpec] | None = Field(
        None, max_length=100,
        description="Signal sources (see the signals docs); omitted: the default background.")
    dialect: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.:-]{1,200}$",
        description="Wire dialect the interrogator speaks: an installed name (fibersim dialects)"
                    " or module:attribute; --dialect overrides it. Omitted: fibersim.")

    def fiber_config(self) -> FiberConfig:
        """The ``FiberConfig`` these settings describe (field names as on the wire)."""
        return FiberConfig(
            fiber_id=self.fiber_id, number_of_channels=self.channels, prr=self.prr, dx=self.dx,
            gauge_length_meters=self.gauge_length, fiber_start_meters=self.fiber_start,
            sw_version=self.sw_version, fiber_description=self.description, dtype=self.dtype,
            block_duration_s=self.block_duration,
        )


class RunSection(_Strict):
    """How fast simulated time runs by default and the random seed; both overridable on the CLI."""

    speed: Speed = Field(1.0, description="Simulated seconds per wall second, or 'max'.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Same seed, same bytes on the wire.")
    start_time: str = Field(
        "2000-01-01T00:00:00Z",
        description="Wall-clock time of simulated second 0 (ISO 8601, UTC without an offset):"
        " the time stamps of recordings. Fixed by default, so the same seed gives the same"
        " file, byte for byte.")

    @model_validator(mode="after")
    def _start_time_is_iso(self) -> RunSection:
        parse_iso_ns(self.start_time)  # ValueError names the field
        return self

    @property
    def start_time_ns(self) -> int:
        """``start_time`` in nanoseconds since the Unix epoch."""
        return parse_iso_ns(self.start_time)


class FocusMockSection(_Strict):
    """Settings of the built-in mock Focus Server; ignored when --focus-url names a real one."""

    behaviour: Literal["incident", "fixed"] = "incident"
    reconfigure_policy: Literal["legacy", "adaptive"] = "legacy"
    metadata_timeout: Duration | None = Field(
        None, description="Wall seconds without metadata before 'waiting for fiber'.")


# -- matchers -----------------------------------------------------------------------------------
#: A JSON scalar, as written in the file (no coercion: ``"1"`` is not ``1``).
JsonScalar = StrictInt | StrictFloat | StrictStr | StrictBool | None


class Comparison(_Strict):
    """Compare a seen value: every given bound must hold (``{gt: 0}``, ``{ge: 1, le: 3}``)."""

    eq: JsonScalar = Field(None, description="Equal to.")
    ne: JsonScalar = Field(None, description="Not equal to.")
    gt: StrictInt | StrictFloat | None = None
    ge: StrictInt | StrictFloat | None = None
    lt: StrictInt | StrictFloat | None = None
    le: StrictInt | StrictFloat | None = None
    contains: StrictStr | None = Field(None, description="A string that contains this text.")

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("a comparison needs at least one of eq, ne, gt, ge, lt, le, contains")
        return data


#: A bare value (equality; ``null`` for JSON null) or a ``Comparison``.
Matcher = JsonScalar | Comparison
Matchers = Annotated[dict[str, Matcher], Field(min_length=1, max_length=100)]


# -- expectations --------------------------------------------------------------------------------
ConfigureRequestName = Literal["height_200", "height_1000"]


class ConfigureCheck(_Strict):
    """POST /configure with a request, and what the answer must be."""

    request: ConfigureRequestName | dict[str, Any] = Field(
        "height_200",
        description="height_200 / height_1000: the incident's two requests; or a full body.")
    status: int = Field(ge=100, le=599, description="Expected HTTP status.")
    body: Matchers | None = Field(None, description="Matchers on fields of the JSON answer.")
    error: str | None = Field(None, description="Text the answer's error/message must contain.")
    log: str | None = Field(
        None, description="Text of a pz.focus_server log line the request must cause (built-in"
        " mock only; not checkable against a separately run server).")


class RequestsCheck(_Strict):
    """Requests the mock counted on one route, e.g. ``POST /configure``, answered ``status``."""

    route: str = Field(pattern=r"^(GET|POST|PUT|DELETE|PATCH) /\S*$", max_length=200)
    status: int | None = Field(None, ge=100, le=599,
                               description="Only this status (all if absent).")
    since: Label | None = Field(None,
                                description="Count from this event on (default: run start).")
    count: Matcher | None = None
    rate: Matcher | None = Field(None, description="Requests per wall second over the window.")

    @model_validator(mode="after")
    def _something(self) -> RequestsCheck:
        if self.count is None and self.rate is None:
            raise ValueError("give count, rate or both")
        return self


class BackoffVersusStorm(_Strict):
    """The backoff client sent at least ``fewer_by`` times fewer requests than the storm."""

    backoff: Label
    storm: Label
    fewer_by: float = Field(gt=0, le=1e6)


class Expectation(_Strict):
    """What the Focus Server must show; every given check must hold at the same time."""

    state: StrictStr | Annotated[list[StrictStr], Field(min_length=1)] | None = Field(
        None, description="Mock state (ready, waiting_for_fiber, zero_prr, store_down, ...).")
    live_metadata: Matchers | None = Field(None, description="Fields of GET /live_metadata.")
    live_metadata_exact: dict[str, JsonScalar] | None = Field(
        None, max_length=100, description="GET /live_metadata must be exactly this object: the"
        " same keys, no others, equal values (the incident's payload).")
    configure: ConfigureCheck | None = None
    channels: Matchers | None = Field(None, description="Fields of GET /channels.")
    mock: Matchers | None = Field(
        None, description="Dotted paths into the mock's status (restarts, store, counters.gaps).")
    requests: RequestsCheck | None = None
    backoff_vs_storm: BackoffVersusStorm | None = None

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("an expectation needs at least one check")
        return self


# -- steps --------------------------------------------------------------------------------------
class _Step(_Strict):
    """Timing shared by all steps: ``at`` (simulated time), ``after`` (label + offset) or
    neither (right after the previous step)."""

    label: Label | None = Field(None, description="Name other steps refer to.")
    at: Duration | None = Field(None, description="Simulated time since the run started.")
    after: str | None = Field(
        None, max_length=200, description="'<label>' or '<label> + 3s': simulated time after that"
        " step fired (an event) or was met (an expectation).")

    @model_validator(mode="after")
    def _one_anchor(self) -> _Step:
        if self.at is not None and self.after is not None:
            raise ValueError("give either 'at' or 'after', not both")
        if self.after is not None:
            self.after_reference()
        return self

    def after_reference(self) -> tuple[str, float] | None:
        """``(label, offset_s)`` of ``after``, or None."""
        if self.after is None:
            return None
        match = _AFTER.match(self.after)
        if not match:
            raise ValueError(f"after: {self.after!r} is not '<label>' or '<label> + <duration>'")
        return match.group(1), parse_duration(match.group(2)) if match.group(2) else 0.0


class _Event(_Step):
    def describe(self) -> str:
        """One-line text for console and reports: the event name and its parameters."""
        params = self.model_dump(exclude={"do", "label", "at", "after"}, exclude_defaults=True)
        text = ", ".join(f"{key}={value}" for key, value in params.items())
        return f"{self.do}({text})" if text else self.do  # type: ignore[attr-defined]


class Connect(_Event):
    """The interrogator comes up: status 'connected', metadata, then data and heartbeats."""

    do: Literal["connect"]


class Disconnect(_Event):
    """Data and metadata stop; ``clean: false`` is a cable cut (no status message)."""

    do: Literal["disconnect"]
    clean: bool = Field(True, description="False: cable cut, no 'disconnected' status message.")


class ZeroPrr(_Event):
    """Metadata keeps coming with prr 0 and no data: the incident's zero-PRR state."""

    do: Literal["zero_prr"]


class RestorePrr(_Event):
    """Back to the configured prr; data resumes."""

    do: Literal["restore_prr"]


class Reconfigure(_Event):
    """New interrogator settings from now on (the incident's configuration change)."""

    do: Literal["reconfigure"]
    prr: float | None = _fiber_field("prr", default=None)
    dx: float | None = _fiber_field("dx", default=None)
    channels: int | None = _fiber_field("number_of_channels", default=None)
    gauge_length: float | None = _fiber_field("gauge_length_meters", default=None)
    sw_version: str | None = _fiber_field("sw_version", default=None)
    description: str | None = _fiber_field("fiber_description", default=None)

    @model_validator(mode="after")
    def _changes_something(self) -> Reconfigure:
        if not self.changes():
            raise ValueError("reconfigure needs at least one of prr, dx, channels, gauge_length,"
                             " sw_version, description")
        return self

    def changes(self) -> dict[str, Any]:
        """The changes as ``FiberConfig`` keyword arguments."""
        names = {"prr": "prr", "dx": "dx", "channels": "number_of_channels",
                 "gauge_length": "gauge_length_meters", "sw_version": "sw_version",
                 "description": "fiber_description"}
        return {names[key]: value for key, value in self.model_dump().items()
                if key in names and value is not None}


class _BlockFault(_Event):
    blocks: int = Field(1, ge=1, le=100_000, description="How many data blocks it affects.")


class Gap(_BlockFault):
    """Skip the next data blocks: the Focus Server sees a sequence gap."""

    do: Literal["gap"]


class Duplicate(_BlockFault):
    """Publish the next data blocks twice."""

    do: Literal["duplicate"]


class Reorder(_BlockFault):
    """Hold a data block back and publish it after its successor."""

    do: Literal["reorder"]


class Corrupt(_Event):
    """Malformed messages: truncated data blocks, or garbage on another routing key."""

    do: Literal["corrupt"]
    message: Literal["data", "metadata", "heartbeat", "status"] = Field(
        "data", description="data: truncated data blocks; others: garbage on that routing key.")
    count: int = Field(1, ge=1, le=10_000)


class StaleMetadata(_Event):
    """Data continues but periodic metadata stops."""

    do: Literal["stale_metadata"]


class StaleMetadataEnd(_Event):
    """Periodic metadata resumes."""

    do: Literal["stale_metadata_end"]


class StartSource(_Event):
    """Add a signal source to the fiber from the next sample on."""

    do: Literal["start_source"]
    source: Label = Field(description="Name of the source, for stop_source.")
    signal: SignalSpec

    def describe(self) -> str:
        """The source's name and type; its parameters are in the scenario file."""
        return f"start_source({self.source}: {self.signal.type})"


class StopSource(_Event):
    """Remove a signal source started by start_source (or named in fiber.signals)."""

    do: Literal["stop_source"]
    source: Label


class FocusRestart(_Event):
    """Restart the mock Focus Server (its control interface)."""

    do: Literal["focus_restart"]


class StoreDown(_Event):
    """Make the mock's store unreachable (MongoDB down in the incident)."""

    do: Literal["store_down"]


class StoreUp(_Event):
    """Make the mock's store reachable again."""

    do: Literal["store_up"]


class Storm(_Event):
    """The incident's retry storm: clients re-sending both configure requests every 2-3 s."""

    do: Literal["storm"]
    clients: int = Field(4, ge=1, le=200)
    duration: Duration = Field(20.0, le=3600, description="Wall seconds the storm lasts.")
    interval_min: Duration = Field(2.0, gt=0, le=600, description="Shortest pause (wall s).")
    interval_max: Duration = Field(3.0, gt=0, le=600, description="Longest pause (wall s).")

    @model_validator(mode="after")
    def _ordered(self) -> Storm:
        if self.interval_max < self.interval_min:
            raise ValueError("interval_max must be >= interval_min")
        return self


class BackoffClient(_Event):
    """The recommended client: live_metadata first, exponential backoff, full jitter."""

    do: Literal["backoff_client"]
    duration: Duration = Field(20.0, le=3600, description="Wall seconds before giving up.")
    base: Duration = Field(0.5, gt=0, le=600, description="First backoff cap (wall s).")
    cap: Duration = Field(8.0, gt=0, le=3600, description="Largest backoff cap (wall s).")


class Exec(_Event):
    """Run a command (refused without --allow-exec), e.g. to act on a real deployment."""

    do: Literal["exec"]
    command: StrictStr | list[StrictStr] = Field(
        description="Program and arguments (a list), or a string split like a shell would.")
    shell: bool = Field(False, description="Run through /bin/sh (a string command only).")
    timeout: Duration = Field(60.0, gt=0, le=3600)
    check: bool = Field(True, description="A non-zero exit status fails the run.")

    @model_validator(mode="after")
    def _command_shape(self) -> Exec:
        if not self.command:
            raise ValueError("command must not be empty")
        if self.shell and not isinstance(self.command, str):
            raise ValueError("shell: true needs the command as one string")
        return self


Event = Annotated[
    (Connect | Disconnect | ZeroPrr | RestorePrr | Reconfigure | Gap | Duplicate | Reorder
     | Corrupt | StaleMetadata | StaleMetadataEnd | StartSource | StopSource | FocusRestart
     | StoreDown | StoreUp | Storm | BackoffClient | Exec),
    Field(discriminator="do"),
]

#: Events that need the mock's control interface.
CONTROL_EVENTS = ("focus_restart", "store_down", "store_up")


class ExpectStep(_Step):
    """A checkpoint: the expectation must be met within ``within`` wall seconds."""

    expect: Expectation
    name: str | None = Field(None, max_length=200, description="Shown in reports and JUnit.")
    within: Duration = Field(10.0, le=3600, description="Wall seconds allowed to be met.")
    holds_for: Duration | None = Field(
        None, le=3600, description="Then it must keep holding this many wall seconds.")
    until: Label | None = Field(
        None, description="Then it must keep holding until this later event fires.")

    @model_validator(mode="after")
    def _one_hold(self) -> ExpectStep:
        if self.holds_for is not None and self.until is not None:
            raise ValueError("give either holds_for or until, not both")
        return self


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "expect" if "expect" in value else "event"
    if isinstance(value, BaseModel):
        return "expect" if isinstance(value, ExpectStep) else "event"
    return None


Step = Annotated[
    Annotated[Event, Tag("event")] | Annotated[ExpectStep, Tag("expect")],
    Discriminator(_step_kind, custom_error_type="step",
                  custom_error_message="a step is a mapping with 'do: <event>' or 'expect:'"),
]


class Scenario(_Strict):
    """A whole scenario file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    description: str = Field("", max_length=10_000)
    fiber: FiberSection = FiberSection()
    run: RunSection = RunSection()
    focus_mock: FocusMockSection = FocusMockSection()
    timeline: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    def fiber_config(self) -> FiberConfig:
        """The interrogator's configuration at the start of the run."""
        return self.fiber.fiber_config()

