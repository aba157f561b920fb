"""The PRODML writer appends block by block: the file grows, memory does not."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import dascore as dc
import numpy as np
import pytest

from fibersim.formats import ProdmlWriter, RecordingInfo
from tests.recording.helpers import START_NS

CHANNELS = 500
BLOCK_ROWS = 200
BLOCKS = 150  # 60 MB of float32 in total, 400 kB per block


def test_many_blocks_grow_the_file_while_memory_holds_about_one_block(tmp_path: Path) -> None:
    info = RecordingInfo(prr=2000.0, dx=1.0, n_channels=CHANNELS, start_time_ns=START_NS)
    block = np.ones((BLOCK_ROWS, CHANNELS), np.float32)
    block_bytes = block.nbytes
    tracemalloc.start()
    try:
        with ProdmlWriter(tmp_path / "long.h5", info) as writer:
            for index in range(BLOCKS):
                block[0, 0] = index
                writer.append(block)
                assert writer.shape == ((index + 1) * BLOCK_ROWS, CHANNELS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * block_bytes, f"peak {peak / 1e6:.1f} MB for {block_bytes / 1e6:.1f} MB blocks"
    patch = dc.spool(tmp_path / "long.h5")[0]
    assert patch.shape == (BLOCKS * BLOCK_ROWS, CHANNELS)
    assert patch.data[::BLOCK_ROWS, 0].tolist() == list(range(BLOCKS))


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compressed_files_read_back_identically(tmp_path: Path, compression: str) -> None:
    info = RecordingInfo(prr=1000.0, dx=1.0, n_channels=8, start_time_ns=START_NS,
                         dtype="int16", scale=1e-9)
    counts = np.arange(4000, dtype=np.int16).reshape(500, 8)
    with ProdmlWriter(tmp_path / "c.h5", info, compression) as writer:  # type: ignore[arg-type]
        writer.append(counts)
    np.testing.assert_array_equal(dc.spool(tmp_path / "c.h5")[0].data, counts)


def test_samples_of_the_wrong_shape_or_type_are_refused(tmp_path: Path) -> None:
    info = RecordingInfo(prr=1000.0, dx=1.0, n_channels=8, start_time_ns=START_NS)
    with ProdmlWriter(tmp_path / "w.h5", info) as writer:
        with pytest.raises(ValueError, match=r"\(rows, 8\)"):
            writer.append(np.zeros((10, 7), np.float32))
        with pytest.raises(ValueError, match="float32"):
            writer.append(np.zeros((10, 8), np.float64))
        assert writer.rows == 0
