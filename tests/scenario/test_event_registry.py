"""The one event registry: every event of the scenario language has exactly one handler."""

from __future__ import annotations

import asyncio
import typing

import pytest

from fibersim.runner.scenario_runner import EVENT_HANDLERS, EventScope, ScenarioRunner
from fibersim.scenario.models import Connect, Event, Gap

EVENT_MODELS = typing.get_args(typing.get_args(Event)[0])


def test_every_event_of_the_language_has_a_handler() -> None:
    assert [model.__name__ for model in EVENT_MODELS if model not in EVENT_HANDLERS] == []


def test_the_registry_handles_nothing_that_is_not_an_event() -> None:
    assert [model.__name__ for model in EVENT_HANDLERS if model not in EVENT_MODELS] == []


def test_a_handler_refuses_the_event_of_another_model() -> None:
    gap = Gap.model_validate({"do": "gap"})
    with pytest.raises(TypeError, match="Gap event given to the Connect handler"):
        asyncio.run(EVENT_HANDLERS[Connect](typing.cast(ScenarioRunner, None), gap,
                                            typing.cast(EventScope, None)))
