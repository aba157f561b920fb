"""Timeline resolution: check the references between steps and compute their nominal times.

Steps run in file order. Each has an anchor: an absolute simulated time (``at``), another step
plus an offset (``after``), or the previous step (neither). At run time ``after`` counts from
the simulated time at which the referenced step actually fired or was met, because a checkpoint
may hold the timeline back; the *nominal* times computed here assume no checkpoint waits, and
are what ``--dry-run`` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fibersim.scenario.models import (
    BackoffClient,
    Expectation,
    ExpectStep,
    Scenario,
    Step,
    Storm,
    WatchStep,
)

#: ``${name}`` in paths, queries, bodies, headers and matcher values.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Variables every run defines.
PREDEFINED_VARIABLES = ("focus_url", "seed", "scenario")


class TimelineError(ValueError):
    """A timeline inconsistency at ``path`` (a location in the scenario document)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Anchor:
    """When a step is due: ``offset_s`` simulated seconds after ``label`` fired (None: the run
    start for ``at`` steps; ``previous`` means the step just before)."""

    label: str | None
    offset_s: float
    previous: bool = False


@dataclass(frozen=True)
class ResolvedStep:
    """A step with its position, anchor and nominal simulated time."""

    index: int
    step: Step
    anchor: Anchor
    nominal_s: float

    @property
    def label(self) -> str:
        """The step's label, or a generated one (``step-3``) for reports."""
        return self.step.label or f"step-{self.index + 1}"

    @property
    def is_expectation(self) -> bool:
        """Whether the step is an expectation (a checkpoint) rather than an event."""
        return isinstance(self.step, ExpectStep)


def resolve_timeline(scenario: Scenario) -> list[ResolvedStep]:
    """Anchors and nominal times of every step; ``TimelineError`` for bad references."""
    resolved: list[ResolvedStep] = []
    labels: dict[str, ResolvedStep] = {}
    for index, step in enumerate(scenario.timeline):
        path: tuple[str | int, ...] = ("timeline", index)
        if step.label is not None and step.label in labels:
            raise TimelineError((*path, "label"), f"label {step.label!r} is used twice")
        anchor = _anchor(step, labels, resolved, path)
        base = 0.0
        if anchor.previous and resolved:
            base = resolved[-1].nominal_s
        elif anchor.label is not None:
            base = labels[anchor.label].nominal_s
        if step.at is not None and resolved and step.at < resolved[-1].nominal_s:
            raise TimelineError((*path, "at"), f"at {step.at:g}s is before the previous step"
                                f" ({resolved[-1].nominal_s:g}s); keep the timeline in order")
        entry = ResolvedStep(index, step, anchor, base + anchor.offset_s)
        resolved.append(entry)
        if step.label is not None:
            labels[step.label] = entry
    _check_forward_references(resolved, labels)
    _check_variables(scenario, resolved)
    return resolved


def _anchor(step: Step, labels: dict[str, ResolvedStep], resolved: list[ResolvedStep],
            path: tuple[str | int, ...]) -> Anchor:
    reference = step.after_reference()
    if reference is not None:
        label, offset = reference
        if label not in labels:
            raise TimelineError((*path, "after"),
                                f"{label!r} is not the label of an earlier step")
        return Anchor(label, offset)
    if step.at is not None:
        return Anchor(None, step.at)
    return Anchor(None, 0.0, previous=True)


def _check_forward_references(resolved: list[ResolvedStep],
                              labels: dict[str, ResolvedStep]) -> None:
    """``until`` must name a later event; expectation references must name the right kind."""
    for entry in resolved:
        step = entry.step
        if not isinstance(step, (ExpectStep, WatchStep)):
            continue
        path: tuple[str | int, ...] = ("timeline", entry.index)
        if step.until is not None:
            target = labels.get(step.until)
            if target is None or target.index <= entry.index or target.is_expectation:
                raise TimelineError((*path, "until"),
                                    f"{step.until!r} is not the label of a later event")
        if isinstance(step, ExpectStep):
            _check_expectation_references(step.expect, entry, labels, path)


def _check_expectation_references(expect: Expectation, entry: ResolvedStep,
                                  labels: dict[str, ResolvedStep],
                                  path: tuple[str | int, ...]) -> None:
    if expect.requests is not None and expect.requests.since is not None:
        since = labels.get(expect.requests.since)
        if since is None or since.index >= entry.index or since.is_expectation:
            raise TimelineError((*path, "expect", "requests", "since"),
                                f"{expect.requests.since!r} is not an earlier event")
    logs = expect.as_list("log")
    for position, check in enumerate(logs):
        if check.since is not None and check.since != "start":
            since = labels.get(check.since)
            if since is None or since.index >= entry.index:
                where = ("log", position) if isinstance(expect.log, list) else ("log",)
                raise TimelineError((*path, "expect", *where, "since"),
                                    f"{check.since!r} is not the label of an earlier step"
                                    " (or 'start')")
    versus = expect.backoff_vs_storm
    if versus is not None:
        for field, label, kind, name in (
                ("backoff", versus.backoff, BackoffClient, "backoff_client"),
                ("storm", versus.storm, Storm, "storm")):
            target = labels.get(label)
            if target is None or target.index >= entry.index or not isinstance(
                    target.step, kind):
                raise TimelineError((*path, "expect", "backoff_vs_storm", field),
                                    f"{label!r} is not the label of an earlier {name} event")


def _check_variables(scenario: Scenario, resolved: list[ResolvedStep]) -> None:
    """Every ``${name}`` is predefined, a matrix value, or captured by an earlier step."""
    known = set(PREDEFINED_VARIABLES)
    known.update(key.split(".")[-1] for key in scenario.matrix or {})
    for entry in resolved:
        step = entry.step
        if not isinstance(step, ExpectStep):
            continue
        document = step.expect.model_dump(by_alias=True, exclude_none=True)
        for where, name in _variables_in(document, ("timeline", entry.index, "expect")):
            if name not in known:
                raise TimelineError(where, f"${{{name}}} is not captured by an earlier step"
                                           f" (predefined: {', '.join(PREDEFINED_VARIABLES)})")
        for check in (*step.expect.as_list("http"), *step.expect.as_list("configure")):
            known.update(check.capture or {})


def _variables_in(value: Any, path: tuple[str | int, ...]
                  ) -> list[tuple[tuple[str | int, ...], str]]:
    """``(path, name)`` of every ``${name}`` in a dumped check (capture sources excluded)."""
    if isinstance(value, str):
        return [(path, match.group(1)) for match in VARIABLE.finditer(value)]
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "capture":
                found += _variables_in(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _variables_in(item, (*path, index))
    return found


def describe_anchor(entry: ResolvedStep) -> str:
    """How the step is anchored, for the dry-run listing."""
    anchor = entry.anchor
    if anchor.previous:
        return "right after the previous step"
    if anchor.label is None:
        return f"at {anchor.offset_s:g}s"
    return f"{anchor.offset_s:g}s after {anchor.label}"
