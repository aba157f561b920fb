"""Live jobs consume the fiber's data and produce waterfall lines: STFT magnitude per channel
group, readable at GET /_mock/jobs/{job_id}/lines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fibersim.focus.jobs import JobRequest, Waterfall, plan_job
from tests.focus.harness import PREFIX, Focus, FocusFactory, configure_body

CHANNELS = 64
BLOCK = 200


def tone(frequency_hz: float, prr: float, blocks: int, amplitude: int = 3000) -> np.ndarray:
    """int16 samples (time, channel) of a sine on every channel."""
    t = np.arange(blocks * BLOCK) / prr
    wave = np.rint(amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.int16)
    return np.repeat(wave[:, np.newaxis], CHANNELS, axis=1)


async def feed(focus: Focus, samples: np.ndarray, prr: float) -> None:
    for start in range(0, samples.shape[0], BLOCK):
        await focus.block(samples[start:start + BLOCK], prr=prr)


async def start_job(focus: Focus, **changes: Any) -> str:
    body = configure_body(**{"channels": {"min": 1, "max": CHANNELS}, "nfftSelection": 256,
                             "displayTimeAxisDuration": 10, "displayInfo": {"height": 200}}
                          | changes)
    response = await focus.client.post(f"{PREFIX}/configure", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["job_id"])


async def lines_of(focus: Focus, job_id: str) -> dict[str, Any]:
    response = await focus.client.get(f"{PREFIX}/_mock/jobs/{job_id}/lines", params={"last": 50})
    assert response.status_code == 200
    return dict(response.json())


def peak_frequency(output: dict[str, Any]) -> float:
    spectrum = np.asarray(output["lines"]).mean(axis=(0, 1))
    return float(output["frequencies"][int(np.argmax(spectrum))])


async def lines_of_a_250_hz_tone(make_focus: FocusFactory) -> dict[str, Any]:
    """The lines of a default job after ten blocks of a 250 Hz tone sampled at 2 kHz."""
    focus = await make_focus()
    await focus.metadata(number_of_channels=CHANNELS)
    job_id = await start_job(focus)
    await feed(focus, tone(250.0, 2000.0, blocks=10), prr=2000.0)
    return await lines_of(focus, job_id)


async def test_lines_have_one_spectrum_per_channel_group(make_focus: FocusFactory) -> None:
    output = await lines_of_a_250_hz_tone(make_focus)
    lines = np.asarray(output["lines"])
    # 2000 samples, 256-sample window, a line every 100 samples (10 s / 200 lines at 2 kHz)
    assert lines.shape == (18, 3, 128)  # 0..1000 Hz in 7.8125 Hz bins
    assert output["channel_groups"] == [[1, 22], [23, 43], [44, 64]]


async def test_a_tone_shows_up_in_its_frequency_bin(make_focus: FocusFactory) -> None:
    output = await lines_of_a_250_hz_tone(make_focus)
    assert peak_frequency(output) == 250.0
    assert np.asarray(output["lines"]).max() == pytest.approx(3000, rel=0.05)  # the amplitude


async def test_the_internal_nfft_raise_keeps_the_requested_bins(make_focus: FocusFactory) -> None:
    focus = await make_focus()
    await focus.metadata(number_of_channels=CHANNELS)
    job_id = await start_job(focus, displayInfo={"height": 5})  # hop 4000 samples
    await feed(focus, tone(250.0, 2000.0, blocks=90), prr=2000.0)
    output = await lines_of(focus, job_id)
    assert len(output["frequencies"]) == 128 and peak_frequency(output) == 250.0


async def test_after_a_prr_change_legacy_jobs_put_the_tone_in_the_wrong_bin(
        make_focus: FocusFactory) -> None:
    focus = await make_focus(reconfigure_policy="legacy")
    await focus.metadata(number_of_channels=CHANNELS)
    job_id = await start_job(focus, frequencyRange={"min": 0, "max": 500})
    await focus.metadata(number_of_channels=CHANNELS, prr=1000.0)
    await feed(focus, tone(125.0, 1000.0, blocks=10), prr=1000.0)
    assert peak_frequency(await lines_of(focus, job_id)) == 250.0  # labelled with the old prr


async def test_after_a_prr_change_adaptive_jobs_stay_right(make_focus: FocusFactory) -> None:
    focus = await make_focus(reconfigure_policy="adaptive")
    await focus.metadata(number_of_channels=CHANNELS)
    job_id = await start_job(focus, frequencyRange={"min": 0, "max": 500})
    await focus.metadata(number_of_channels=CHANNELS, prr=1000.0)
    await feed(focus, tone(125.0, 1000.0, blocks=10), prr=1000.0)
    output = await lines_of(focus, job_id)
    assert (output["prr"], peak_frequency(output)) == (1000.0, 125.0)


def test_the_raw_waterfall_view_gives_the_rms_of_each_group() -> None:
    request = JobRequest(view_type=2, nfft=1, height=100, display_time_axis_duration=None,
                         channel_min=1, channel_max=CHANNELS, frequency_min=None,
                         frequency_max=None, start_time=None, end_time=None)
    waterfall = Waterfall(plan_job(request, 2000.0))
    waterfall.feed(tone(50.0, 2000.0, blocks=1), channel_start=0, counts_per_unit=1.0)
    assert waterfall.lines_total == 1  # 0.1 s per line by default
    assert np.asarray(waterfall.lines[0], np.float32).ravel() == pytest.approx(
        [3000 / np.sqrt(2)] * 3, rel=0.01)


def test_values_beyond_float16_are_clipped_not_infinite() -> None:
    request = JobRequest(view_type=2, nfft=1, height=100, display_time_axis_duration=None,
                         channel_min=1, channel_max=CHANNELS, frequency_min=None,
                         frequency_max=None, start_time=None, end_time=None)
    waterfall = Waterfall(plan_job(request, 2000.0))
    samples = np.full((200, CHANNELS), 1e30, np.float32)
    samples[:, 0] = np.nan
    waterfall.feed(samples, channel_start=0, counts_per_unit=1.0)
    assert np.isfinite(np.asarray(waterfall.lines[0], np.float32)).all()
