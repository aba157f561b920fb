"""A recording as a signal source, so scenario files (and ``fibersim replay``) can play real
data on a simulated fiber, alone or mixed with synthetic signals.

In a scenario: ``{type: recording, path: quake.h5, channels: [100, 600], loop: true}``.
The recording's rows are added sample for sample; it is never resampled, so the fiber must
have the recording's sample rate and as many channels as the selection.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fibersim.errors import InputError
from fibersim.signals.base import Stage

if TYPE_CHECKING:
    from fibersim.formats.reader import RecordingReader
    from fibersim.signals.base import SynthesisContext

#: Relative difference below which a file's sample rate counts as the fiber's.
_RATE_TOLERANCE = 1e-9


class RecordingSpec(BaseModel):
    """``{type: recording, path: run.h5, channels: [first, last], loop: false}``.

    ``channels`` is an inclusive range of the file's channel indices, like every channel
    range in scenario files (``[0, 499]`` is the first 500); all channels when omitted.
    Without ``loop`` the recording contributes nothing once it has ended.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["recording"] = "recording"
    label: str | None = Field(None, description="Name for start_source/stop_source events.")
    path: Path = Field(description="A DAS file: PRODML, or any format DASCore reads.")
    channels: tuple[int, int] | None = Field(
        None, description="Inclusive range [first, last] of the file's channels to play.")
    loop: bool = Field(False, description="Start over at the end of the recording.")

    @model_validator(mode="after")
    def _check_channels(self) -> RecordingSpec:
        if self.channels is not None and not 0 <= self.channels[0] <= self.channels[1]:
            raise ValueError("channels must be [first, last] with 0 <= first <= last")
        return self

    @property
    def channel_slice(self) -> slice:
        """The file's channels as a slice (stop exclusive)."""
        if self.channels is None:
            return slice(None)
        return slice(self.channels[0], self.channels[1] + 1)

    def check(self, context: SynthesisContext) -> None:
        """``InputError`` (a ``ValueError`` too) unless the file fits ``context``'s fiber."""
        RecordingSource(self, context).reader.close()

    def build(self, context: SynthesisContext) -> RecordingSource:
        return RecordingSource(self, context)


class RecordingSource:
    """Adds a recording's rows to each block, reading only those rows from the file.

    It runs once per block (the SPARSE stage): one HDF5 read per block is far cheaper than
    one per cache-sized chunk of rows.
    """

    def __init__(self, spec: RecordingSpec, context: SynthesisContext) -> None:
        from fibersim.formats.reader import open_recording  # DASCore loads only for playback

        self.stage = Stage.SPARSE
        self.reader: RecordingReader = open_recording(spec.path, spec.channel_slice)
        info = self.reader.info
        where = str(spec.path)
        if not math.isclose(info.prr, context.prr, rel_tol=_RATE_TOLERANCE):
            self.reader.close()
            raise InputError(f"recorded at {info.prr:g} Hz but the fiber runs at "
                             f"{context.prr:g} Hz; set the fiber's prr to match", file=where)
        if info.n_channels != context.n_channels:
            self.reader.close()
            raise InputError(f"{info.n_channels} channels selected but the fiber has "
                             f"{context.n_channels}; select as many with channels: [a, b]",
                             file=where)
        self.loop = spec.loop

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        """Add rows ``first_sample ..`` (wrapping when looping); gaps (NaN) add nothing."""
        length = self.reader.info.n_rows
        done = 0
        while done < block.shape[0]:
            row = first_sample + done
            if self.loop:
                row %= length
            elif row >= length:
                return
            take = min(block.shape[0] - done, length - row)
            rows = self.reader.read(row, row + take)
            block[done:done + take] += np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)
            done += take
