"""How fast the default mix renders compared with drawing Gaussian numbers (``fibersim bench``).

The design target is at least 4x faster than ``standard_normal((2000, 2337), float32)`` per
simulated second at 2337 channels x 2 kHz on one core. Both are timed in the same process,
interleaved, and the medians compared, so a busy machine slows both alike.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from fibersim.signals import build_synthesizer
from fibersim.signals.base import SynthesisContext

PRR = 2000.0
N_CHANNELS = 2337


def measure_synthesis_speed(seconds: float = 5.0) -> dict[str, float]:
    """Seconds of CPU per simulated second for the default mix and for numpy normals.

    Renders ``seconds`` of simulated time one second at a time after a one-second warm-up
    (which builds the cached noise banks), timing each second and an equal normal draw. Both
    write into a reused buffer, as a render process does (``Synthesizer.render``): no page
    faults for either (the normals are compute bound and gain nothing from it).
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
    for _ in range(max(1, round(seconds))):
        start = time.perf_counter()
        synthesizer.render(block, out=out)
        mix.append(time.perf_counter() - start)
        start = time.perf_counter()
        rng.standard_normal(dtype=np.float32, out=normals_out)
        normals.append(time.perf_counter() - start)
    mix_s = statistics.median(mix)
    normals_s = statistics.median(normals)
    return {
        "mix_s_per_sim_s": mix_s,
        "numpy_normals_s_per_sim_s": normals_s,
        "ratio": normals_s / mix_s,
    }
