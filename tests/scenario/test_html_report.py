"""The HTML report: one self-contained page per run that shows the incident at a glance.

Parsed with the standard library's HTMLParser; where Chromium is installed (Debian package
``chromium``, which .ci/run installs) a headless screenshot proves the page renders offline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from fibersim.reports.html import render_html
from tests.scenario.helpers import fibersim


class Page(HTMLParser):
    """What a test needs from a page: its tags with attributes, and its visible text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.source = text
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def classes(self, name: str) -> list[str]:
        return [attrs.get("class") or "" for tag, attrs in self.tags if tag == name]

    @property
    def words(self) -> str:
        return " ".join(self.text)


@pytest.fixture(scope="module")
def fiber_lost_page(fiber_lost_embedded: dict[str, Any]) -> Page:
    return Page(Path(fiber_lost_embedded["html"]).read_text(encoding="utf-8"))


def test_run_writes_the_html_report_next_to_the_json_one(
        fiber_lost_embedded: dict[str, Any]) -> None:
    assert fiber_lost_embedded["completed"].code == 0
    assert Path(fiber_lost_embedded["html"]).is_file()


def test_the_page_needs_no_network(fiber_lost_page: Page) -> None:
    for tag, attrs in fiber_lost_page.tags:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), (tag, attrs)
    assert not [attrs for tag, attrs in fiber_lost_page.tags if tag in ("script", "link")]
    assert "svg" in [tag for tag, _ in fiber_lost_page.tags]


def test_the_chart_shows_the_cut_the_waiting_period_and_the_recovery(
        fiber_lost_page: Page) -> None:
    chart = Page(_svg_of(fiber_lost_page)).text
    # the state band names the states in order; the events are lines labelled on the chart
    states = [text for text in chart if text in ("ready", "waiting for fiber")]
    assert states[:3] == ["ready", "waiting for fiber", "ready"]  # then the legend
    assert "cut" in chart and "reconnect" in chart


def _svg_of(page: Page) -> str:
    raw = page.source
    return raw[raw.index("<svg"):raw.index("</svg>")]


def test_every_expectation_is_listed_with_its_verdict_and_reaction(
        fiber_lost_embedded: dict[str, Any], fiber_lost_page: Page) -> None:
    expectations = [record for record in fiber_lost_embedded["result"]["records"]
                    if record["kind"] == "expectation"]
    assert fiber_lost_page.classes("td").count("v-met") == len(expectations)
    for record in expectations:
        assert record["name"] in fiber_lost_page.words


def test_the_mock_counters_show_the_503s(fiber_lost_page: Page) -> None:
    text = fiber_lost_page.text
    index = text.index("POST /configure", text.index("route"))
    assert "503" in text[index:index + 8]


def test_report_renders_the_same_page_from_the_json(fiber_lost_embedded: dict[str, Any],
                                                    tmp_path: Path) -> None:
    output = tmp_path / "again" / "report.html"
    completed = fibersim("report", fiber_lost_embedded["report"], "-o", output)
    assert completed.code == 0, completed.stderr
    assert Page(output.read_text()).words == Page(
        Path(fiber_lost_embedded["html"]).read_text()).words


def test_two_reports_side_by_side_compare_each_expectation(
        fiber_lost_embedded: dict[str, Any]) -> None:
    before = json.loads(Path(fiber_lost_embedded["report"]).read_text())
    after = json.loads(json.dumps(before))
    after["scenarios"][0]["records"][1]["verdict"] = "failed"
    after["passed"] = after["scenarios"][0]["passed"] = False
    page = Page(render_html([before, after], ["before", "after"]))
    assert page.classes("section") == ["run", "run"]
    # once in the comparison table, once in the "after" run's failure list
    assert page.classes("span").count("v-failed") == 2
    assert page.words.count("Failures: want vs seen") == 1
    assert "before" in page.text and "after" in page.text


def test_a_report_without_newer_fields_still_renders() -> None:
    """Reports of older runs (no mock status, no client series, unknown verdicts) render."""
    document = {"passed": False, "scenarios": [{
        "scenario": "old", "records": [
            {"kind": "event", "index": 0, "label": "up", "what": "connect", "sim_s": 0.0,
             "wall_s": 0.0, "outcome": "fired", "detail": ""},
            {"kind": "expectation", "index": 1, "label": "x", "what": "state=ready",
             "due_wall_s": 0.1, "verdict": "xpass"}]}]}
    page = Page(render_html([document]))
    assert "state history not available" in page.words and "xpass" in page.words



def test_a_report_with_fields_of_another_type_still_renders() -> None:
    document = {"passed": False, "scenarios": [{
        "scenario": "odd", "wall_s": None,
        "clients": {"storm": {"requests": 1, "answers": {}, "outcome": "", "wall_s": 1.0,
                              "per_second": "many"}},
        "records": ["not a record", {"kind": "expectation", "index": 0, "label": "x",
                                     "due_wall_s": None, "probes": [{"wall_s": "soon"}]}]}]}
    page = Page(render_html([document]))
    assert "odd" in page.words and "pending" in page.words

def test_bad_json_is_refused_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    completed = fibersim("report", broken)
    assert completed.code == 2
    assert completed.stderr.count("\n") == 1 and "broken.json:1" in completed.stderr


def _browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_browser() is None, reason="no Chromium on this machine")
def test_a_headless_browser_renders_the_page(fiber_lost_embedded: dict[str, Any],
                                             tmp_path: Path) -> None:
    browser = _browser()
    assert browser is not None
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000",
         f"--screenshot={screenshot}", Path(fiber_lost_embedded["html"]).resolve().as_uri()],
        capture_output=True, timeout=90, check=False)
    pixels = image.imread(screenshot)[..., :3]
    # the state band's green (ready) and orange (waiting for fiber) are on screen
    green = np.all(np.abs(pixels - np.array([0x2e, 0x9d, 0x52]) / 255) < 0.03, axis=-1)
    orange = np.all(np.abs(pixels - np.array([0xf0, 0xa0, 0x30]) / 255) < 0.03, axis=-1)
    assert green.sum() > 5000 and orange.sum() > 2000
