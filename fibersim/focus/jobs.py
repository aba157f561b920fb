"""Job arithmetic (what POST /configure computes) and live jobs that turn data into waterfalls.

A live job averages each channel group's samples, then takes a Hann-windowed STFT per group:
one line every ``hop`` samples, magnitude per frequency bin, stored as float16 in int16 count
units (the fiber's int16 scale), so values stay in float16's range. Everything is vectorised
per block: the cost per block does not depend on the number of lines or channels in Python.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fibersim.timebase import SYSTEM_CLOCK, Clock

MIN_NFFT, MAX_NFFT = 128, 65536
#: View 0 and 2 split any channel range into this many contiguous streams (like the real one).
STREAM_GROUPS = 3
#: Line period when the request leaves displayTimeAxisDuration null (waterfall view).
DEFAULT_LINE_DT_S = 0.1
#: The window may overlap its successor by at most 1 - 1/64, which bounds lines per block.
MAX_OVERLAP_DIVISOR = 64
#: Lines kept per job for GET /_mock/jobs/{id}/lines.
LINES_KEPT = 2000
MAX_JOBS = 16
FLOAT16_MAX = float(np.finfo(np.float16).max)
STREAM_PORT_BASE = 12300


class JobRequestError(Exception):
    """A configure request the server refuses: HTTP ``status`` with body ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class JobRequest:
    """The parts of a configure request the arithmetic needs (already schema-validated)."""

    view_type: int
    nfft: int | None
    height: int
    display_time_axis_duration: float | None
    channel_min: int
    channel_max: int
    frequency_min: float | None
    frequency_max: float | None
    start_time: int | None
    end_time: int | None

    @property
    def is_live(self) -> bool:
        return self.start_time is None and self.end_time is None


@dataclass(frozen=True)
class JobPlan:
    """What a job computes: resolution, line period, bins and channel groups."""

    prr: float
    nfft: int  # as requested (1: no spectrum, RMS per group)
    internal_nfft: int  # raised when the window overlap would fall below 0.5
    hop: int  # samples between lines
    overlap: float
    lines_dt: float | None
    bin_first: int
    frequencies: tuple[float, ...]
    groups: tuple[tuple[int, int], ...]  # (first, last) channel, 1-based, inclusive

    @property
    def channel_amount(self) -> int:
        return self.groups[-1][1] - self.groups[0][0] + 1

    def channel_to_stream_index(self) -> dict[str, int]:
        return {str(channel): index for index, (first, last) in enumerate(self.groups)
                for channel in range(first, last + 1)}


def valid_nfft(nfft: int | None, view_type: int) -> bool:
    """Powers of two in 128..65536; the waterfall view also takes 1 or null (no spectrum)."""
    if view_type == 2 and nfft in (None, 1):
        return True
    return nfft is not None and MIN_NFFT <= nfft <= MAX_NFFT and nfft & (nfft - 1) == 0


def plan_job(request: JobRequest, prr: float) -> JobPlan:
    """The job arithmetic of the real server; raises JobRequestError (400) on bad values."""
    if not valid_nfft(request.nfft, request.view_type):
        raise JobRequestError(400, f"nfftSelection {request.nfft} is invalid: nfft must be a "
                                   f"power of two between {MIN_NFFT} and {MAX_NFFT}")
    nyquist = prr / 2
    if request.frequency_max is not None and request.frequency_max > nyquist:
        raise JobRequestError(400, f"frequencyRange.max {request.frequency_max:g} Hz is above "
                                   f"the Nyquist limit prr/2 = {nyquist:g} Hz")
    nfft = request.nfft or 1
    duration = request.display_time_axis_duration
    lines_dt = duration / request.height if duration is not None else None
    hop = max(1, round((lines_dt or DEFAULT_LINE_DT_S) * prr))
    overlap = 1 - hop / nfft
    internal = nfft
    if nfft > 1:
        while 1 - hop / internal < 0.5 and internal < MAX_NFFT:
            internal *= 2
        hop = max(hop, internal // MAX_OVERLAP_DIVISOR)
    first, frequencies = _bins(nfft, prr, request.frequency_min, request.frequency_max)
    return JobPlan(prr=prr, nfft=nfft, internal_nfft=internal, hop=hop, overlap=overlap,
                   lines_dt=lines_dt, bin_first=first, frequencies=frequencies,
                   groups=_groups(request))


def _bins(nfft: int, prr: float, low: float | None, high: float | None
          ) -> tuple[int, tuple[float, ...]]:
    """Bins ``k * prr / nfft`` in ``[low, high)``; nothing for nfft 1 (no spectrum)."""
    if nfft == 1:
        return 0, ()
    spacing = prr / nfft
    first = math.ceil((low or 0.0) / spacing - 1e-9)
    stop = min(nfft // 2, math.ceil((prr / 2 if high is None else high) / spacing - 1e-9))
    if stop <= first:
        raise JobRequestError(400, "frequencyRange selects no frequency bin "
                                   f"(bins are {spacing:g} Hz apart)")
    return first, tuple(k * spacing for k in range(first, stop))


def _groups(request: JobRequest) -> tuple[tuple[int, int], ...]:
    if request.view_type == 1:
        return ((request.channel_min, request.channel_min),)
    channels = np.arange(request.channel_min, request.channel_max + 1)
    parts = np.array_split(channels, min(STREAM_GROUPS, len(channels)))
    return tuple((int(part[0]), int(part[-1])) for part in parts)


class Waterfall:
    """Streaming STFT magnitude (or RMS for nfft 1) per channel group, fed block by block."""

    def __init__(self, plan: JobPlan) -> None:
        self.plan = plan
        self.lines: collections.deque[np.ndarray] = collections.deque(maxlen=LINES_KEPT)
        self.lines_total = 0
        self.dropped_blocks = 0
        first = plan.groups[0][0]
        self._starts = np.array([group[0] - first for group in plan.groups])
        self._sizes = np.array([last - start + 1 for start, last in plan.groups], np.float32)
        self._pending = np.zeros((len(plan.groups), 0), np.float32)
        window = np.hanning(plan.internal_nfft).astype(np.float32)
        self._window = window / window.sum() if plan.nfft > 1 else window

    def feed(self, samples: np.ndarray, channel_start: int, counts_per_unit: float) -> None:
        """Samples (time, channel) whose column 0 is channel ``channel_start + 1``."""
        first = self.plan.groups[0][0] - 1 - channel_start
        last = self.plan.groups[-1][1] - channel_start
        if first < 0 or last > samples.shape[1]:
            self.dropped_blocks += 1  # the fiber no longer has the job's channels
            return
        sums = np.add.reduceat(samples[:, first:last], self._starts, axis=1, dtype=np.float32)
        means = (sums / self._sizes).T
        if counts_per_unit != 1.0:
            means *= np.float32(counts_per_unit)
        self._pending = np.concatenate((self._pending, means), axis=1)
        self._emit()

    def _emit(self) -> None:
        plan, width = self.plan, self.plan.internal_nfft if self.plan.nfft > 1 else self.plan.hop
        available = self._pending.shape[1]
        if available < width:
            return
        frames = sliding_window_view(self._pending, width, axis=1)[:, ::plan.hop]
        with np.errstate(over="ignore", invalid="ignore"):  # clipped below
            if plan.nfft > 1:
                values = self._spectrum(frames)
            else:
                values = np.sqrt(np.mean(frames * frames, axis=2))[:, :, np.newaxis]
        self._pending = self._pending[:, frames.shape[1] * plan.hop:].copy()
        # float16 tops out at 65504; NaN or overflow from a float32 fiber must stay JSON-safe
        finite = np.nan_to_num(values, nan=0.0, posinf=FLOAT16_MAX, neginf=0.0)
        lines = np.minimum(finite, FLOAT16_MAX).astype(np.float16).transpose(1, 0, 2)
        self.lines.extend(lines)
        self.lines_total += lines.shape[0]

    def _spectrum(self, frames: np.ndarray) -> np.ndarray:
        """Magnitudes at the requested resolution: finer internal bins are pooled by energy."""
        plan = self.plan
        power = np.abs(np.fft.rfft(frames * self._window, axis=2)) ** 2
        pool = plan.internal_nfft // plan.nfft
        if pool > 1:
            half = pool // 2
            # internal bin j*pool is requested bin j: pool the bins centred on it
            padding = np.zeros((*power.shape[:2], half), power.dtype)
            padded = np.concatenate((padding, power), axis=2)
            usable = padded[:, :, :plan.nfft // 2 * pool]
            power = usable.reshape((*power.shape[:2], plan.nfft // 2, pool)).sum(axis=3)
        stop = plan.bin_first + len(plan.frequencies)
        amplitude: np.ndarray = np.sqrt(power[:, :, plan.bin_first:stop]) * 2
        return amplitude


@dataclass
class Job:
    """A configured job; live jobs own a waterfall, historic ones only describe themselves."""

    job_id: str
    slot: int
    request: JobRequest
    plan: JobPlan
    metadata: dict[str, object]
    waterfall: Waterfall | None
    created_at: float  # the table's clock (monotonic seconds)
    consumer_attached: bool = False
    rebuilds: int = 0
    stale: bool = False

    @property
    def stream_port(self) -> int:
        return STREAM_PORT_BASE + self.slot


class JobTable:
    """Job slots and ids ``<slot>-<counter>``; the oldest job gives way when all slots are taken.

    Jobs are stamped with the table's clock, so a test can age them on virtual time."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._counter = 0

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, request: JobRequest, plan: JobPlan, metadata: dict[str, object]) -> Job:
        if len(self._jobs) >= MAX_JOBS:
            oldest = min(self._jobs.values(), key=lambda job: job.created_at)
            del self._jobs[oldest.job_id]
        slot = min(set(range(MAX_JOBS)) - {job.slot for job in self._jobs.values()})
        self._counter += 1
        waterfall = Waterfall(plan) if request.is_live else None
        job = Job(f"{slot}-{self._counter}", slot, request, plan, metadata, waterfall,
                  created_at=self._clock.monotonic())
        self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def remove(self, job_id: str) -> bool:
        """Drop a job; False if there was none with that id."""
        return self._jobs.pop(job_id, None) is not None

    def attach_consumer(self, job_id: str) -> Job | None:
        """A client reads a live job's output: from now on it counts as consumed. None if
        there is no such live job (a historic job has no output to consume)."""
        job = self._jobs.get(job_id)
        if job is None or job.waterfall is None:
            return None
        job.consumer_attached = True
        return job

    def expire_unconsumed(self, ttl_s: float) -> list[str]:
        """Drop the jobs nobody consumed within ``ttl_s`` of their creation; their ids."""
        deadline = self._clock.monotonic() - ttl_s
        expired = [job.job_id for job in self._jobs.values()
                   if not job.consumer_attached and job.created_at < deadline]
        for job_id in expired:
            del self._jobs[job_id]
        return expired

    def live(self) -> list[Job]:
        return [job for job in self._jobs.values() if job.waterfall is not None]
