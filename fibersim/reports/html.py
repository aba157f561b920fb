"""The HTML report: one self-contained page per run, the incident as a timeline.

It renders the JSON report document (``files.report_document``), never a live run, so
``fibersim run --report x.html`` and ``fibersim report x.json -o x.html`` give the same page,
and a page can put two earlier runs side by side. The charts are matplotlib SVG inlined in
the page and the style sheet is inline too: the file opens offline, as a CI artifact.

Fields are read with defaults, so reports from older or newer fibersim versions render (a
verdict this module does not know is drawn as "other"; ``want`` falls back to ``what``). The
mock's last status is parsed as the mock's own ``MockStatus``; a status that does not fit it
(another server, another version) leaves the mock's sections out.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from fibersim.focus.schemas import MockStatus

#: Colours of the Focus Server's states in the band (unknown states: grey).
STATE_COLOURS = {"ready": "#2e9d52", "waiting_for_fiber": "#f0a030", "down": "#c8323c",
                 "restarting": "#8a5cc8"}
#: Marker and colour of each expectation verdict (issue-12 verdicts included).
VERDICT_STYLES = {"met": ("o", "#2e9d52"), "failed": ("X", "#c8323c"),
                  "skipped": ("s", "#8c8c8c"), "pending": ("s", "#8c8c8c"),
                  "xfail": ("D", "#4a78c8"), "xpass": ("P", "#e07020")}
_OTHER_STYLE = ("v", "#555555")

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("fibersim.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def write_html_report(documents: Sequence[dict[str, Any]], path: str | Path,
                      titles: Sequence[str] | None = None) -> None:
    """Write the page for one JSON report document, or several side by side (before/after).

    ``titles`` name the columns (default: "run 1", "run 2", ...).
    """
    Path(path).write_text(render_html(documents, titles), encoding="utf-8")


def render_html(documents: Sequence[dict[str, Any]], titles: Sequence[str] | None = None) -> str:
    """The page as text (see ``write_html_report``)."""
    names = list(titles) if titles else [f"run {index + 1}" for index in range(len(documents))]
    columns = [{"title": title, "passed": bool(document.get("passed")),
                "scenarios": [_scenario_view(scenario)
                              for scenario in document.get("scenarios", [])]}
               for title, document in zip(names, documents, strict=True)]
    comparison = _comparison(columns) if len(columns) > 1 else []
    return _ENVIRONMENT.get_template("report.html.j2").render(
        columns=columns, comparison=comparison, styles=VERDICT_STYLES)


# -- one scenario ---------------------------------------------------------------------------
def _scenario_view(result: dict[str, Any]) -> dict[str, Any]:
    records = result.get("records", [])
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
        "clients": [{"label": label, **tally}
                    for label, tally in (result.get("clients") or {}).items()],
        "counters": _flatten(status.counters.model_dump()) if status else [],
        # clients' requests, then fibersim's own probes (counted apart by the mock)
        "requests": [(route, status_code, count, source)
                     for requests, source in ((status.requests, "clients"),
                                              (status.probe_requests, "probes"))
                     for route, counts in requests.items()
                     for status_code, count in sorted(counts.items())] if status else [],
        "restarts": status.restarts if status else None,
    }


def _mock_status(result: dict[str, Any]) -> MockStatus | None:
    """The mock's status at the end of the run; None without one or in another shape."""
    try:
        return MockStatus.model_validate(result.get("focus_status"))
    except ValidationError:
        return None


def _expectation_view(record: dict[str, Any]) -> dict[str, Any]:
    verdict = str(record.get("verdict", "pending"))
    return {**record, "verdict": verdict, "name": record.get("name") or record.get("label"),
            "want": record.get("want") or record.get("what", ""),
            "seen": record.get("seen", ""), "failure": record.get("failure", ""),
            "reaction": _seconds(record.get("reaction_s"))}


def _comparison(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each expectation (by scenario and name) with its verdict and reaction in every run."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for index, column in enumerate(columns):
        for scenario in column["scenarios"]:
            for expectation in scenario["expectations"]:
                key = (scenario["name"], expectation["name"])
                row = rows.setdefault(key, {"scenario": key[0], "name": key[1],
                                            "runs": [None] * len(columns)})
                row["runs"][index] = expectation
    return list(rows.values())


def _flatten(counters: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in counters.items():
        if isinstance(value, dict):
            items.extend(_flatten(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "-"


# -- the chart ----------------------------------------------------------------------------
def timeline_svg(result: dict[str, Any]) -> str:
    """The incident on one wall-clock axis (simulated time on top): the Focus Server's state
    band, events as lines, expectations from due to met as markers, client request rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = result.get("records", [])
    end = max([_timeline_wall_s(result)] + [_record_end(record) for record in records] + [1.0])
    clients = result.get("clients") or {}
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


def _timeline_wall_s(result: dict[str, Any]) -> float:
    """Wall seconds from the timeline's start to the run's end: ``wall_s`` also counts the
    start-up before the timeline (the mock, the first rendered block)."""
    wall = float(result.get("wall_s") or 0.0)
    started, timeline = result.get("started_at"), result.get("timeline_started_at")
    if isinstance(started, int | float) and isinstance(timeline, int | float) and timeline:
        return max(0.0, wall - (timeline - started))
    return wall


def _record_end(record: dict[str, Any]) -> float:
    probes = record.get("probes") or []
    last_probe = max((float(p.get("wall_s", 0.0)) for p in probes), default=0.0)
    return max(float(record.get("wall_s") or record.get("due_wall_s") or 0.0), last_probe)


def _state_band(axis: Any, result: dict[str, Any], end: float) -> None:
    status = _mock_status(result)
    transitions = status.transitions if status else []
    origin = float(result.get("timeline_started_at") or result.get("started_at") or 0.0)
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


def _steps(axis: Any, records: list[dict[str, Any]]) -> None:
    expectations = [r for r in records if r.get("kind") == "expectation"]
    axis.set_ylim(-0.8, max(len(expectations), 1) - 0.2)
    axis.set_yticks(range(len(expectations)))
    axis.set_yticklabels([_short(r.get("name") or r.get("label", "")) for r in expectations],
                         fontsize=8)
    axis.invert_yaxis()
    for record in records:
        if record.get("kind") == "event":
            at = float(record.get("wall_s", 0.0))
            failed = record.get("outcome", "fired") != "fired"
            axis.axvline(at, color="#c8323c" if failed else "#4060a0", linestyle="--",
                         linewidth=0.9)
            axis.annotate(_short(record.get("label", ""), 14), (at, 0), xycoords=("data",
                          "axes fraction"), xytext=(2, 2), textcoords="offset points",
                          rotation=90, fontsize=7, color="#4060a0", va="bottom")
    for row, record in enumerate(expectations):
        verdict = str(record.get("verdict", "pending"))
        marker, colour = VERDICT_STYLES.get(verdict, _OTHER_STYLE)
        due = float(record.get("due_wall_s", 0.0))
        reaction = record.get("reaction_s")
        met = due + float(reaction) if isinstance(reaction, int | float) else _record_end(record)
        axis.plot([due, met], [row, row], color=colour, linewidth=2.5, alpha=0.5)
        for probe in record.get("probes") or []:
            axis.plot(float(probe.get("wall_s", due)), row, marker="|", markersize=7,
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


def _client_rates(axis: Any, clients: dict[str, Any], records: list[dict[str, Any]]) -> None:
    started = {r.get("label"): float(r.get("wall_s", 0.0)) for r in records
               if r.get("kind") == "event"}
    for label, tally in clients.items():
        offset = started.get(label, 0.0)
        for answer, counts in sorted((tally.get("per_second") or {}).items()):
            seconds = [offset + index + 0.5 for index in range(len(counts))]
            axis.step(seconds, counts, where="mid", label=f"{label}: {answer}",
                      linestyle="-" if answer.startswith("2") else "--")
    axis.set_ylabel("requests/s")
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _simulated_axis(axis: Any, result: dict[str, Any]) -> None:
    """Simulated seconds along the top, interpolated between the moments the report knows
    both clocks: events firing, expectations falling due and being met, the run's end."""
    import numpy as np

    records = result.get("records", [])
    known: list[tuple[float, float]] = []
    for record in records:
        if record.get("kind") == "event" and "sim_s" in record:
            known.append((float(record.get("wall_s", 0.0)), float(record["sim_s"])))
        elif record.get("kind") == "expectation" and "due_sim_s" in record:
            due = float(record.get("due_wall_s", 0.0))
            known.append((due, float(record["due_sim_s"])))
            if isinstance(record.get("reaction_s"), int | float) and isinstance(
                    record.get("met_sim_s"), int | float):
                known.append((due + float(record["reaction_s"]), float(record["met_sim_s"])))
    end_wall = _timeline_wall_s(result)
    if known and end_wall > max(wall for wall, _ in known):
        known.append((end_wall, float(result.get("sim_s") or 0.0)))
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
