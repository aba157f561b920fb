"""A recording as a signal source: rows added sample for sample, looped or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from fibersim.errors import InputError
from fibersim.formats import ProdmlWriter, RecordingInfo
from fibersim.signals import RecordingSpec, SynthesisContext, Synthesizer
from tests.recording.helpers import SMALL_FIBER, START_NS, record_small, waves


def context(n_channels: int = 48, prr: float = 500.0) -> SynthesisContext:
    return SynthesisContext(prr=prr, dx=2.0, n_channels=n_channels, gauge_length_meters=8.0,
                            seed=0)


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "one.h5"
    record_small(path, 1.0)
    return path


def render(source: object, rows: int, cut: int, channels: int = 48) -> np.ndarray:
    """``rows`` rows rendered as two blocks cut at ``cut``."""
    block = np.zeros((rows, channels), np.float32)
    source.add_to(block[:cut], 0)  # type: ignore[attr-defined]
    source.add_to(block[cut:], cut)  # type: ignore[attr-defined]
    return block


@pytest.mark.parametrize("cut", [1, 173, 250])
def test_the_source_adds_the_recorded_rows_whatever_the_block_cut(one_second: Path,
                                                                  cut: int) -> None:
    source = RecordingSpec(path=one_second).build(context())
    np.testing.assert_array_equal(render(source, 400, cut), waves(SMALL_FIBER, 400))


def test_a_looping_recording_wraps_and_a_plain_one_falls_silent(one_second: Path) -> None:
    recorded = waves(SMALL_FIBER, 500)
    looped = render(RecordingSpec(path=one_second, loop=True).build(context()), 1200, 450)
    np.testing.assert_array_equal(looped[500:1000], recorded)
    np.testing.assert_array_equal(looped[1000:], recorded[:200])
    plain = render(RecordingSpec(path=one_second).build(context()), 1200, 450)
    np.testing.assert_array_equal(plain[:500], recorded)
    assert not plain[500:].any()


def test_a_channel_range_plays_those_channels_inclusively(one_second: Path) -> None:
    source = RecordingSpec(path=one_second, channels=(5, 14)).build(context(n_channels=10))
    np.testing.assert_array_equal(render(source, 100, 30, channels=10),
                                  waves(SMALL_FIBER, 100)[:, 5:15])


def test_gaps_in_a_recording_add_nothing(tmp_path: Path) -> None:
    info = RecordingInfo(prr=500.0, dx=2.0, n_channels=48, start_time_ns=START_NS)
    with ProdmlWriter(tmp_path / "gap.h5", info) as writer:
        writer.append(np.ones((10, 48), np.float32))
        writer.skip(10)
    played = render(RecordingSpec(path=tmp_path / "gap.h5").build(context()), 20, 5)
    assert np.isfinite(played).all() and not played[10:].any()


@pytest.mark.parametrize("fiber, complaint", [
    (context(prr=1000.0), "recorded at 500 Hz but the fiber runs at 1000 Hz"),
    (context(n_channels=47), "48 channels selected but the fiber has 47"),
])
def test_a_fiber_that_differs_from_the_recording_is_refused(
        one_second: Path, fiber: SynthesisContext, complaint: str) -> None:
    with pytest.raises(InputError, match=complaint):
        RecordingSpec(path=one_second).build(fiber)


def test_the_spec_reads_like_a_scenario_entry() -> None:
    spec = RecordingSpec.model_validate(
        {"type": "recording", "path": "quake.h5", "channels": [100, 599], "loop": True})
    assert spec.channel_slice == slice(100, 600)
    with pytest.raises(ValidationError, match="first, last"):
        RecordingSpec.model_validate({"type": "recording", "path": "x.h5", "channels": [9, 3]})
    with pytest.raises(ValidationError, match="extra"):
        RecordingSpec.model_validate({"type": "recording", "path": "x.h5", "speed": 2})


def test_a_scenario_can_start_a_recording_mid_run(one_second: Path) -> None:
    """``start_source`` with ``{type: recording}``: the recording adds its rows from the next
    sample on, at the same absolute sample index as every other source."""
    synthesizer = Synthesizer(context(), [])
    before = synthesizer.render(100)
    synthesizer.start_source("quake", RecordingSpec(path=one_second))
    after = synthesizer.render(300)
    assert not before.any()
    np.testing.assert_array_equal(after, waves(SMALL_FIBER, 400)[100:])
    assert synthesizer.labels == ["quake"]


def test_starting_a_recording_that_does_not_fit_the_fiber_is_refused(one_second: Path) -> None:
    with pytest.raises(InputError, match="recorded at 500 Hz"):
        Synthesizer(context(prr=1000.0), []).start_source("quake", RecordingSpec(path=one_second))
