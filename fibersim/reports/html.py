"""The HTML report: one self-contained page per run, the incident as a timeline.

It renders the JSON report document (``files.report_document``), never a live run, so
``fibersim run --report x.html`` and ``fibersim report x.json -o x.html`` give the same page,
and a page can put two earlier runs side by side. The charts are matplotlib SVG inlined in
the page and the style sheet is inline too: the file opens offline, as a CI artifact.

Fields are read with defaults, so reports from older or newer fibersim versions render (a
verdict this module does not know is drawn as "other"; ``want`` falls back to ``what``; a
field missing or of another type reads as empty or 0). The input is typed as what it is,
parsed JSON (``JsonObject``), and narrowed field by field. The
mock's last status is parsed as the mock's own ``MockStatus``; a status that does not fit it
(another server, another version) leaves the mock's sections out.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypedDict

import jinja2
from pydantic import ValidationError

from fibersim.focus.schemas import MockStatus
from fibersim.probes.http import JsonDocument

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Colours of the Focus Server's states in the band (unknown states: grey).
STATE_COLOURS = {"ready": "#2e9d52", "waiting_for_fiber": "#f0a030", "down": "#c8323c",
                 "restarting": "#8a5cc8"}
#: Marker and colour of each expectation verdict (issue-12 verdicts included).
VERDICT_STYLES = {"met": ("o", "#2e9d52"), "failed": ("X", "#c8323c"),
                  "skipped": ("s", "#8c8c8c"), "pending": ("s", "#8c8c8c"),
                  "xfail": ("D", "#4a78c8"), "xpass": ("P", "#e07020")}
_OTHER_STYLE = ("v", "#555555")

#: A JSON object of the report as parsed from its file: any field may be missing or odd.
JsonObject: TypeAlias = Mapping[str, JsonDocument]
#: An expectation's record with the fields the page shows filled in (``_expectation_view``).
ExpectationView: TypeAlias = dict[str, JsonDocument]


class ScenarioView(TypedDict):
    """What the template shows of one run of a scenario."""

    name: JsonDocument
    file: JsonDocument
    passed: bool
    interrupted: bool
    error: JsonDocument
    facts: list[tuple[str, JsonDocument]]
    chart: str
    expectations: list[ExpectationView]
    failures: list[ExpectationView]
    events: list[JsonObject]
    clients: list[dict[str, JsonDocument]]
    counters: list[tuple[str, object]]
    requests: list[tuple[str, str, int, str]]
    restarts: int | None


class ComparisonRow(TypedDict):
    """One expectation (by scenario and name) in every run; None where a run lacks it."""

    scenario: JsonDocument
    name: JsonDocument
    runs: list[ExpectationView | None]


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("fibersim.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_html_report(documents: Sequence[JsonObject], path: str | Path,
                      titles: Sequence[str] | None = None) -> None:
    """Write the page for one JSON report document, or several side by side (before/after).

    ``titles`` name the columns (default: "run 1", "run 2", ...).
    """
    Path(path).write_text(render_html(documents, titles), encoding="utf-8")


def render_html(documents: Sequence[JsonObject], titles: Sequence[str] | None = None) -> str:
    """The page as text (see ``write_html_report``)."""
    names = list(titles) if titles else [f"run {index + 1}" for index in range(len(documents))]
    runs = [[_scenario_view(scenario) for scenario in _objects(document.get("scenarios"))]
            for document in documents]
    columns = [{"title": title, "passed": bool(document.get("passed")), "scenarios": scenarios}
               for title, document, scenarios in zip(names, documents, runs, strict=True)]
    comparison = _comparison(runs) if len(runs) > 1 else []
    return _ENVIRONMENT.get_template("report.html.j2").render(
        columns=columns, comparison=comparison, styles=VERDICT_STYLES)


# -- one scenario ---------------------------------------------------------------------------
def _scenario_view(result: JsonObject) -> ScenarioView:
    records = _objects(result.get("records"))
    expectations = [_expectation_view(r) for r in records if r.get("kind") == "expectation"]
    events = [r for r in records if r.get("kind") == "event"]
    status = _mock_status(result)
    return {
        "name": result.get("scenario", "?"),
        "file": result.get("file", ""),
        "passed": bool(result.get("passed")),
        "interrupted": bool(result.get("interrupted")),
        "error": result.get("error", ""),
        "facts": [("seed", result.get("seed")), ("speed", result.get("speed")),
                  ("mode", result.get("mode")), ("broker", result.get("broker")),
                  ("Focus Server", result.get("focus")),
                  ("wall", _seconds(result.get("wall_s"))),
                  ("simulated", _seconds(result.get("sim_s")))],
        "chart": timeline_svg(result),
        "expectations": expectations,
        "failures": [e for e in expectations if e["verdict"] not in ("met", "xfail", "skipped")],
        "events": events,
        "clients": [{"label": label, **_object(tally)}
                    for label, tally in _object(result.get("clients")).items()],
        "counters": _flatten(status.counters.model_dump()) if status else [],
        # clients' requests, then fibersim's own probes (counted apart by the mock)
        "requests": [(route, status_code, count, source)
                     for requests, source in ((status.requests, "clients"),
                                              (status.probe_requests, "probes"))
                     for route, counts in requests.items()
                     for status_code, count in sorted(counts.items())] if status else [],
        "restarts": status.restarts if status else None,
    }


def _mock_status(result: JsonObject) -> MockStatus | None:
    """The mock's status at the end of the run; None without one or in another shape."""
    try:
        return MockStatus.model_validate(result.get("focus_status"))
    except ValidationError:
        return None


def _expectation_view(record: JsonObject) -> ExpectationView:
    verdict = str(record.get("verdict", "pending"))
    return {**record, "verdict": verdict, "name": record.get("name") or record.get("label"),
            "want": record.get("want") or record.get("what", ""),
            "seen": record.get("seen", ""), "failure": record.get("failure", ""),
            "reaction": _seconds(record.get("reaction_s"))}


def _comparison(runs: list[list[ScenarioView]]) -> list[ComparisonRow]:
    """Each expectation (by scenario and name) with its verdict and reaction in every run."""
    rows: dict[tuple[JsonDocument, JsonDocument], ComparisonRow] = {}
    for index, scenarios in enumerate(runs):
        for scenario in scenarios:
            for expectation in scenario["expectations"]:
                key = (scenario["name"], expectation["name"])
                row = rows.setdefault(key, {"scenario": key[0], "name": key[1],
                                            "runs": [None] * len(runs)})
                row["runs"][index] = expectation
    return list(rows.values())


def _flatten(counters: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for key, value in counters.items():
        if isinstance(value, dict):
            items.extend(_flatten(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "-"


# -- reading the JSON: a missing or odd field reads as empty, so any version renders --------
def _objects(value: JsonDocument) -> list[JsonObject]:
    """The objects of a JSON list (none if it is not a list)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _object(value: JsonDocument) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _number(value: JsonDocument, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default


def _text(value: JsonDocument) -> str:
    return value if isinstance(value, str) else ""


# -- the chart ----------------------------------------------------------------------------
def timeline_svg(result: JsonObject) -> str:
    """The incident on one wall-clock axis (simulated time on top): the Focus Server's state
    band, events as lines, expectations from due to met as markers, client request rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = _objects(result.get("records"))
    end = max([_timeline_wall_s(result)] + [_record_end(record) for record in records] + [1.0])
    clients = _object(result.get("clients"))
    rows = 3 if clients else 2
    figure, axes = plt.subplots(rows, 1, figsize=(11, 1.6 + 1.5 * rows), sharex=True,
                                gridspec_kw={"height_ratios": [0.6, 2.2, 1.6][:rows]})
    _state_band(axes[0], result, end)
    _steps(axes[1], records)
    if clients:
        _client_rates(axes[2], clients, records)
    axes[-1].set_xlabel("wall seconds since the timeline started")
    axes[0].set_xlim(0, end * 1.02)
    _simulated_axis(axes[0], result)
    figure.tight_layout()
    buffer = io.StringIO()
    # no date and fixed element ids: the same report renders to the same bytes
    # and text as <text> elements (searchable, smaller) rather than glyph paths
    with plt.rc_context({"svg.hashsalt": "fibersim", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _timeline_wall_s(result: JsonObject) -> float:
    """Wall seconds from the timeline's start to the run's end: ``wall_s`` also counts the
    start-up before the timeline (the mock, the first rendered block)."""
    wall = _number(result.get("wall_s"))
    started, timeline = result.get("started_at"), result.get("timeline_started_at")
    if isinstance(started, int | float) and isinstance(timeline, int | float) and timeline:
        return max(0.0, wall - (timeline - started))
    return wall


def _record_end(record: JsonObject) -> float:
    probes = _objects(record.get("probes"))
    last_probe = max((_number(p.get("wall_s")) for p in probes), default=0.0)
    return max(_number(record.get("wall_s")) or _number(record.get("due_wall_s")), last_probe)


def _state_band(axis: Axes, result: JsonObject, end: float) -> None:
    status = _mock_status(result)
    transitions = status.transitions if status else []
    origin = _number(result.get("timeline_started_at")) or _number(result.get("started_at"))
    axis.set_yticks([])
    axis.set_ylabel("Focus\nServer", rotation=0, ha="right", va="center")
    if not transitions:
        axis.text(0.5, 0.5, "state history not available (no mock status interface)",
                  transform=axis.transAxes, ha="center", va="center", color="#666666")
        return
    state = transitions[0].from_
    start = 0.0
    spans: list[tuple[float, float, str]] = []
    for transition in transitions:
        at = transition.at - origin
        if transition.to != state:
            spans.append((start, at, state))
            state, start = transition.to, at
    spans.append((start, end * 1.02, state))
    seen: set[str] = set()
    for left, right, name in spans:
        left = max(left, 0.0)
        if right <= left:
            continue
        colour = STATE_COLOURS.get(name, "#b0b0b0")
        axis.axvspan(left, right, color=colour, label=None if name in seen else name)
        seen.add(name)
        if right - left > end * 0.06:
            axis.text((left + right) / 2, 0.5, name.replace("_", " "), ha="center",
                      va="center", color="white", fontsize=9, fontweight="bold")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.1), fontsize=8, frameon=False)


def _steps(axis: Axes, records: list[JsonObject]) -> None:
    expectations = [r for r in records if r.get("kind") == "expectation"]
    axis.set_ylim(-0.8, max(len(expectations), 1) - 0.2)
    axis.set_yticks(range(len(expectations)))
    axis.set_yticklabels([_short(_text(r.get("name")) or _text(r.get("label")))
                          for r in expectations],
                         fontsize=8)
    axis.invert_yaxis()
    for record in records:
        if record.get("kind") == "event":
            at = _number(record.get("wall_s"))
            failed = record.get("outcome", "fired") != "fired"
            axis.axvline(at, color="#c8323c" if failed else "#4060a0", linestyle="--",
                         linewidth=0.9)
            axis.annotate(_short(_text(record.get("label")), 14), (at, 0), xycoords=("data",
                          "axes fraction"), xytext=(2, 2), textcoords="offset points",
                          rotation=90, fontsize=7, color="#4060a0", va="bottom")
    for row, record in enumerate(expectations):
        verdict = str(record.get("verdict", "pending"))
        marker, colour = VERDICT_STYLES.get(verdict, _OTHER_STYLE)
        due = _number(record.get("due_wall_s"))
        reaction = record.get("reaction_s")
        met = due + float(reaction) if isinstance(reaction, int | float) else _record_end(record)
        axis.plot([due, met], [row, row], color=colour, linewidth=2.5, alpha=0.5)
        for probe in _objects(record.get("probes")):
            axis.plot(_number(probe.get("wall_s"), due), row, marker="|", markersize=7,
                      color="#2e9d52" if probe.get("ok") else "#c8323c", alpha=0.6)
        axis.plot(met, row, marker=marker, markersize=9, color=colour, linestyle="none")
        text = verdict + (f" {reaction:.2f}s" if isinstance(reaction, int | float) else "")
        statuses = sorted(set(re.findall(r"HTTP (\d{3})", str(record.get("seen", "")))))
        if statuses:  # the answers the expectation got, e.g. the incident's 503s
            text += f"  (HTTP {', '.join(statuses)})"
        held_until = max(met, _record_end(record))  # a hold keeps probing after "met"
        axis.annotate(text, (held_until, row), xytext=(7, -3), textcoords="offset points",
                      fontsize=7, color=colour)
    axis.grid(axis="x", alpha=0.3)


def _client_rates(axis: Axes, clients: JsonObject, records: list[JsonObject]) -> None:
    started = {_text(r.get("label")): _number(r.get("wall_s")) for r in records
               if r.get("kind") == "event"}
    for label, tally in clients.items():
        offset = started.get(label, 0.0)
        for answer, per_second in sorted(_object(_object(tally).get("per_second")).items()):
            if not isinstance(per_second, list):
                continue
            counts = [_number(count) for count in per_second]
            seconds = [offset + index + 0.5 for index in range(len(counts))]
            axis.step(seconds, counts, where="mid", label=f"{label}: {answer}",
                      linestyle="-" if answer.startswith("2") else "--")
    axis.set_ylabel("requests/s")
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _simulated_axis(axis: Axes, result: JsonObject) -> None:
    """Simulated seconds along the top, interpolated between the moments the report knows
    both clocks: events firing, expectations falling due and being met, the run's end."""
    import numpy as np

    known: list[tuple[float, float]] = []
    for record in _objects(result.get("records")):
        sim, due_sim = record.get("sim_s"), record.get("due_sim_s")
        if record.get("kind") == "event" and isinstance(sim, int | float):
            known.append((_number(record.get("wall_s")), float(sim)))
        elif record.get("kind") == "expectation" and isinstance(due_sim, int | float):
            due = _number(record.get("due_wall_s"))
            known.append((due, float(due_sim)))
            reaction, met_sim = record.get("reaction_s"), record.get("met_sim_s")
            if isinstance(reaction, int | float) and isinstance(met_sim, int | float):
                known.append((due + float(reaction), float(met_sim)))
    end_wall = _timeline_wall_s(result)
    if known and end_wall > max(wall for wall, _ in known):
        known.append((end_wall, _number(result.get("sim_s"))))
    points: list[tuple[float, float]] = []
    for wall, sim in sorted(known):
        if not points or (wall > points[-1][0] and sim >= points[-1][1]):
            points.append((wall, sim))
    walls = np.array([wall for wall, _ in points])
    sims = np.array([sim for _, sim in points])
    if len(points) < 2 or math.isclose(sims[-1], sims[0]):
        return
    from matplotlib.ticker import FuncFormatter

    # ticks where the wall-clock ticks are, labelled with the simulated time there: at
    # --speed max simulated time jumps, and ticks spaced in simulated time would pile up
    top = axis.secondary_xaxis("top")
    top.xaxis.set_major_formatter(
        FuncFormatter(lambda wall, _: f"{float(np.interp(wall, walls, sims)):.1f}"))
    top.set_xlabel("simulated seconds", fontsize=8)
    top.tick_params(labelsize=7)


def _short(text: str, width: int = 38) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."
