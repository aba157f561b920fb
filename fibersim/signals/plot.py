"""Waterfall and f-k pictures of a synthesizer's output, as a geophysicist would check them.

The waterfall shows strain rate averaged into time bins (a low-pass and decimation, so
30 s of 2337 channels at 2 kHz fit in a picture), with colour limits at the 1st and 99th
percentiles; the f-k panel is the 2-D spectrum of the same binned data, on which moving
sources appear as lines through the origin with slope = apparent velocity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fibersim.signals.base import Synthesizer

#: Time rows of the waterfall image (more would not be visible).
TARGET_ROWS = 1500


def binned(synthesizer: Synthesizer, from_s: float, to_s: float) -> tuple[np.ndarray, float]:
    """Strain rate from ``from_s`` to ``to_s`` (s since sample 0) averaged into time bins,
    and the binned sampling rate. Rendered one second at a time to bound memory."""
    prr = synthesizer.context.prr
    first, last = round(from_s * prr), round(to_s * prr)
    factor = max(1, (last - first) // TARGET_ROWS)
    rows: list[np.ndarray] = []
    step = factor * max(1, round(prr) // factor)
    for start in range(first, last - factor + 1, step):
        n = min(step, (last - start) // factor * factor)
        block = synthesizer.render_at(start, n)
        rows.append(block.reshape(n // factor, factor, -1).mean(axis=1))
    return np.concatenate(rows), prr / factor


def render_plot(synthesizer: Synthesizer, from_s: float, to_s: float, path: str | Path) -> None:
    """Write a PNG with the waterfall (time x channel) and the f-k spectrum."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, rate = binned(synthesizer, from_s, to_s)
    context = synthesizer.context
    limit = float(np.percentile(np.abs(data), 99))
    fig, (wf, fk) = plt.subplots(1, 2, figsize=(16, 8), gridspec_kw={"width_ratios": [3, 2]})
    extent = (0, context.n_channels - 1, to_s, from_s)
    wf.imshow(
        data, aspect="auto", cmap="seismic", vmin=-limit, vmax=limit, extent=extent,
        interpolation="none",
    )
    wf.set_xlabel("channel")
    wf.set_ylabel("time (s)")
    wf.set_title(f"strain rate (1/s), {rate:g} Hz bins, limits +-{limit:.2g}")

    # rfft over time (the last of ``axes``), full fft over channels, k = 0 in the middle:
    # forward transforms on both axes, DASCore's ``patch.dft`` convention (a wave moving
    # towards higher channels, s(x - v t), lies at k = -f / v).
    transform = np.fft.rfft2(data - data.mean(axis=0), axes=(1, 0))
    spectrum = np.fft.fftshift(np.abs(transform) ** 2, axes=1)
    f = np.fft.rfftfreq(data.shape[0], 1 / rate)
    k = np.fft.fftshift(np.fft.fftfreq(data.shape[1], context.dx))
    power = np.log10(spectrum[: f.size] + 1e-40)
    low, high = np.percentile(power, [50, 99.9])
    fk.imshow(
        power, aspect="auto", origin="lower", cmap="viridis", vmin=low, vmax=high,
        extent=(k[0], k[-1], f[0], f[-1]),
    )
    for velocity in (10.0, 30.0):
        for sign in (-1, 1):
            fk.plot(k, sign * velocity * k, "w--", lw=0.6)
    fk.set_ylim(f[0], f[-1])
    fk.set_xlim(k[0], k[-1])
    fk.set_xlabel("wavenumber (1/m), DASCore convention: waves towards higher channels at k < 0")
    fk.set_ylabel("frequency (Hz)")
    fk.set_title("f-k power (log10); dashed: +-10 and +-30 m/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
