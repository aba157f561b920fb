"""The one data model every recording adapter speaks: what a recording is, not how it is stored.

Like DASCore's single patch model with many thin IO adapters, the PRODML writer, the readers
(h5py for PRODML, DASCore for everything else), the offline recorder, the AMQP tap and the
replay source all exchange ``RecordingInfo`` and rows of (time, channel) samples. Adding a
format means one adapter that produces or consumes this model, nothing else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from fibersim.errors import InputError
from fibersim.models import FiberConfig, SampleDtype

NS_PER_S = 1_000_000_000

#: How rows are compressed on disk; ``None`` stores them as they are (most interoperable).
Compression = Literal["gzip", "lzf"] | None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_TIME = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?(Z|[+-]\d\d:?\d\d)?$"
)


@dataclass(frozen=True)
class RecordingInfo:
    """Everything needed to interpret a recording's rows, independent of the file format.

    Rows are time samples at ``prr`` Hz starting at ``start_time_ns``; columns are channels
    ``dx`` metres apart, the first at ``fiber_start_meters``. Stored values times ``scale``
    are strain rate (1/s): ``scale`` is the int16 count size, 1.0 for float32 files.
    """

    prr: float
    dx: float
    n_channels: int
    start_time_ns: int
    dtype: SampleDtype = "float32"
    scale: float = 1.0
    gauge_length_meters: float | None = None
    fiber_start_meters: float = 0.0
    n_rows: int = 0
    description: str = "fibersim recording"

    def time_of_row_ns(self, row: int) -> int:
        """Timestamp (ns since the epoch) of a row; exact integer arithmetic for whole-ns
        sample periods, so long recordings do not accumulate rounding errors."""
        return self.start_time_ns + round(row * NS_PER_S / self.prr)

    @property
    def duration_s(self) -> float:
        """Time covered by the rows, one sample period per row."""
        return self.n_rows / self.prr

    def select_channels(self, channels: slice) -> RecordingInfo:
        """The same recording restricted to a contiguous channel range (step 1)."""
        start, stop, _ = channels.indices(self.n_channels)
        return replace(self, n_channels=max(0, stop - start),
                       fiber_start_meters=self.fiber_start_meters + start * self.dx)

    def fiber_config(self, fiber_id: str, dtype: SampleDtype | None = None) -> FiberConfig:
        """An interrogator set up like the one that made this recording.

        An int16 recording keeps its count size as the int16 scale, so a replay on the wire
        carries the very same counts.
        """
        fields: dict[str, object] = {
            "fiber_id": fiber_id,
            "number_of_channels": self.n_channels,
            "prr": self.prr,
            "dx": self.dx,
            "fiber_start_meters": max(0.0, self.fiber_start_meters),
            "fiber_description": self.description or "replayed recording",
            "dtype": dtype or self.dtype,
        }
        if self.gauge_length_meters is not None and math.isfinite(self.gauge_length_meters):
            fields["gauge_length_meters"] = self.gauge_length_meters
        if self.dtype == "int16":
            fields["int16_full_scale"] = self.scale * 32767.0
        try:
            return FiberConfig.model_validate(fields)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InputError(f"recording cannot be replayed as a fiber: {where}: "
                             f"{first['msg']}") from None

    @classmethod
    def of_fiber(cls, config: FiberConfig, start_time_ns: int,
                 dtype: SampleDtype = "float32") -> RecordingInfo:
        """What recording a fiber set up with ``config`` produces, stored as ``dtype``."""
        return cls(
            prr=config.prr,
            dx=config.dx,
            n_channels=config.number_of_channels,
            start_time_ns=start_time_ns,
            dtype=dtype,
            scale=config.int16_scale if dtype == "int16" else 1.0,
            gauge_length_meters=config.gauge_length_meters,
            fiber_start_meters=config.fiber_start_meters,
            description=config.fiber_description,
        )


@dataclass(frozen=True)
class Gap:
    """Rows with no data: ``n_rows`` rows from ``first_row`` were never received."""

    first_row: int
    n_rows: int


def format_iso_ns(time_ns: int) -> str:
    """ISO 8601 UTC with nanoseconds and an explicit offset, e.g.
    ``2024-05-01T12:00:00.000500000+00:00``: both DASCore and pandas (xdas) parse it
    exactly, so the time step derived from start and end stamps is exact."""
    seconds, fraction = divmod(time_ns, NS_PER_S)
    whole = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{fraction:09d}+00:00"


def parse_iso_ns(text: str) -> int:
    """Nanoseconds since the epoch from an ISO 8601 time (no offset means UTC)."""
    match = _ISO_TIME.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 time")
    whole, fraction, offset = match.groups()
    if offset in (None, "Z"):
        offset = "+00:00"
    moment = datetime.fromisoformat(whole + offset)
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * NS_PER_S + int((fraction or "").ljust(9, "0"))
