"""What a scenario run produced: one record per event and per expectation, filled in live.

The records are plain data so every report (console lines, summary table, JUnit, JSON) renders
the same facts, and so a run interrupted half-way can still be reported as far as it got.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from fibersim.transport.base import PublishCounts, PublishStats

if TYPE_CHECKING:
    from fibersim.focus.schemas import MockStatus
    from fibersim.probes.http import JsonDocument
    from fibersim.probes.variables import Variables
    from fibersim.scenario.models import MatrixValues

EventOutcome = Literal["fired", "failed", "refused"]
#: ``skipped``: held as far as it could be checked, but part of it could not be checked here
#: (see ``unchecked``); ``xfail``/``xpass``: an expectation marked ``xfail`` failed / held.
ExpectationVerdict = Literal["pending", "met", "failed", "skipped", "xfail", "xpass"]


@dataclass
class Probe:
    """One evaluation of an expectation: when (wall s since run start), verdict, what was seen."""

    wall_s: float
    ok: bool
    seen: str


@dataclass
class EventRecord:
    """An event as it happened."""

    index: int
    label: str
    what: str
    nominal_sim_s: float
    sim_s: float = 0.0
    wall_s: float = 0.0
    outcome: EventOutcome = "fired"
    detail: str = ""
    #: wall s when the event took effect on the wire (e.g. the new metadata was published)
    effect_wall_s: float | None = None
    #: wall s between the event's scheduled time and ``effect_wall_s`` (late = positive)
    delay_s: float | None = None
    #: True for the ``finally:`` cleanup events
    cleanup: bool = False

    kind: Literal["event"] = "event"


@dataclass
class ExpectationRecord:
    """An expectation: when it became due, whether and how fast it was met, whether it held."""

    index: int
    label: str
    name: str
    what: str
    nominal_sim_s: float
    within_s: float
    hold: str = ""
    due_sim_s: float = 0.0
    due_wall_s: float = 0.0
    verdict: ExpectationVerdict = "pending"
    reaction_s: float | None = None
    met_sim_s: float | None = None
    seen: str = ""
    failure: str = ""
    probes: list[Probe] = field(default_factory=list)
    #: wall s since run start when the verdict was reached
    resolved_wall_s: float | None = None
    #: checks that could not be made in this run, and why
    unchecked: list[str] = field(default_factory=list)
    #: the ``xfail`` reason: a known bug this expectation documents
    xfail: str = ""
    #: variables captured when it was met
    captured: Variables = field(default_factory=dict)
    #: True for a ``watch:`` step (judged over a window, not polled until met)
    watch: bool = False

    kind: Literal["expectation"] = "expectation"

    #: Probes kept per expectation in reports; a long hold polls hundreds of times.
    MAX_PROBES = 100

    @property
    def want(self) -> str:
        """What was wanted (the expectation's checks as one line)."""
        return self.what

    def add_probe(self, probe: Probe) -> None:
        """Keep the first probes and, once full, the latest (replacing the last kept)."""
        if len(self.probes) >= self.MAX_PROBES:
            self.probes[-1] = probe
        else:
            self.probes.append(probe)


StepRecord = EventRecord | ExpectationRecord


class Delivery(PublishCounts):
    """The publisher's accounting at the end of a run: every data block confirmed, or listed
    lost or unroutable by fiber and sequence number (``next_sequence`` says how many there
    were). The JSON report shows it as ``PublishStats.as_dict()`` does, ``next_sequence`` first.
    """

    next_sequence: int


def delivery_of(next_sequence: int, stats: PublishStats) -> Delivery:
    """The accounting of a transport's ``stats`` once it is closed."""
    return Delivery(next_sequence=next_sequence, **stats.as_dict())


@dataclass
class RunResult:
    """A whole run of one scenario."""

    scenario: str
    file: str
    sha256: str
    seed: int
    speed: float
    mode: str
    #: where the fiber and the probes went, redacted (``amqp://user:***@host/``)
    broker: str = ""
    focus: str = ""
    started_at: float = field(default_factory=time.time)
    #: epoch seconds at wall_s 0 of the records (the timeline's start): lines the mock's
    #: state transitions (epoch stamps) up with events and expectations in reports
    timeline_started_at: float = 0.0
    wall_s: float = 0.0
    sim_s: float = 0.0
    records: list[StepRecord] = field(default_factory=list)
    error: str = ""
    interrupted: bool = False
    clients: dict[str, dict[str, object]] = field(default_factory=dict)
    #: the mock's status at the end of the run (None: no control interface, or not reached)
    focus_status: MockStatus | None = None
    #: ``--strict``: skipped checks and XPASS fail the run
    strict: bool = False
    #: the matrix values of this run (``{"behaviour": "fixed"}``); part of its name
    matrix: MatrixValues = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    #: the broker or Focus Server could not be reached (exit 3); ``error`` says which
    unreachable: bool = False
    #: where log checks read the server's lines ("" when there is no source)
    log_source: str = ""
    warnings: list[str] = field(default_factory=list)
    #: the publisher's accounting (None: the run did not get as far as publishing)
    delivery: Delivery | None = None

    @property
    def expectations(self) -> list[ExpectationRecord]:
        """The expectation records, in timeline order."""
        return [record for record in self.records if isinstance(record, ExpectationRecord)]

    @property
    def failed_events(self) -> list[EventRecord]:
        """Events that could not be carried out (they fail the run)."""
        return [record for record in self.records
                if isinstance(record, EventRecord) and record.outcome != "fired"]

    @property
    def name(self) -> str:
        """The scenario's name, with its matrix values: ``incident_full[behaviour=fixed]``."""
        if not self.matrix:
            return self.scenario
        values = ",".join(f"{key}={value}" for key, value in self.matrix.items())
        return f"{self.scenario}[{values}]"

    def count(self, verdict: ExpectationVerdict) -> int:
        """How many expectations have this verdict."""
        return sum(1 for record in self.expectations if record.verdict == verdict)

    @property
    def passed(self) -> bool:
        """No expectation failed or pending, no event failed, nothing cut short; with
        ``strict``, nothing skipped and no unexpected pass either."""
        accepted = {"met", "xfail"} if self.strict else {"met", "xfail", "skipped", "xpass"}
        return (not self.error and not self.interrupted and not self.failed_events
                and all(record.verdict in accepted for record in self.expectations))

    def as_json(self) -> dict[str, JsonDocument]:
        """The run for the JSON report, with its verdict; speed ``max`` spelled out, the mock's
        status as it serves it (``from``, not ``from_``) and a missing accounting as ``{}``."""
        data = asdict(self)  # untyped, but JSON values only once the two fields below are set
        data["focus_status"] = (None if self.focus_status is None else
                                self.focus_status.model_dump(mode="json", by_alias=True))
        if self.delivery is None:
            data["delivery"] = {}
        data["name"] = self.name
        data["passed"] = self.passed
        data["speed"] = "max" if math.isinf(self.speed) else self.speed
        data["counts"] = {verdict: self.count(verdict) for verdict in
                          ("met", "failed", "skipped", "xfail", "xpass", "pending")}
        for record, dumped in zip(self.records, data["records"], strict=True):
            if isinstance(record, ExpectationRecord):
                dumped["want"] = record.want
        return data
