"""Road traffic and pedestrians: moving sources along the fiber.

A vehicle loads the ground: under and around its position ``x_v(t)`` the fiber is strained by
``A g((x - x_v) / w)`` with ``g(u) = (1 - u^2) exp(-u^2 / 2)`` (compression under the wheels,
extension either side); as the load moves at ``v`` a channel sees the strain rate
``-dir v A / w g'(u)``, energy below ~0.8 Hz for w of several metres. Tyres on the road surface
also shake the ground at 3-20 Hz; that vibration is modelled as a band-limited series carried
by the vehicle, as loud as it is fast, decaying as ``exp(-|x - x_v| / decay)`` and radiating
as a surface wave (heard ``|x - x_v| / c`` late); each vehicle's series is read from a shared
bank through a mapping redrawn every few seconds (``BankReader``), so it never repeats.
Vehicles brake, halt and pull away at traffic lights and stop signs (``TrafficStop``), in
closed form. Both gauge-averaged profiles are read from tables once per tile of a few samples
(within which the vehicle moves less than a quarter channel) and expanded to samples: a few
array passes over the footprint.

Footsteps are impulses every ~0.6 s at positions advancing at walking speed; each radiates a
short wavelet (contact pulse 1-5 Hz plus a heel strike ringing at ~25 Hz) as a surface wave.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from fibersim.signals.banks import BankReader, PowerLaw, unit_bank
from fibersim.signals.base import CoherentSource, PlacedSpec, SynthesisContext
from fibersim.signals.events import OVERSAMPLE, EpochProcess, add_wavelets

#: Vehicle profiles are cut (to exactly zero) this many widths / decay lengths away.
_CUT = 3.5
#: A vehicle's tyre series is remapped to a new bank column and offset every segment
#: (4.1 s at 2 kHz), crossfaded: reading one bank column for the whole pass repeated it
#: every 16.4 s (the column's length), along the road and on every channel it passed.
_TYRE_SEGMENT = 8192
_TYRE_CROSSFADE = 1024


class TrafficStop(BaseModel):
    """Where vehicles brake to a halt: a traffic light (``cycle_s`` > 0: those arriving
    while it is red wait for green) or a junction with a stop sign (``cycle_s`` 0: every
    vehicle stops for ``dwell_s``).

    ``{channel: 1300, cycle_s: 90, red_s: 40}`` or ``{channel: 600, cycle_s: 0, dwell_s: 3}``
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: int = Field(ge=0, description="Channel of the stop line (range-relative).")
    cycle_s: float = Field(90.0, ge=0, description="Light cycle (s); 0: a stop sign.")
    red_s: float = Field(40.0, ge=0, description="Red part of each cycle (s).")
    offset_s: float = Field(0.0, description="Simulated time (s) at which a red phase starts.")
    dwell_s: float = Field(2.0, ge=0, description="Halt at a stop sign (s).")

    @model_validator(mode="after")
    def _red_within_cycle(self) -> TrafficStop:
        if self.cycle_s > 0 and self.red_s > self.cycle_s:
            raise ValueError("red_s must not exceed cycle_s")
        return self

    def longest_dwell(self) -> float:
        return self.red_s if self.cycle_s > 0 else self.dwell_s

    def dwell(self, t_halt: float, t_line: float) -> float | None:
        """How long a vehicle that would cross the line at ``t_line`` without braking, and
        halts there at ``t_halt``, waits; None if it drives through (green)."""
        if self.cycle_s == 0:
            return self.dwell_s
        phase = (t_line - self.offset_s) % self.cycle_s
        if phase >= self.red_s:
            return None
        return max(0.0, t_line - phase + self.red_s - t_halt)


class VehiclesSpec(PlacedSpec):
    """Cars, vans and trucks driving both ways along the channel range (a road over the
    fiber), in lanes, changing speed; their tyre noise radiates as surface waves.

    ``{type: vehicles, rate_per_hour: 60, speed_min: 10, speed_max: 30, truck_fraction: 0.15}``
    """

    type: Literal["vehicles"] = "vehicles"
    rate_per_hour: float = Field(60.0, ge=0, description="Poisson arrivals per direction.")
    directions: Literal["both", "forward", "backward"] = Field(
        "both", description="forward = increasing channel."
    )
    speed_min: PositiveFloat = Field(10.0, description="Slowest speed (m/s).")
    speed_max: PositiveFloat = Field(30.0, description="Fastest speed (m/s).")
    truck_fraction: float = Field(0.15, ge=0, le=1, description="Share of trucks.")
    truck_factor_min: PositiveFloat = Field(3.0, description="Truck/car amplitude, lowest.")
    truck_factor_max: PositiveFloat = Field(10.0, description="Truck/car amplitude, highest.")
    strain: PositiveFloat = Field(1e-7, description="Car quasi-static strain amplitude.")
    width_m: PositiveFloat = Field(6.0, description="Width w of the load's strain bowl (m).")
    tyre_rms: float = Field(2e-7, ge=0, description="Car tyre-road vibration rms at x_v (1/s).")
    tyre_f_min: PositiveFloat = Field(3.0, description="Tyre-road band, low edge (Hz).")
    tyre_f_max: PositiveFloat = Field(20.0, description="Tyre-road band, high edge (Hz).")
    tyre_decay_m: PositiveFloat = Field(6.0, description="Decay length of tyre vibration (m).")
    tyre_wave_speed: float = Field(
        250.0, ge=0, description="Surface-wave speed of the tyre noise (m/s, 100-600), a cone in "
        "f-k; 0: felt at once, no propagation (the traffic then renders ~1.5x faster).")
    speed_wander: float = Field(
        0.1, ge=0, lt=0.9, description="Speed changes along the road, relative amplitude.")
    speed_wander_s: PositiveFloat = Field(20.0, description="Period of those changes (s).")
    lanes: int = Field(2, ge=1, le=4, description="Lanes per direction.")
    lane_factor: float = Field(
        0.6, gt=0, le=1, description="Amplitude in each further lane relative to the nearer.")
    van_fraction: float = Field(0.25, ge=0, le=1, description="Share of vans (of non-trucks).")
    van_factor: PositiveFloat = Field(2.0, description="Van/car amplitude.")
    stops: list[TrafficStop] = Field(
        default_factory=list, description="Traffic lights and stop signs (both directions).")
    brake_decel: PositiveFloat = Field(2.5, description="Braking deceleration (m/s^2).")
    accel: PositiveFloat = Field(1.5, description="Acceleration away from a stop (m/s^2).")

    @model_validator(mode="after")
    def _ordered(self) -> VehiclesSpec:
        if self.speed_min > self.speed_max or self.truck_factor_min > self.truck_factor_max:
            raise ValueError("min must not exceed max")
        return self

    def make(self, context: SynthesisContext) -> Vehicles:
        return Vehicles(self, context)


@dataclass(frozen=True)
class Vehicle:
    """One pass: enters the range at ``t_enter`` (s since sample 0) and moves at ``velocity``."""

    t_enter: float
    x_enter: float
    velocity: float  # signed, m/s
    strain: float
    tyre_rms: float
    #: Drawn as a bank offset and column; together they seed the vehicle's tyre series.
    noise_offset: int
    noise_column: int

    t_exit: float  # when it has left the range and its footprint
    wander: float = 0.0  # relative speed change
    wander_s: float = 1.0
    wander_phase: float = 0.0
    halts: tuple[Halt, ...] = ()

    def cruise_position(self, tau: np.ndarray) -> np.ndarray:
        """Where it is at ``tau`` if it never stops: the integral of ``cruise_velocity``."""
        drift = self.velocity * (tau - self.t_enter)
        if self.wander:
            omega = 2 * np.pi / self.wander_s
            drift += self.velocity * self.wander / omega * (
                np.sin(omega * (tau - self.t_enter) + self.wander_phase)
                - np.sin(self.wander_phase))
        return np.asarray(self.x_enter + drift)

    def cruise_velocity(self, tau: np.ndarray) -> np.ndarray:
        """Signed speed at ``tau`` (m/s) if it never stops: speeding up and slowing down
        along the road."""
        omega = 2 * np.pi / self.wander_s
        return np.asarray(self.velocity * (
            1 + self.wander * np.cos(omega * (tau - self.t_enter) + self.wander_phase)))

    def progress(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Its cruise time ``tau(t)`` and the rate ``dtau/dt``: each halt brakes the rate
        linearly from 1 to 0 (constant deceleration), holds it at 0, then raises it
        linearly back to 1; ``tau`` is the integral, in closed form."""
        tau = np.array(t, dtype=np.float64)
        rate = np.ones_like(tau)
        for halt in self.halts:
            u = t - halt.t_brake
            braking = np.clip(u, 0, halt.brake_s)
            waiting = np.clip(u - halt.brake_s, 0, halt.dwell_s)
            going = np.clip(u - halt.brake_s - halt.dwell_s, 0, halt.accel_s)
            tau -= braking**2 / (2 * halt.brake_s) + waiting + going - going**2 / (
                2 * halt.accel_s)
            inside = (u > 0) & (u < halt.brake_s + halt.dwell_s + halt.accel_s)
            rate = np.where(inside, np.where(u < halt.brake_s, 1 - braking / halt.brake_s,
                                             going / halt.accel_s), rate)
        return tau, rate

    def position(self, t: np.ndarray) -> np.ndarray:
        """Where it is at ``t``."""
        return self.cruise_position(self.progress(t)[0])

    def velocity_at(self, t: np.ndarray) -> np.ndarray:
        """Signed speed at ``t`` (m/s), braking and halting at stops."""
        tau, rate = self.progress(t)
        return np.asarray(self.cruise_velocity(tau) * rate)


@dataclass(frozen=True)
class Halt:
    """One stop of a vehicle: braking from ``t_brake`` (s) for ``brake_s``, standing for
    ``dwell_s``, accelerating for ``accel_s``; it is late by ``delay`` afterwards."""

    t_brake: float
    brake_s: float
    dwell_s: float
    accel_s: float

    @property
    def delay(self) -> float:
        return self.brake_s / 2 + self.dwell_s + self.accel_s / 2


class Vehicles(CoherentSource):
    """Renders every vehicle alive in the block on its own footprint."""

    _SALT = 31
    _NOISE_ROWS = 2**15
    _NOISE_COLS = 64  # every vehicle reads its own sequence of columns and offsets

    def __init__(self, spec: VehiclesSpec, context: SynthesisContext) -> None:
        super().__init__(context)
        self._arrivals_until = math.inf  # seconds since sample 0 (``drained``)
        self._spec = spec
        self._context = context
        self._length = (context.n_channels - 1) * context.dx
        self._radius = _CUT * max(spec.width_m, spec.tyre_decay_m) + context.gauge_length_meters / 2
        self._tile = max(1, int(0.25 * context.dx * context.prr / spec.speed_max))
        self._profiles = vehicle_profiles(
            spec.width_m, spec.tyre_decay_m, context.gauge_length_meters / 2
        )
        colour = PowerLaw(0.0, spec.tyre_f_min, spec.tyre_f_max)
        # Read through its transpose: (row, column) views whose columns are contiguous runs.
        self._noise = channel_major_unit_bank(
            colour, context.prr, context.seed, self._NOISE_ROWS, self._NOISE_COLS
        ).T
        #: Tyre-series readers of the vehicles rendered in the last block, by vehicle key.
        self._readers: dict[tuple[int, int], BankReader] = {}
        directions = {"both": (1, -1), "forward": (1,), "backward": (-1,)}[spec.directions]
        self._span = self._length + 2 * self._radius
        fastest = spec.speed_max * (1 + spec.speed_wander)
        longest_halts = len(spec.stops) * fastest * (1 / spec.brake_decel + 1 / spec.accel) / 2 \
            + sum(stop.longest_dwell() for stop in spec.stops)
        self._processes = [
            EpochProcess(
                context, self._SALT + 100 * (d < 0), spec.rate_per_hour / 3600,
                functools.partial(self._draw, direction=d),
                self._span / (spec.speed_min * (1 - spec.speed_wander)) + longest_halts,
            )
            for d in directions
        ]

    def _draw(self, rng: np.random.Generator, t: float, direction: int) -> Vehicle:
        spec = self._spec
        speed = rng.uniform(spec.speed_min, spec.speed_max)
        factor = rng.lognormal(0.0, 0.3)
        truck = rng.uniform(spec.truck_factor_min, spec.truck_factor_max)  # drawn for all:
        if rng.random() < spec.truck_fraction:  # the traffic stays the same if the mix changes
            factor *= truck
        start = -self._radius if direction > 0 else self._length + self._radius
        offset, column = int(rng.integers(0, self._NOISE_ROWS)), int(
            rng.integers(0, self._NOISE_COLS))
        # Drawn after the original draws, so traffic keeps its times, speeds and trucks.
        phase = rng.uniform(0, 2 * np.pi)
        lane = int(rng.integers(0, spec.lanes))
        van = rng.random() < spec.van_fraction and factor < spec.truck_factor_min
        factor *= spec.lane_factor**lane * (spec.van_factor if van else 1.0)
        cruising = Vehicle(
            t, start, direction * speed, spec.strain * factor, spec.tyre_rms * factor,
            offset, column, t + self._span / (speed * (1 - spec.speed_wander)),
            spec.speed_wander, spec.speed_wander_s, float(phase),
        )
        return self._with_halts(cruising, direction)

    def _with_halts(self, vehicle: Vehicle, direction: int) -> Vehicle:
        """``vehicle`` braking at the stops it meets at red (every stop sign), in order."""
        spec, dx = self._spec, self._context.dx
        lines = sorted(((stop.channel * dx, stop) for stop in spec.stops
                        if stop.channel < self._context.n_channels), key=lambda line: line[0])
        halts: list[Halt] = []
        late = 0.0
        for x_line, stop in lines if direction > 0 else reversed(lines):
            tau_line = _crossing_time(vehicle, x_line)
            speed = abs(float(vehicle.cruise_velocity(np.array(tau_line))))
            brake_s, accel_s = speed / spec.brake_decel, speed / spec.accel
            # The rate falls linearly over brake_s: the vehicle covers half the cruise
            # distance of that time, so it brakes brake_s / 2 of cruise time before the line.
            t_brake = tau_line - brake_s / 2 + late
            dwell = stop.dwell(t_brake + brake_s, tau_line + late)
            if dwell is not None:
                halts.append(Halt(t_brake, brake_s, dwell, accel_s))
                late += halts[-1].delay
        return dataclasses.replace(vehicle, halts=tuple(halts), t_exit=vehicle.t_exit + late)

    def drained(self, stop_sample: int) -> Vehicles:
        """The same traffic without the vehicles arriving at or after ``stop_sample``."""
        drained = copy.copy(self)
        drained._arrivals_until = min(self._arrivals_until, stop_sample / self._context.prr)
        return drained

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        n, prr, tile = block.shape[0], self._context.prr, self._tile
        first_tile = first_sample // tile
        tiles = np.arange(first_tile, (first_sample + n - 1) // tile + 1)
        tile_t = (tiles * tile + (tile - 1) / 2) / prr
        samples = np.arange(tiles[0] * tile, (tiles[-1] + 1) * tile)
        skip = first_sample - tiles[0] * tile
        t0, t1 = first_sample / prr, (first_sample + n) / prr
        readers = self._readers
        self._readers = {}  # keeps the readers of the vehicles still on the road
        for process in self._processes:
            for vehicle in process.alive(t0, t1):
                if (vehicle.t_enter <= t1 and vehicle.t_exit >= t0
                        and vehicle.t_enter < self._arrivals_until):
                    key = (vehicle.noise_offset, vehicle.noise_column)
                    self._readers[key] = readers.get(key) or self._reader(key)
                    self._add_vehicle(block, vehicle, tile_t, samples, skip)

    def _reader(self, key: tuple[int, int]) -> BankReader:
        """The reader of the tyre series of the vehicle with this key (its noise draws)."""
        return BankReader(self._noise, 1, (self._context.seed, self._SALT, *key),
                          _TYRE_SEGMENT, _TYRE_CROSSFADE)

    def _tyre_series(self, vehicle: Vehicle, first: int, count: int) -> np.ndarray:
        """``count`` samples of the vehicle's unit tyre series from absolute sample ``first``
        (the time the vibration leaves the tyres), a pure function of the sample."""
        series = np.zeros((count, 1), dtype=np.float32)
        self._readers[vehicle.noise_offset, vehicle.noise_column].add_to(series, first, 1.0)
        return series[:, 0]

    def _add_vehicle(
        self,
        block: np.ndarray,
        vehicle: Vehicle,
        tile_t: np.ndarray,
        samples: np.ndarray,
        skip: int,
    ) -> None:
        """Add one vehicle: profiles per tile, expanded over the tile's samples."""
        dx, n, tile = self._context.dx, block.shape[0], self._tile
        if vehicle.halts:
            tau, rate = vehicle.progress(tile_t)
            velocity = vehicle.cruise_velocity(tau) * rate
            if not np.count_nonzero(velocity):
                return  # standing at a stop all block long: no load change, quiet tyres
        else:  # cruising: its clock is the block's
            tau, velocity = tile_t, vehicle.cruise_velocity(tile_t)
        x = vehicle.cruise_position(tau)
        ends = sorted((float(x[0]), float(x[-1])))  # it moves one way (or stands)
        lo = max(0, math.floor((ends[0] - self._radius) / dx))
        hi = min(block.shape[1], math.ceil((ends[1] + self._radius) / dx) + 1)
        if lo >= hi:
            return
        xi = np.arange(lo, hi) * dx - x[:, None]  # (tiles, channels): channel minus vehicle
        index = np.rint(xi * (1 / _STEP_M)).astype(np.intp)
        index += self._profiles.shape[1] // 2
        np.maximum(index, 0, out=index)  # beyond the tabulated reach both profiles are 0
        np.minimum(index, self._profiles.shape[1] - 1, out=index)
        speed = (velocity * vehicle.strain).astype(np.float32)[:, None]
        quasi_static = self._profiles[0, index] * speed
        # Tyre-road noise grows with speed: a halted vehicle is quiet.
        loudness = np.abs(velocity) * (vehicle.tyre_rms / abs(vehicle.velocity))
        tyre = self._profiles[1, index] * loudness.astype(np.float32)[:, None]
        field = np.empty((len(tile_t), tile, hi - lo), dtype=np.float32)
        if self._spec.tyre_wave_speed > 0:
            # Tyre noise radiates as a surface wave: a channel hears it |x - x_v| / c late,
            # which puts it on a cone |f / k| = c in the f-k plane.
            # Per tile and channel the delayed noise is a contiguous run: index windows of
            # the vehicle's series instead of single samples.
            np.abs(xi, out=xi)
            xi *= self._context.prr / self._spec.tyre_wave_speed
            late = np.rint(xi).astype(np.intp)
            latest = int(late.max())
            series = self._tyre_series(vehicle, int(samples[0]) - latest, len(samples) + latest)
            first = np.arange(latest, latest + len(samples), tile)[:, None] - late
            noise = _windows(series, tile)[first]  # (tiles, channels, tile)
            # Written time-major: the reshape below is then a view, not a transposing copy.
            np.multiply(noise.transpose(0, 2, 1), tyre[:, None, :], out=field)
        else:
            noise = self._tyre_series(vehicle, int(samples[0]), len(samples))
            np.multiply(noise.reshape(len(tile_t), tile, 1), tyre[:, None, :], out=field)
        field += quasi_static[:, None, :]
        self.add_field(block, int(samples[0]) + skip, 0, lo,
                       field.reshape(-1, hi - lo)[skip : skip + n])


def _windows(series: np.ndarray, length: int) -> np.ndarray:
    """Every run of ``length`` consecutive values of the contiguous 1-D ``series``, as a
    read-only (runs, length) view (``sliding_window_view`` without its checks, which cost
    as much as the view is used for here)."""
    step = series.strides[0]
    view = np.ndarray((series.size - length + 1, length), series.dtype, series, 0, (step, step))
    view.flags.writeable = False
    return view


def _crossing_time(vehicle: Vehicle, x_line: float) -> float:
    """When ``vehicle``, cruising, reaches ``x_line``: Newton's method on its position,
    which is monotonic (the speed wander stays below the cruise speed)."""
    tau = vehicle.t_enter + (x_line - vehicle.x_enter) / vehicle.velocity
    for _ in range(8):
        error = float(vehicle.cruise_position(np.array(tau))) - x_line
        tau -= error / float(vehicle.cruise_velocity(np.array(tau)))
    return tau


#: Spacing (m) of the tabulated vehicle profiles.
_STEP_M = 0.02


@lru_cache(maxsize=4)
def channel_major_unit_bank(
    colour: PowerLaw, prr: float, seed: int, n_rows: int, n_cols: int
) -> np.ndarray:
    """``unit_bank`` transposed to (column, row): a vehicle reads its tyre noise as one
    contiguous run instead of one value per cache line of the row-major bank."""
    bank = np.ascontiguousarray(unit_bank(colour, prr, seed, n_rows, n_cols).T)
    bank.setflags(write=False)
    return bank


@lru_cache(maxsize=8)
def vehicle_profiles(width: float, decay: float, half_gauge: float) -> np.ndarray:
    """Gauge-averaged unit profiles against xi = x - x_v, every ``_STEP_M`` metres, zero at
    both ends: row 0 the quasi-static strain rate per (m/s x strain), row 1 the tyre envelope.

    The mean of a derivative over the gauge [xi - h, xi + h] is a difference of the function
    divided by 2h, so both averages are exact.
    """
    reach = _CUT * max(width, decay) + half_gauge
    xi = np.arange(-round(reach / _STEP_M) - 1, round(reach / _STEP_M) + 2) * _STEP_M
    xi = xi.astype(np.float32)
    h = np.float32(half_gauge)
    quasi_static = -(_bowl(xi + h, width) - _bowl(xi - h, width)) / (2 * h)
    tyre = decay * (_decay_integral(xi + h, decay) - _decay_integral(xi - h, decay)) / (2 * h)
    profiles = np.stack([quasi_static, tyre]).astype(np.float32)
    profiles[:, [0, -1]] = 0
    return profiles


def _bowl(xi: np.ndarray, width: float) -> np.ndarray:
    """Strain profile g(u) = (1 - u^2) exp(-u^2 / 2), u = xi / width, tapered smoothly
    (cos^2 over the last width) to zero at 3.5 widths: a cut would be a step in time on
    every channel the vehicle passes, a broadband click."""
    u2 = np.square(xi * np.float32(1 / width))
    u = np.sqrt(u2)
    ramp = np.clip(_CUT - u, 0, 1)  # 1 inside 2.5 widths, 0 at the cut
    taper = np.square(np.sin(np.float32(np.pi / 2) * ramp))
    return (1 - u2) * np.exp(np.float32(-0.5) * u2) * taper


def _decay_integral(xi: np.ndarray, decay: float) -> np.ndarray:
    """Antiderivative of exp(-|xi| / decay) in units of ``decay``, flat beyond 3.5 decays."""
    clipped = np.clip(xi * np.float32(1 / decay), -_CUT, _CUT)
    integral: np.ndarray = np.sign(clipped) * (1 - np.exp(-np.abs(clipped)))
    return integral


class FootstepsSpec(PlacedSpec):
    """People walking along the fiber, each step an impulse radiating a short surface wave.

    ``{type: footsteps, rate_per_hour: 20, speed: 1.4, step_interval_s: 0.6}``
    """

    type: Literal["footsteps"] = "footsteps"
    rate_per_hour: float = Field(20.0, ge=0, description="Walkers starting per hour (Poisson).")
    speed: PositiveFloat = Field(1.4, description="Mean walking speed (m/s).")
    step_interval_s: PositiveFloat = Field(0.6, description="Mean time between steps (s).")
    contact_s: PositiveFloat = Field(0.2, description="Foot contact duration (s), 0.15-0.25.")
    walk_min_s: PositiveFloat = Field(60.0, description="Shortest walk (s).")
    walk_max_s: PositiveFloat = Field(300.0, description="Longest walk (s).")
    amplitude: float = Field(4e-7, ge=0, description="Peak strain rate under the foot (1/s).")
    decay_m: PositiveFloat = Field(6.0, description="Amplitude decay length (m); visible ~20 m.")
    wave_speed: PositiveFloat = Field(150.0, description="Surface-wave speed (m/s).")

    def make(self, context: SynthesisContext) -> Footsteps:
        return Footsteps(self, context)


@dataclass(frozen=True)
class Walker:
    """A walk: step times (s since sample 0), step positions (m) and amplitudes."""

    times: np.ndarray
    positions: np.ndarray
    amplitudes: np.ndarray


@lru_cache(maxsize=8)
def footstep_wavelet(prr: float, contact_s: float) -> np.ndarray:
    """Strain-rate wavelet of one step, oversampled, unit peak.

    The derivative of a half-sine contact force (1-5 Hz) plus a heel strike ringing at 25 Hz.
    """
    t = np.arange(round(2 * contact_s * OVERSAMPLE * prr)) / (OVERSAMPLE * prr)
    contact = np.where(t < contact_s, np.cos(np.pi * t / contact_s), 0.0)
    heel = 0.6 * np.exp(-t / 0.03) * np.sin(2 * np.pi * 25 * t)
    wavelet = contact + heel
    wavelet *= np.minimum(1.0, (len(t) - np.arange(len(t))) / (0.2 * len(t)))  # taper the end
    normalised: np.ndarray = (wavelet / np.abs(wavelet).max()).astype(np.float32)
    return normalised


class Footsteps(CoherentSource):
    """Renders each step near the walker as a delayed, decaying wavelet."""

    _SALT = 41

    def __init__(self, spec: FootstepsSpec, context: SynthesisContext) -> None:
        super().__init__(context)
        self._spec = spec
        self._context = context
        self._table = footstep_wavelet(context.prr, spec.contact_s)
        self._radius = 3.5 * spec.decay_m
        wavelet_s = self._table.size / (OVERSAMPLE * context.prr)
        self._reach_s = wavelet_s + self._radius / spec.wave_speed
        self._process = EpochProcess(
            context, self._SALT, spec.rate_per_hour / 3600, self._draw,
            spec.walk_max_s + self._reach_s,
        )

    def _draw(self, rng: np.random.Generator, t: float) -> Walker:
        spec = self._spec
        length = (self._context.n_channels - 1) * self._context.dx
        duration = rng.uniform(spec.walk_min_s, spec.walk_max_s)
        interval = spec.step_interval_s * rng.uniform(0.85, 1.15)
        n = max(1, int(duration / interval))
        times = t + interval * (np.arange(n) + rng.uniform(-0.05, 0.05, n))
        speed = rng.normal(spec.speed, 0.1 * spec.speed) * rng.choice([-1.0, 1.0])
        positions = rng.uniform(0, length) + speed * (times - t)
        amplitudes = spec.amplitude * rng.lognormal(0, 0.3) * rng.uniform(0.7, 1.3, n)
        keep = (positions >= 0) & (positions <= length)
        return Walker(times[keep], positions[keep], amplitudes[keep])

    def add_to(self, block: np.ndarray, first_sample: int) -> None:
        prr, dx = self._context.prr, self._context.dx
        t0 = first_sample / prr
        t1 = (first_sample + block.shape[0]) / prr
        spec = self._spec
        for walker in self._process.alive(t0, t1):
            near = (walker.times <= t1) & (walker.times + self._reach_s >= t0)
            for t_step, x_step, amp in zip(
                walker.times[near], walker.positions[near], walker.amplitudes[near], strict=True
            ):
                lo = max(0, math.floor((x_step - self._radius) / dx))
                hi = min(block.shape[1], math.ceil((x_step + self._radius) / dx) + 1)
                distance = np.abs(np.arange(lo, hi) * dx - x_step)
                arrival = t_step + distance / spec.wave_speed
                amplitude = amp * np.exp(-distance / spec.decay_m)
                add_wavelets(
                    block, first_sample, self._context, self._table, arrival, amplitude, lo,
                    self)

