"""Statistics that tell real DAS recordings from synthetic ones (``fibersim realism``).

Each statistic is something a DAS analyst looks at within seconds of opening a file: does the
noise repeat, do neighbouring channels share their noise (the gauge average), how much does
the level vary along the fibre, are the noisy channels spiky, how steep are the spectra, how
many channels are faded, how much does removing the across-channel median take out. All of
them are ratios, correlations or slopes, so files in different units (strain rate, strain,
phase) and from different instruments compare directly.

Recordings are compared at a common sample rate (the lower of the two: the faster one is
resampled with an anti-alias filter). Bands are stated relative to that rate where the
statistic is about instrument noise (the "high band", 20-40 % of the rate) and in Hz where it
is about physics (common mode, 0.5-10 Hz; the low PSD slope, 1-10 Hz). A statistic that a
file is too short or too coarse to measure is ``None`` ("skipped"), never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fibersim.errors import InputError

#: Lags over which repetition is searched (s), capped at half the record.
REPETITION_LAGS_S = (0.2, 60.0)
#: The high band, as fractions of the sample rate: instrument noise dominates there.
HIGH_BAND = (0.2, 0.4)
#: Band of the common-mode statistic (Hz), as the issue defines it.
COMMON_MODE_BAND = (0.5, 10.0)
#: Band of the low PSD slope (Hz).
LOW_SLOPE_BAND = (1.0, 10.0)
#: A channel is "faded" when its high-band rms exceeds this multiple of the median channel's.
FADED_FACTOR = 3.0


@dataclass(frozen=True)
class Recording:
    """A (time, channel) array with its geometry; ``gauge_m`` is None when unknown."""

    data: np.ndarray
    rate: float
    dx: float
    gauge_m: float | None
    name: str

    @property
    def duration_s(self) -> float:
        return float(self.data.shape[0] / self.rate)


@dataclass(frozen=True)
class Statistic:
    """One row of the report: key, what it measures, and how a value is judged.

    ``upper_only``: a value below the reference spread is as good as one inside it (less
    repetition than the estimation noise of a short real file is not a give-away).
    """

    key: str
    title: str
    upper_only: bool = False


STATISTICS: tuple[Statistic, ...] = (
    Statistic("repetition", "max autocorrelation of high-passed noise, lags 0.2-60 s",
              upper_only=True),
    Statistic("adjacent_correlation", "noise correlation of adjacent channels (high band)"),
    Statistic("correlation_length_gauges",
              "lag where noise correlation falls to 0.5, in gauge lengths"),
    Statistic("level_p90_p10", "high-band rms along the fibre, p90/p10"),
    Statistic("kurtosis_median", "kurtosis of high-band noise, median channel"),
    Statistic("kurtosis_p90", "kurtosis of high-band noise, p90 channel"),
    Statistic("psd_slope_low", "PSD slope 1-10 Hz (log-log)"),
    Statistic("psd_slope_high", "PSD slope over the high band (log-log)"),
    Statistic("faded_fraction", f"channels with > {FADED_FACTOR:g}x the median high-band rms"),
    Statistic("common_mode_share", "variance 0.5-10 Hz removed by the across-channel median"),
)


def clean(data: np.ndarray) -> np.ndarray:
    """``data`` as float64 without channels that are dead (constant) or hold NaN/inf,
    each channel's mean removed."""
    values = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(values).all(axis=0)
    values = values[:, finite]
    alive = values.std(axis=0) > 0
    values = values[:, alive]
    return np.asarray(values - values.mean(axis=0))


def resample(rec: Recording, rate: float) -> Recording:
    """``rec`` at ``rate`` (lower than its own) through a polyphase anti-alias filter."""
    if rate >= rec.rate * (1 - 1e-9):
        return rec
    from scipy.signal import resample_poly

    ratio = Fraction(rate / rec.rate).limit_denominator(200)
    data = resample_poly(rec.data, ratio.numerator, ratio.denominator, axis=0)
    return Recording(data, rec.rate * ratio.numerator / ratio.denominator, rec.dx, rec.gauge_m,
                     rec.name)


def _bandpass(data: np.ndarray, rate: float, lo: float, hi: float) -> np.ndarray | None:
    """Zero-phase Butterworth band-pass; None when the band is empty at this rate."""
    from scipy.signal import butter, sosfiltfilt

    hi = min(hi, 0.45 * rate)
    if lo >= hi:
        return None
    sos = butter(4, [lo, hi], btype="bandpass", fs=rate, output="sos")
    padlen = min(data.shape[0] - 1, round(3 * rate / lo))
    return np.asarray(sosfiltfilt(sos, data, axis=0, padlen=padlen))


def _highband(data: np.ndarray, rate: float) -> np.ndarray:
    """The high band of ``data`` without its first and last 40 samples (at most a tenth of
    the record each), where the filter rings on whatever the record starts or ends in."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(6, [HIGH_BAND[0] * rate, HIGH_BAND[1] * rate], btype="bandpass", fs=rate,
                 output="sos")
    band = np.asarray(sosfiltfilt(sos, data, axis=0, padlen=min(data.shape[0] - 1, 60)))
    trim = min(data.shape[0] // 10, 40)
    return band[trim : band.shape[0] - trim]


def repetition(data: np.ndarray, rate: float) -> float | None:
    """Median over channels of each channel's largest normalised autocorrelation of its
    high-passed series (2nd order above 10 % of the rate: a gentle filter, whose own ringing
    stays far below 0.1 by 0.2 s), gain-balanced (``balanced``), over lags 0.2 s to
    min(60 s, half the record). A record shorter than 0.4 s cannot show it: None."""
    from scipy.signal import butter, sosfiltfilt

    n = data.shape[0]
    lo, hi = round(REPETITION_LAGS_S[0] * rate), min(round(REPETITION_LAGS_S[1] * rate), n // 2)
    if hi <= lo:
        return None
    sos = butter(2, 0.1 * rate, btype="highpass", fs=rate, output="sos")
    trim = min(n // 10, 40)
    high = balanced(np.asarray(sosfiltfilt(sos, data, axis=0))[trim : n - trim], rate)
    return float(np.median(channel_repetition(high, lo, min(hi, high.shape[0] // 2))))


def balanced(series: np.ndarray, rate: float) -> np.ndarray:
    """``series`` with each channel's every 0.2 s divided by its rms (an automatic gain
    control, as for ambient-noise correlation): a passing vehicle or a quake would otherwise
    dominate a channel's autocorrelation with its own short, narrow-band burst. A true
    repeat survives it: the same samples get the same gain."""
    window = max(8, round(0.2 * rate))
    usable = series.shape[0] // window * window
    blocks = series[:usable].reshape(-1, window, series.shape[1])
    rms = np.sqrt(np.mean(blocks**2, axis=1, keepdims=True))
    return np.asarray((blocks / np.maximum(rms, 1e-300)).reshape(usable, -1))


def channel_repetition(series: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per channel: max over lags ``lo..hi`` (samples) of |autocorrelation|, normalised by
    the lag-0 value (the standard, biased estimate: a repeat of the whole record at lag L
    shows as (n - L) / n)."""
    n = series.shape[0]
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(series, size, axis=0)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=0)[: hi + 1]
    normalised = acf[lo : hi + 1] / np.maximum(acf[0], 1e-300)
    return np.asarray(np.abs(normalised).max(axis=0))


def correlation_by_lag(high: np.ndarray, max_lag: int) -> np.ndarray:
    """Median over channel pairs of the correlation of channels ``c`` and ``c + lag``."""
    unit = high / np.maximum(high.std(axis=0), 1e-300)
    out = [1.0]
    for lag in range(1, min(max_lag, high.shape[1] - 1) + 1):
        out.append(float(np.median(np.mean(unit[:, :-lag] * unit[:, lag:], axis=0))))
    return np.array(out)


def correlation_length(rho: np.ndarray, dx: float) -> float:
    """Distance (m) at which ``rho`` (by channel lag) first falls to 0.5, linearly
    interpolated; beyond the last lag measured: that lag's distance."""
    below = np.flatnonzero(rho <= 0.5)
    if below.size == 0:
        return (rho.size - 1) * dx
    j = int(below[0])
    fraction = (rho[j - 1] - 0.5) / (rho[j - 1] - rho[j])
    return float((j - 1 + fraction) * dx)


def psd_slope(data: np.ndarray, rate: float, lo: float, hi: float) -> float | None:
    """Log-log slope of the median channel PSD (Welch) over ``[lo, hi]`` Hz; None when the
    band holds fewer than 4 frequencies."""
    from scipy.signal import welch

    hi = min(hi, 0.45 * rate)
    nperseg = min(data.shape[0], 1 << max(4, math.ceil(math.log2(16 * rate / (hi - lo)))))
    f, pxx = welch(data, fs=rate, nperseg=nperseg, axis=0)
    keep = (f >= lo) & (f <= hi)
    if keep.sum() < 4:
        return None
    median = np.median(pxx[keep], axis=1)
    return float(np.polyfit(np.log10(f[keep]), np.log10(np.maximum(median, 1e-300)), 1)[0])


def common_mode_share(data: np.ndarray, rate: float) -> float | None:
    """Share of a channel's variance that subtracting the across-channel median removes,
    median over channels, in 0.5-10 Hz (from 2 / duration Hz for records under 4 s).

    The median channel, not the sum: a few faded channels hold most of the variance of a
    real recording and no median removes their noise. None for records under 1 s or under
    8 channels.
    """
    duration = data.shape[0] / rate
    if data.shape[1] < 8 or duration < 0.8:
        return None
    band = _bandpass(data, rate, max(COMMON_MODE_BAND[0], 2 / duration), COMMON_MODE_BAND[1])
    if band is None:
        return None
    residual = band - np.median(band, axis=1, keepdims=True)
    share = 1 - np.sum(residual**2, axis=0) / np.maximum(np.sum(band**2, axis=0), 1e-300)
    return float(np.median(share))


def _kurtosis(high: np.ndarray) -> np.ndarray:
    centred = high - high.mean(axis=0)
    var = np.mean(centred**2, axis=0)
    return np.asarray(np.mean(centred**4, axis=0) / np.maximum(var**2, 1e-300))


def load(path: str) -> Recording:
    """The first patch of any file DASCore reads, as (time, distance) strain-like values.

    Units are not converted: every statistic is a ratio, a correlation or a slope.
    ``InputError`` (exit 2) when DASCore is missing or cannot read the file.
    """
    try:
        import dascore as dc
        from dascore.exceptions import DASCoreError
    except ImportError:
        raise InputError("reading DAS files needs DASCore: pip install 'fibersim[formats]'",
                         file=path) from None
    try:
        patch = dc.spool(path)[0].transpose("time", "distance")
    except (DASCoreError, OSError, ValueError, KeyError, IndexError) as error:
        raise InputError(f"DASCore cannot read it ({type(error).__name__}: {error})",
                         file=path) from None
    step = patch.attrs.time_step / np.timedelta64(1, "ns")
    gauge = patch.attrs.get("gauge_length")
    gauge_m = float(gauge) if gauge is not None and np.isfinite(float(gauge)) else None
    return Recording(np.asarray(patch.data), 1e9 / float(step),
                     float(patch.attrs.distance_step), gauge_m, path)


def measure(rec: Recording) -> dict[str, float | None]:
    """Every statistic of ``STATISTICS`` for ``rec`` (None where it cannot be measured)."""
    data = clean(rec.data)
    rate = rec.rate
    high = _highband(data, rate)
    rms = high.std(axis=0)
    out: dict[str, float | None] = dict.fromkeys(s.key for s in STATISTICS)
    out["repetition"] = repetition(data, rate)
    gauge = rec.gauge_m
    max_lag = max(2, math.ceil(1.5 * (gauge or 10 * rec.dx) / rec.dx))
    rho = correlation_by_lag(high, max_lag)
    if rho.size > 1:
        out["adjacent_correlation"] = float(rho[1])
        if gauge and rho[1] > 0.5:  # otherwise the fall to 0.5 is not resolved
            out["correlation_length_gauges"] = correlation_length(rho, rec.dx) / gauge
    p10, p90 = np.percentile(rms, [10, 90])
    out["level_p90_p10"] = float(p90 / p10)
    kurt = _kurtosis(high)
    out["kurtosis_median"] = float(np.median(kurt))
    out["kurtosis_p90"] = float(np.percentile(kurt, 90))
    out["psd_slope_low"] = psd_slope(data, rate, *LOW_SLOPE_BAND)
    out["psd_slope_high"] = psd_slope(data, rate, HIGH_BAND[0] * rate, HIGH_BAND[1] * rate)
    out["faded_fraction"] = float(np.mean(rms > FADED_FACTOR * np.median(rms)))
    out["common_mode_share"] = common_mode_share(data, rate)
    return out


#: The statistics of the four public reference recordings (DASDAE test data, MIT licence:
#: Silixa iDAS ``prodml_2.0.h5``, ``ap_sensing_1.hdf5``, ``febus_2.h5``,
#: ``decimated_optodas.hdf5``), each measured at its own rate by ``measure``;
#: ``tests/signals/test_realism.py`` re-measures the files and checks these numbers.
REFERENCE_FILES = ("ap_sensing_1.hdf5", "decimated_optodas.hdf5", "febus_2.h5",
                   "prodml_2.0.h5")
REFERENCE: dict[str, tuple[float | None, ...]] = {
    "repetition": (None, 0.059, 0.087, 0.075),
    "adjacent_correlation": (0.928, 0.011, 0.491, 0.918),
    "correlation_length_gauges": (0.711, None, None, 0.569),
    "level_p90_p10": (2.196, 1.671, 1.128, 35.774),
    "kurtosis_median": (3.262, 2.999, 8.709, 2.999),
    "kurtosis_p90": (4.69, 3.09, 11.636, 3.582),
    "psd_slope_low": (None, 2.31, -1.253, 1.662),
    "psd_slope_high": (1.554, 1.557, -1.074, -0.282),
    "faded_fraction": (0.004, 0.0, 0.0, 0.373),
    "common_mode_share": (None, 0.006, 0.882, 0.004),
}
#: The reference spread is widened by this fraction of its width on each side.
WIDEN = 0.25


def spread(values: tuple[float | None, ...], widen: float = WIDEN) -> tuple[float, float] | None:
    """``[min, max]`` of the measured ``values`` widened by ``widen`` x (max - min) on each
    side (x |value| for a single value); None when no value was measured."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    lo, hi = min(known), max(known)
    margin = widen * ((hi - lo) if hi > lo else abs(hi))
    return lo - margin, hi + margin


def verdict(statistic: Statistic, value: float | None,
            bounds: tuple[float, float] | None) -> str:
    """``inside``, ``outside`` or ``skipped`` (not measurable, or no reference)."""
    if value is None or bounds is None:
        return "skipped"
    lo, hi = bounds
    ok = value <= hi and (statistic.upper_only or value >= lo)
    return "inside" if ok else "outside"


@dataclass(frozen=True)
class Row:
    """One statistic of a comparison."""

    statistic: Statistic
    real: float | None
    simulated: float | None
    bounds: tuple[float, float] | None
    verdict: str


def compare(real: Recording, simulated: Recording) -> tuple[float, list[Row]]:
    """Both recordings measured at the lower of their rates, with the reference spread;
    returns that rate and one row per statistic."""
    rate = min(real.rate, simulated.rate)
    got_real = measure(resample(real, rate))
    got_sim = measure(resample(simulated, rate))
    rows = []
    for statistic in STATISTICS:
        bounds = spread(REFERENCE[statistic.key])
        value = got_sim[statistic.key]
        rows.append(Row(statistic, got_real[statistic.key], value, bounds,
                        verdict(statistic, value, bounds)))
    return rate, rows
