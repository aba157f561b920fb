"""Samples as they go on the wire: strain rate quantized to int16 counts of a scale.

Here, not in the runner, because everything that writes wire samples uses it: the streamer,
the offline recorder and the AMQP tap (which re-quantizes what it records).
"""

from __future__ import annotations

import numpy as np


def quantize_int16(strain_rate: np.ndarray, scale: float, out: np.ndarray | None = None
                   ) -> np.ndarray:
    """Strain rate (1/s) to int16 counts of ``scale``, rounded, saturating at the int16 range.

    Works in place on ``strain_rate`` to avoid a second float buffer per block; the counts go
    to ``out`` (an int16 array of the same shape, e.g. a shared-memory slot) or a new array.
    Clipping before rounding (to integer bounds) gives the same counts as after, and lets the
    rounding write the int16 result directly: three passes over the block instead of four.
    """
    np.multiply(strain_rate, np.float32(1.0 / scale), out=strain_rate)
    np.clip(strain_rate, -32768, 32767, out=strain_rate)
    counts = np.empty(strain_rate.shape, dtype=np.int16) if out is None else out
    np.rint(strain_rate, out=counts, casting="unsafe")  # exact: in-range integral values
    return counts
