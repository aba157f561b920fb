"""Fit a background (instrument noise, level along the fibre, fading, common mode) to a real
recording: ``fibersim calibrate``.

The fit works on the statistics of ``realism``, in three steps:

1. the noise colour (level ``sigma_phi``, 1/f corner and exponent, output low-pass) by least
   squares on the median channel's power spectrum;
2. closed-form first guesses: the pulse length from the correlation length, the log-normal
   level spread from the p90/p10 of the channels' high-band rms (faded channels left out),
   the fading fraction and depth from the loud channels, the common-mode level from the
   variance of the median trace;
3. two rounds of render-and-compare on the recording's own geometry, each scaling the
   level spread, the fading fraction and the common mode by how far the simulated
   statistic still is from the real one.

``TOLERANCES`` says how close the calibrated output lands, statistic by statistic; the
statistics that the background does not set (repetition, kurtosis, the low PSD slope, which
traffic and quakes dominate) are reported and not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fibersim.signals.banks import PhaseNoise, SpatialCorrelation
from fibersim.signals.base import PlacedSpec, SynthesisContext, Synthesizer
from fibersim.signals.fading import RayleighFadingSpec
from fibersim.signals.noise import CommonModeNoiseSpec, IncoherentNoiseSpec
from fibersim.signals.physics import strain_per_radian
from fibersim.signals.realism import (
    COMMON_MODE_BAND,
    FADED_FACTOR,
    HIGH_BAND,
    Recording,
    clean,
    measure,
)

#: How close ``fibersim realism`` puts the calibrated background to the file it was fitted
#: to: (absolute, relative) - a value passes within either. Statistics not listed are not
#: fitted.
TOLERANCES: dict[str, tuple[float, float]] = {
    "adjacent_correlation": (0.05, 0.0),
    "correlation_length_gauges": (0.1, 0.0),
    "level_p90_p10": (0.0, 0.3),
    "psd_slope_high": (0.75, 0.0),
    "faded_fraction": (0.03, 0.3),
    "common_mode_share": (0.05, 0.3),
}
#: Most channels and seconds of the recording rendered while fitting.
FIT_CHANNELS = 512
FIT_SECONDS = 30.0


@dataclass(frozen=True)
class Fit:
    """The fitted background and the geometry it was fitted on."""

    specs: list[PlacedSpec]
    rate: float
    dx: float
    gauge_m: float
    n_channels: int
    real: dict[str, float | None]
    simulated: dict[str, float | None]


def within(key: str, real: float | None, simulated: float | None) -> bool | None:
    """Whether ``simulated`` is within the tolerance of ``real`` (None: not judged)."""
    if key not in TOLERANCES or real is None or simulated is None:
        return None
    absolute, relative = TOLERANCES[key]
    return abs(simulated - real) <= max(absolute, relative * abs(real))


def fit_colour(data: np.ndarray, rate: float, gauge_m: float) -> dict[str, Any]:
    """The median channel's spectrum (``spectrum``: 24 log-spaced points, 1 Hz (or 4 /
    duration) to 45 % of the rate), and the ``sigma_phi``, ``corner_hz``, ``alpha``,
    ``rolloff_hz``, ``rolloff_order`` of the phase-noise model that matches it best (least
    squares in log power), which the common mode and the fading take as their reference."""
    from scipy.optimize import least_squares
    from scipy.signal import welch

    duration = data.shape[0] / rate
    lo = max(1.0, 4 / duration)
    # At least 4 segments, averaged: one periodogram of a short record is too ragged.
    nperseg = min(1 << max(4, (data.shape[0] // 4).bit_length() - 1),
                  1 << max(4, math.ceil(math.log2(4 * rate / lo))))
    lo = max(lo, 2 * rate / nperseg)
    f, pxx = welch(data, fs=rate, nperseg=nperseg, axis=0)
    keep = (f >= lo) & (f <= 0.45 * rate)
    # 48 log-spaced frequencies: every decade weighs alike, not the crowded top one.
    spaced = np.geomspace(f[keep][0], f[keep][-1], 48)
    median = np.log(np.maximum(np.median(pxx[keep], axis=1), 1e-300))
    f, target = spaced, np.interp(np.log(spaced), np.log(f[keep]), median)
    table = [(round(float(fi), 4), float(f"{math.exp(ti):.4g}")) for fi, ti in zip(
        f[::2], target[::2], strict=True)]

    def model(p: np.ndarray) -> np.ndarray:
        sigma, corner, alpha, rolloff, order = np.exp(p[0]), np.exp(p[1]), p[2], np.exp(
            p[3]), p[4]
        colour = PhaseNoise(float(sigma), float(corner), float(alpha), gauge_m,
                            float(rolloff), float(order))
        power = np.abs(colour.amplitude(f, rate)) ** 2 * (2 / rate)  # one-sided PSD
        return np.asarray(np.log(np.maximum(power, 1e-300)))

    sigma0 = math.sqrt(math.exp(float(np.median(target))) * rate) / (
        strain_per_radian(gauge_m) * rate * math.pi)
    start = np.array([math.log(max(sigma0, 1e-12)), math.log(0.1 * rate), 1.5,
                      math.log(0.4 * rate), 1.0])
    lower = [start[0] - 30, math.log(0.01), 0.0, math.log(0.02 * rate), 0.25]
    upper = [start[0] + 30, math.log(rate), 2.0, math.log(rate), 8.0]

    def residual(p: np.ndarray) -> np.ndarray:
        return np.asarray(model(p) - target)

    # Offset first: the level is the one parameter a poor start misses by decades.
    start[0] += float(np.median(target - model(start))) / 2
    result = least_squares(residual, start, bounds=(lower, upper))
    p = result.x
    return {"sigma_phi": float(np.exp(p[0])), "corner_hz": float(np.exp(p[1])),
            "alpha": float(p[2]), "rolloff_hz": float(np.exp(p[3])),
            "rolloff_order": float(p[4]), "spectrum": table}


def spatial_for(adjacent: float | None, length_gauges: float | None, dx: float,
                gauge_m: float) -> tuple[float, float]:
    """The pulse length (in gauges) and the uncorrelated share of the noise that best give
    the measured adjacent-channel correlation and correlation length (grid search)."""
    if adjacent is None:
        return IncoherentNoiseSpec().pulse_fraction, 0.0
    distance = np.linspace(0, 4 * gauge_m, 801)
    best, best_cost = (0.0, 0.0), math.inf
    for pulse in np.linspace(0.0, 3.0, 31):
        shared = SpatialCorrelation(dx, gauge_m, float(pulse) * gauge_m)
        rho_d, rho_x = shared.at(np.array([dx]))[0], shared.at(distance)
        for white in np.linspace(0.0, 0.9, 46):
            cost = ((1 - white) * rho_d - adjacent) ** 2
            if length_gauges is not None:
                crossing = distance[np.argmax((1 - white) * rho_x <= 0.5)] / gauge_m
                cost += (crossing - length_gauges) ** 2
            if cost < best_cost:
                best, best_cost = (float(pulse), float(white)), cost
    return best


def render_fit(specs: list[PlacedSpec], rec: Recording, n_channels: int, seed: int,
               duration_s: float) -> Recording:
    """``duration_s`` of ``specs`` on the recording's geometry."""
    gauge = rec.gauge_m or 10 * rec.dx
    context = SynthesisContext(prr=rec.rate, dx=rec.dx, n_channels=n_channels,
                               gauge_length_meters=gauge, seed=seed)
    data = Synthesizer(context, [spec.build(context) for spec in specs]).render_at(
        0, round(duration_s * rec.rate))
    return Recording(data, rec.rate, rec.dx, gauge, "calibrated")


def calibrate(rec: Recording, seed: int = 0, rounds: int = 3) -> Fit:
    """Fit the background to ``rec`` (see the module docstring)."""
    data = clean(rec.data)
    n_channels = min(data.shape[1], FIT_CHANNELS)
    first = (data.shape[1] - n_channels) // 2
    data = data[:, first:first + n_channels]
    gauge = rec.gauge_m or 10 * rec.dx
    view = Recording(data, rec.rate, rec.dx, gauge, rec.name)
    real = measure(view)
    colour = fit_colour(data, rec.rate, gauge)
    # The median trace's spectrum below 10 Hz: above, it is mostly what is left of the
    # channels' own noise after the median, not a signal they share.
    common_spectrum = [(f, p * min(1.0, (COMMON_MODE_BAND[1] / f) ** 4)) for f, p in
                       fit_colour(np.median(data, axis=1, keepdims=True), rec.rate,
                                  gauge)["spectrum"]]
    faded = float(real["faded_fraction"] or 0.0)
    from scipy.signal import butter, sosfiltfilt

    sos = butter(6, [HIGH_BAND[0] * rec.rate, HIGH_BAND[1] * rec.rate], btype="bandpass",
                 fs=rec.rate, output="sos")
    rms = np.asarray(sosfiltfilt(sos, data, axis=0)).std(axis=0)
    loud = rms > FADED_FACTOR * np.median(rms)
    normal = rms[~loud] if (~loud).sum() >= 4 else rms
    p10, p90 = np.percentile(normal, [10, 90])
    params: dict[str, Any] = {
        "level_sigma": min(2.0, math.log(max(p90 / p10, 1.0)) / 2.563),
        "fraction": min(0.5, faded),
        "gain_min": float(np.clip(np.median(rms[loud]) / np.median(normal) / math.sqrt(2), 3,
                                  1000)) if loud.any() else 10.0,
        "rms_ratio": 0.0,
    }
    params["common"] = common_spectrum
    params["rms_ratio"] = 1.0 if real["common_mode_share"] is not None else 0.0
    duration = min(FIT_SECONDS, max(rec.duration_s, 4.0))
    sections, isolated = loud_sections(loud, rms / np.median(normal),
                                       max(2, round(gauge / rec.dx)))
    params["sections"] = sections
    params["fraction"] = min(0.5, isolated / n_channels)
    pulse, params["white"] = spatial_for(real["adjacent_correlation"],
                                         real["correlation_length_gauges"], rec.dx, gauge)
    specs = _specs(colour, pulse, params)
    simulated = measure(render_fit(specs, view, n_channels, seed, duration))
    for _ in range(rounds):
        params = _corrected(params, real, simulated)
        specs = _specs(colour, pulse, params)
        simulated = measure(render_fit(specs, view, n_channels, seed, duration))
    return Fit(specs, rec.rate, rec.dx, gauge, n_channels, real, simulated)


def _specs(colour: dict[str, Any], pulse: float, params: dict[str, Any]) -> list[PlacedSpec]:
    specs: list[PlacedSpec] = [IncoherentNoiseSpec(
        **colour, pulse_fraction=pulse, white_fraction=params["white"],
        level_sigma=params["level_sigma"], loss_db_per_km=0.0, sections=params["sections"])]
    if params["rms_ratio"] > 0:
        specs.append(CommonModeNoiseSpec(rms_ratio=params["rms_ratio"],
                                         spectrum=params["common"]))
    if params["fraction"] > 0:
        specs.append(RayleighFadingSpec(
            fraction=params["fraction"], gain_min=params["gain_min"],
            gain_max=max(params["gain_min"] * 10, 100.0), sigma_phi=colour["sigma_phi"],
            corner_hz=colour["corner_hz"], alpha=colour["alpha"], wrap=False))
    return specs


def loud_sections(loud: np.ndarray, gain: np.ndarray, min_run: int
                  ) -> tuple[list[tuple[int, int, float]], int]:
    """Runs of at least ``min_run`` loud channels as badly coupled sections ``(first, last,
    median gain)``, and the count of the other loud channels (faded ones)."""
    sections: list[tuple[int, int, float]] = []
    isolated = 0
    channel = 0
    while channel < loud.size:
        if not loud[channel]:
            channel += 1
            continue
        end = channel
        while end + 1 < loud.size and loud[end + 1]:
            end += 1
        if end - channel + 1 >= min_run:
            sections.append((channel, end, round(float(np.median(gain[channel:end + 1])), 3)))
        else:
            isolated += end - channel + 1
        channel = end + 1
    return sections, isolated


def _corrected(params: dict[str, Any], real: dict[str, float | None],
               simulated: dict[str, float | None]) -> dict[str, Any]:
    """``params`` scaled by how far each simulated statistic is from the real one."""
    out = dict(params)
    level_real, level_sim = real["level_p90_p10"], simulated["level_p90_p10"]
    if level_real and level_sim and level_sim > 1 and level_real > 1:
        power = math.log(level_real) / math.log(level_sim)  # both spreads scale by it
        out["level_sigma"] = min(2.0, params["level_sigma"] * power)
        out["sections"] = [(a, b, round(gain**power, 3)) for a, b, gain in params["sections"]]
    faded_real, faded_sim = real["faded_fraction"], simulated["faded_fraction"]
    if faded_real and faded_sim and params["fraction"] > 0:
        out["fraction"] = min(0.5, params["fraction"] * faded_real / faded_sim)
    share_real, share_sim = real["common_mode_share"], simulated["common_mode_share"]
    if share_real and share_sim and 0 < share_sim < 1 and 0 < share_real < 1:
        odds = (share_real / (1 - share_real)) / (share_sim / (1 - share_sim))
        out["rms_ratio"] = params["rms_ratio"] * math.sqrt(odds)
    return out


def site_document(fit: Fit, source: str) -> dict[str, Any]:
    """The site file: the fitted sources under ``signals:``, the geometry they were fitted
    on under ``fitted_on:`` (a scenario's ``fiber:`` should match it)."""
    return {
        "fitted_on": {"file": source, "prr": fit.rate, "dx": fit.dx,
                      "gauge_length": fit.gauge_m, "channels": fit.n_channels},
        "signals": [spec.model_dump(mode="json", exclude_defaults=True) | {"type": spec.type}
                    for spec in fit.specs if hasattr(spec, "type")],
    }
