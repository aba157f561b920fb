"""Parsing of the human-friendly quantities used on the command line and in scenario files."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

#: One ``<number><unit>`` term of a duration; a duration is one or more terms (``1h30m``).
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d)?\s*")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0,
                 "d": 86400.0}
_EXAMPLES = "e.g. 30s, 250ms, 2m, 1.5h, 1d, 1h30m"

#: Longest duration fibersim accepts anywhere (366 days), so typos cannot mean "forever".
MAX_DURATION_S = 366 * 24 * 3600.0


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``"30s"``, ``"250ms"``, ``"2m"``, ``"1.5h"``, ``"1d"``, a compound such as
    ``"1h30m"`` or ``"1d 12h"``, or a bare number of seconds.

    Compounds are what people write for long runs (a Kubernetes stream that runs ``366d``).
    Only a lone number may omit its unit: ``"1h30"`` is refused rather than guessed.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a duration ({_EXAMPLES})")
    seconds = float(text) if isinstance(text, int | float) else _parse_terms(text)
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DURATION_S:
        raise ValueError(f"duration must be between 0 and {MAX_DURATION_S:.0f} s (366d)")
    return seconds


def _parse_terms(text: str) -> float:
    position, seconds, terms = len(text) - len(text.lstrip()), 0.0, 0
    while position < len(text):
        match = _TERM.match(text, position)
        unitless = match is not None and match.group(2) is None
        if match is None or (unitless and (terms > 0 or match.end() < len(text))):
            raise ValueError(f"{text!r} is not a duration ({_EXAMPLES})")
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position, terms = match.end(), terms + 1
    if terms == 0:
        raise ValueError(f"{text!r} is not a duration ({_EXAMPLES})")
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
