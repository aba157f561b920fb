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
import functools
import itertools
import math
import re
import shlex
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
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
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from fibersim.formats.model import parse_iso_ns
from fibersim.interrogator import ConfigChanges
from fibersim.models import FiberConfig, SampleDtype
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


def _require_any(model: BaseModel, names: Iterable[str], message: str) -> None:
    """The rule of every section made only of optional parts (an expectation, a watch, a
    requests check, a reconfiguration): at least one part must be given, else ``message``."""
    if all(getattr(model, name) is None for name in names):
        raise ValueError(message)


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
#: The values of one matrix combination, by the name ``${...}`` refers to them with.
MatrixValues = dict[str, JsonScalar]
#: Any JSON value (request bodies, captured values).
JsonValue = JsonScalar | list[Any] | dict[str, Any]

_PATH_PART = r"[A-Za-z0-9_$@-][A-Za-z0-9_$@:/-]*"
#: A dotted path into a JSON document; digits index lists (``jobs.0.prr``, ``missing.0``).
FIELD_PATH = re.compile(rf"^{_PATH_PART}(\.{_PATH_PART})*$")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a regular expression: {error}") from None
    return value


#: A Python regular expression, checked when the file is loaded (``re.search`` semantics).
Regex = Annotated[StrictStr, AfterValidator(_regex), Field(max_length=2000)]


def _state_name(value: Any) -> Any:
    if isinstance(value, str) and value not in STATE_NAMES:
        raise ValueError(f"unknown state {value!r} (states: {', '.join(STATE_NAMES)})")
    return value


#: The mock's states (``GET /_mock/status`` ``state``), checked when the file is loaded.
STATE_NAMES = ("ready", "waiting_for_fiber", "zero_prr", "store_down", "restarting")
StateName = Annotated[StrictStr, AfterValidator(_state_name),
                      WithJsonSchema({"enum": list(STATE_NAMES)})]


class Comparison(_Strict):
    """Compare a seen value: every given test must hold (``{gt: 0}``, ``{ge: 1, le: 3}``,
    ``{len: 2}``, ``{regex: '^job-'}``, ``{absent: true}``)."""

    eq: JsonScalar = Field(None, description="Equal to.")
    ne: JsonScalar = Field(None, description="Not equal to.")
    gt: StrictInt | StrictFloat | None = None
    ge: StrictInt | StrictFloat | None = None
    lt: StrictInt | StrictFloat | None = None
    le: StrictInt | StrictFloat | None = None
    contains: JsonScalar = Field(
        None, description="A string containing this text, or a list with this element.")
    regex: Regex | None = Field(None, description="A string this regular expression finds.")
    len: StrictInt | Comparison | None = Field(
        None, description="The length of a string, list or object: a number or a comparison.")
    absent: Literal[True] | None = Field(None, description="The field does not exist.")
    present: Literal[True] | None = Field(None, description="The field exists (any value).")

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("a comparison needs at least one of eq, ne, gt, ge, lt, le,"
                             " contains, regex, len, absent, present")
        return data

    @model_validator(mode="after")
    def _absent_alone(self) -> Comparison:
        if self.absent and len(self.model_fields_set) > 1:
            raise ValueError("absent: true cannot be combined with other tests")
        return self


#: A bare value (equality; ``null`` for JSON null) or a ``Comparison``.
Matcher = JsonScalar | Comparison


def _check_field_path(allowed: tuple[str, ...] | None, key: str) -> str:
    """A key of a matcher mapping: path syntax, and its first part when the fields are known
    (used as a key type, so an error is reported at the offending key's line)."""
    if not FIELD_PATH.fullmatch(key):
        raise ValueError(f"{key!r} is not a field path like 'prr' or 'jobs.0.prr'")
    first = key.split(".")[0]
    if allowed is not None and first not in allowed:
        raise ValueError(f"unknown field {first!r} (fields: {', '.join(allowed)})")
    return key


#: Keys of ``GET /live_metadata`` (the seven core keys and the optional extras).
LIVE_METADATA_FIELDS = ("dx", "prr", "fiber_start_meters", "fiber_length_meters", "sw_version",
                        "number_of_channels", "fiber_description", "num_samples_per_trace",
                        "dtype", "gauge_length_meters")
CHANNELS_FIELDS = ("lowest_channel", "highest_channel")
MOCK_STATUS_FIELDS = ("state", "state_since", "transitions", "behaviour", "reconfigure_policy",
                      "metadata", "counters", "restarts", "store", "requests",
                      "probe_requests", "jobs", "settings")
_MATCHERS_SIZE = Field(min_length=1, max_length=100)
FieldPath = Annotated[str, AfterValidator(functools.partial(_check_field_path, None))]
Matchers = Annotated[dict[FieldPath, Matcher], _MATCHERS_SIZE]
LiveMetadataPath = Annotated[str, AfterValidator(functools.partial(
    _check_field_path, LIVE_METADATA_FIELDS))]
ChannelsPath = Annotated[str, AfterValidator(functools.partial(_check_field_path,
                                                               CHANNELS_FIELDS))]
MockStatusPath = Annotated[str, AfterValidator(functools.partial(_check_field_path,
                                                                 MOCK_STATUS_FIELDS))]


class LogMatch(_Strict):
    """A log line of the server, matched against the whole line as written (timestamp,
    level, logger, message): ``contains`` a text, or a ``regex`` found in it."""

    contains: StrictStr | None = Field(None, min_length=1, max_length=2000)
    regex: Regex | None = None

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        return {"contains": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one(self) -> LogMatch:
        if (self.contains is None) == (self.regex is None):
            raise ValueError("give a text (contains) or a regex, not both")
        return self

    def describe(self) -> str:
        """The pattern as text for reports."""
        return f"regex {self.regex!r}" if self.regex is not None else repr(self.contains)


class TextMatch(LogMatch):
    """The text of an HTTP answer: ``contains`` a text, or a ``regex`` found in it."""


#: What a capture reads: ``status``, ``text``, ``body`` or ``body.<path>``, ``headers.<name>``.
CAPTURE_SOURCE = re.compile(r"^(status|text|body|body\.[^\s]+|headers\.[A-Za-z0-9-]+)$")
VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


def _capture_source(source: str) -> str:
    if not CAPTURE_SOURCE.fullmatch(source) or (
            source.startswith("body.") and not FIELD_PATH.fullmatch(source[5:])):
        raise ValueError(f"{source!r} is not status, text, body, body.<path> or headers.<name>")
    return source


Captures = Annotated[dict[VariableName, Annotated[StrictStr, AfterValidator(_capture_source)]],
                     Field(min_length=1, max_length=50)]


# -- expectations --------------------------------------------------------------------------------
ConfigureRequestName = Literal["height_200", "height_1000"]


class AnswerCheck(_Strict):
    """What an HTTP answer must be, shared by ``configure`` and ``http``."""

    status: int | list[int] | None = Field(
        None, description="Expected HTTP status, or a list of accepted ones.")
    body: Matchers | None = Field(None, description="Matchers on paths of the JSON answer.")
    text: TextMatch | None = Field(None, description="The answer's text contains / regex.")
    capture: Captures | None = Field(
        None, description="Variables from the answer once met: {job: body.job_id}; use"
        " them later as ${job}.")

    @model_validator(mode="after")
    def _statuses(self) -> AnswerCheck:
        statuses = self.status if isinstance(self.status, list) else [self.status]
        for status in statuses:
            if status is not None and not 100 <= status <= 599:
                raise ValueError(f"status {status} is not an HTTP status (100..599)")
        return self

    def statuses(self) -> list[int] | None:
        """Accepted statuses, or None for any."""
        if self.status is None:
            return None
        return self.status if isinstance(self.status, list) else [self.status]


class ConfigureCheck(AnswerCheck):
    """POST /configure with a request, and what the answer must be."""

    request: ConfigureRequestName | dict[str, Any] = Field(
        "height_200",
        description="height_200 / height_1000: the incident's two requests; or a full body.")
    status: int | list[int] | None = Field(description="Expected HTTP status (required).")
    error: str | None = Field(None, description="Text the answer's error/message must contain.")
    log: LogMatch | None = Field(
        None, description="A server log line the request must cause: text or {regex: ...}"
        " against the whole line. Needs the built-in mock or --focus-log-file/--focus-log-cmd;"
        " otherwise skipped.")


#: An HTTP header name (an RFC 9110 token) and a value without line breaks.
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")]
HeaderValue = Annotated[StrictStr, Field(pattern=r"^[^\r\n]*$", max_length=4000)]
HttpMethod = Literal["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


class HttpCheck(AnswerCheck):
    """Any request to the Focus Server and what its answer must be (any status)."""

    method: HttpMethod = "GET"
    path: str = Field(min_length=1, max_length=2000,
                      description="Path under the Focus Server URL (live_metadata,"
                      " /metadata/${job}); with prefix: false, under the server's root.")
    prefix: bool = Field(True, description="false: the path is from the server's root, not"
                         " under the --focus-url base path.")
    query: dict[str, JsonScalar] | None = Field(None, max_length=50)
    json_body: JsonValue | None = Field(None, alias="json", description="A JSON request body.")
    headers: dict[HeaderName, HeaderValue] | None = Field(None, max_length=50)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LogCheck(LogMatch):
    """Lines of the server's log: how many matched since a step (default: at least one)."""

    since: Label | None = Field(
        None, description="Count from when this earlier step fired or was met (default: when"
        " the expectation became due; 'start' for the run start).")
    count: Matcher | None = Field(None, description="How many lines (default: at least 1).")


class RequestsCheck(_Strict):
    """Requests the mock counted on one route, e.g. ``POST /configure``, answered ``status``.
    fibersim's own probes are not counted (they are reported as ``probe_requests``)."""

    route: str = Field(pattern=r"^(GET|POST|PUT|DELETE|PATCH) /\S*$", max_length=200)
    status: int | None = Field(None, ge=100, le=599,
                               description="Only this status (all if absent).")
    since: Label | None = Field(None,
                                description="Count from this event on (default: run start).")
    count: Matcher | None = None
    rate: Matcher | None = Field(None, description="Requests per wall second over the window.")

    @model_validator(mode="after")
    def _something(self) -> RequestsCheck:
        _require_any(self, ("count", "rate"), "give count, rate or both")
        return self


class BackoffVersusStorm(_Strict):
    """The backoff client sent at least ``fewer_by`` times fewer requests than the storm."""

    backoff: Label
    storm: Label
    fewer_by: float = Field(gt=0, le=1e6)


#: A check given as a list (several requests in one expectation).
_LIST = Field(min_length=1, max_length=50)


class Expectation(_Strict):
    """What the Focus Server must show; every given check must hold at the same time."""

    state: StateName | Annotated[list[StateName], Field(min_length=1)] | None = Field(
        None, description="Mock state (ready, waiting_for_fiber, zero_prr, store_down,"
        " restarting), or a list of accepted states.")
    live_metadata: Annotated[dict[LiveMetadataPath, Matcher], _MATCHERS_SIZE] | None = Field(
        None, description="Fields of GET /live_metadata.")
    live_metadata_exact: Annotated[dict[LiveMetadataPath, JsonScalar],
                                   Field(max_length=100)] | None = Field(
        None, description="GET /live_metadata must be exactly this object: the"
        " same keys, no others, equal values (the incident's payload).")
    configure: ConfigureCheck | Annotated[list[ConfigureCheck], _LIST] | None = None
    http: HttpCheck | Annotated[list[HttpCheck], _LIST] | None = Field(
        None, description="Any request and its answer; a list for several.")
    channels: Annotated[dict[ChannelsPath, Matcher], _MATCHERS_SIZE] | None = Field(
        None, description="Fields of GET /channels.")
    mock: Annotated[dict[MockStatusPath, Matcher], _MATCHERS_SIZE] | None = Field(
        None, description="Dotted paths into the mock's status (restarts, store, counters.gaps).")
    requests: RequestsCheck | None = None
    backoff_vs_storm: BackoffVersusStorm | None = None
    log: LogCheck | Annotated[list[LogCheck], _LIST] | None = Field(
        None, description="Lines of the server's log (any line, not only configure's).")

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        _require_any(self, type(self).model_fields, "an expectation needs at least one check")
        return self

    def as_list(self, name: str) -> list[Any]:
        """A check that may be given once or as a list, as a list."""
        value = getattr(self, name)
        return [] if value is None else value if isinstance(value, list) else [value]


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

    def needs_control(self) -> bool:
        """Whether the step needs the mock's status/control interface (checked before a run
        against a Focus Server without one)."""
        return False


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


class InterrogatorParameters(_Strict):
    """Interrogator settings ``do: set`` and ``do: reconfigure`` may change (published at once)."""

    prr: float | None = _fiber_field("prr", default=None)
    dx: float | None = _fiber_field("dx", default=None)
    channels: int | None = _fiber_field("number_of_channels", default=None)
    gauge_length: float | None = _fiber_field("gauge_length_meters", default=None)
    sw_version: str | None = _fiber_field("sw_version", default=None)
    description: str | None = _fiber_field("fiber_description", default=None)

    def changes(self) -> ConfigChanges:
        """The changes given, as typed ``FiberConfig`` keyword arguments."""
        changes = ConfigChanges()
        if self.prr is not None:
            changes["prr"] = self.prr
        if self.dx is not None:
            changes["dx"] = self.dx
        if self.channels is not None:
            changes["number_of_channels"] = self.channels
        if self.gauge_length is not None:
            changes["gauge_length_meters"] = self.gauge_length
        if self.sw_version is not None:
            changes["sw_version"] = self.sw_version
        if self.description is not None:
            changes["fiber_description"] = self.description
        return changes


class Reconfigure(_Event, InterrogatorParameters):
    """New interrogator settings from now on (the incident's configuration change)."""

    do: Literal["reconfigure"]

    @model_validator(mode="after")
    def _changes_something(self) -> Reconfigure:
        _require_any(self, InterrogatorParameters.model_fields,
                     "reconfigure needs at least one of "
                     + ", ".join(InterrogatorParameters.model_fields))
        return self


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


class _MockControl(_Event):
    """An event carried out by one ``POST /_mock/<action>`` of the mock's control interface."""

    action: ClassVar[str]

    def needs_control(self) -> bool:
        return True


class FocusRestart(_MockControl):
    """Restart the mock Focus Server (its control interface)."""

    do: Literal["focus_restart"]
    action: ClassVar[str] = "restart"


class StoreDown(_MockControl):
    """Make the mock's store unreachable (MongoDB down in the incident)."""

    do: Literal["store_down"]
    action: ClassVar[str] = "store/down"


class StoreUp(_MockControl):
    """Make the mock's store reachable again."""

    do: Literal["store_up"]
    action: ClassVar[str] = "store/up"


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
        if isinstance(self.command, str) and not self.shell:
            try:
                if not shlex.split(self.command):
                    raise ValueError("command must not be empty")
            except ValueError as error:
                raise ValueError(f"command: {error}") from None
        return self


class MockParameters(_Strict):
    """Settings of a running mock that ``do: set`` may change (the others need a restart)."""

    behaviour: Literal["incident", "fixed"] | None = Field(
        None, description="incident (bare 503s) or fixed (structured errors).")
    metadata_timeout: Duration | None = Field(
        None, gt=0, le=3600, description="Wall s without metadata before 'waiting for fiber'.")
    reconfigure_policy: Literal["legacy", "adaptive"] | None = None
    restart_backoff_initial: Duration | None = Field(None, gt=0, le=600)
    restart_backoff_max: Duration | None = Field(None, gt=0, le=3600)
    max_message_bytes: int | None = Field(None, ge=1, le=1024**3)

    def as_settings(self) -> dict[str, Any]:
        """The changes under the mock's ``FocusSettings`` names (``POST /_mock/set``)."""
        names = {"metadata_timeout": "metadata_timeout_s",
                 "restart_backoff_initial": "restart_backoff_initial_s",
                 "restart_backoff_max": "restart_backoff_max_s"}
        return {names.get(key, key): value
                for key, value in self.model_dump(exclude_none=True).items()}


class Set(_Event):
    """The backdoor: change mock or interrogator parameters at run time, without a restart."""

    do: Literal["set"]
    mock: MockParameters | None = Field(None, description="Via the mock's POST /_mock/set.")
    interrogator: InterrogatorParameters | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Set:
        if not (self.mock and self.mock.as_settings()) and not self.interrogator_changes():
            raise ValueError("set needs at least one parameter under mock: or interrogator:")
        return self

    def needs_control(self) -> bool:
        return self.mock is not None

    def interrogator_changes(self) -> ConfigChanges:
        """The interrogator changes as typed ``FiberConfig`` keyword arguments."""
        return ConfigChanges() if self.interrogator is None else self.interrogator.changes()


from fibersim.scenario.network import Network  # noqa: E402  (it extends _Event, above)

Event = Annotated[
    (Connect | Disconnect | ZeroPrr | RestorePrr | Reconfigure | Gap | Duplicate | Reorder
     | Corrupt | StaleMetadata | StaleMetadataEnd | StartSource | StopSource | FocusRestart
     | StoreDown | StoreUp | Storm | BackoffClient | Exec | Set | Network),
    Field(discriminator="do"),
]


class ExpectStep(_Step):
    """A checkpoint: the expectation must be met within ``within`` wall seconds."""

    expect: Expectation
    name: str | None = Field(None, max_length=200, description="Shown in reports and JUnit.")
    within: Duration = Field(10.0, le=3600, description="Wall seconds allowed to be met.")
    holds_for: Duration | None = Field(
        None, le=3600, description="Then it must keep holding this many wall seconds.")
    until: Label | None = Field(
        None, description="Then it must keep holding until this later event fires.")
    xfail: StrictStr | None = Field(
        None, min_length=1, max_length=500, description="A known bug: expected to fail"
        " (reported XFAIL); if it holds, XPASS.")

    @model_validator(mode="after")
    def _one_hold(self) -> ExpectStep:
        if self.holds_for is not None and self.until is not None:
            raise ValueError("give either holds_for or until, not both")
        return self

    def needs_control(self) -> bool:
        expect = self.expect
        return expect.state is not None or expect.mock is not None or expect.requests is not None


class TransitionWatch(_Strict):
    """State changes counted over the watch window, optionally only ``from``/``to`` states."""

    from_state: StateName | None = Field(None, alias="from")
    to: StateName | None = None
    reason: StrictStr | None = Field(None, max_length=100,
                                     description="Only transitions with this reason.")
    count: Matcher = Field(description="How many (e.g. {ge: 2}).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Watch(_Strict):
    """What the mock's state does over a window, observed continuously in the background."""

    state: StateName | None = Field(None, description="The state watched.")
    seen: Literal["sometime", "always", "never"] = Field(
        "sometime", description="sometime: it was in the state at some point; always: it"
        " never left it; never: it never entered it.")
    transitions: TransitionWatch | None = None

    @model_validator(mode="after")
    def _something(self) -> Watch:
        _require_any(self, ("state", "transitions"), "a watch needs state, transitions or both")
        return self


class WatchStep(_Step):
    """Starts a background watch when reached; judged when ``until`` fires (or at the end)."""

    watch: Watch
    name: str | None = Field(None, max_length=200, description="Shown in reports and JUnit.")
    until: Label | None = Field(
        None, description="The later event that ends the window (default: the end of the run).")
    xfail: StrictStr | None = Field(None, min_length=1, max_length=500)

    def needs_control(self) -> bool:
        return True


_STEP_TAGS = {"expect": "expect-step", "watch": "watch-step"}


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((tag for key, tag in _STEP_TAGS.items() if key in value), "event-step")
    if isinstance(value, BaseModel):
        return ("expect-step" if isinstance(value, ExpectStep)
                else "watch-step" if isinstance(value, WatchStep) else "event-step")
    return None


Step = Annotated[
    Annotated[Event, Tag("event-step")] | Annotated[ExpectStep, Tag("expect-step")]
    | Annotated[WatchStep, Tag("watch-step")],
    Discriminator(_step_kind, custom_error_type="step",
                  custom_error_message="a step is a mapping with 'do: <event>', 'expect:' or"
                                       " 'watch:'"),
]

#: Sections a matrix may vary (dotted paths below them, e.g. ``focus_mock.behaviour``).
MATRIX_SECTIONS = ("fiber", "run", "focus_mock")
Tag_ = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


def _matrix_key(key: str) -> str:
    parts = key.split(".")
    if len(parts) != 2 or parts[0] not in MATRIX_SECTIONS or not FIELD_PATH.fullmatch(key):
        raise ValueError(f"matrix key {key!r} is not <section>.<field> with section one of"
                         f" {', '.join(MATRIX_SECTIONS)}")
    return key


MatrixKey = Annotated[str, AfterValidator(_matrix_key)]


def _untimed(event: Any) -> Any:
    if event.at is not None or event.after is not None:
        raise ValueError("events in finally: run one after the other; no at/after")
    return event


#: An event of the ``finally:`` block: run in order once the timeline ends, so untimed.
CleanupEvent = Annotated[Event, AfterValidator(_untimed)]


class Scenario(_Strict):
    """A whole scenario file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    description: str = Field("", max_length=10_000)
    tags: Annotated[list[Tag_], Field(max_length=50)] = Field(
        default_factory=list, description="Select files with run --tags / --skip-tags.")
    fiber: FiberSection = FiberSection()
    run: RunSection = RunSection()
    focus_mock: FocusMockSection = FocusMockSection()
    matrix: Annotated[dict[MatrixKey, Annotated[list[JsonScalar],
                                                Field(min_length=1, max_length=20)]],
                      Field(min_length=1, max_length=5)] | None = (
        Field(None, description="Run the file once per combination of these values, e.g."
              " {focus_mock.behaviour: [incident, fixed]}; ${behaviour} names the value."))
    timeline: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    cleanup: Annotated[list[CleanupEvent], Field(max_length=100)] = Field(
        default_factory=list, alias="finally",
        description="Events run after the timeline whatever happened: a failure, a timeout"
        " or Ctrl-C (e.g. store_up, connect).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def fiber_config(self) -> FiberConfig:
        """The interrogator's configuration at the start of the run."""
        return self.fiber.fiber_config()

    def variants(self) -> list[tuple[MatrixValues, Scenario]]:
        """One scenario per matrix combination with the values applied (itself, if none);
        ``ValueError`` naming the key if a combination is invalid. Expand only the file's
        own scenario: a variant still carries the matrix, for its variables."""
        if not self.matrix:
            return [({}, self)]
        keys = list(self.matrix)
        variants: list[tuple[MatrixValues, Scenario]] = []
        for combination in itertools.product(*(self.matrix[key] for key in keys)):
            # the variant keeps ``matrix`` so that ${<name>} stays defined in its timeline
            document = self.model_dump(by_alias=True, exclude_unset=True)
            for key, value in zip(keys, combination, strict=True):
                section, field = key.split(".")
                document.setdefault(section, {})[field] = value
            try:
                variant = Scenario.model_validate(document)
            except ValidationError as error:
                first = error.errors()[0]
                raise ValueError(f"{dict(zip(keys, combination, strict=True))}: "
                                 f"{first['msg']}") from None
            variants.append((dict(zip((key.split(".")[1] for key in keys), combination,
                                      strict=True)), variant))
        return variants
