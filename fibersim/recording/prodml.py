"""PRODML 2.1 (Energistics) HDF5 adapters: a block-by-block writer and a lazy reader.

The layout is described attribute by attribute in docs/recording.md. Decisions that matter
for other tools:

* PRODML 2.1 conventions throughout: units as ``<Attribute>.uom`` next to their value,
  ``FacilityId`` and a ``uuid`` on the root group as well as on the acquisition and the
  raw part. The reader also accepts 2.0 files (``<Attribute>Unit``).
* Same content, same bytes: the uuids are derived from the recording's description (time,
  geometry, sample type) rather than drawn at random, so a scenario recorded twice with
  the same seed and ``run.start_time`` gives identical files.
* Time stamps in ``PartStartTime``/``PartEndTime`` carry nanoseconds: DASCore and xdas derive
  the time step from them as (end - start) / (count - 1), which is then exact.
* String attributes are fixed-length byte strings, as vendors write them: xdas calls
  ``.decode()`` on the part times and would fail on variable-length ``str`` attributes.
* Nothing else in ``Raw[0]`` may end in ``Data`` or ``DataTime``: DASCore picks the data and
  time arrays by those suffixes. The gap table is therefore called ``Gaps``.
* Gaps are rows that were never written: the dataset's HDF5 fill value (NaN for float32, 0
  for int16) shows through, costs no disk space for whole chunks, and keeps the time axis
  regular, which is what both readers assume.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

import h5py
import numpy as np

from fibersim.errors import InputError
from fibersim.recording.model import (
    NS_PER_S,
    Compression,
    Gap,
    RecordingInfo,
    format_iso_ns,
    parse_iso_ns,
)

SCHEMA_VERSION = "2.1"
#: ``FacilityId`` of every file: the installation the data come from.
FACILITY_ID = "fibersim"
RAW_GROUP = "Raw[0]"
#: Strain rate (1/s) of one stored unit; absent in other writers' files, meaning 1.0.
SCALE_ATTRIBUTE = "FibersimScale"
GAP_DTYPE = np.dtype([("StartIndex", "<i8"), ("Count", "<i8"), ("StartTime", "<i8")])

#: Chunks of about this many bytes: big enough for fast sequential IO and compression,
#: small enough that HDF5's chunk cache (1 MiB by default) holds one.
_CHUNK_BYTES = 1 << 20
#: Time stamps of a gap are written this many rows at a time, so a long gap stays cheap.
_TIME_ROWS_PER_WRITE = 1 << 18
_SPEED_OF_LIGHT = 299_792_458.0
_FIBER_INDEX = 1.445


def _text(value: str) -> np.bytes_:
    """A fixed-length ASCII attribute value, the form vendor files (and xdas) use."""
    return np.bytes_(value.encode("ascii", errors="replace"))


def _unbyte(value: object) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode(errors="replace")
    return str(value)


def nominal_pulse_width_ns(gauge_length_meters: float) -> float:
    """The pulse whose extent in the fiber equals the gauge length: 2 n L / c.

    fibersim does not model the pulse; PRODML requires a width, and this is the width an
    interrogator set to that gauge length would typically use.
    """
    return 2 * _FIBER_INDEX * gauge_length_meters / _SPEED_OF_LIGHT * 1e9


class ProdmlWriter:
    """Appends rows to a PRODML file; memory use is one block, whatever the file length.

    The file is readable (by DASCore, xdas, h5py) after ``close``; every append keeps the
    part end time and counts up to date, so even a file whose writer was killed describes the
    rows it holds.
    """

    def __init__(self, path: str | Path, info: RecordingInfo,
                 compression: Compression = None) -> None:
        self.info = info
        self.rows = 0
        self.gap_count = 0
        self.gap_rows = 0
        self._file = h5py.File(path, "w")
        try:
            self._create_layout(compression)
        except BaseException:
            self._file.close()
            raise

    def _create_layout(self, compression: Compression) -> None:
        info = self.info
        dtype = np.dtype(np.int16 if info.dtype == "int16" else np.float32)
        start_locus = round(info.fiber_start_meters / info.dx)
        gauge = info.gauge_length_meters if info.gauge_length_meters is not None else np.nan
        self._file.attrs.update({
            "uuid": _text(content_uuid(info, "file")),
            "schemaVersion": _text(SCHEMA_VERSION),
            "FacilityId": _text(FACILITY_ID),
        })
        acquisition = self._file.create_group("Acquisition")
        acquisition.attrs.update({
            "AcquisitionId": _text(content_uuid(info, "acquisition-id")),
            "uuid": _text(content_uuid(info, "acquisition")),
            "schemaVersion": _text(SCHEMA_VERSION),
            "FacilityId": _text(FACILITY_ID),
            "AcquisitionDescription": _text(info.description),
            "VendorCode": _text("fibersim"),
            "MeasurementStartTime": _text(format_iso_ns(info.start_time_ns)),
            "TriggeredMeasurement": False,
            "PulseRate": float(info.prr),
            "PulseRate.uom": _text("Hz"),
            "PulseWidth": nominal_pulse_width_ns(float(gauge)),
            "PulseWidth.uom": _text("ns"),
            "GaugeLength": float(gauge),
            "GaugeLength.uom": _text("m"),
            "SpatialSamplingInterval": float(info.dx),
            "SpatialSamplingInterval.uom": _text("m"),
            "MinimumFrequency": 0.0,
            "MinimumFrequency.uom": _text("Hz"),
            "MaximumFrequency": info.prr / 2,
            "MaximumFrequency.uom": _text("Hz"),
            "NumberOfLoci": np.int64(info.n_channels),
            "StartLocusIndex": np.int64(start_locus),
        })
        raw = acquisition.create_group(RAW_GROUP)
        raw.attrs.update({
            "uuid": _text(content_uuid(info, "raw")),
            "RawDescription": _text("strain rate"),
            "RawIndex": np.int64(0),
            "NumberOfLoci": np.int64(info.n_channels),
            "StartLocusIndex": np.int64(start_locus),
            "OutputDataRate": float(info.prr),
            "OutputDataRate.uom": _text("Hz"),
            "RawDataUnit": _text(_data_unit(info)),
        })
        chunk_rows = int(np.clip(_CHUNK_BYTES // (info.n_channels * dtype.itemsize), 16, 1024))
        compress: dict[str, object] = {}
        if compression is not None:
            compress = {"compression": compression, "shuffle": True}
        self._data = raw.create_dataset(
            "RawData", shape=(0, info.n_channels), maxshape=(None, info.n_channels),
            dtype=dtype, chunks=(chunk_rows, info.n_channels),
            fillvalue=np.nan if info.dtype == "float32" else 0, **compress)
        self._data.attrs.update({
            "Dimensions": np.array([b"time", b"locus"]),
            "RawDataUnit": _text(_data_unit(info)),
            SCALE_ATTRIBUTE: float(info.scale),
            "StartIndex": np.int64(0),
        })
        self._time = raw.create_dataset(
            "RawDataTime", shape=(0,), maxshape=(None,), dtype=np.int64,
            chunks=(max(chunk_rows, 4096),), **compress)
        self._time.attrs.update({
            "Dimensions": np.array([b"time"]),
            "RawDataTimeUnit": _text("us"),
            "StartIndex": np.int64(0),
        })
        self._gaps = raw.create_dataset("Gaps", shape=(0,), maxshape=(None,), dtype=GAP_DTYPE,
                                        chunks=(256,))
        self._gaps.attrs["Description"] = _text(
            "rows never received: StartIndex (row), Count (rows), StartTime (us since epoch);"
            " their RawData is the dataset fill value")
        self._update_extent()

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, channels) of RawData as stored in the file right now."""
        rows, channels = self._data.shape
        return int(rows), int(channels)

    def append(self, samples: np.ndarray) -> None:
        """Write the next rows; ``samples`` is (time, channel) in the file's dtype."""
        expected = self._data.dtype
        if samples.ndim != 2 or samples.shape[1] != self.info.n_channels:
            raise ValueError(f"expected (rows, {self.info.n_channels}) samples, "
                             f"got {samples.shape}")
        if samples.dtype != expected:
            raise ValueError(f"expected {expected} samples, got {samples.dtype}")
        first, n = self.rows, samples.shape[0]
        self._grow(n)
        self._data[first:first + n] = samples
        self._write_times(first, first + n)
        self._update_extent()

    def skip(self, n_rows: int) -> None:
        """Mark the next ``n_rows`` rows as a gap: stamped in time, filled, listed in Gaps."""
        if n_rows <= 0:
            return
        first = self.rows
        self._grow(n_rows)
        for start in range(first, first + n_rows, _TIME_ROWS_PER_WRITE):
            self._write_times(start, min(first + n_rows, start + _TIME_ROWS_PER_WRITE))
        self._gaps.resize((self.gap_count + 1,))
        self._gaps[self.gap_count] = (first, n_rows, self.info.time_of_row_ns(first) // 1000)
        self.gap_count += 1
        self.gap_rows += n_rows
        self._update_extent()

    def _grow(self, n_rows: int) -> None:
        self.rows += n_rows
        self._data.resize((self.rows, self.info.n_channels))
        self._time.resize((self.rows,))

    def _write_times(self, first: int, stop: int) -> None:
        rows = np.arange(first, stop, dtype=np.int64)
        offsets = np.rint(rows * (NS_PER_S / self.info.prr)).astype(np.int64)
        self._time[first:stop] = (self.info.start_time_ns + offsets) // 1000

    def _update_extent(self) -> None:
        start = format_iso_ns(self.info.start_time_ns)
        end = format_iso_ns(self.info.time_of_row_ns(max(0, self.rows - 1)))
        for dataset in (self._data, self._time):
            dataset.attrs["PartStartTime"] = _text(start)
            dataset.attrs["PartEndTime"] = _text(end)
            dataset.attrs["Count"] = np.int64(self.rows)
        self._time.attrs["StartTime"] = _text(start)
        self._time.attrs["EndTime"] = _text(end)
        self._data.attrs["GapCount"] = np.int64(self.gap_count)

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def content_uuid(info: RecordingInfo, role: str) -> str:
    """A uuid (version 5) derived from what the recording is, for the object ``role``:
    the same recording gets the same uuids, different recordings different ones."""
    name = (f"fibersim:{role}:{info.start_time_ns}:{info.prr!r}:{info.dx!r}:{info.n_channels}:"
            f"{info.dtype}:{info.scale!r}:{info.gauge_length_meters!r}:"
            f"{info.fiber_start_meters!r}:{info.description}")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _data_unit(info: RecordingInfo) -> str:
    """``1/s`` for float32; for int16 the size of one count, e.g. ``3.0518e-09 1/s``, which
    DASCore parses as a quantity so ``patch.convert_units("1/s")`` yields strain rate."""
    return "1/s" if info.scale == 1.0 else f"{info.scale!r} 1/s"


def is_prodml(path: str | Path) -> bool:
    """True for an HDF5 file with a PRODML raw part (``/Acquisition/Raw[0]/RawData``)."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as file:
            return f"Acquisition/{RAW_GROUP}/RawData" in file
    except OSError:
        return False


class ProdmlReader:
    """Reads rows of a PRODML file's first raw part on demand, straight from HDF5."""

    def __init__(self, path: str | Path, channels: slice = slice(None)) -> None:
        self._file = h5py.File(path, "r")
        try:
            self._open(str(path), channels)
        except BaseException:
            self._file.close()
            raise

    def _open(self, path: str, channels: slice) -> None:
        acquisition = self._file["Acquisition"]
        raw = acquisition[RAW_GROUP]
        self._data = raw["RawData"]
        self._locus_major = _is_locus_major(self._data.attrs.get("Dimensions", b"time"))
        n_rows, n_loci = self._data.shape[::-1] if self._locus_major else self._data.shape
        times = raw["RawDataTime"].attrs if "RawDataTime" in raw else self._data.attrs
        try:
            start_ns = parse_iso_ns(_unbyte(times["PartStartTime"]))
            end_ns = parse_iso_ns(_unbyte(times["PartEndTime"]))
            dx = float(acquisition.attrs["SpatialSamplingInterval"])
        except (KeyError, ValueError) as error:
            raise InputError(f"not a readable PRODML file: {error}", file=path) from None
        prr = float(raw.attrs.get("OutputDataRate", 0.0))
        if not prr > 0:
            if n_rows < 2 or end_ns <= start_ns:
                raise InputError("cannot tell the sample rate of a PRODML file", file=path)
            prr = (n_rows - 1) * NS_PER_S / (end_ns - start_ns)
        gauge_unit = _unbyte(acquisition.attrs.get(
            "GaugeLength.uom", acquisition.attrs.get("GaugeLengthUnit", "m")))
        gauge = acquisition.attrs.get("GaugeLength")
        full = RecordingInfo(
            prr=prr,
            dx=dx,
            n_channels=int(n_loci),
            start_time_ns=start_ns,
            dtype="int16" if self._data.dtype == np.int16 else "float32",
            scale=float(self._data.attrs.get(SCALE_ATTRIBUTE, 1.0)),
            gauge_length_meters=float(gauge) if gauge is not None and gauge_unit == "m" else None,
            fiber_start_meters=int(acquisition.attrs.get("StartLocusIndex", 0)) * dx,
            n_rows=int(n_rows),
            description=_unbyte(acquisition.attrs.get("AcquisitionDescription", "")),
        )
        self._columns = checked_channels(channels, full.n_channels, path)
        self.info = full.select_channels(self._columns)
        gaps = raw["Gaps"][()] if "Gaps" in raw else np.empty(0, GAP_DTYPE)
        self.gaps = [Gap(int(row["StartIndex"]), int(row["Count"])) for row in gaps]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of the selected channels as strain rate (1/s), float32."""
        values = self.read_stored(start, stop).astype(np.float32)
        if self.info.scale != 1.0:
            values *= np.float32(self.info.scale)
        return values

    def read_stored(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as stored (int16 counts or float32), for exact comparisons."""
        if self._locus_major:
            return self._data[self._columns, start:stop].T
        return self._data[start:stop, self._columns]

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()


def _is_locus_major(dimensions: object) -> bool:
    """True when the data array is (locus, time), which some vendors write."""
    if isinstance(dimensions, np.ndarray):
        names = [_unbyte(name) for name in dimensions.ravel()]
    else:
        names = _unbyte(dimensions).replace(",", " ").split()
    return bool(names) and names[0].lower() in ("locus", "distance")


def checked_channels(channels: slice, n_channels: int, path: str) -> slice:
    """``channels`` as a concrete ``start:stop`` range, or an InputError naming the file."""
    start, stop, step = channels.indices(n_channels)
    beyond = channels.stop is not None and channels.stop > n_channels
    if step != 1 or start >= stop or beyond:
        asked = f"{channels.start or 0}..{(channels.stop or n_channels) - 1}"
        raise InputError(f"channels {asked} are not within the file's channels "
                         f"0..{n_channels - 1}", file=path)
    return slice(start, stop)
