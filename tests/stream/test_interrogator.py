"""The interrogator's sample clock: timestamps come from the counter, never from sleeps."""

from __future__ import annotations

from fibersim.interrogator import Interrogator, InterrogatorState
from fibersim.models import FiberConfig

START = 1_000_000_000_000_000_000


def test_block_timestamps_follow_the_sample_counter_without_drift() -> None:
    device = Interrogator(FiberConfig(prr=3000.0, block_duration_s=0.1), START)
    device.connect(0.0)
    slots = [device.take_block() for _ in range(36_000)]  # one simulated hour
    assert slots[-1].first_sample_index == 35_999 * 300
    assert slots[-1].first_sample_time_ns == START + 3599_900_000_000


def test_reconnect_resumes_samples_at_the_current_time() -> None:
    device = Interrogator(FiberConfig(prr=1000.0), START)
    device.connect(0.0)
    device.take_block()
    device.disconnect()
    device.connect(5.0)
    slot = device.take_block()
    assert slot.first_sample_index == 5000
    assert slot.first_sample_time_ns == START + 5_000_000_000
    assert slot.sequence == 1


def test_reconfiguring_the_prr_keeps_time_continuous() -> None:
    device = Interrogator(FiberConfig(prr=2000.0), START)
    device.connect(0.0)
    for _ in range(10):
        device.take_block()
    device.reconfigure(1.0, prr=1000.0)
    slot = device.take_block()
    assert slot.first_sample_time_ns == START + 1_000_000_000
    assert slot.n_samples == 100
    assert device.config_epoch == 1


def test_zero_prr_announces_prr_zero_and_sends_no_data() -> None:
    device = Interrogator(FiberConfig(), START)
    device.connect(0.0)
    device.zero_prr()
    assert device.state is InterrogatorState.ZERO_PRR
    assert device.metadata().prr == 0.0
    assert device.metadata().sw_version == FiberConfig().sw_version
    assert not device.emits_data and device.emits_metadata
