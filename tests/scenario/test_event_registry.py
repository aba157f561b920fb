"""The one event registry: every event of the scenario language has exactly one handler."""

from __future__ import annotations

import typing

from fibersim.runner.scenario_runner import EVENT_HANDLERS
from fibersim.scenario.models import Event

EVENT_MODELS = typing.get_args(typing.get_args(Event)[0])


def test_every_event_of_the_language_has_a_handler() -> None:
    assert [model.__name__ for model in EVENT_MODELS if model not in EVENT_HANDLERS] == []


def test_the_registry_handles_nothing_that_is_not_an_event() -> None:
    assert [model.__name__ for model in EVENT_HANDLERS if model not in EVENT_MODELS] == []
