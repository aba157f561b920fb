"""Scenario stage: scenario files as validated models, their timeline, and safe loading.

``load_scenario(path)`` is the only way in: it returns a ``Scenario`` or raises ``InputError``
(exit 2) naming the file, line and field of the first problem.
"""

from fibersim.scenario.loader import load_scenario
from fibersim.scenario.models import Expectation, ExpectStep, Scenario
from fibersim.scenario.timeline import ResolvedStep, resolve_timeline

__all__ = ["ExpectStep", "Expectation", "ResolvedStep", "Scenario", "load_scenario",
           "resolve_timeline"]
