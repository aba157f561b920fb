"""Signal synthesis stage: physical sources composed into strain-rate blocks.

``SignalSpec`` is the union of every source's scenario description (discriminated by
``type``); ``build_synthesizer`` turns a list of specs into a ``Synthesizer``. See
docs/signals.md for the physics and parameters of each source.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from fibersim.signals.artefacts import PhaseWrapSpec
from fibersim.signals.base import (
    PlacedSpec,
    SignalSource,
    Stage,
    SynthesisContext,
    Synthesizer,
)
from fibersim.signals.fading import RayleighFadingSpec
from fibersim.signals.noise import CommonModeNoiseSpec, IncoherentNoiseSpec
from fibersim.signals.presets import PresetSpec
from fibersim.signals.recorded import RecordingSpec
from fibersim.signals.seismic import EarthquakeSpec, MachinerySpec, OceanSpec
from fibersim.signals.traffic import FootstepsSpec, VehiclesSpec

SignalSpec = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs the Union form inside Annotated
        IncoherentNoiseSpec,
        CommonModeNoiseSpec,
        RayleighFadingSpec,
        PhaseWrapSpec,
        VehiclesSpec,
        FootstepsSpec,
        EarthquakeSpec,
        MachinerySpec,
        OceanSpec,
        PresetSpec,
        RecordingSpec,
    ],
    Field(discriminator="type"),
]

#: What a fiber gets when its scenario names no signals.
DEFAULT_SIGNALS: list[SignalSpec] = [PresetSpec(name="urban_road")]


def build_synthesizer(specs: list[SignalSpec] | None, context: SynthesisContext) -> Synthesizer:
    """A synthesizer for these specs (``DEFAULT_SIGNALS`` when ``None``).

    Sources are labelled by their spec's ``label`` or, failing that, ``<type>`` (``<type>#2``
    for a repeated type), the names ``Synthesizer.stop_source`` accepts.
    """
    chosen = DEFAULT_SIGNALS if specs is None else specs
    return Synthesizer(context, [spec.build(context) for spec in chosen], source_labels(chosen))


def source_labels(specs: list[SignalSpec] | None) -> list[str]:
    """The label ``build_synthesizer`` gives each spec, in order.

    Separate so that a render process's owner knows the labels without building the sources.
    """
    labels: list[str] = []
    for spec in DEFAULT_SIGNALS if specs is None else specs:
        base = spec.label or spec.type
        label, count = base, 1
        while label in labels:
            count += 1
            label = f"{base}#{count}"
        labels.append(label)
    return labels


__all__ = [
    "DEFAULT_SIGNALS",
    "CommonModeNoiseSpec",
    "EarthquakeSpec",
    "FootstepsSpec",
    "IncoherentNoiseSpec",
    "MachinerySpec",
    "OceanSpec",
    "PhaseWrapSpec",
    "PlacedSpec",
    "PresetSpec",
    "RayleighFadingSpec",
    "RecordingSpec",
    "SignalSource",
    "SignalSpec",
    "Stage",
    "SynthesisContext",
    "Synthesizer",
    "VehiclesSpec",
    "build_synthesizer",
    "source_labels",
]
