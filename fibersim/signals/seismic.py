"""Waves from farther away: earthquakes, stationary machinery and the ocean.

An earthquake at perpendicular distance ``d`` from the fiber, closest to channel ``x0``,
reaches channel ``x`` after ``sqrt((x - x0)^2 + d^2) / v``: a hyperbolic moveout, first for the
P wave (5-8 km/s) then for the S wave (3-4.5 km/s, 2-5x stronger), with 1/r spreading, a
Brune (omega-squared) source spectrum, a coda scattered differently along the fibre, site
amplification per channel and the axial directivity of a straight fibre.
Machinery is a stationary oscillator with harmonics, felt on a few channels. The ocean adds
plane waves: the secondary microseism (0.1-0.35 Hz, fast) and surface gravity waves (slow,
about 10 m/s on the shelf), each a rank-one-per-term field ``sin(w t - k x + phi)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat

from fibersim.signals.base import CoherentSource, PlacedSpec, Stage, SynthesisContext
from fibersim.signals.events import OVERSAMPLE, add_wavelets
from fibersim.signals.physics import (
    correlated_lognormal,
    gauge_average,
    gauge_taps,
    sample_times,
)


class EarthquakeSpec(PlacedSpec):
    """One earthquake's P and S arrivals: a Brune (omega-squared) source, a scattered coda,
    site amplification per channel and the axial directivity of a straight fibre.

    ``{type: earthquake, origin_time: 10, distance_m: 5000, vp: 6000, vs: 3500, s_to_p: 3}``
    """

    type: Literal["earthquake"] = "earthquake"
    origin_time: float = Field(5.0, description="Origin time, simulated clock (s).")
    distance_m: PositiveFloat = Field(
        5000.0, description="Hypocentre distance from the fiber line (m)."
    )
    closest_channel: int | None = Field(
        None, description="Channel nearest the hypocentre (range-relative); default the middle."
    )
    vp: float = Field(6000.0, ge=1000, description="P velocity (m/s), 5-8 km/s.")
    vs: float = Field(3500.0, ge=500, description="S velocity (m/s), 3-4.5 km/s.")
    p_amplitude: PositiveFloat = Field(3e-6, description="P peak strain rate at distance d (1/s).")
    s_to_p: PositiveFloat = Field(3.0, description="S/P peak amplitude ratio (2-5).")
    corner_hz: PositiveFloat = Field(
        6.0, description="Brune corner frequency (Hz): ~10 Hz for M2, ~1 Hz for M4.")
    f_min: PositiveFloat = Field(2.0, description="Lowest frequency (Hz).")
    f_max: PositiveFloat = Field(20.0, description="Highest frequency (Hz, attenuation).")
    coda_s: PositiveFloat = Field(1.0, description="Envelope decay time of each phase (s).")
    coda_patches: int = Field(
        8, ge=1, le=32, description="Independent coda realisations along the fibre (scattering).")
    patch_m: PositiveFloat = Field(200.0, description="Length of fibre sharing a coda (m).")
    site_sigma: float = Field(
        0.3, ge=0, le=2, description="Log-normal sigma of the site amplification per channel.")
    site_length_m: PositiveFloat = Field(50.0, description="Correlation length of the site "
                                         "amplification (m).")
    directivity: float = Field(
        0.7, ge=0, le=1, description="Weight of the axial pattern (P cos^2, S |sin 2 theta|) "
        "against an isotropic floor (1: an ideal straight fibre, blind broadside).")

    def make(self, context: SynthesisContext) -> Earthquake:
        return Earthquake(self, context)


@lru_cache(maxsize=32)
def quake_wavelet(prr: float, corner_hz: float, f_min: float, f_max: float, coda_s: float,
                  seed: int, direct: bool) -> np.ndarray:
    """An oversampled unit-peak wavelet with a Brune strain-rate spectrum
    ``f / (1 + (f / corner)^2)`` between ``f_min`` and ``f_max`` (smooth edges) and random
    phases, under a rise-and-decay envelope: the ``direct`` arrival (a short pulse, an
    eighth of the coda) or the scattered coda (rising over a tenth, decaying over
    ``coda_s``)."""
    rate = OVERSAMPLE * prr
    t = np.arange(round(6 * coda_s * rate)) / rate
    rng = np.random.default_rng([seed, 0x51, int(direct)])
    f = np.fft.rfftfreq(t.size, 1 / rate)
    safe = np.maximum(f, 1e-9)
    band = 1 / np.sqrt((1 + (f_min / safe) ** 8) * (1 + (safe / f_max) ** 8))
    spectrum = safe / (1 + (safe / corner_hz) ** 2) * band * (f > 0)
    phases = np.exp(2j * np.pi * rng.uniform(size=f.size))
    carrier = np.fft.irfft(spectrum * phases, t.size)
    if direct:
        width = 0.125 * coda_s
        envelope = np.exp(-0.5 * ((t - 2 * width) / width) ** 2)
    else:
        rise = 0.1 * coda_s
        envelope = np.where(t < rise, t / rise, np.exp(-(t - rise) / coda_s))
        envelope *= np.minimum(1.0, (t[-1] - t) / coda_s)  # reach zero at the table's end
    wavelet = carrier * envelope
    normalised: np.ndarray = (wavelet / np.abs(wavelet).max()).astype(np.float32)
    return normalised


#: Peak of a phase's scattered coda relative to its direct pulse.
_CODA = 0.5


class Earthquake(CoherentSource):
    """Adds, for P then S, a direct pulse coherent along the fibre and a coda that differs
    from patch to patch of fibre, at the hyperbolic arrival times, scaled by spreading,
    site amplification and the axial pattern."""

    def __init__(self, spec: EarthquakeSpec, context: SynthesisContext) -> None:
        super().__init__(context)
        self._context = context
        centre = context.n_channels // 2 if spec.closest_channel is None else spec.closest_channel
        x = (np.arange(context.n_channels) - centre) * context.dx
        r = np.hypot(x, spec.distance_m)
        origin = spec.origin_time - context.start_time_s
        cos_theta = x / r  # angle between the ray and the fibre
        floor = 1 - spec.directivity
        patterns = (floor + spec.directivity * cos_theta**2,
                    floor + spec.directivity * np.abs(2 * cos_theta * np.sqrt(1 - cos_theta**2)))
        rng = context.rng((0x52, context.channel_offset))
        site = correlated_lognormal(rng, context.n_channels, spec.site_sigma,
                                    spec.site_length_m / context.dx)
        patch = ((context.channel_offset + np.arange(context.n_channels)) * context.dx
                 // spec.patch_m).astype(np.int64) % spec.coda_patches
        self._phases: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for salt, velocity, amplitude, pattern in (
            (1, spec.vp, spec.p_amplitude, patterns[0]),
            (2, spec.vs, spec.p_amplitude * spec.s_to_p, patterns[1]),
        ):
            arrival = origin + r / velocity
            direct = quake_wavelet(context.prr, spec.corner_hz, spec.f_min, spec.f_max,
                                   spec.coda_s, context.seed + salt, True)
            codas = [quake_wavelet(context.prr, spec.corner_hz, spec.f_min, spec.f_max,
                                   spec.coda_s, context.seed + salt + 97 * (k + 1), False)
                     for k in range(spec.coda_patches)]
            # The phase peaks at ``amplitude`` (before site and pattern) where the fibre is
            # closest: the S/P ratio holds there whatever the random coda adds.
            closest = codas[int(patch[min(max(centre, 0), context.n_channels - 1)])]
            peak = float(np.abs(direct + _CODA * closest).max())
            scale = amplitude / peak * spec.distance_m / r * site * pattern
            self._phases.append((direct, arrival, scale))
            for k, coda in enumerate(codas):
                on_patch = np.where(patch == k, _CODA * scale, 0.0)
                if on_patch.any():
                    self._phases.append((coda, arrival, on_patch))

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        for table, arrival, amplitude in self._phases:
            add_wavelets(block, first_sample, self._context, table, arrival, amplitude, 0, self)


class MachinerySpec(PlacedSpec):
    """A stationary machine (pump, generator, HVAC) with a fundamental and harmonics, its
    speed wandering slowly (``wander`` of f0 over ``wander_s``).

    ``{type: machinery, channel: 1200, f0: 29.5, harmonics: 4, amplitude: 5e-7}``
    """

    type: Literal["machinery"] = "machinery"
    channel: int | None = Field(None, description="Channel of the machine (range-relative).")
    f0: float = Field(29.5, gt=0, description="Fundamental (Hz), 10-60.")
    harmonics: int = Field(4, ge=1, le=12, description="Number of tones f0, 2 f0, ...")
    harmonic_decay: float = Field(0.6, gt=0, le=1, description="Amplitude ratio per harmonic.")
    amplitude: float = Field(5e-7, ge=0, description="Fundamental strain rate at the machine.")
    decay_m: PositiveFloat = Field(3.0, description="Spatial decay length (m).")
    wander: float = Field(
        0.002, ge=0, le=0.2, description="Slow frequency wander, relative (load, mains drift).")
    wander_s: PositiveFloat = Field(45.0, description="Period of that wander (s).")

    def make(self, context: SynthesisContext) -> Machinery:
        return Machinery(self, context)


class Machinery(CoherentSource):
    """A sum of harmonics in time times a decaying, gauge-averaged profile in space."""

    _SALT = 51

    def __init__(self, spec: MachinerySpec, context: SynthesisContext) -> None:
        super().__init__(context)
        centre = spec.channel if spec.channel is not None else context.n_channels // 2
        radius = round(5 * spec.decay_m / context.dx)
        taps = gauge_taps(context.dx, context.gauge_length_meters)
        self._lo = max(0, centre - radius - taps)
        self._hi = min(context.n_channels, centre + radius + taps + 1)
        distance = np.abs(np.arange(self._lo, self._hi) - centre) * context.dx
        profile = np.exp(-distance / spec.decay_m) * (distance <= 5 * spec.decay_m)
        self._profile = gauge_average(profile.astype(np.float32)[None, :], taps)
        order = np.arange(1, spec.harmonics + 1)
        keep = order * spec.f0 < 0.45 * context.prr  # a prefix: the lowest harmonics
        amps = (spec.amplitude * spec.harmonic_decay ** (order - 1))[keep]
        rng = context.rng((self._SALT, context.channel_offset + centre))
        phases = rng.uniform(0, 2 * np.pi, spec.harmonics)[keep]
        #: Harmonic h is Im(c_h z^h), z = exp(i 2 pi f0 t'): one complex exponential per
        #: sample and a product per harmonic instead of a sine per harmonic.
        self._coefficients = (amps * np.exp(1j * phases)).tolist()
        self._omega = 2 * np.pi * spec.f0
        self._wander_phase = float(rng.uniform(0, 2 * np.pi))
        self._wander, self._wander_s = spec.wander, spec.wander_s
        self._prr = context.prr

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        if self._lo >= self._hi:
            return
        t = sample_times(first_sample, block.shape[0], self._prr)
        # Frequency f (1 + w cos(2 pi t / T + p)): the phase is the integral, in closed form.
        period = self._wander_s
        warped = t + self._wander * period / (2 * np.pi) * (
            np.sin(2 * np.pi * t / period + self._wander_phase) - np.sin(self._wander_phase))
        turn = np.exp(1j * self._omega * warped)
        power = turn.copy()
        total = self._coefficients[0] * power
        for coefficient in self._coefficients[1:]:
            power *= turn
            total += coefficient * power
        series = total.imag.astype(np.float32)  # per sample: independent of block size
        self.add_field(block, first_sample, 0, self._lo, series[:, None] * self._profile)


class OceanSpec(PlacedSpec):
    """Subsea ambient field: secondary microseism plus surface gravity waves, both directions.

    ``{type: ocean, microseism_amplitude: 1e-7, gravity_amplitude: 3e-7, gravity_speed: 10}``
    """

    type: Literal["ocean"] = "ocean"
    microseism_amplitude: float = Field(1e-7, ge=0, description="Per-term strain rate (1/s).")
    microseism_f_min: PositiveFloat = Field(0.1, description="Microseism band low (Hz).")
    microseism_f_max: PositiveFloat = Field(0.35, description="Microseism band high (Hz).")
    microseism_speed: PositiveFloat = Field(2000.0, description="Apparent speed (m/s).")
    gravity_amplitude: float = Field(3e-7, ge=0, description="Per-term strain rate (1/s).")
    gravity_f_min: PositiveFloat = Field(0.05, description="Gravity-wave band low (Hz).")
    gravity_f_max: PositiveFloat = Field(0.3, description="Gravity-wave band high (Hz).")
    gravity_speed: PositiveFloat = Field(10.0, description="Gravity-wave speed (m/s).")
    terms: int = Field(6, ge=1, le=32, description="Plane waves per family.")

    def make(self, context: SynthesisContext) -> Ocean:
        return Ocean(self, context)


class Ocean:
    """Sum of plane waves, each split as ``sin(wt+p) cos(kx) - cos(wt+p) sin(kx)``."""

    stage = Stage.DENSE
    _SALT = 61

    def __init__(self, spec: OceanSpec, context: SynthesisContext) -> None:
        rng = context.rng((self._SALT, context.channel_offset))
        x = (context.channel_offset + np.arange(context.n_channels)) * context.dx
        taps = gauge_taps(context.dx, context.gauge_length_meters)
        omegas, phases, cos_kx, sin_kx = [], [], [], []
        for amplitude, f_lo, f_hi, speed in (
            (spec.microseism_amplitude, spec.microseism_f_min, spec.microseism_f_max,
             spec.microseism_speed),
            (spec.gravity_amplitude, spec.gravity_f_min, spec.gravity_f_max, spec.gravity_speed),
        ):
            f = rng.uniform(f_lo, f_hi, spec.terms)
            direction = rng.choice([-1.0, 1.0], spec.terms)
            for fi, di in zip(f, direction, strict=True):
                k = 2 * np.pi * fi / speed * di
                omegas.append(2 * np.pi * fi)
                phases.append(rng.uniform(0, 2 * np.pi))
                cos_kx.append(amplitude * np.cos(k * x))
                sin_kx.append(amplitude * np.sin(k * x))
        self._omega = np.array(omegas)
        self._phase = np.array(phases)
        self._cos_kx = gauge_average(np.array(cos_kx, dtype=np.float32), taps)
        self._sin_kx = gauge_average(np.array(sin_kx, dtype=np.float32), taps)
        self._prr = context.prr

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        t = sample_times(first_sample, block.shape[0], self._prr)
        angle = self._omega[None, :] * t[:, None] + self._phase
        sin_t = np.sin(angle).astype(np.float32)
        cos_t = np.cos(angle).astype(np.float32)
        for j in range(self._omega.size):
            block += sin_t[:, j : j + 1] * self._cos_kx[j]
            block -= cos_t[:, j : j + 1] * self._sin_kx[j]
