"""How fast the default mix renders compared with drawing Gaussian numbers (``fibersim bench``).

The design target is at least 4x faster than ``standard_normal((2000, 2337), float32)`` per
simulated second at 2337 channels x 2 kHz on one core. Both are timed in the same process,
in alternating runs, and the medians compared, so a busy machine slows both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from fibersim.signals import build_synthesizer
from fibersim.signals.base import SynthesisContext

PRR = 2000.0
N_CHANNELS = 2337


def measure_synthesis_speed(seconds: float = 5.0, run_s: int = 3) -> dict[str, float]:
    """Seconds of CPU per simulated second for the default mix and for numpy normals.

    Both are measured in steady state, the way a render process works: runs of ``run_s``
    consecutive simulated seconds of the mix alternate with runs of as many one-second
    normal draws, until each has ``seconds`` timed seconds; the first second of every run
    is discarded (it pays for the other side's traffic through the caches) and the medians
    are compared. Alternating runs keeps a busy machine from favouring either side; timing
    them one second each, interleaved, would instead charge the memory-bound mix for the
    18.7 MB of normals written just before it. A one-second warm-up builds the cached noise
    banks. Both write into a reused buffer, as a render process does.
    """
    context = SynthesisContext(
        prr=PRR, dx=1.02, n_channels=N_CHANNELS, gauge_length_meters=10.0, seed=0
    )
    synthesizer = build_synthesizer(None, context)
    rng = np.random.default_rng(0)
    block = int(PRR)
    out = np.empty((block, N_CHANNELS), dtype=np.float32)
    normals_out = np.empty_like(out)
    synthesizer.render(block, out=out)
    mix: list[float] = []
    normals: list[float] = []
    wanted = max(1, round(seconds))
    while len(mix) < wanted:
        mix.extend(_timed_run(lambda: synthesizer.render(block, out=out), run_s)[1:])
        normals.extend(_timed_run(
            lambda: rng.standard_normal(dtype=np.float32, out=normals_out), run_s)[1:])
    mix_s = statistics.median(mix)
    normals_s = statistics.median(normals)
    return {
        "mix_s_per_sim_s": mix_s,
        "numpy_normals_s_per_sim_s": normals_s,
        "ratio": normals_s / mix_s,
    }


def _timed_run(one_second: Callable[[], object], count: int) -> list[float]:
    """Wall time of each of ``count`` consecutive calls."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        one_second()
        times.append(time.perf_counter() - start)
    return times
