"""Comparing what a Focus Server answered with what a scenario expects.

Every check returns a ``Verdict``: whether it holds, a short description of what was seen
(with ``(want ...)`` after every value that did not match), and the checks that could not be
made at all (``unchecked``): those are never counted as held, the runner reports them as
skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypeAlias

from fibersim.probes.http import JsonDocument
from fibersim.scenario.models import Comparison

#: Relative tolerance for numeric equality (JSON numbers go through float).
_REL_TOL = 1e-9


class _Absent(Enum):
    """The type of ``MISSING`` (an enum member, so mypy narrows ``is MISSING`` checks)."""

    MISSING = "missing"


#: What ``lookup`` finds where a document has no such key or index.
MISSING = _Absent.MISSING
#: A value read from a document: the JSON there, or ``MISSING``.
Seen: TypeAlias = JsonDocument | Literal[_Absent.MISSING]
#: What a value must be: a scenario's ``Matcher`` once its ``${name}`` variables are filled
#: in (a whole ``${name}`` takes the variable's JSON value, which may be a list or object).
Wanted: TypeAlias = JsonDocument | Comparison


@dataclass(frozen=True)
class Verdict:
    """Whether a check holds, what was seen, and which parts could not be checked."""

    ok: bool
    seen: str
    unchecked: tuple[str, ...] = ()

    @classmethod
    def skipped(cls, what: str, why: str) -> Verdict:
        """A check that cannot be made here: holds nothing, fails nothing, is reported."""
        return cls(True, f"{what} not checked: {why}", (f"{what} not checked: {why}",))

    @classmethod
    def combine(cls, verdicts: list[Verdict], separator: str = "; ") -> Verdict:
        """All of ``verdicts``: ok if each is, with every seen text and unchecked reason."""
        return cls(all(verdict.ok for verdict in verdicts),
                   separator.join(verdict.seen for verdict in verdicts if verdict.seen),
                   tuple(why for verdict in verdicts for why in verdict.unchecked))


def lookup(document: JsonDocument, dotted: str) -> Seen:
    """``document["a"][0]["b"]`` for ``"a.0.b"``; ``MISSING`` when a key or index is absent."""
    current: JsonDocument = document
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and (
                -len(current) <= int(part) < len(current)):
            current = current[int(part)]
        else:
            return MISSING
    return current


def match_value(seen: Seen, expected: Wanted) -> bool:
    """Whether one seen value (``MISSING`` if absent) satisfies a matcher."""
    if isinstance(expected, Comparison):
        if seen is MISSING:
            return bool(expected.absent)
        return not expected.absent and _compare(seen, expected)
    return seen is not MISSING and _equal(seen, expected)


def match_fields(document: JsonDocument, matchers: Mapping[str, Wanted]) -> Verdict:
    """All matchers against a JSON document; ``seen`` lists the observed value of each field."""
    seen_parts: list[str] = []
    ok = True
    for path, expected in matchers.items():
        value = lookup(document, path)
        holds = match_value(value, expected)
        ok = ok and holds
        shown = "absent" if value is MISSING else short(value)
        seen_parts.append(f"{path}={shown}" + ("" if holds else f" (want {describe(expected)})"))
    return Verdict(ok, ", ".join(seen_parts))


_SYMBOLS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
            "contains": "contains", "regex": "regex"}


def describe(expected: Wanted) -> str:
    """A matcher as text: ``2000``, ``null``, ``> 0``, ``>= 1 and <= 3``, ``len == 2``."""
    if not isinstance(expected, Comparison):
        return short(expected)
    parts: list[str] = []
    for key in expected.model_fields_set:
        value = getattr(expected, key)
        if key in ("absent", "present"):
            parts.append(key)
        elif key == "len":
            parts.append(f"len {describe(value) if isinstance(value, Comparison) else value}")
        else:
            parts.append(f"{_SYMBOLS[key]} {short(value)}")
    return " and ".join(sorted(parts))


def _compare(seen: JsonDocument, expected: Comparison) -> bool:
    for key in expected.model_fields_set:
        bound = getattr(expected, key)
        if key == "eq" and not _equal(seen, bound):
            return False
        if key == "ne" and _equal(seen, bound):
            return False
        if key == "contains" and not _contains(seen, bound):
            return False
        if key == "regex" and not (isinstance(seen, str) and re.search(bound, seen)):
            return False
        if key == "len" and not (isinstance(seen, (str, list, dict))
                                 and match_value(len(seen), bound)):
            return False
        if key in ("gt", "ge", "lt", "le") and not _ordered(seen, key, bound):
            return False
    return True


def _contains(seen: JsonDocument, part: JsonDocument) -> bool:
    if isinstance(seen, str):
        return isinstance(part, str) and part in seen
    if isinstance(seen, list):
        return any(_equal(item, part) for item in seen)
    if isinstance(seen, dict):
        return isinstance(part, str) and part in seen
    return False


def _ordered(seen: JsonDocument, key: str, bound: float) -> bool:
    if isinstance(seen, bool) or not isinstance(seen, (int, float)):
        return False
    return {"gt": seen > bound, "ge": seen >= bound, "lt": seen < bound,
            "le": seen <= bound}[key]


def _equal(seen: JsonDocument, expected: JsonDocument) -> bool:
    numbers = (int, float)
    if (isinstance(seen, numbers) and isinstance(expected, numbers)
            and not isinstance(seen, bool) and not isinstance(expected, bool)):
        return math.isclose(seen, expected, rel_tol=_REL_TOL, abs_tol=1e-12)
    return type(seen) is type(expected) and seen == expected


def short(value: object) -> str:
    """A seen or wanted value as compact text (strings quoted, long ones cut)."""
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
