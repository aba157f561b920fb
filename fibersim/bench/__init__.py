"""``fibersim bench``: performance figures measured against baselines taken in the same run.

Each figure lives in its own module with a ``run(settings) -> list[Row]`` function; absolute
numbers on a shared machine swing by 2x from minute to minute, so every figure also measures a
baseline (raw numpy, raw aio-pika, a trivial HTTP app, a bare interpreter...) right next to
its own measurement, and the ratio is what the targets are mostly judged on.
"""

#: Figure name -> module, in the order the table lists them (issue 6, targets 1-7).
FIGURES: dict[str, str] = {
    "synthesis": "fibersim.bench.synthesis",
    "end_to_end": "fibersim.bench.end_to_end",
    "many_fibers": "fibersim.bench.many_fibers",
    "pacing": "fibersim.bench.pacing",
    "memory": "fibersim.bench.memory",
    "focus": "fibersim.bench.focus",
    "startup": "fibersim.bench.startup",
}
