"""``${name}`` variables in scenario checks: captured from answers, or predefined.

A string that is exactly ``${name}`` becomes the variable's value with its JSON type (so a
captured number stays a number in a body); inside a longer string the value is inserted as
text. The loader has already checked that every name is defined by an earlier step, so a
missing one here means the capturing step failed, and the check says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import overload

from fibersim.probes.http import JsonDocument
from fibersim.probes.matching import Wanted
from fibersim.scenario.models import Comparison, Matcher
from fibersim.scenario.timeline import VARIABLE

#: Variables by name: captured from answers (JSON values) or predefined (matrix values, the
#: seed, the Focus Server's URL); what the runner hands the checks and reports back.
Variables = dict[str, JsonDocument]


class MissingVariable(Exception):
    """A ``${name}`` whose capturing step never met (the text names it)."""


@overload
def substitute(value: Mapping[str, JsonDocument], variables: Variables
               ) -> dict[str, JsonDocument]: ...
@overload
def substitute(value: JsonDocument, variables: Variables) -> JsonDocument: ...
def substitute(value: Mapping[str, JsonDocument] | JsonDocument, variables: Variables
               ) -> JsonDocument:
    """``value`` (any JSON) with every ``${name}`` replaced; an object stays an object."""
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value)
        if whole:
            return _value(whole.group(1), variables)
        return VARIABLE.sub(lambda match: _text(_value(match.group(1), variables)), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, Mapping):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def substitute_matcher(matcher: Matcher, variables: Variables) -> Wanted:
    """A matcher with variables replaced in its values (``job_id: ${job}``); a whole
    ``${name}`` takes the variable's JSON type, so the result may be any JSON."""
    if isinstance(matcher, Comparison):
        changes: dict[str, JsonDocument] = {key: substitute(getattr(matcher, key), variables)
                   for key in ("eq", "ne", "contains", "regex") if key in matcher.model_fields_set}
        return matcher.model_copy(update=changes) if changes else matcher
    return substitute(matcher, variables)


def _value(name: str, variables: Variables) -> JsonDocument:
    if name not in variables:
        raise MissingVariable(f"${{{name}}} is not set: the step that captures it was not met")
    return variables[name]


def _text(value: JsonDocument) -> str:
    return value if isinstance(value, str) else json.dumps(value)
