"""Helpers for sparse sources: Poisson events by epoch and delayed-wavelet rendering.

Both are pure functions of time: events of epoch ``k`` come from a generator seeded by
(seed, salt, k), so which vehicles or walkers exist never depends on the blocks asked for;
wavelets are read from an oversampled table by rounded index, so each sample's value depends
only on its own time and channel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from fibersim.signals.base import CoherentSource, SynthesisContext
from fibersim.signals.physics import gauge_average, gauge_taps

Event = TypeVar("Event")

#: Wavelet tables are sampled this many times faster than the PRR (1/16-sample jitter).
OVERSAMPLE = 8


class EpochProcess(Generic[Event]):
    """Poisson arrivals at ``rate_per_s``, drawn epoch by epoch; ``draw`` details each event."""

    EPOCH_S = 60.0

    def __init__(
        self,
        context: SynthesisContext,
        salt: int,
        rate_per_s: float,
        draw: Callable[[np.random.Generator, float], Event],
        lifetime_s: float,
    ) -> None:
        self._context = context
        self._salt = salt
        self._rate = rate_per_s
        self._draw = draw
        self._lifetime = lifetime_s
        self._epochs: dict[int, list[Event]] = {}

    def _epoch(self, k: int) -> list[Event]:
        found = self._epochs.get(k)
        if found is None:
            rng = self._context.rng((self._salt, self._context.channel_offset, k + 2**31))
            count = rng.poisson(self._rate * self.EPOCH_S)
            times = np.sort(k * self.EPOCH_S + rng.uniform(0, self.EPOCH_S, count))
            found = [self._draw(rng, float(t)) for t in times]
            if len(self._epochs) > 64:
                self._epochs.clear()
            self._epochs[k] = found
        return found

    def alive(self, t0: float, t1: float) -> list[Event]:
        """Events born in ``[t0 - lifetime, t1]`` (seconds since sample 0), in birth order."""
        first = math.floor((t0 - self._lifetime) / self.EPOCH_S)
        last = math.floor(t1 / self.EPOCH_S)
        return [event for k in range(first, last + 1) for event in self._epoch(k)]


def add_wavelets(
    block: np.ndarray,
    first_sample: int,
    context: SynthesisContext,
    table: np.ndarray,
    arrival_s: np.ndarray,
    amplitude: np.ndarray,
    first_channel: int,
    source: CoherentSource,
) -> None:
    """Add ``amplitude[c] * table(t - arrival_s[c])`` on channels ``first_channel ..``,
    through ``source.add_field`` (which weakens it on faded channels).

    ``table`` is the wavelet sampled at ``OVERSAMPLE * prr`` from its onset; the result is
    averaged over the gauge before it is added. Only rows where some channel is inside its
    wavelet are touched.
    """
    n, n_channels = block.shape
    # Integer table positions: sample * OVERSAMPLE minus each channel's rounded onset tick.
    ticks = np.rint(arrival_s * (OVERSAMPLE * context.prr)).astype(np.int64)
    lo = max(0, -(-int(ticks.min()) // OVERSAMPLE) - first_sample)
    hi = min(n, (int(ticks.max()) + table.size - 1) // OVERSAMPLE + 1 - first_sample)
    if lo >= hi:
        return
    taps = gauge_taps(context.dx, context.gauge_length_meters)
    pad = taps
    c0, c1 = first_channel - pad, first_channel + arrival_s.size + pad
    # Padding channels start "never" (a huge tick) and read the table's trailing zero
    # (filled by hand: np.pad costs more than the rest of a small wavelet).
    padded = np.full(ticks.size + 2 * pad, 2**62, dtype=np.int64)
    padded[pad : pad + ticks.size] = ticks
    ticks = padded
    amp = np.zeros(padded.size, dtype=np.float32)
    amp[pad : pad + amplitude.size] = amplitude
    samples = np.arange(first_sample + lo, first_sample + hi, dtype=np.int64) * OVERSAMPLE
    # Channel-major layout: the gauge average then shifts whole contiguous rows.
    index = (samples[None, :] - ticks[:, None]).view(np.uint64)  # before onset: huge
    np.minimum(index, table.size, out=index)
    values = np.append(table, np.float32(0))[index.view(np.int64)]
    values *= amp[:, None]
    field = gauge_average(values.T, taps)
    d0, d1 = max(0, c0), min(n_channels, c1)
    if d0 < d1:
        source.add_field(block, first_sample, lo, d0, field[:, d0 - c0 : d1 - c0])
