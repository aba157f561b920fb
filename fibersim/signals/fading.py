"""Channel-quality effects: Rayleigh fading, dead ranges and the interrogator's internal fiber.

Each channel's backscatter amplitude is the modulus of a sum of many random scatterer phasors,
a complex Gaussian ``z``; so ``|z|^2`` is exponential and the amplitude ``sqrt(exponential)``.
Where the amplitude is small the phase is badly measured: the channel is "faded" and its noise
grows as 1/amplitude, 10-100x the normal level, with heavy tails. Temperature drift slowly
changes the scatterers' phases, so ``z`` of every channel wanders over minutes: here it is
interpolated smoothly between independent knots every ``drift_s`` seconds, each channel on a
clock of its own (``FadedNoise``), so ``|z|^2`` stays exponential at all times and no
transition lines up with a clock. Signals weaken on faded channels as the amplitude
(``FadedNoise.weaken``, applied by every ``CoherentSource`` to what it adds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat

from fibersim.signals.banks import PhaseNoise, noise_bank
from fibersim.signals.base import Placed, PlacedSpec, SourceGroup, Stage, SynthesisContext
from fibersim.signals.physics import wrap_threshold

#: Bank for faded and replaced channels: 4.1 s x 64 columns (apart from the incoherent bank).
_BANK_ROWS = 8192
_BANK_COLS = 64
#: Longest contiguous read from the channel-major bank.
_WRAP = 2048


class RayleighFadingSpec(PlacedSpec):
    """Faded channels with excess noise, dead ranges and the internal first channels.

    ``{type: rayleigh_fading, fraction: 0.02, gain_min: 10, gain_max: 100, drift_s: 180,
    internal_channels: 20, dead: [[1500, 1520]]}``
    """

    type: Literal["rayleigh_fading"] = "rayleigh_fading"
    fraction: float = Field(0.02, ge=0, le=0.5, description="Fraction of faded channels.")
    gain_min: PositiveFloat = Field(10.0, description="Noise gain of a just-faded channel.")
    gain_max: PositiveFloat = Field(100.0, description="Noise gain of the deepest fades.")
    drift_s: PositiveFloat = Field(180.0, description="Time for the faded set to renew (s).")
    tick_s: PositiveFloat = Field(1.0, description="Fading gains are updated this often (s).")
    sigma_phi: float = Field(0.01, ge=0, description="Normal phase noise the gains scale (rad).")
    corner_hz: float = Field(100.0, ge=0, description="1/f corner of that noise (Hz).")
    alpha: float = Field(2.0, ge=0, le=2, description="Exponent of that noise's phase excess.")
    wrap: bool = Field(
        True, description="Faded channels alias at the unwrapping limit (phase_wrap: all channels)."
    )
    internal_channels: int = Field(
        0, ge=0, description="First channels inside the interrogator: quiet near-constant noise."
    )
    internal_gain: float = Field(0.2, ge=0, description="Their noise relative to normal.")
    dead: list[tuple[int, int]] = Field(
        default_factory=list, description="Inclusive channel ranges past a break: noise only."
    )
    dead_gain: float = Field(30.0, ge=0, description="Noise of dead channels relative to normal.")
    signal_floor: float = Field(
        0.0, ge=0, le=1, description="Signals on a faded channel keep sqrt(|z|^2 / threshold) "
        "of their amplitude, at least this share (1: signals unweakened).")

    def make(self, context: SynthesisContext) -> SourceGroup:
        """Faded noise over the range, then the internal and dead channels overwritten."""
        colour = PhaseNoise(
            self.sigma_phi, self.corner_hz, self.alpha, context.gauge_length_meters
        )
        bank = channel_major_bank(colour, context.prr, context.seed)
        n = context.n_channels
        parts = [Placed(FadedNoise(self, context, bank), 0, n)]
        replaced = [(first, last, self.dead_gain) for first, last in self.dead]
        if self.internal_channels:
            replaced.insert(0, (0, self.internal_channels - 1, self.internal_gain))
        for first, last, gain in replaced:
            first, last = max(0, first), min(n - 1, last)
            if first <= last:
                source = ReplacedNoise(context, bank, first, last - first + 1, gain)
                parts.append(Placed(source, first, last + 1))
        return SourceGroup(tuple(parts))


class ColumnNoise:
    """Noise for scattered channels from the small channel-major bank.

    Channel ``c`` reads its own bank column, from a row offset redrawn for every piece of
    ``_WRAP`` samples (seeded by the piece index), so the noise never repeats with the bank's
    period and each read is a contiguous slice. Piece boundaries are staggered per channel:
    simultaneous jumps on many channels would draw lines across the f-k plane.
    """

    def __init__(self, bank_t: np.ndarray, n_channels: int, key: tuple[int, ...]) -> None:
        self._flat = bank_t.reshape(-1)
        self._row_length = bank_t.shape[1]
        rng = np.random.default_rng([*key, 0])
        self._starts = rng.integers(0, bank_t.shape[0], n_channels) * self._row_length
        self._stagger = rng.integers(0, _WRAP, n_channels)
        self._key = key
        self._n_channels = n_channels
        self._pieces: dict[int, list[int]] = {}

    def _offsets(self, piece: int) -> list[int]:
        """Flat bank index of every channel's first sample of ``piece`` (a list: indexing
        it with a Python int is several times cheaper than indexing an array)."""
        found = self._pieces.get(piece)
        if found is None:
            rng = np.random.default_rng([*self._key, 1, piece])
            offsets = self._starts + rng.integers(0, self._row_length - _WRAP, self._n_channels)
            found = offsets.tolist()
            if len(self._pieces) > 4:
                self._pieces.clear()
            self._pieces[piece] = found
        return found

    def read(self, channels: np.ndarray, first_sample: int, n: int) -> np.ndarray:
        """(n, len(channels)) float32 noise of samples ``first_sample ..``.

        A transposed channel-major array: each channel's run is one contiguous copy, where
        filling a column of a time-major array would write every value to its own cache line.
        """
        out = np.empty((len(channels), n), dtype=np.float32)
        samples = (self._stagger[channels] + first_sample).tolist()
        offsets: dict[int, list[int]] = {}  # this read's pieces: a method call per piece
        for j, (channel, sample) in enumerate(zip(channels.tolist(), samples, strict=True)):
            done = 0
            while done < n:
                piece, pos = divmod(sample + done, _WRAP)
                count = min(_WRAP - pos, n - done)
                found = offsets.get(piece)
                if found is None:
                    found = offsets[piece] = self._offsets(piece)
                start = found[channel] + pos
                out[j, done : done + count] = self._flat[start : start + count]
                done += count
        return out.T


@lru_cache(maxsize=8)
def channel_major_bank(colour: PhaseNoise, prr: float, seed: int) -> np.ndarray:
    """The noise bank transposed to (column, row), its first ``_WRAP`` rows appended."""
    bank = noise_bank(colour, prr, seed, _BANK_ROWS, _BANK_COLS)
    return np.ascontiguousarray(np.concatenate([bank, bank[:_WRAP]]).T)


class FadedNoise:
    """Extra noise on the channels that are faded (a few % of the channels), following each
    channel's fading amplitude continuously.

    Each channel's backscatter phasor ``z`` drifts between independent complex Gaussian
    knots ``drift_s`` apart, on a clock of its own (knot times staggered per channel, so no
    two channels change together), blended with weights ``cos(pi/2 S(u))``, ``sin(pi/2
    S(u))`` where ``S`` is a smooth step: ``|z|^2`` stays exponential and its path has no
    kinks. Below the fade threshold the extra noise gain is ``gain_min sqrt(threshold /
    |z|^2)`` (noise ~ 1 / amplitude), capped at ``gain_max``, faded in over the first 10 %
    below the threshold so it starts from zero. The noise is a Gaussian read ``x`` made
    spiky as ``x |x|`` (rescaled to the same rms; kurtosis 11.7): a badly measured phase
    jumps.

    The faded set is found once per tick (``tick_s``) with a margin, the gains are computed
    every 32 samples and interpolated. DENSE although it touches few channels: single
    columns of a row-major block are cheap only while the rows are in cache.
    """

    stage = Stage.DENSE
    _SALT = 21
    #: Channels whose |z|^2 is below this multiple of the threshold at the start, middle or
    #: end of a tick are followed through it.
    _MARGIN = 1.1
    #: Samples between exact evaluations of the gains.
    _GRID = 32

    def __init__(
        self, spec: RayleighFadingSpec, context: SynthesisContext, bank: np.ndarray
    ) -> None:
        self._spec = spec
        self._context = context
        self._threshold = -np.log1p(-spec.fraction)  # P(|z|^2 < t) = fraction
        self._tick = max(1, round(spec.tick_s * context.prr))
        limit = wrap_threshold(context.prr, context.gauge_length_meters)
        self._wrap = limit if spec.wrap else None
        key = (context.seed, self._SALT, context.channel_offset)
        self._noise = ColumnNoise(bank, context.n_channels, key)
        rms = np.sqrt(np.mean(np.square(bank, dtype=np.float64)))
        self._tails = np.float32(1 / (np.sqrt(3) * rms))
        self._stagger = context.rng((self._SALT, context.channel_offset, 2)).uniform(
            0, 1, context.n_channels)
        self._knots: dict[int, np.ndarray] = {}
        self._ticks: dict[int, _Tick] = {}

    def _knot(self, k: int) -> np.ndarray:
        found = self._knots.get(k)
        if found is None:
            rng = self._context.rng((self._SALT, self._context.channel_offset, 1, k + 2**31))
            pair = rng.standard_normal((2, self._context.n_channels))
            found = (pair[0] + 1j * pair[1]) / np.sqrt(2)
            if len(self._knots) > 8:
                self._knots.clear()
            self._knots[k] = found
        return found

    def phasor(self, channels: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """``z`` of ``channels`` at absolute ``samples``: (samples, channels) complex."""
        u = samples[:, None] / (self._spec.drift_s * self._context.prr) + self._stagger[channels]
        k = np.floor(u).astype(np.int64)
        step = u - k
        step = step * step * (3 - 2 * step)  # smooth step: no kink at the knots
        first = int(k.min())
        table = np.stack([self._knot(j) for j in range(first, int(k.max()) + 2)]).reshape(-1)
        # Flat indices into the knots (knot, channel): one-array takes, cheaper than 2-D
        # fancy indexing.
        index = (k - first) * self._context.n_channels + channels
        angle = (np.pi / 2) * step
        return np.asarray(table.take(index) * np.cos(angle)
                          + table.take(index + self._context.n_channels) * np.sin(angle))

    def _tick_state(self, tick: int) -> _Tick:
        """The channels followed during ``tick`` with their extra noise and signal gains
        over the whole tick, computed once (the synthesizer asks chunk by chunk, then the
        coherent sources ask again; a block can straddle two ticks)."""
        found = self._ticks.get(tick)
        if found is not None:
            return found
        every = np.arange(self._context.n_channels)
        checks = tick * self._tick + np.array([0, self._tick // 2, self._tick])
        power = (np.abs(self.phasor(every, checks)) ** 2).min(axis=0)
        followed = np.flatnonzero(power < self._MARGIN * self._threshold)
        if followed.size == 0:
            empty = np.zeros((self._tick, 0), dtype=np.float32)
            found = _Tick(followed, empty, empty)
        else:
            # Gains on a grid of _GRID samples, linear in between: the phasor drifts over
            # minutes, and evaluating it at every sample would cost more than all the noise.
            grid = tick * self._tick + np.arange(0, self._tick + self._GRID, self._GRID)
            power = np.abs(self.phasor(followed, grid)) ** 2
            noise = self._noise.read(followed, tick * self._tick, self._tick)
            noise *= np.abs(noise) * self._tails  # x |x| / sqrt(3): unit rms, kurtosis 11.7
            noise *= self._interpolated(self.gains(power))
            found = _Tick(followed, noise, self.signal_gains(power).astype(np.float32))
        if len(self._ticks) >= 3:
            del self._ticks[min(self._ticks)]
        self._ticks[tick] = found
        return found

    def _interpolated(self, coarse: np.ndarray) -> np.ndarray:
        """Every sample of a tick from values given on the ``_GRID`` (rows), linear in
        between: each grid interval is one broadcast, no per-sample gathers."""
        intervals = -(-self._tick // self._GRID)
        coarse = coarse[: intervals + 1].astype(np.float32)
        out = np.empty((intervals, self._GRID, coarse.shape[1]), dtype=np.float32)
        np.multiply(np.diff(coarse, axis=0)[:, None, :], _grid_weights(self._GRID), out=out)
        out += coarse[:-1, None, :]
        return out.reshape(-1, coarse.shape[1])[: self._tick]

    def gains(self, power: np.ndarray) -> np.ndarray:
        """Extra noise gain for fading power ``|z|^2``: 0 above the threshold, rising
        smoothly to ``gain_min`` 10 % below it, then ``gain_min sqrt(threshold / power)``
        up to ``gain_max``."""
        spec = self._spec
        inverse = spec.gain_min * np.sqrt(self._threshold / np.maximum(power, 1e-12))
        return np.asarray(np.minimum(spec.gain_max, inverse) * self._ramp(power))

    def signal_gains(self, power: np.ndarray) -> np.ndarray:
        """Sensitivity to signals at fading power ``|z|^2``: 1 above the threshold, then
        ``sqrt(power / threshold)`` (the amplitude relative to the threshold's), entered
        over the same ramp as the noise: a faded channel's signal-to-noise ratio falls as
        ``power / threshold``, its signal as the amplitude, down to
        ``signal_floor`` in the deepest fades."""
        amplitude = np.sqrt(np.maximum(power, 0) / self._threshold)
        deep = np.maximum(self._spec.signal_floor, np.minimum(1.0, amplitude))
        return np.asarray(1 - self._ramp(power) * (1 - deep))

    def _ramp(self, power: np.ndarray) -> np.ndarray:
        """0 above the threshold, rising smoothly to 1 at 10 % below it."""
        depth = np.clip((self._threshold - power) / (0.1 * self._threshold), 0, 1)
        return np.asarray(depth * depth * (3 - 2 * depth))

    def weaken(self, field: np.ndarray, first_channel: int, first_sample: int) -> None:
        """Scale the signals in ``field`` by each faded channel's sensitivity."""
        offset = self._context.channel_offset
        lo, hi = first_channel - offset, first_channel - offset + field.shape[1]
        if hi <= 0 or lo >= self._context.n_channels:
            return
        row = 0
        while row < field.shape[0]:
            tick, pos = divmod(first_sample + row, self._tick)
            stop = min(field.shape[0], row + self._tick - pos)
            state = self._tick_state(tick)
            inside = (state.followed >= lo) & (state.followed < hi)
            if inside.any():
                if state.signal_samples is None:  # the first signal this tick: interpolate
                    state.signal_samples = self._interpolated(state.signal)
                columns = state.followed[inside] - lo
                field[row:stop, columns] *= state.signal_samples[pos : pos + stop - row, inside]
            row = stop

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        n = block.shape[0]
        row = 0
        while row < n:
            tick, pos = divmod(first_sample + row, self._tick)
            stop = min(n, row + self._tick - pos)
            state = self._tick_state(tick)
            if state.followed.size:
                values = block[row:stop, state.followed]
                values += state.noise[pos : pos + stop - row]
                if self._wrap is not None:
                    wrap_in_place(values, self._wrap)
                block[row:stop, state.followed] = values
            row = stop


@dataclass
class _Tick:
    """What fading does during one tick: the channels followed, their extra noise
    (samples, channels) and their sensitivity to signals on the grid (points, channels),
    interpolated to samples when a signal first falls on a followed channel (most ticks
    of most fading sources carry no signal on them)."""

    followed: np.ndarray
    noise: np.ndarray
    signal: np.ndarray
    signal_samples: np.ndarray | None = None


@lru_cache(maxsize=8)
def _grid_weights(grid: int) -> np.ndarray:
    """Weight of the next grid point for each sample of a grid interval, (grid, 1)."""
    return (np.arange(grid) / grid).astype(np.float32)[:, None]


def wrap_in_place(values: np.ndarray, threshold: float) -> None:
    """Alias ``values`` into [-threshold, threshold] in place (``artefacts.wrapped``).

    Applied to every faded value, not only to the channels that exceed the limit: the
    formula leaves values within the limit exactly as they are (they round to 0 periods),
    and four in-place passes are cheaper than finding and gathering the loud channels.
    """
    period = np.float32(2 * threshold)
    periods = np.divide(values, period)
    np.round(periods, out=periods)
    periods *= period
    values -= periods


class ReplacedNoise:
    """Channels whose content is replaced by noise alone (internal fiber, dead ranges)."""

    stage = Stage.POST
    _SALT = 22

    def __init__(
        self, context: SynthesisContext, bank: np.ndarray, first: int, count: int, gain: float
    ) -> None:
        key = (context.seed, self._SALT, context.channel_offset + first)
        self._noise = ColumnNoise(bank, count, key)
        self._channels = np.arange(count)
        self._gain = np.float32(gain)

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        noise = self._noise.read(self._channels, first_sample, len(block))
        np.multiply(noise, self._gain, out=block)
