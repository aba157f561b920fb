"""Any file DASCore reads opens as a recording; PRODML is read straight from HDF5."""

from __future__ import annotations

from pathlib import Path

import dascore as dc
import numpy as np
import pytest

from fibersim.errors import InputError
from fibersim.recording import DascoreReader, ProdmlReader, open_recording
from tests.recording.helpers import SMALL_FIBER, START_NS, record_small


@pytest.fixture(scope="module")
def prodml_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("readers") / "r.h5"
    record_small(path, 1.0)
    return path


def test_a_prodml_file_gets_the_direct_hdf5_reader_with_the_fibers_geometry(
        prodml_file: Path) -> None:
    reader = open_recording(prodml_file)
    assert isinstance(reader, ProdmlReader)
    info = reader.info
    assert (info.prr, info.dx, info.n_channels, info.n_rows) == (500.0, 2.0, 48, 500)
    assert (info.start_time_ns, info.fiber_start_meters, info.gauge_length_meters) == (
        START_NS, 100.0, 8.0)


def test_other_formats_are_read_through_dascore_with_the_same_rows(prodml_file: Path,
                                                                   tmp_path: Path) -> None:
    dasdae = tmp_path / "r.dasdae.h5"
    dc.spool(prodml_file)[0].io.write(dasdae, "dasdae")
    via_dascore, via_hdf5 = open_recording(dasdae), open_recording(prodml_file)
    assert isinstance(via_dascore, DascoreReader)
    for field in ("prr", "dx", "n_channels", "n_rows", "start_time_ns", "fiber_start_meters"):
        assert getattr(via_dascore.info, field) == pytest.approx(getattr(via_hdf5.info, field))
    np.testing.assert_array_equal(via_dascore.read(120, 380), via_hdf5.read(120, 380))


def test_a_channel_range_selects_columns_and_moves_the_fiber_start(prodml_file: Path) -> None:
    whole, part = open_recording(prodml_file), open_recording(prodml_file, slice(10, 20))
    assert part.info.n_channels == 10
    assert part.info.fiber_start_meters == 100.0 + 10 * SMALL_FIBER.dx
    np.testing.assert_array_equal(part.read(0, 50), whole.read(0, 50)[:, 10:20])


@pytest.mark.parametrize("channels", [slice(40, 60), slice(30, 30)])
def test_a_channel_range_outside_the_file_is_an_input_error(prodml_file: Path,
                                                             channels: slice) -> None:
    with pytest.raises(InputError, match=r"not within the file's channels 0\.\.47"):
        open_recording(prodml_file, channels)


def test_files_that_are_not_das_recordings_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a DAS file")
    with pytest.raises(InputError, match="DASCore cannot read it"):
        open_recording(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="no such file"):
        open_recording(tmp_path / "missing.h5")


REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference-das"


@pytest.mark.skipif(not (REFERENCE_DIR / "febus_2.h5").is_file(),
                    reason=f"reference recordings not found in {REFERENCE_DIR}")
def test_a_file_whose_scan_counts_one_row_more_than_it_loads_reads_whole() -> None:
    """DASCore's scan of a Febus file starts one overlap row before the loaded data."""
    reader = open_recording(REFERENCE_DIR / "febus_2.h5")
    patch = dc.spool(REFERENCE_DIR / "febus_2.h5")[0]
    time = patch.coords.get_coord("time")
    assert reader.info.n_rows == len(time) == 1049
    assert reader.info.start_time_ns == np.datetime64(time.min(), "ns").astype(np.int64)
    rows = reader.read(0, reader.info.n_rows)
    expected = np.asarray(patch.data, dtype=np.float32) * np.float32(reader.info.scale)
    np.testing.assert_array_equal(rows, expected)
