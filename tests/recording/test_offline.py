"""Offline recording holds exactly what a live stream of the same fiber would carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fibersim.formats import ProdmlReader, open_recording
from fibersim.wire import quantize_int16
from tests.recording.helpers import SMALL_FIBER, START_NS, record_small, waves


def test_a_recording_holds_the_fibers_samples_and_times(tmp_path: Path) -> None:
    info = record_small(tmp_path / "r.h5", 1.5)
    reader = open_recording(tmp_path / "r.h5")
    assert info.n_rows == reader.info.n_rows == 750
    assert reader.info.start_time_ns == START_NS
    np.testing.assert_array_equal(reader.read(0, 750), waves(SMALL_FIBER, 750))


def test_recording_from_a_later_time_starts_there_in_samples_and_clock(tmp_path: Path) -> None:
    record_small(tmp_path / "late.h5", 2.0, from_s=1.2)
    reader = open_recording(tmp_path / "late.h5")
    assert reader.info.n_rows == 400
    assert reader.info.start_time_ns == START_NS + 1_200_000_000
    np.testing.assert_array_equal(reader.read(0, 400), waves(SMALL_FIBER, 400, first_sample=600))


def test_an_int16_recording_holds_the_wire_quantisation(tmp_path: Path) -> None:
    record_small(tmp_path / "q.h5", 1.0, dtype="int16")
    reader = ProdmlReader(tmp_path / "q.h5")
    assert reader.info.dtype == "int16" and reader.info.scale == SMALL_FIBER.int16_scale
    counts = quantize_int16(waves(SMALL_FIBER, 500), SMALL_FIBER.int16_scale)
    np.testing.assert_array_equal(reader.read_stored(0, 500), counts)
