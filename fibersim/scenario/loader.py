"""Loading scenario files safely, with every error reported as ``file:line: field: message``.

Scenario files come from users and CI jobs, so loading must be bounded whatever the bytes are:
the size is checked before decoding, the YAML event stream is checked (no anchors or aliases,
nesting depth and node count limited) before any node or object is built, and only then are
the nodes composed (keeping their line numbers) and constructed with ``SafeLoader``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fibersim.errors import InputError
from fibersim.scenario.models import Scenario
from fibersim.scenario.timeline import TimelineError, resolve_timeline

#: Largest scenario file accepted (bytes).
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 20
#: Most YAML nodes (scalars, mappings, sequences) accepted in one file.
MAX_NODES = 50_000

Path_ = tuple[str | int, ...]


class _ScenarioLoader(yaml.SafeLoader):
    """``SafeLoader`` that reports unconstructible scalars at their line as YAML errors instead
    of letting bare ``ValueError`` escape (dates like ``2020-13-45``, integers with more digits
    than Python converts)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read value: {error}", node.start_mark) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read, check and validate a scenario file; ``InputError`` (exit 2) for any problem."""
    name = str(path)
    try:
        raw = _read_bounded(Path(path))
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"file larger than {MAX_FILE_BYTES} bytes", file=name)
    text = _decode(raw, name)
    data, lines = parse_yaml(text, name)
    scenario = _validate(data, lines, name)
    try:
        resolve_timeline(scenario)
    except TimelineError as error:
        raise InputError(str(error), file=name, line=_line_of(error.path, lines),
                         field=_dotted(error.path) or None) from None
    try:
        for _, variant in scenario.variants():
            resolve_timeline(variant)
    except (ValueError, TimelineError) as error:
        raise InputError(" ".join(str(error).split())[:300], file=name,
                         line=_line_of(("matrix",), lines), field="matrix") from None
    return scenario


def step_line(path: str | Path, index: int) -> int | None:
    """Line of timeline step ``index`` in an already validated file (for later refusals)."""
    try:
        _, lines = parse_yaml(_decode(_read_bounded(Path(path)), str(path)), str(path))
    except (OSError, InputError):
        return None
    return lines.get(("timeline", index))


def _read_bounded(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{raw[error.start]:02x})", file=name,
                         line=line, field="encoding") from None


def parse_yaml(text: str, name: str) -> tuple[Any, dict[Path_, int]]:
    """The document's data and the line (1-based) of every mapping value and sequence item."""
    try:
        _check_events(text, name)
        loader = _ScenarioLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise InputError("the file is empty", file=name, line=1)
            lines: dict[Path_, int] = {}
            _index_lines(node, (), lines, name)
            lines.update(_key_lines(node, ()))
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(error.problem or error.context or "invalid YAML").split())
        raise InputError(problem, file=name, line=line, field="yaml") from None
    except yaml.YAMLError as error:
        raise InputError(" ".join(str(error).split())[:300], file=name, field="yaml") from None
    if not isinstance(data, dict):
        raise InputError("the top level must be a mapping (name:, fiber:, timeline:, ...)",
                         file=name, line=node.start_mark.line + 1)
    return data, lines


def _check_events(text: str, name: str) -> None:
    """Reject aliases, anchors, excessive depth and size while only scanning events."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise InputError("YAML anchors and aliases are not allowed in scenario files",
                             file=name, line=line, field="yaml")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(f"nested deeper than {MAX_DEPTH} levels", file=name, line=line,
                                 field="yaml")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            nodes += 1
            if nodes > MAX_NODES:
                raise InputError(f"more than {MAX_NODES} YAML nodes", file=name, line=line,
                                 field="yaml")


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], name: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise InputError("mapping keys must be plain names", file=name,
                                 line=key.start_mark.line + 1, field=_dotted(path) or None)
            if key.value in seen:
                raise InputError(f"duplicate key {key.value!r}", file=name,
                                 line=key.start_mark.line + 1, field=_dotted(path) or None)
            seen.add(key.value)
            _index_lines(value, (*path, key.value), lines, name)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_lines(item, (*path, position), lines, name)


def _key_lines(node: yaml.Node, path: Path_) -> dict[Path_, int]:
    """The line of every mapping *key*: errors about a field point at its key, not at a
    block value that starts on the next line."""
    found: dict[Path_, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found[(*path, key.value)] = key.start_mark.line + 1
            found.update(_key_lines(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            found.update(_key_lines(item, (*path, position)))
    return found


def _validate(data: dict[str, Any], lines: dict[Path_, int], name: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        located = [(_document_path(item["loc"], data), item) for item in error.errors()]
        path, first = min(located, key=lambda pair: (_line_of(pair[0], lines) or 0,
                                                     -len(pair[0])))
        alternatives = {str(item["msg"]) for where, item in located if where == path}
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "missing":
            path += (first["loc"][-1],)
            message = "required field is missing"
        elif first["type"] == "extra_forbidden":
            message = f"unknown field {first['loc'][-1]!r}"
        elif first["type"] == "union_tag_invalid":
            tag = first.get("ctx", {}).get("tag")
            message = (f"unknown event {tag!r} (the events are listed in docs/scenarios.md"
                       " and 'fibersim schema')")
        elif len(alternatives) > 1:
            # a value that had the right type but a wrong value says so (``state: redy``)
            specific = sorted(text for text in alternatives if text.startswith("Value error"))
            message = (specific[0].removeprefix("Value error, ") if len(specific) == 1
                       else "no allowed form matches: " + "; ".join(sorted(alternatives)))
        raise InputError(" ".join(message.split())[:300], file=name,
                         line=_line_of(path, lines), field=_dotted(path) or None) from None


def _document_path(loc: tuple[str | int, ...], data: Any) -> Path_:
    """The part of a pydantic error location that exists in the document.

    Pydantic inserts union tags (``event``, ``connect``, ``int``) into locations; they are
    skipped, keeping only keys and indices that actually walk the parsed data. A missing or
    unknown field keeps its name as the last element, so the message can name it.
    """
    path: list[str | int] = []
    current = data
    for part in loc:
        in_mapping = isinstance(current, dict) and part in current
        in_sequence = (isinstance(current, list) and isinstance(part, int)
                       and 0 <= part < len(current))
        if in_mapping or in_sequence:
            current = current[part]
            path.append(part)
    return tuple(path)


def _line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


#: Keys shown as they are in a field name; others (empty, spaces, newlines) are quoted.
_PLAIN_KEY = re.compile(r"^[^\s.\[\]'\"]+(?:\.[^\s.\[\]'\"]+)*$")


def _dotted(path: Path_) -> str:
    """``timeline[3].expect.live_metadata.prr``; odd keys as ``fiber['']``, so the message
    stays one line whatever the key is."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text

