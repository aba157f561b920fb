"""Reading any DAS recording as rows of strain rate: PRODML through h5py, the rest via DASCore.

``open_recording`` is the one entry point: replay and the recording signal source never ask
which format a file is in. PRODML files (ours and vendors') are read straight from HDF5, a
few rows at a time; every other format DASCore knows goes through its spool, one patch in
memory at a time, patches joined end to end in time order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fibersim.errors import InputError
from fibersim.recording.model import NS_PER_S, RecordingInfo
from fibersim.recording.prodml import ProdmlReader, checked_channels, is_prodml


class RecordingReader(Protocol):
    """Random access to a recording's rows for a contiguous range of its channels."""

    info: RecordingInfo

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as strain rate (1/s), float32, shape (rows, channels)."""

    def close(self) -> None: ...


def open_recording(path: str | Path, channels: slice = slice(None)) -> RecordingReader:
    """A reader for ``path`` restricted to ``channels``; InputError if it cannot be read."""
    if not Path(path).exists():
        raise InputError("no such file or directory", file=str(path))
    reader: RecordingReader = (ProdmlReader(path, channels) if is_prodml(path)
                               else DascoreReader(path, channels))
    if reader.info.n_rows == 0:
        reader.close()
        raise InputError("the recording holds no samples", file=str(path))
    return reader


class DascoreReader:
    """Any file (or directory) DASCore can spool, as one continuous run of rows."""

    def __init__(self, path: str | Path, channels: slice = slice(None)) -> None:
        import dascore as dc
        import pandas as pd
        from dascore.exceptions import DASCoreError

        try:
            spool = dc.spool(path)
            if Path(path).is_dir():
                spool = spool.update()
            spool = spool.sort("time")
            contents = spool.get_contents()
        except (DASCoreError, OSError, ValueError, KeyError) as error:
            raise InputError(f"DASCore cannot read it ({type(error).__name__}: {error})",
                             file=str(path)) from None
        if contents.empty:
            raise InputError("DASCore finds no DAS data in it", file=str(path))
        geometry = contents[["distance_min", "distance_max", "distance_step", "time_step"]]
        if len(geometry.drop_duplicates()) > 1:
            raise InputError("its patches differ in channels or sample rate; replay them "
                             "separately", file=str(path))
        first = contents.iloc[0]
        step_ns = pd.Timedelta(first["time_step"]).value
        self._spool = spool
        self._cached: tuple[int, Any] | None = None
        # Rows are counted on the loaded patches, not derived from the scanned time range:
        # a scan can disagree with what loading yields (Febus files: the scan's time_min
        # includes an overlap row the loader trims, one row more than the data holds).
        # Every patch is loaded once here; the last one stays cached for the first read.
        try:
            times = [self._patch(index).coords.get_coord("time")
                     for index in range(len(contents))]
        except (DASCoreError, OSError, ValueError, KeyError) as error:
            raise InputError(f"DASCore cannot load it ({type(error).__name__}: {error})",
                             file=str(path)) from None
        rows = [len(time) for time in times]
        dx = float(first["distance_step"])
        n_channels = round((float(first["distance_max"]) - float(first["distance_min"])) / dx) + 1
        gauge = contents["gauge_length"].iloc[0] if "gauge_length" in contents else None
        full = RecordingInfo(
            prr=NS_PER_S / step_ns,
            dx=dx,
            n_channels=n_channels,
            start_time_ns=pd.Timestamp(times[0].min()).value,
            dtype="float32",
            scale=_strain_rate_factor(first.get("data_units")),
            gauge_length_meters=float(gauge) if gauge is not None else None,
            fiber_start_meters=float(first["distance_min"]),
            n_rows=sum(rows),
            description=str(first.get("station") or first.get("tag") or Path(path).name),
        )
        self._columns = checked_channels(channels, n_channels, str(path))
        self.info = full.select_channels(self._columns)
        self._starts = np.cumsum([0, *rows])

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.info.n_channels), dtype=np.float32)
        row = start
        while row < stop:
            index = int(np.searchsorted(self._starts, row, side="right")) - 1
            patch_stop = min(stop, int(self._starts[index + 1]))
            offset = int(self._starts[index])
            out[row - start:patch_stop - start] = self._rows(index, row - offset,
                                                             patch_stop - offset)
            row = patch_stop
        if self.info.scale != 1.0:
            out *= np.float32(self.info.scale)
        return out

    def _rows(self, index: int, start: int, stop: int) -> np.ndarray:
        """Rows of one patch; only the patch being replayed is held in memory."""
        patch = self._patch(index)
        if patch.dims.index("time") == 0:
            return np.asarray(patch.data[start:stop, self._columns])
        return np.asarray(patch.data[self._columns, start:stop]).T

    def _patch(self, index: int) -> Any:
        """Patch ``index`` of the spool, loaded once while it is the one being read."""
        if self._cached is None or self._cached[0] != index:
            self._cached = (index, self._spool[index])
        return self._cached[1]

    def close(self) -> None:
        self._cached = None


def _strain_rate_factor(units: object) -> float:
    """Factor from the file's data unit to strain rate (1/s); 1.0 when the unit is unknown or
    not a strain rate (such data is replayed as is: the wire has no other unit)."""
    if units is None or not str(units):
        return 1.0
    from dascore.units import get_quantity
    from pint.errors import PintError

    try:
        return float(get_quantity(str(units)).to("1/s").magnitude)
    except (PintError, ValueError):
        return 1.0
