"""Parsing of the human-friendly quantities used on the command line and in scenario files."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

#: Longest duration fibersim accepts anywhere (one year), so typos cannot mean "forever".
MAX_DURATION_S = 366 * 24 * 3600.0


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``"30s"``, ``"250ms"``, ``"2m"``, ``"1.5h"`` or a bare number of seconds."""
    if isinstance(text, bool):
        raise ValueError("expected a duration like 30s, 2m or 1.5h")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a duration (e.g. 30s, 250ms, 2m, 1.5h)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DURATION_S:
        raise ValueError(f"duration must be between 0 and {MAX_DURATION_S:.0f} s")
    return seconds


def parse_speed(text: str | float | int) -> float:
    """A speed factor: a positive number, or ``max`` (as fast as possible = ``math.inf``)."""
    if isinstance(text, str) and text.strip().lower() == "max":
        return math.inf
    try:
        speed = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a speed (a positive number or 'max')") from None
    if not math.isfinite(speed) or speed <= 0 or speed > 1e6:
        raise ValueError("speed must be a positive number up to 1e6, or 'max'")
    return speed


def format_speed(speed: float) -> str:
    return "max" if math.isinf(speed) else f"{speed:g}x"


def format_ranges(indices: Sequence[int]) -> str:
    """Sorted integers as compact ranges: ``[0, 1, 2, 5]`` -> ``"0-2,5"`` (the inverse of
    ``fibersim.cli.stream.parse_ranges``; also how lost sequence numbers are printed)."""
    parts: list[str] = []
    start = previous = indices[0]
    for index in [*indices[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(f"{start}-{previous}" if previous > start else f"{start}")
        if index is not None:
            start = previous = index
    return ",".join(parts)
