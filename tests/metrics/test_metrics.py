"""Prometheus metrics: scraped from a running ``fibersim stream`` over RabbitMQ, and the
mock's metrics read from its own counters at scrape time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fibersim.focus import FocusSettings
from fibersim.focus.service import FocusMock
from fibersim.interrogator import Interrogator
from fibersim.metrics import FocusCollector, RunningHistogram, StreamCollector
from fibersim.models import FiberConfig
from fibersim.runner import FiberStreamer, VirtualClock
from fibersim.transport import MemoryBroker, MemoryTransport


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` of a scrape."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return sum(found for (sample, sample_labels), found in scrape.items()
               if sample == name and set(labels.items()) <= sample_labels)


@pytest.fixture
def streaming(amqp_url: str, exchange_name: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``fibersim stream --metrics-port 0`` over RabbitMQ, and its scrape URL."""
    env = {key: item for key, item in os.environ.items() if not key.startswith("FIBERSIM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fibersim", "stream", "--amqp-url", amqp_url, "--exchange",
         exchange_name, "--channels", "64", "--duration", "60s", "--metrics-port",
         "127.0.0.1:0", "-q"],
        stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    first = process.stderr.readline()  # printed before anything else
    try:
        assert first.startswith("metrics at "), first
        yield process, first.split()[-1]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def scrape_until(url: str, condition: str, minimum: float, timeout: float = 20.0
                 ) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    deadline = time.monotonic() + timeout
    while True:
        scrape = samples(httpx.get(url, timeout=5).text)
        if value(scrape, condition) >= minimum or time.monotonic() > deadline:
            return scrape
        time.sleep(0.2)


@pytest.mark.broker
def test_a_running_stream_is_scraped_with_rising_counters(
        streaming: tuple[subprocess.Popen[str], str]) -> None:
    _, url = streaming
    first = scrape_until(url, "fibersim_blocks_total", 5)
    second = scrape_until(url, "fibersim_blocks_total",
                          value(first, "fibersim_blocks_total") + 10)
    assert value(second, "fibersim_blocks_total", fiber="fiber-0") > value(
        first, "fibersim_blocks_total", fiber="fiber-0") >= 5
    assert value(second, "fibersim_bytes_total", fiber="fiber-0") > 0
    # nothing consumes this exchange: the broker answers each publish by returning it
    assert value(second, "fibersim_published_total") > 0
    assert value(second, "fibersim_returned_total") + value(
        second, "fibersim_confirmed_total") > 0
    assert value(second, "fibersim_lost_blocks_total") == 0
    assert value(second, "fibersim_publish_lateness_seconds_count", fiber="fiber-0") >= 15
    assert value(second, "fibersim_confirm_latency_seconds_count") > 0
    assert ("fibersim_broker_blocked_seconds_total",
            frozenset({("connection", "0")})) in second


def test_the_mock_metrics_are_its_own_counters() -> None:
    mock = FocusMock(FocusSettings(), None)
    mock.record_request("POST /configure", 503)
    mock.record_request("POST /configure", 503)
    registry = CollectorRegistry()
    registry.register(FocusCollector(lambda: [mock]))
    scrape = samples(generate_latest(registry).decode())
    assert value(scrape, "fibersim_focus_state", state="waiting_for_fiber") == 1
    assert value(scrape, "fibersim_focus_state", state="ready") == 0
    assert value(scrape, "fibersim_focus_requests_total", route="POST /configure",
                 status="503") == 2
    assert value(scrape, "fibersim_focus_restarts_total") == 0


def test_a_histogram_counts_each_sample_once_and_says_what_it_missed() -> None:
    histogram = RunningHistogram((0.01, 0.1))
    window = [0.001, 0.05]
    histogram.update(window, total=2)
    histogram.update(window, total=2)  # nothing new since the previous scrape
    assert histogram.counts == [1, 1, 0]
    histogram.update([0.05, 0.5], total=5)  # 3 new, only the last 2 still in the window
    assert histogram.counts == [1, 2, 1] and histogram.missed == 1


def test_several_fibers_and_repeated_ones_make_one_series_per_fiber() -> None:
    """Each metric appears once per scrape with one series per fiber name; streamers that
    published the same fiber one after the other (one `run` of several scenarios) add up."""
    transport = MemoryTransport(MemoryBroker())
    streamers = [FiberStreamer(Interrogator(FiberConfig(fiber_id=name, number_of_channels=8),
                                            time.time_ns()), transport, VirtualClock(1.0),
                               render_process=False)
                 for name in ("fiber-0", "fiber-1", "fiber-0")]
    for count, streamer in enumerate(streamers, start=1):
        streamer.stats.blocks = count
        streamer.stats.lateness.extend([0.001] * count)
        streamer.stats.lateness_total = count
    registry = CollectorRegistry()
    registry.register(StreamCollector(lambda: streamers))
    text = generate_latest(registry).decode()
    assert text.count("# TYPE fibersim_publish_lateness_seconds histogram") == 1
    scrape = samples(text)
    assert value(scrape, "fibersim_blocks_total", fiber="fiber-0") == 1 + 3
    assert value(scrape, "fibersim_blocks_total", fiber="fiber-1") == 2
    assert value(scrape, "fibersim_publish_lateness_seconds_count", fiber="fiber-0") == 4
    for streamer in streamers:
        streamer.close()
