"""Comparing what a Focus Server answered with what a scenario expects.

Every check returns a ``Verdict``: whether it holds and a short description of what was seen,
so a failure message can say exactly which value was wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fibersim.scenario.models import Comparison, Matcher

#: Relative tolerance for numeric equality (JSON numbers go through float).
_REL_TOL = 1e-9

_MISSING = object()


@dataclass(frozen=True)
class Verdict:
    """Whether a check holds, and what was seen (for the console and reports)."""

    ok: bool
    seen: str


def lookup(document: Any, dotted: str) -> Any:
    """``document["a"]["b"]`` for ``"a.b"``; ``_MISSING`` when a key is absent."""
    current = document
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def match_value(seen: Any, expected: Matcher) -> bool:
    """Whether one seen value satisfies a matcher (bare value = equality)."""
    if seen is _MISSING:
        return False
    if isinstance(expected, Comparison):
        return _compare(seen, expected)
    return _equal(seen, expected)


def match_fields(document: Any, matchers: dict[str, Matcher]) -> Verdict:
    """All matchers against a JSON document; ``seen`` lists the observed value of each field."""
    seen_parts: list[str] = []
    ok = True
    for path, expected in matchers.items():
        value = lookup(document, path)
        holds = match_value(value, expected)
        ok = ok and holds
        shown = "absent" if value is _MISSING else _short(value)
        seen_parts.append(f"{path}={shown}" + ("" if holds else f" (want {describe(expected)})"))
    return Verdict(ok, ", ".join(seen_parts))


def describe(expected: Matcher) -> str:
    """A matcher as text: ``2000``, ``null``, ``> 0``, ``>= 1 and <= 3``."""
    if not isinstance(expected, Comparison):
        return _short(expected)
    symbols = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
               "contains": "contains"}
    return " and ".join(f"{symbols[key]} {_short(value)}" for key, value
                        in expected.model_dump(exclude_unset=True).items())


def _compare(seen: Any, expected: Comparison) -> bool:
    bounds = expected.model_dump(exclude_unset=True)
    for key, bound in bounds.items():
        if key == "eq" and not _equal(seen, bound):
            return False
        if key == "ne" and _equal(seen, bound):
            return False
        if key == "contains" and not (isinstance(seen, str) and bound in seen):
            return False
        if key in ("gt", "ge", "lt", "le") and not _ordered(seen, key, bound):
            return False
    return True


def _ordered(seen: Any, key: str, bound: float) -> bool:
    if isinstance(seen, bool) or not isinstance(seen, (int, float)):
        return False
    return {"gt": seen > bound, "ge": seen >= bound, "lt": seen < bound,
            "le": seen <= bound}[key]


def _equal(seen: Any, expected: Any) -> bool:
    numbers = (int, float)
    if (isinstance(seen, numbers) and isinstance(expected, numbers)
            and not isinstance(seen, bool) and not isinstance(expected, bool)):
        return math.isclose(seen, expected, rel_tol=_REL_TOL, abs_tol=1e-12)
    return type(seen) is type(expected) and seen == expected


def _short(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
