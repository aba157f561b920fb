"""Figure 1: synthesis of the default mix versus drawing as many float32 normals with numpy.

The measurement itself belongs to the signals stage (``fibersim.signals.speed``), which times
both interleaved in one process; this module only turns it into table rows.
"""

from __future__ import annotations

import statistics

from fibersim.bench.report import BenchSettings, Row

TARGET_RATIO = 4.0


def run(settings: BenchSettings) -> list[Row]:
    from fibersim.signals.speed import measure_synthesis_speed

    seconds = settings.pick(3.0, 10.0)
    results = [measure_synthesis_speed(seconds) for _ in range(settings.pick(1, 3))]
    mix = statistics.median(r["mix_s_per_sim_s"] for r in results)
    normals = statistics.median(r["numpy_normals_s_per_sim_s"] for r in results)
    speedup = normals / mix
    return [Row("synthesis", "default mix, 2337 ch x 2 kHz, 1 core", 1 / mix, "x real time",
                1 / normals, "numpy float32 normals", speedup, f">= {TARGET_RATIO:g}x baseline",
                speedup >= TARGET_RATIO)]
