"""docs/scenarios.md stays true: its examples validate and it names every event and check."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from fibersim.scenario import load_scenario
from fibersim.scenario.models import (
    Comparison,
    ConfigureCheck,
    Event,
    Expectation,
    ExpectStep,
    HttpCheck,
    InterrogatorParameters,
    LogCheck,
    MockParameters,
    Scenario,
    Set,
    TransitionWatch,
    Watch,
    WatchStep,
)
from tests.scenario.helpers import REPO

DOC = (REPO / "docs" / "scenarios.md").read_text()
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_the_complete_example_is_a_valid_scenario(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(YAML_BLOCKS[0])
    assert load_scenario(path).name == "fiber_lost"


@pytest.mark.parametrize("block", [block for block in YAML_BLOCKS if block.startswith("  - ")])
def test_timeline_snippets_are_valid_steps(tmp_path: Path, block: str) -> None:
    path = tmp_path / "snippet.yaml"
    path.write_text("name: snippet\ntimeline:\n  - do: connect\n" + block)
    load_scenario(path)


def test_every_event_is_documented() -> None:
    union = typing.get_args(typing.get_args(Event)[0])
    names = [typing.get_args(model.model_fields["do"].annotation)[0] for model in union]
    assert names and all(f"`{name}`" in DOC for name in names)


def test_every_expectation_check_is_documented() -> None:
    assert all(f"`{name}`" in DOC for name in Expectation.model_fields)


@pytest.mark.parametrize("model", [Scenario, ExpectStep, WatchStep, Watch, TransitionWatch,
                                   HttpCheck, ConfigureCheck, LogCheck, Comparison,
                                   MockParameters, InterrogatorParameters, Set])
def test_every_field_of_the_v2_language_is_documented(model: type[BaseModel]) -> None:
    names = [field.alias or name for name, field in model.model_fields.items()]
    assert [name for name in names if f"`{name}`" not in DOC] == []
