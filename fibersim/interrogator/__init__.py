"""Interrogator stage: the device model (state, configuration, sample clock)."""

from fibersim.interrogator.model import (
    BlockSlot,
    ConfigChanges,
    FaultPlan,
    Interrogator,
    InterrogatorState,
)

__all__ = ["BlockSlot", "ConfigChanges", "FaultPlan", "Interrogator", "InterrogatorState"]
