"""Offline recording: render a fiber's signals block by block straight into a PRODML file.

No broker and no clock: the synthesizer built here is the one a live ``FiberStreamer`` builds
for the same fiber, seed and signals, so the file holds the samples a live stream of that
scenario would carry (before int16 quantisation, when the file is float32).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from fibersim.formats.model import Compression, RecordingInfo
from fibersim.formats.prodml import ProdmlWriter
from fibersim.models import FiberConfig, SampleDtype
from fibersim.signals import SignalSpec, SynthesisContext, build_synthesizer
from fibersim.wire import quantize_int16


def record_fiber(
    config: FiberConfig,
    signals: list[SignalSpec] | None,
    seed: int,
    path: str | Path,
    *,
    start_time_ns: int,
    from_s: float = 0.0,
    to_s: float = 60.0,
    dtype: SampleDtype = "float32",
    compression: Compression = None,
    on_block: Callable[[int, int], None] | None = None,
) -> RecordingInfo:
    """Write simulated seconds ``from_s``..``to_s`` of ``config``'s fiber to ``path``.

    ``start_time_ns`` is the wall time of simulated second 0. Memory holds one block
    (``config.block_duration_s``) whatever the length. Sources are pure functions of the
    sample index, so rendering starts at ``from_s`` instead of rendering and discarding the
    samples before it. ``on_block(rows_done, rows_total)`` is called after every block.
    """
    if to_s <= from_s:
        raise ValueError(f"--to ({to_s:g} s) must be after --from ({from_s:g} s)")
    first_row = round(from_s * config.prr)
    total = round(to_s * config.prr) - first_row
    synthesizer = build_synthesizer(signals, SynthesisContext.of_fiber(config, seed))
    synthesizer.next_sample = first_row
    info = RecordingInfo.of_fiber(config, start_time_ns + round(first_row * 1e9 / config.prr),
                                  dtype)
    with ProdmlWriter(path, info, compression) as writer:
        while writer.rows < total:
            block = synthesizer.render(min(config.samples_per_block, total - writer.rows))
            writer.append(quantize_int16(block, info.scale) if dtype == "int16" else block)
            if on_block is not None:
                on_block(writer.rows, total)
    return dataclasses.replace(info, n_rows=total)
