"""Precomputed coloured-noise banks and a block-size independent way to read them.

Drawing Gaussian numbers for every sample of 2337 channels costs ~40 ms per simulated second,
far over the synthesis budget. Instead each noise colour is synthesised once, in the
frequency domain, as a periodic bank of a few seconds x up to a fiber of columns (cached at
module level by colour, prr, seed and size, so rebuilding a synthesizer is cheap) and then
*read*: channel group ``g`` reads bank row ``i + offset`` and a cyclically rolled set of
columns. Offsets and rolls are redrawn every segment of ``S`` samples from a generator seeded
by (seed, salt, segment index), and consecutive mappings are crossfaded with cos/sin weights
(which keep the variance) so the noise neither repeats nor jumps. The segment must be short
against the bank: the offset is drawn from the ``L - S - crossfade + 1`` rows a segment can
start at without wrapping, and with few choices the reads (and so the noise) repeat. Every
read position depends only on the absolute sample index, hence the block-size independence.

Banks can also be correlated across columns (``SpatialCorrelation``): noise that arises per
metre of fibre and is averaged over the gauge, as on a real interrogator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from fibersim.signals.physics import strain_per_radian


class Colour(Protocol):
    """A noise colour: the complex amplitude applied to the spectrum of unit white noise."""

    def amplitude(self, f: np.ndarray, prr: float) -> np.ndarray: ...


@dataclass(frozen=True)
class PhaseNoise:
    """Interferometric phase noise, output as strain rate.

    White phase noise of ``sigma_phi`` rad per sample plus a 1/f^alpha excess that equals the
    white level at ``corner_hz``, optionally low-passed above ``rolloff_hz`` (power falls by
    ``rolloff_order`` x 20 dB per decade more); the strain rate is
    ``strain_per_radian * prr * (phi_i - phi_{i-1})``, so the white part becomes blue
    (power ~ f^2) and the 1/f part ~ f.
    """

    sigma_phi: float
    corner_hz: float
    alpha: float
    gauge_length_m: float
    rolloff_hz: float = 0.0
    rolloff_order: float = 2.0

    def amplitude(self, f: np.ndarray, prr: float) -> np.ndarray:
        excess = np.zeros_like(f)
        np.divide(self.corner_hz, f, out=excess, where=f > 0)
        differentiator = 1 - np.exp(-2j * np.pi * f / prr)
        scale = self.sigma_phi * strain_per_radian(self.gauge_length_m) * prr
        shape = np.sqrt(1 + excess**self.alpha)
        if self.rolloff_hz > 0:  # an interrogator's own low-pass before it decimates
            shape /= np.sqrt(1 + (f / self.rolloff_hz) ** (2 * self.rolloff_order))
        return scale * differentiator * shape * (f > 0)


@dataclass(frozen=True)
class TabulatedColour:
    """A measured spectrum: one-sided PSD ``psd`` ((1/s)^2/Hz) at ``frequencies`` (Hz),
    interpolated log-log, flat beyond the ends; what ``fibersim calibrate`` fits."""

    frequencies: tuple[float, ...]
    psd: tuple[float, ...]

    def amplitude(self, f: np.ndarray, prr: float) -> np.ndarray:
        log_f = np.log(np.maximum(f, self.frequencies[0] * 1e-3))
        log_psd = np.interp(log_f, np.log(self.frequencies), np.log(self.psd))
        return np.asarray(np.sqrt(np.exp(log_psd) * prr / 2) * (f > 0))


@dataclass(frozen=True)
class PowerLaw:
    """Power ~ 1/f^alpha between ``f_min`` and ``f_max`` with smooth (4th-order) edges."""

    alpha: float
    f_min: float
    f_max: float

    def amplitude(self, f: np.ndarray, prr: float) -> np.ndarray:
        safe = np.maximum(f, 1e-12)
        edges = 1 / np.sqrt((1 + (self.f_min / safe) ** 8) * (1 + (safe / self.f_max) ** 8))
        return safe ** (-self.alpha / 2) * edges * (f > 0)


@dataclass(frozen=True)
class SpatialCorrelation:
    """Correlation between channels ``dx`` apart of noise that arises per metre of fibre
    and is averaged over the gauge.

    The measurement kernel is a boxcar over the gauge ``gauge_m`` convolved with a boxcar
    over the pulse ``pulse_m`` (0: the gauge alone); the noise correlation at distance ``d``
    is that kernel's autocorrelation at ``d``, normalised. For ``pulse_m`` 0 it is the
    triangle ``max(0, 1 - d / gauge_m)``, whatever dx is.
    """

    dx: float
    gauge_m: float
    pulse_m: float = 0.0
    white_fraction: float = 0.0  # share of the variance independent from channel to channel

    def at(self, distance: np.ndarray) -> np.ndarray:
        """Correlation at ``distance`` (m, >= 0)."""
        shared = self._shared(distance)
        if self.white_fraction == 0:
            return shared
        return np.asarray((1 - self.white_fraction) * shared
                          + self.white_fraction * (np.asarray(distance) == 0))

    def _shared(self, distance: np.ndarray) -> np.ndarray:
        step = min(self.gauge_m, self.pulse_m or self.gauge_m) / 200
        kernel = np.ones(max(1, round(self.gauge_m / step)))
        if self.pulse_m > 0:
            kernel = np.convolve(kernel, np.ones(max(1, round(self.pulse_m / step))))
        auto = np.correlate(kernel, kernel, "full")[kernel.size - 1 :]
        auto /= auto[0]
        lags = np.arange(auto.size) * step
        return np.asarray(np.interp(distance, lags, auto, right=0.0))

    def amplitude(self, n_cols: int) -> np.ndarray:
        """Filter (rfft over ``n_cols`` columns, circular) that gives unit white columns
        this correlation: the square root of the correlation's spectrum."""
        index = np.arange(n_cols)
        circular = np.minimum(index, n_cols - index) * self.dx
        spectrum = np.fft.rfft(self.at(circular)).real
        return np.sqrt(np.maximum(spectrum, 0.0))


def band_rms(colour: Colour, prr: float, f_lo: float, f_hi: float) -> float:
    """Rms of unit-white noise coloured by ``colour`` within ``[f_lo, f_hi]`` Hz."""
    f = np.linspace(0, prr / 2, 200_001)
    power = np.abs(colour.amplitude(f, prr)) ** 2 * ((f >= f_lo) & (f <= f_hi))
    return float(np.sqrt(np.trapezoid(power, f) / (prr / 2)))


#: Columns coloured per FFT call when a bank is built (bounds the build's temporary memory).
_FFT_COLUMNS = 128


@lru_cache(maxsize=12)
def noise_bank(colour: Colour, prr: float, seed: int, n_rows: int, n_cols: int,
               spatial: SpatialCorrelation | None = None,
               gain: tuple[float, ...] | None = None) -> np.ndarray:
    """A periodic (n_rows, n_cols) float32 bank with this colour along the rows, its columns
    independent or, with ``spatial``, correlated as neighbouring channels (circularly, so a
    rolled read stays correlated across its wrap), column ``c`` scaled by ``gain[c]``.

    A gain baked in here costs nothing per sample, where a gain applied while reading costs
    a pass over every block: the reader that keeps channel c on column c uses it.

    Periodic because it is built with an FFT: reading past the last row wraps seamlessly.
    """
    rng = np.random.default_rng([seed, 0xBA4C, n_rows, n_cols])
    bank = rng.standard_normal((n_rows, n_cols), dtype=np.float32)
    amplitude = colour.amplitude(np.fft.rfftfreq(n_rows, 1 / prr), prr).astype(np.complex64)
    # Coloured in place, a few columns at a time: an FFT along axis 0 of the whole
    # (rows, fiber) array would allocate several times the bank (230 MB at 2337 channels),
    # and that start-up peak would be the stream's peak memory.
    for first in range(0, n_cols, _FFT_COLUMNS):
        columns = slice(first, first + _FFT_COLUMNS)
        spectrum = np.fft.rfft(bank[:, columns], axis=0)
        spectrum *= amplitude[:, None]
        bank[:, columns] = np.fft.irfft(spectrum, n=n_rows, axis=0)
    if spatial is not None:
        across = spatial.amplitude(n_cols).astype(np.complex64)
        for first in range(0, n_rows, _FFT_COLUMNS):
            rows = slice(first, first + _FFT_COLUMNS)
            spectrum = np.fft.rfft(bank[rows], axis=1)
            spectrum *= across
            bank[rows] = np.fft.irfft(spectrum, n=n_cols, axis=1)
    if gain is not None:
        bank *= np.asarray(gain, dtype=np.float32)
    bank.setflags(write=False)
    return bank


@lru_cache(maxsize=12)
def unit_bank(colour: Colour, prr: float, seed: int, n_rows: int, n_cols: int) -> np.ndarray:
    """``noise_bank`` scaled to unit rms over all its frequencies (for sources with an rms)."""
    bank = noise_bank(colour, prr, seed, n_rows, n_cols)
    out = (bank / np.float32(np.sqrt(np.mean(bank.astype(np.float64) ** 2)))).astype(np.float32)
    out.setflags(write=False)
    return out


class BankReader:
    """Adds bank noise to ``n_channels`` channels, read by absolute sample index.

    Channels are split into groups as wide as the bank; per segment each group gets a row
    offset (small enough that a segment never wraps past the bank's end) and, when there are
    several groups, a column roll.
    The first ``crossfade`` samples of every segment blend the previous mapping into the new.
    ``column_gain`` (one factor per channel) scales each channel's noise: the level along the
    fibre.
    """

    def __init__(
        self,
        bank: np.ndarray,
        n_channels: int,
        rng_key: tuple[int, ...],
        segment: int,
        crossfade: int,
        column_gain: np.ndarray | None = None,
    ) -> None:
        self.bank = bank
        self.n_rows, self.width = bank.shape
        if 2 * (segment + crossfade) > self.n_rows:
            raise ValueError("segment longer than half the bank: too few offsets, the noise "
                             "would repeat")
        self.column_gain = None if column_gain is None else column_gain.astype(np.float32)
        self.n_channels = n_channels
        self.n_groups = math.ceil(n_channels / self.width)
        self.rng_key = rng_key
        self.segment = segment
        self.crossfade = crossfade
        ramp = (np.arange(crossfade) + 0.5) * (np.pi / 2 / max(1, crossfade))
        self._fade_in = np.sin(ramp).astype(np.float32)[:, None]
        self._fade_out = np.cos(ramp).astype(np.float32)[:, None]
        self._pieces: dict[int, list[tuple[int, int, int, int]]] = {}
        # Reused for scaled reads: fresh large temporaries would cost page faults each time.
        self._scratch = np.empty(0, dtype=np.float32)

    def reserve(self, rows: int) -> None:
        """Make room for scaled reads of up to ``rows`` rows."""
        if self._scratch.size < rows * self.width:
            self._scratch = np.empty(rows * self.width, dtype=np.float32)

    def pieces(self, k: int) -> list[tuple[int, int, int, int]]:
        """Segment ``k``'s reads: (first channel, stop channel, bank row of the segment's
        first sample, bank column)."""
        found = self._pieces.get(k)
        if found is None:
            rng = np.random.default_rng([*self.rng_key, k & 0xFFFFFFFF, k >> 32 & 0xFFFFFFFF])
            room = self.n_rows - self.segment - self.crossfade + 1
            offsets = rng.integers(0, room, self.n_groups)
            found = []
            if self.n_groups == 1:
                # A single fiber-wide group keeps its rows whole, so each read is one run
                # (about twice as fast as a rolled one). It starts at a random one of the
                # bank's spare columns (it is a little wider than the fiber): a channel's
                # noise then comes from several columns in turn, which averages out the fine
                # spectral structure of any one finite column, and two segments that happen
                # to read the same rows rarely read them into the same channels.
                shift = int(rng.integers(0, self.width - self.n_channels + 1))
                found.append((0, self.n_channels, int(offsets[0]), shift))
                return self._keep(k, found)
            # Rolls decorrelate groups reading one bank.
            rolls = rng.integers(0, self.width, self.n_groups)
            for g in range(self.n_groups):
                c0, c1 = g * self.width, min(self.n_channels, (g + 1) * self.width)
                split = min(c1, c0 + self.width - int(rolls[g]))
                found.append((c0, split, int(offsets[g]), int(rolls[g])))
                if split < c1:
                    found.append((split, c1, int(offsets[g]), 0))
            self._keep(k, found)
        return found

    def _keep(self, k: int, found: list[tuple[int, int, int, int]]
              ) -> list[tuple[int, int, int, int]]:
        if len(self._pieces) > 8:
            self._pieces.clear()
        self._pieces[k] = found
        return found

    def add_to(
        self, out: np.ndarray, first_sample: int, gain: float, base: np.ndarray | None = None
    ) -> None:
        """Add ``gain`` x noise of samples ``first_sample ..`` into ``out`` (time, channel);
        with ``base`` (one value per row of ``out``), set ``out`` to ``base`` + that noise."""
        n = out.shape[0]
        # Scaled reads need scratch only when they add (the crossfade's second read, or a
        # reader that is not the first dense source).
        self.reserve(min(n, self.crossfade) if base is not None or (gain == 1.0 and
                     self.column_gain is None) else n)
        row = 0
        while row < n:
            sample = first_sample + row
            k, pos = divmod(sample, self.segment)
            rows_base = None if base is None else base[row:]
            if pos < self.crossfade:
                stop = min(n, row + self.crossfade - pos)
                fade = slice(pos, pos + stop - row)
                self._read(out[row:stop], k - 1, pos + self.segment,
                           self._fade_out[fade] * gain, rows_base)
                self._read(out[row:stop], k, pos, self._fade_in[fade] * gain)
            else:
                stop = min(n, row + self.segment - pos)
                self._read(out[row:stop], k, pos, gain, rows_base)
            row = stop

    def _read(self, out: np.ndarray, k: int, pos: int, scale: float | np.ndarray,
              base: np.ndarray | None = None) -> None:
        """``out += scale * bank`` for samples ``pos ..`` of segment ``k``'s mapping, or
        ``out = base + scale * bank`` with ``base``."""
        n = out.shape[0]
        start = None if base is None else base[:n]
        unscaled = isinstance(scale, float) and scale == 1.0
        for c0, c1, row, col in self.pieces(k):
            piece = self.bank[row + pos : row + pos + n, col : col + c1 - c0]
            target = out[:, c0:c1]
            gain = None if self.column_gain is None else self.column_gain[c0:c1]
            if gain is None and unscaled:
                if start is None:
                    target += piece
                else:
                    np.add(start, piece, out=target)
                continue
            if start is not None:  # scaled straight into the target: no scratch traffic
                np.multiply(piece, scale if gain is None else gain, out=target)
                if gain is not None and not unscaled:
                    target *= scale
                target += start
                continue
            scratch = self._scratch[: n * (c1 - c0)].reshape(n, c1 - c0)
            np.multiply(piece, scale if gain is None else gain, out=scratch)
            if gain is not None and not unscaled:
                scratch *= scale
            target += scratch
