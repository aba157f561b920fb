"""Channel-quality effects: Rayleigh fading, dead ranges and the interrogator's internal fiber.

Each channel's backscatter amplitude is the modulus of a sum of many random scatterer phasors,
a complex Gaussian ``z``; so ``|z|^2`` is exponential and the amplitude ``sqrt(exponential)``.
Where the amplitude is small the phase is badly measured: the channel is "faded" and its noise
is 10-100x the normal level. Temperature drift slowly changes the scatterers' phases, so ``z``
of every channel wanders over minutes: here it is interpolated between independent knots
every ``drift_s`` seconds with cos/sin weights (so ``|z|^2`` stays exponential at all times).
"""

from __future__ import annotations

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
        self._pieces: dict[int, np.ndarray] = {}

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
        for j, (channel, sample) in enumerate(zip(channels.tolist(), samples, strict=True)):
            done = 0
            while done < n:
                piece, pos = divmod(sample + done, _WRAP)
                count = min(_WRAP - pos, n - done)
                start = self._offsets(piece)[channel] + pos
                out[j, done : done + count] = self._flat[start : start + count]
                done += count
        return out.T


@lru_cache(maxsize=8)
def channel_major_bank(colour: PhaseNoise, prr: float, seed: int) -> np.ndarray:
    """The noise bank transposed to (column, row), its first ``_WRAP`` rows appended."""
    bank = noise_bank(colour, prr, seed, _BANK_ROWS, _BANK_COLS)
    return np.ascontiguousarray(np.concatenate([bank, bank[:_WRAP]]).T)


class FadedNoise:
    """Extra noise on the channels that are faded at each tick (a few % of the channels).

    DENSE although it touches few channels: single columns of a row-major block are cheap
    only while the rows are in cache.
    """

    stage = Stage.DENSE
    _SALT = 21

    def __init__(
        self, spec: RayleighFadingSpec, context: SynthesisContext, bank: np.ndarray
    ) -> None:
        self._spec = spec
        self._context = context
        self._threshold = -np.log1p(-spec.fraction)  # P(|z|^2 < t) = fraction
        self._tick = max(1, round(spec.tick_s * context.prr))
        limit = wrap_threshold(context.prr, context.gauge_length_meters)
        self._wrap = limit if spec.wrap else None
        faded0, gain0 = np.zeros(0, dtype=np.intp), np.zeros((0, 0), dtype=np.float32)
        self._noise = ColumnNoise(
            bank, context.n_channels, (context.seed, self._SALT, context.channel_offset)
        )
        self._knots: dict[int, np.ndarray] = {}
        self._last: tuple[int, tuple[np.ndarray, np.ndarray]] = (-1, (faded0, gain0))

    def _knot(self, k: int) -> np.ndarray:
        found = self._knots.get(k)
        if found is None:
            rng = self._context.rng((self._SALT, self._context.channel_offset, 1, k + 2**31))
            pair = rng.standard_normal((2, self._context.n_channels))
            found = (pair[0] + 1j * pair[1]) / np.sqrt(2)
            if len(self._knots) > 4:
                self._knots.clear()
            self._knots[k] = found
        return found

    def tick_noise(self, tick: int) -> tuple[np.ndarray, np.ndarray]:
        """Faded channels during ``tick`` and their extra noise over the whole tick, computed
        once per tick (the synthesizer asks chunk by chunk)."""
        if self._last[0] != tick:
            faded, gain = self.gains(tick)
            noise = self._noise.read(faded, tick * self._tick, self._tick)
            self._last = (tick, (faded, noise * gain))
        return self._last[1]

    def gains(self, tick: int) -> tuple[np.ndarray, np.ndarray]:
        """Faded channels and their noise gains during ``tick``."""
        t = (tick + 0.5) * self._tick / self._context.prr
        u, k = np.modf(t / self._spec.drift_s)
        z = self._knot(int(k)) * np.cos(np.pi / 2 * u) + self._knot(int(k) + 1) * np.sin(
            np.pi / 2 * u
        )
        power = np.abs(z) ** 2
        faded = np.flatnonzero(power < self._threshold)
        depth = power[faded] / self._threshold  # 0 deepest .. 1 just faded
        log_gain = np.log(self._spec.gain_max) * (1 - depth) + np.log(self._spec.gain_min) * depth
        return faded, np.exp(log_gain).astype(np.float32)

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        n = block.shape[0]
        row = 0
        while row < n:
            tick, pos = divmod(first_sample + row, self._tick)
            stop = min(n, row + self._tick - pos)
            faded, extra = self.tick_noise(tick)
            if faded.size:
                values = block[row:stop, faded]
                values += extra[pos : pos + stop - row]
                if self._wrap is not None:
                    wrap_in_place(values, self._wrap)
                block[row:stop, faded] = values
            row = stop


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
