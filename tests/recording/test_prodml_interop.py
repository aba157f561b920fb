"""The PRODML files fibersim writes are read correctly by DASCore and xdas."""

from __future__ import annotations

from pathlib import Path

import dascore as dc
import h5py
import numpy as np
import pytest
import xdas

from fibersim.recording import ProdmlWriter, RecordingInfo, open_recording
from tests.recording.helpers import SMALL_FIBER, START_NS, record_small, waves

SECONDS = 2.0
ROWS = int(SECONDS * SMALL_FIBER.prr)


@pytest.fixture(scope="module")
def float_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prodml") / "float.h5"
    record_small(path, SECONDS)
    return path


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    return waves(SMALL_FIBER, ROWS)


def test_dascore_reads_shape_steps_start_and_values(float_file: Path,
                                                     expected: np.ndarray) -> None:
    patch = dc.spool(float_file)[0]
    assert patch.dims == ("time", "distance")
    assert patch.shape == (ROWS, SMALL_FIBER.number_of_channels)
    assert patch.coords.step("time") == np.timedelta64(2_000_000, "ns")
    assert patch.coords.step("distance") == pytest.approx(2.0)
    assert patch.coords.min("distance") == pytest.approx(100.0)
    assert patch.coords.min("time") == np.datetime64(START_NS, "ns")
    assert patch.attrs.gauge_length == pytest.approx(8.0)
    assert patch.attrs.data_type == "strain_rate"
    np.testing.assert_array_equal(patch.data, expected)


def test_xdas_reads_shape_steps_start_and_values(float_file: Path, expected: np.ndarray) -> None:
    array = xdas.open_dataarray(str(float_file), engine="prodml")
    assert array.dims == ("time", "distance")
    assert array.shape == (ROWS, SMALL_FIBER.number_of_channels)
    times = array["time"].values
    assert times[0] == np.datetime64(START_NS, "ns")
    assert np.all(np.diff(times) == np.timedelta64(2_000_000, "ns"))
    distances = array["distance"].values
    assert distances[0] == pytest.approx(100.0)
    assert np.diff(distances) == pytest.approx(2.0)
    np.testing.assert_array_equal(np.asarray(array.values), expected)


def test_int16_counts_carry_their_size_as_the_data_unit(tmp_path: Path,
                                                        expected: np.ndarray) -> None:
    record_small(tmp_path / "int16.h5", SECONDS, dtype="int16")
    patch = dc.spool(tmp_path / "int16.h5")[0]
    assert patch.data.dtype == np.int16
    strain_rate = patch.convert_units("1/s").data
    np.testing.assert_allclose(strain_rate, expected, rtol=0, atol=SMALL_FIBER.int16_scale / 2)


def test_the_acquisition_carries_the_prodml_attributes(float_file: Path) -> None:
    with h5py.File(float_file) as file:
        acquisition = dict(file["Acquisition"].attrs)
        raw = file["Acquisition/Raw[0]"]
        data, times = dict(raw["RawData"].attrs), raw["RawDataTime"]
        assert acquisition["schemaVersion"] == b"2.1"
        assert acquisition["MeasurementStartTime"] == b"2024-05-01T12:00:00.000000000+00:00"
        assert acquisition["PulseRate"] == 500.0
        assert acquisition["NumberOfLoci"] == 48 and acquisition["StartLocusIndex"] == 50
        assert acquisition["SpatialSamplingInterval"] == 2.0
        assert acquisition["SpatialSamplingInterval.uom"] == b"m"
        assert acquisition["GaugeLength"] == 8.0 and acquisition["GaugeLength.uom"] == b"m"
        assert acquisition["PulseWidth"] == pytest.approx(77.1, abs=0.1)
        assert acquisition["PulseWidth.uom"] == b"ns" and acquisition["PulseRate.uom"] == b"Hz"
        assert acquisition["FacilityId"] == b"fibersim"
        assert {"AcquisitionId", "uuid"} <= set(acquisition)
        assert not [name for name in acquisition if name.endswith("Unit")]  # 2.1 only
        root = dict(file.attrs)
        assert root["schemaVersion"] == b"2.1" and root["FacilityId"] == b"fibersim"
        assert len({root["uuid"], acquisition["uuid"], raw.attrs["uuid"]}) == 3
        assert data["PartEndTime"] == b"2024-05-01T12:00:01.998000000+00:00"
        assert data["Count"] == ROWS and data["RawDataUnit"] == b"1/s"
        assert [name.decode() for name in data["Dimensions"]] == ["time", "locus"]
        assert times.dtype == np.int64 and times[0] == START_NS // 1000
        assert np.all(np.diff(times[()]) == 2000)


def test_a_gap_keeps_the_time_axis_regular_fills_nan_and_is_listed(tmp_path: Path) -> None:
    info = RecordingInfo(prr=1000.0, dx=1.0, n_channels=4, start_time_ns=START_NS)
    with ProdmlWriter(tmp_path / "gap.h5", info) as writer:
        writer.append(np.ones((300, 4), np.float32))
        writer.skip(200)
        writer.append(np.full((500, 4), 2.0, np.float32))
    patch = dc.spool(tmp_path / "gap.h5")[0]
    assert patch.shape == (1000, 4)
    assert patch.coords.step("time") == np.timedelta64(1, "ms")
    assert np.isnan(patch.data[300:500]).all()
    assert not np.isnan(patch.data[:300]).any() and not np.isnan(patch.data[500:]).any()
    reader = open_recording(tmp_path / "gap.h5")
    assert [(gap.first_row, gap.n_rows) for gap in reader.gaps] == [(300, 200)]
    with h5py.File(tmp_path / "gap.h5") as file:
        assert file["Acquisition/Raw[0]/RawData"].attrs["GapCount"] == 1
        assert file["Acquisition/Raw[0]/Gaps"][0]["StartTime"] == START_NS // 1000 + 300_000


def test_int16_gaps_hold_zero_counts(tmp_path: Path) -> None:
    info = RecordingInfo(prr=1000.0, dx=1.0, n_channels=4, start_time_ns=START_NS,
                         dtype="int16", scale=1e-9)
    with ProdmlWriter(tmp_path / "gap16.h5", info) as writer:
        writer.append(np.full((10, 4), 7, np.int16))
        writer.skip(5)
        writer.append(np.full((10, 4), 7, np.int16))
    with h5py.File(tmp_path / "gap16.h5") as file:
        data = file["Acquisition/Raw[0]/RawData"]
        assert data.fillvalue == 0
        assert (data[10:15] == 0).all() and (data[15:] == 7).all()
