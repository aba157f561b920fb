"""What a scenario run produced: one record per event and per expectation, filled in live.

The records are plain data so every report (console lines, summary table, JUnit, JSON) renders
the same facts, and so a run interrupted half-way can still be reported as far as it got.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventOutcome = Literal["fired", "failed", "refused"]
ExpectationVerdict = Literal["pending", "met", "failed"]


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

    kind: Literal["expectation"] = "expectation"

    #: Probes kept per expectation in reports; a long hold polls hundreds of times.
    MAX_PROBES = 100

    def add_probe(self, probe: Probe) -> None:
        """Keep the first probes and, once full, the latest (replacing the last kept)."""
        if len(self.probes) >= self.MAX_PROBES:
            self.probes[-1] = probe
        else:
            self.probes.append(probe)


StepRecord = EventRecord | ExpectationRecord


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
    focus_status: dict[str, Any] | None = None

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
    def passed(self) -> bool:
        """Every expectation met, no event failed, nothing cut short."""
        return (not self.error and not self.interrupted and not self.failed_events
                and all(record.verdict == "met" for record in self.expectations))

    def as_json(self) -> dict[str, Any]:
        """The run for the JSON report, with its verdict; speed ``max`` spelled out."""
        data = asdict(self)
        data["passed"] = self.passed
        data["speed"] = "max" if math.isinf(self.speed) else self.speed
        return data
