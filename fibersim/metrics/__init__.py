"""Prometheus metrics (``--metrics-port``): what a load test shows live, read at scrape time.

Nothing in the hot path increments a Prometheus object. The collectors here read the stats
that the streamers, transports and mock Focus Servers of this process keep anyway
(``StreamStats``, ``PublishStats``, ``FocusMock.counters_snapshot()``), found through the
weak sets ``LIVE_STREAMERS`` and ``LIVE_MOCKS``; a scrape costs the publisher nothing between
scrapes. The scrape runs on its own thread, so it reads a mock only through that snapshot,
which copies without changing anything (``status()`` applies due timeouts: not from here).
Metric names and labels are listed in docs/metrics.md.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from fibersim.focus.service import CountersSnapshot, FocusMock
    from fibersim.runner.streamer import FiberStreamer, StreamStats
    from fibersim.transport.base import PublishStats

#: Bucket bounds (s) of publish lateness: a block is due at its simulated end time.
LATENESS_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
#: Bucket bounds (s) of publish -> broker confirm.
CONFIRM_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0)

T = TypeVar("T")


@dataclass
class RunningHistogram:
    """Cumulative bucket counts built from a bounded window of recent samples.

    The stats objects keep the last N samples and a total; each scrape adds the samples
    appended since the previous one (``total - seen``). Samples that already left the window
    (more than N between two scrapes) are counted in ``missed``, never guessed into buckets.
    """

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    seen: int = 0
    missed: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def update(self, window: Sequence[float], total: int) -> None:
        new = total - self.seen
        self.seen = total
        if new <= 0:
            return
        recent = list(window)
        taken = recent[max(0, len(recent) - new):]
        self.missed += new - len(taken)
        for value in taken:
            self.sum += value
            self.counts[_bucket(self.bounds, value)] += 1

    def merged(self, other: RunningHistogram) -> RunningHistogram:
        """The sum of two histograms with the same bounds."""
        total = RunningHistogram(self.bounds)
        total.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        total.sum, total.seen = self.sum + other.sum, self.seen + other.seen
        return total

    def buckets(self) -> list[tuple[str, float]]:
        """``(le, cumulative count)`` pairs, as the exposition format wants them."""
        cumulative, pairs = 0, []
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts, strict=True):
            cumulative += count
            pairs.append((bound, float(cumulative)))
        return pairs


def _bucket(bounds: tuple[float, ...], value: float) -> int:
    for index, bound in enumerate(bounds):
        if value <= bound:
            return index
    return len(bounds)


def _snapshot(items: Callable[[], Iterable[T]]) -> list[T]:
    """A list of a weak set's members, read from the scrape thread while the event loop may
    add one (a rare "changed size during iteration" is simply retried)."""
    for _ in range(5):
        with contextlib.suppress(RuntimeError):
            return list(items())
    return []


class _Sources(Generic[T]):
    """Stats objects seen by earlier scrapes, each with a stable number and a histogram;
    forgotten once the object is gone (its series then resets, which ``rate()`` handles)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._known: dict[int, tuple[weakref.ref[T], int, RunningHistogram]] = {}
        self._next = 0

    def track(self, source: T) -> tuple[int, RunningHistogram]:
        self._known = {key: entry for key, entry in self._known.items()
                       if entry[0]() is not None}
        entry = self._known.get(id(source))
        if entry is None or entry[0]() is not source:
            entry = (weakref.ref(source), self._next, RunningHistogram(self._bounds))
            self._known[id(source)] = entry
            self._next += 1
        return entry[1], entry[2]


class StreamCollector(Collector):
    """Metrics of the fibers this process publishes and of their broker connections.

    Series are per fiber name: streamers that publish the same fiber one after the other
    (the scenarios of one ``run``) add up, so every name appears once per scrape.
    """

    def __init__(self, streamers: Callable[[], Iterable[FiberStreamer]]) -> None:
        self._streamers = streamers
        self._lateness: _Sources[StreamStats] = _Sources(LATENESS_BUCKETS)
        self._connections: _Sources[PublishStats] = _Sources(CONFIRM_BUCKETS)
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        streamers = _snapshot(self._streamers)
        per_fiber: dict[str, tuple[str, Callable[[FiberStreamer], int]]] = {
            "fibersim_blocks": ("Data blocks published.", lambda s: s.stats.blocks),
            "fibersim_bytes": ("Data block bytes published.", lambda s: s.stats.bytes),
            "fibersim_samples": ("Samples (time rows) published.", lambda s: s.stats.samples),
            "fibersim_metadata_messages": ("Metadata messages published.",
                                           lambda s: s.stats.metadata_messages),
            "fibersim_heartbeats": ("Heartbeats published.", lambda s: s.stats.heartbeats),
        }
        for name, (text, read) in per_fiber.items():
            family = CounterMetricFamily(name, text + " rate() gives per second.",
                                         labels=["fiber"])
            for fiber, total in _summed(streamers, read).items():
                family.add_metric([fiber], float(total))
            yield family
        simulated = GaugeMetricFamily("fibersim_simulated_seconds",
                                      "Simulated time published up to.", labels=["fiber"])
        latest: dict[str, float] = {}
        for streamer in streamers:
            latest[streamer.fiber_id] = max(latest.get(streamer.fiber_id, 0.0),
                                            streamer.sim_time)
        for fiber, sim_time in latest.items():
            simulated.add_metric([fiber], sim_time)
        yield simulated
        lateness = HistogramMetricFamily(
            "fibersim_publish_lateness_seconds",
            "How late each data block was published against its due time (simulated end,"
            " on the paced clock).", labels=["fiber"])
        by_fiber: dict[str, RunningHistogram] = {}
        for streamer in streamers:
            _, histogram = self._lateness.track(streamer.stats)
            histogram.update(streamer.stats.lateness, streamer.stats.lateness_total)
            fiber = streamer.fiber_id
            by_fiber[fiber] = by_fiber[fiber].merged(histogram) if fiber in by_fiber else histogram
        for fiber, histogram in by_fiber.items():
            lateness.add_metric([fiber], histogram.buckets(), histogram.sum)
        yield lateness
        connections = {id(s.transport.stats): s.transport.stats for s in streamers}
        yield from self._transport_metrics(list(connections.values()))

    def _transport_metrics(self, connections: list[PublishStats]) -> Iterator[Metric]:
        numbered = [(str(self._connections.track(stats)[0]), stats) for stats in connections]
        counters = {
            "fibersim_published": ("Messages handed to the broker.", "published"),
            "fibersim_confirmed": ("Messages the broker confirmed (ack).", "confirmed"),
            "fibersim_returned": ("Messages the broker returned as unroutable.", "returned"),
            "fibersim_nacked": ("Messages the broker refused (nack).", "nacked"),
            "fibersim_failed": ("Messages lost to a connection failure.", "failed"),
            "fibersim_reconnects": ("Broker connections re-established.", "reconnects"),
        }
        for name, (text, attribute) in counters.items():
            family = CounterMetricFamily(name, text, labels=["connection"])
            for key, stats in numbered:
                family.add_metric([key], float(getattr(stats, attribute)))
            yield family
        lost = CounterMetricFamily("fibersim_lost_blocks",
                                   "Data blocks reported lost (nacked, failed, never sent).",
                                   labels=["connection"])
        blocked = CounterMetricFamily("fibersim_broker_blocked_seconds",
                                      "Seconds publishing waited for the broker (full confirm"
                                      " window, connection.blocked, outage).",
                                      labels=["connection"])
        confirms = HistogramMetricFamily("fibersim_confirm_latency_seconds",
                                         "Publish to broker confirm (RabbitMQ only).",
                                         labels=["connection"])
        for key, stats in numbered:
            lost.add_metric([key], float(stats.blocks_lost))
            blocked.add_metric([key], stats.broker_wait_seconds)
            _, histogram = self._connections.track(stats)
            histogram.update(stats.confirm_latency, stats.confirm_latency_total)
            confirms.add_metric([key], histogram.buckets(), histogram.sum)
        yield from (lost, blocked, confirms)


def _summed(streamers: list[FiberStreamer], read: Callable[[FiberStreamer], int]
            ) -> dict[str, int]:
    totals: dict[str, int] = {}
    for streamer in streamers:
        totals[streamer.fiber_id] = totals.get(streamer.fiber_id, 0) + read(streamer)
    return totals


class FocusCollector(Collector):
    """Metrics of the mock Focus Servers in this process (``focus-mock``, or ``run``'s own)."""

    def __init__(self, mocks: Callable[[], Iterable[FocusMock]]) -> None:
        self._mocks = mocks
        self._transitions: dict[int, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        from fibersim.focus.states import FiberState

        mocks = _snapshot(self._mocks)
        state = GaugeMetricFamily("fibersim_focus_state",
                                  "1 for the state the mock is in, 0 for the others.",
                                  labels=["fiber", "state"])
        transitions = CounterMetricFamily("fibersim_focus_transitions",
                                          "State changes (and same-state events such as"
                                          " reconfigured).", labels=["fiber"])
        messages = CounterMetricFamily("fibersim_focus_messages",
                                       "Wire messages consumed; rate() is the ingest rate.",
                                       labels=["fiber", "kind"])
        requests = CounterMetricFamily("fibersim_focus_requests",
                                       "HTTP requests answered.",
                                       labels=["fiber", "route", "status"])
        singles: dict[str, tuple[str, Callable[[CountersSnapshot], int]]] = {
            "fibersim_focus_blocks": ("Data blocks ingested.", lambda m: m.counters.blocks),
            "fibersim_focus_rejected": ("Messages rejected (undecodable, wrong fiber).",
                                        lambda m: m.counters.rejected),
            "fibersim_focus_gaps": ("Gaps in the block sequence.", lambda m: m.counters.gaps),
            "fibersim_focus_missing_blocks": ("Blocks missing in gaps.",
                                              lambda m: m.counters.missing_blocks),
            "fibersim_focus_restarts": ("Restarts of the mock's process model.",
                                        lambda m: m.restarts),
        }
        families = {name: CounterMetricFamily(name, text, labels=["fiber"])
                    for name, (text, _) in singles.items()}
        for mock in mocks:
            fiber = mock.settings.fiber_id
            snapshot = mock.counters_snapshot()  # status() would tick the mock: not from here
            for member in FiberState:
                state.add_metric([fiber, member.value],
                                 1.0 if snapshot.state is member else 0.0)
            transitions.add_metric([fiber], float(self._count_transitions(id(mock), snapshot)))
            for kind, count in snapshot.counters.messages.model_dump().items():
                messages.add_metric([fiber, kind], float(count))
            for route, counts in snapshot.requests.items():
                for status, count in counts.items():
                    requests.add_metric([fiber, route, status], float(count))
            for name, (_, read) in singles.items():
                families[name].add_metric([fiber], float(read(snapshot)))
        yield from (state, transitions, messages, requests, *families.values())

    def _count_transitions(self, key: int, snapshot: CountersSnapshot) -> int:
        """All transitions since start, though the mock keeps only the last 1000: counts
        the ones stamped after the newest seen at the previous scrape of mock ``key``."""
        total, newest = self._transitions.get(key, (0, 0.0))
        fresh = [item for item in snapshot.transitions if item.at > newest]
        if fresh:
            total, newest = total + len(fresh), fresh[-1].at
        self._transitions[key] = (total, newest)
        return total


class MetricsServer:
    """The scrape endpoint of this process's streamers and mocks, on a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (``0.0.0.0``: every interface; port 0: the OS chooses);
        ``OSError`` if taken."""
        from fibersim.focus.service import LIVE_MOCKS
        from fibersim.runner.streamer import LIVE_STREAMERS

        registry = CollectorRegistry()
        registry.register(StreamCollector(lambda: LIVE_STREAMERS))
        registry.register(FocusCollector(lambda: LIVE_MOCKS))
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{self._server.server_port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
