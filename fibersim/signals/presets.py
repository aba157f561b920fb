"""Named mixes of sources: what a fiber in a typical setting records.

``urban_road`` is the default for a fiber whose scenario names no signals: instrument noise,
fading (faded channels saturate at the unwrapping limit), a road with traffic both ways along
the whole fiber (its tyre noise radiating), pedestrians and two machines. ``subsea`` replaces
the land sources by the ocean's.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, TypeAdapter, ValidationError, model_validator

from fibersim.signals.base import Placed, PlacedSpec, SourceGroup, SynthesisContext
from fibersim.signals.fading import RayleighFadingSpec
from fibersim.signals.noise import CommonModeNoiseSpec, IncoherentNoiseSpec
from fibersim.signals.seismic import MachinerySpec, OceanSpec
from fibersim.signals.traffic import FootstepsSpec, VehiclesSpec

#: Common-mode level of the presets relative to incoherent noise below 10 Hz: with the
#: default traffic, median removal then takes out ~14 % of the median channel's 0.5-10 Hz
#: variance at 2337 channels (the 10-25 % of real recordings).
PRESET_COMMON_MODE_RATIO = 1.0


def preset_specs(name: str, n_channels: int, common_mode: float = 1.0) -> list[PlacedSpec]:
    """The specs of preset ``name`` for a range of ``n_channels`` channels; ``common_mode``
    scales the laser noise (0: none)."""
    internal = min(20, n_channels // 20)
    instrument: list[PlacedSpec] = [IncoherentNoiseSpec()]
    if common_mode > 0:
        instrument.append(CommonModeNoiseSpec(rms_ratio=PRESET_COMMON_MODE_RATIO * common_mode))
    # Only faded channels come near the unwrapping limit in these mixes, and the fading source
    # wraps those itself; a full phase_wrap pass would cost ~15% of the synthesis budget.
    last: list[PlacedSpec] = [RayleighFadingSpec(internal_channels=internal)]
    if name == "urban_road":
        land: list[PlacedSpec] = [
            # No traffic light: halting vehicles stay on the road longer, which costs ~10 %
            # of the synthesis budget; scenarios add ``stops`` where they want them.
            VehiclesSpec(),
            FootstepsSpec(),
            MachinerySpec(channel=int(0.31 * n_channels), f0=29.5, harmonics=4),
            MachinerySpec(channel=int(0.74 * n_channels), f0=16.7, harmonics=6, amplitude=3e-7),
        ]
        return instrument + land + last
    if name == "subsea":
        return [*instrument, OceanSpec(), *last]
    raise ValueError(f"unknown preset {name!r}")


class PresetSpec(PlacedSpec):
    """A named mix, ``{type: preset, name: urban_road}`` or ``{type: preset, name: subsea}``,
    or a site file written by ``fibersim calibrate``: ``{type: preset, path: site.yaml}``
    (its ``signals:`` list; a relative path is taken from the working directory)."""

    type: Literal["preset"] = "preset"
    name: Literal["urban_road", "subsea"] = "urban_road"
    path: str | None = Field(None, description="Site file of `fibersim calibrate` (its signals).")
    common_mode: float = Field(
        1.0, ge=0, le=100, description="Scale of the common-mode laser noise (0: off).")

    @model_validator(mode="after")
    def _site_file_is_readable(self) -> PresetSpec:
        if self.path is not None:
            site_specs(self.path)  # ValueError names the problem
        return self

    def specs(self, n_channels: int) -> list[PlacedSpec]:
        """The specs this preset stands for on a range of ``n_channels`` channels."""
        if self.path is not None:
            return site_specs(self.path)
        return preset_specs(self.name, n_channels, self.common_mode)

    def make(self, context: SynthesisContext) -> SourceGroup:
        parts: list[Placed] = []
        for spec in self.specs(context.n_channels):
            built = spec.build(context)
            parts.extend(built.parts if isinstance(built, SourceGroup) else [built])
        return SourceGroup(tuple(parts))


@lru_cache(maxsize=16)
def _site_file(path: str) -> tuple[PlacedSpec, ...]:
    from fibersim.signals import SignalSpec

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read site file {path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("signals"), list):
        raise ValueError(f"site file {path} has no 'signals:' list")
    try:
        specs = TypeAdapter(list[SignalSpec]).validate_python(document["signals"])
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"site file {path}: signals.{where}: {first['msg']}") from None
    placed = [spec for spec in specs if isinstance(spec, PlacedSpec)]
    if len(placed) != len(specs) or any(isinstance(s, PresetSpec) for s in placed):
        raise ValueError(f"site file {path}: only sources, not recordings or presets")
    return tuple(placed)


def site_specs(path: str) -> list[PlacedSpec]:
    """The sources listed under ``signals:`` in a site file (``fibersim calibrate``)."""
    return list(_site_file(str(Path(path).resolve())))
