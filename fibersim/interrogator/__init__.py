"""Interrogator stage: the device model (state, configuration, sample clock)."""

from fibersim.interrogator.model import BlockSlot, Interrogator, InterrogatorState

__all__ = ["BlockSlot", "Interrogator", "InterrogatorState"]
