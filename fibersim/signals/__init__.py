"""Signal synthesis stage: physical sources composed into strain-rate blocks.

``SignalSpec`` is the union of every source's scenario description (discriminated by
``type``); ``build_synthesizer`` turns a list of specs into a ``Synthesizer``.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from fibersim.signals.base import SignalSource, SynthesisContext, Synthesizer
from fibersim.signals.noise import BandNoiseSpec

SignalSpec = Annotated[Union[BandNoiseSpec], Field(discriminator="type")]

#: What a fiber gets when its scenario names no signals.
DEFAULT_SIGNALS: list[SignalSpec] = [BandNoiseSpec()]


def build_synthesizer(specs: list[SignalSpec] | None, context: SynthesisContext) -> Synthesizer:
    """A synthesizer for these specs (``DEFAULT_SIGNALS`` when ``None``)."""
    chosen = DEFAULT_SIGNALS if specs is None else specs
    return Synthesizer(context, [spec.build(context) for spec in chosen])


__all__ = [
    "DEFAULT_SIGNALS",
    "SignalSource",
    "SignalSpec",
    "SynthesisContext",
    "Synthesizer",
    "build_synthesizer",
]
