"""Loading scenario files: every problem is one line ``file:line: field: message`` (exit 2),
found in bounded time, whatever the bytes; valid files load to the documented API."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fibersim.errors import InputError
from fibersim.scenario import Scenario, load_scenario
from fibersim.scenario.loader import MAX_DEPTH, MAX_FILE_BYTES
from tests.scenario.helpers import LIBRARY, fibersim, write_scenario

#: Wall seconds any single file may take to be accepted or rejected.
LOAD_BUDGET_S = 2.0


def load_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    return caught.value


def assert_one_line_input_error(path: Path) -> InputError | None:
    """Loading either succeeds or fails with a one-line InputError naming the file, fast."""
    started = time.monotonic()
    try:
        load_scenario(path)
        error = None
    except InputError as raised:
        error = raised
        text = str(raised)
        assert "\n" not in text and text.startswith(f"{path}:"), text
        assert len(text) < 600
    assert time.monotonic() - started < LOAD_BUDGET_S
    return error


# -- the public API -------------------------------------------------------------------------
def test_the_v2_sample_of_the_mutation_corpus_is_valid(tmp_path: Path) -> None:
    assert len(load_scenario(write_scenario(tmp_path, V2_SAMPLE)).variants()) == 4


def test_a_library_scenario_loads_to_the_public_api() -> None:
    scenario = load_scenario(Path(LIBRARY[0]))
    assert isinstance(scenario, Scenario)
    assert isinstance(scenario.run.seed, int) and isinstance(scenario.run.speed, float)
    assert scenario.fiber_config().fiber_id == scenario.fiber.fiber_id
    assert scenario.fiber.signals is None or isinstance(scenario.fiber.signals, list)


def test_speed_max_means_infinity(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "name: x\nrun: {speed: max}\ntimeline: [{do: connect}]\n")
    assert load_scenario(path).run.speed == float("inf")


# -- specific errors ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "where", "message"), [
    ("name: x\ntimeline:\n  - do: connect\n  - do: explode\n", ":4: timeline[1]:",
     "unknown event 'explode'"),
    ("name: x\ntimeline:\n  - do: gap\n    blocks: -3\n", ":4: timeline[0].blocks:",
     "greater than or equal to 1"),
    ("name: x\nfiber:\n  prr: 1e12\ntimeline: [{do: connect}]\n", ":3: fiber.prr:",
     "less than or equal"),
    ("timeline: [{do: connect}]\n", ":1: name:", "required field is missing"),
    ("name: x\ncolour: red\ntimeline: [{do: connect}]\n", ":2: colour:", "unknown field"),
    ("name: x\ntimeline:\n  - at: 5s\n    do: connect\n  - at: 2s\n    do: disconnect\n",
     ":5: timeline[1].at:", "keep the timeline in order"),
    ("name: x\ntimeline:\n  - after: nowhere + 2s\n    do: connect\n",
     ":3: timeline[0].after:", "not the label of an earlier step"),
    ("name: x\ntimeline:\n  - at: soon\n    do: connect\n", ":3: timeline[0].at:",
     "is not a duration"),
    ("name: x\ntimeline:\n  - do: connect\n    label: a\n  - do: connect\n    label: a\n",
     ":6: timeline[1].label:", "used twice"),
    ("name: x\ntimeline:\n  - expect: {}\n", ":3: timeline[0].expect:",
     "at least one check"),
    ("name: x\nname: y\ntimeline: [{do: connect}]\n", ":2:", "duplicate key 'name'"),
    ("name: x\ntimeline:\n  - {label: a, do: connect}\n  - expect: {state: ready}\n"
     "    until: a\n", ":5: timeline[1].until:", "not the label of a later event"),
    ("name: x\ntimeline:\n  - {label: s, do: connect}\n  - expect:\n      backoff_vs_storm:"
     " {backoff: s, storm: s, fewer_by: 5}\n", ":5: timeline[1].expect.backoff_vs_storm.backoff:",
     "not the label of an earlier backoff_client event"),
    ("name: x\ntimeline:\n  - expect:\n      requests: {route: POST /configure, since: later,"
     " count: 1}\n  - {label: later, do: connect}\n", ":4: timeline[0].expect.requests.since:",
     "is not an earlier event"),
    ("name: x\ntimeline:\n  - do: exec\n    command: [ls]\n    shell: true\n",
     ":3: timeline[0]:", "shell: true needs the command as one string"),
    ("name: x\ntimeline: [{do: connect}\n", ":", "yaml:"),
    ("name: x\ndescription: 2020-13-45\ntimeline: [{do: connect}]\n", ":2: yaml:",
     "month must be in 1..12"),
    ("name: x\nrun: {seed: " + "9" * 5000 + "}\ntimeline: [{do: connect}]\n", ":2: yaml:",
     "cannot read value: Exceeds the limit"),
    # v2: names, matchers and paths are checked, at the offending key or value
    ("name: x\ntimeline:\n  - expect:\n      state: redy\n", ":4: timeline[0].expect.state:",
     "unknown state 'redy'"),
    ("name: x\ntimeline:\n  - expect: {state: ready}\n    within: abc\n",
     ":4: timeline[0].within:", "is not a duration"),
    ("name: x\ntimeline:\n  - expect: {state: ready}\n    bogus:\n      a: 1\n",
     ":4: timeline[0].bogus:", "unknown field 'bogus'"),
    ("name: x\ntimeline:\n  - expect:\n      live_metadata:\n        prr: 1\n        prrr: 5\n",
     ":6: timeline[0].expect.live_metadata.prrr:", "unknown field 'prrr'"),
    ("name: x\ntimeline:\n  - expect:\n      live_metadata:\n        prr: {gte: 5}\n",
     ":5: timeline[0].expect.live_metadata.prr.gte:", "unknown field 'gte'"),
    ("name: x\ntimeline:\n  - expect:\n      mock: {jobs..0: 1}\n",
     ":4: timeline[0].expect.mock['jobs..0']:", "is not a field path"),
    ("name: x\ntimeline:\n  - expect:\n      http: {path: ack, capture: {job: body.}}\n",
     ":4: timeline[0].expect.http.capture.job:", "is not status, text, body"),
    ("name: x\ntimeline:\n  - expect:\n      log: {regex: '('}\n",
     ":4: timeline[0].expect.log.regex:", "not a regular expression"),
    ("name: x\ntimeline:\n  - expect:\n      http: {path: 'metadata/${job}'}\n",
     ":4: timeline[0].expect.http.path:", "${job} is not captured by an earlier step"),
    ("name: x\ntimeline:\n  - expect:\n      log: {contains: x, since: later}\n"
     "  - {label: later, do: connect}\n", ":4: timeline[0].expect.log.since:",
     "not the label of an earlier step"),
    ("name: x\ntimeline:\n  - {label: w, watch: {state: ready}, until: w}\n",
     ":3: timeline[0].until:", "not the label of a later event"),
    ("name: x\ntimeline:\n  - watch: {seen: always}\n", ":3: timeline[0].watch:",
     "needs state, transitions or both"),
    ("name: x\nmatrix: {focus_mock.behaviour: [incident, broken]}\ntimeline: [{do: connect}]\n",
     ":2: matrix:", "'incident' or 'fixed'"),
    ("name: x\nmatrix: {colour.red: [1]}\ntimeline: [{do: connect}]\n",
     ":2: matrix.colour.red:", "is not <section>.<field>"),
    ("name: x\ntimeline: [{do: connect}]\nfinally:\n  - {do: store_up, at: 3s}\n",
     ":4: finally[0]:", "no at/after"),
    ("name: x\ntimeline:\n  - do: set\n    mock: {metadata_timout: 2s}\n",
     ":4: timeline[0].mock.metadata_timout:", "unknown field"),
    ("name: x\ntimeline:\n  - do: exec\n    command: \"echo 'oops\"\n", ":3: timeline[0]:",
     "command: No closing quotation"),
])
def test_each_problem_is_reported_at_its_line_and_field(tmp_path: Path, text: str, where: str,
                                                        message: str) -> None:
    error = str(load_error(write_scenario(tmp_path, text)))
    assert where in error and message in error, error


def test_non_utf8_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\ntimeline: [{do: connect}]\n")
    assert str(load_error(path)) == f"{path}:2: encoding: not UTF-8 text (byte 0xe9)"


def test_anchors_and_aliases_are_refused_before_expansion(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]"
              for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    assert "anchors and aliases are not allowed" in str(load_error(path))
    assert time.monotonic() - started < 0.5


def test_nesting_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: x\ndescription: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert f"nested deeper than {MAX_DEPTH} levels" in str(load_error(path))


def test_files_above_the_size_limit_are_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    assert str(load_error(path)) == f"{path}: file larger than {MAX_FILE_BYTES} bytes"


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    assert "cannot read" in str(load_error(tmp_path / "absent.yaml"))


def test_the_cli_prints_one_line_and_exits_2_for_an_invalid_file(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "name: x\ntimeline:\n  - do: explode\n")
    for command in ("run", "validate"):
        completed = fibersim(command, path)
        assert completed.code == 2
        assert completed.stdout == ""
        assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr
        assert completed.stderr.startswith(f"fibersim: error: {path}:3: timeline[0]:")


def test_validate_reports_every_invalid_file(tmp_path: Path) -> None:
    bad_state = write_scenario(tmp_path, "name: x\ntimeline:\n  - expect: {state: redy}\n",
                               "a.yaml")
    bad_event = write_scenario(tmp_path, "name: x\ntimeline:\n  - do: boom\n", "b.yaml")
    completed = fibersim("validate", bad_state, LIBRARY[0], bad_event)
    assert completed.code == 2
    assert completed.stderr.splitlines() == [
        f"fibersim: error: {bad_state}:3: timeline[0].expect.state: unknown state 'redy'"
        " (states: ready, waiting_for_fiber, zero_prr, store_down, restarting)",
        f"fibersim: error: {bad_event}:3: timeline[0]: unknown event 'boom' (the events are"
        " listed in docs/scenarios.md and 'fibersim schema')"]
    assert completed.stdout.startswith(f"{LIBRARY[0]}: ok")


# -- property: mutated library files ---------------------------------------------------------
#: The v2 syntax the library files do not use (matrix, xfail, query, headers, json body, ...).
V2_SAMPLE = """\
name: v2_sample
tags: [sample]
matrix: {focus_mock.behaviour: [incident, fixed], fiber.prr: [1000, 2000]}
timeline:
  - {label: up, do: connect}
  - label: ready
    xfail: a known bug
    expect:
      http:
        - {method: POST, path: recordings_in_time_range, json: {start_time: 0, end_time: 1},
           headers: {X-Request-Id: abc}, query: {verbose: true}, status: [200, 503],
           text: {regex: '^\\['}, capture: {window: body.0}}
      mock: {jobs: {len: {ge: 0}}, metadata: {present: true}, jobs.5: {absent: true},
             requests: {contains: GET /ack}}
  - {label: w, watch: {transitions: {from: ready, to: waiting_for_fiber, reason: metadata_timeout,
                                     count: {le: 3}}}, until: down}
  - {label: down, do: set, mock: {metadata_timeout: 1s, restart_backoff_max: 2s},
     interrogator: {sw_version: "x ${behaviour}"}}
  - expect: {log: [{regex: 'state \\w+', since: up, count: {ge: 1}}, "${behaviour}"]}
finally:
  - {do: store_up}
"""
LIBRARY_TEXTS = [path.read_text() for path in LIBRARY] + [V2_SAMPLE]
HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["explode", "1e999s", "-5s", "max", "", "nowhere + 1s", "9" * 400,
                     "redy", "${nope}", "(", "jobs..0", "body.", "GET /x"]),
    st.sampled_from([{"regex": "("}, {"absent": False}, {"len": "x"}, {"contains": [1]},
                     {"gte": 1}, {"to": "nowhere", "count": 1}, {"job": "status!"}]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2))


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A library scenario with one value replaced, one key deleted or one key added."""
    data = yaml.safe_load(draw(st.sampled_from(LIBRARY_TEXTS)))
    path = draw(st.sampled_from(_paths(data)))
    parent = data
    for part in path[:-1]:
        parent = parent[part]  # type: ignore[index]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(HOSTILE_VALUES)  # type: ignore[index]
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["do", "expect", "bogus", "at", "after", "within", "xfail",
                                     "watch", "capture", "log", "until", "matrix"]))] = (
            draw(HOSTILE_VALUES))
    return yaml.safe_dump(data, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_documents())
def test_mutated_library_files_load_or_fail_with_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                         text: str) -> None:
    path = tmp_path_factory.mktemp("mutated") / "scenario.yaml"
    path.write_text(text)
    error = assert_one_line_input_error(path)
    if error is not None and error.field not in (None, "yaml", "encoding"):
        assert error.line == line_of_field(text, error.field), str(error)


def line_of_field(text: str, dotted: str) -> int:
    """The line of the key (or list item) a dotted field (``timeline[3].expect.log.since``)
    names, found in the YAML node tree independently of the loader; a field that does not
    exist (a missing one) is reported at its deepest existing parent."""
    node: yaml.Node = yaml.compose(text)
    line = node.start_mark.line + 1
    rest = re.findall(r"\['(?:[^'\\]|\\.)*'\]|\[\"(?:[^\"\\]|\\.)*\"\]|\[\d+\]|[^.\[\]]+",
                      dotted)
    while rest:
        part = rest[0]
        if part.startswith("[") and isinstance(node, yaml.SequenceNode):
            node = node.value[int(part[1:-1])]
            line, rest = node.start_mark.line + 1, rest[1:]
            continue
        if part.startswith("[") and isinstance(node, yaml.MappingNode):  # a quoted odd key
            key = ast.literal_eval(part[1:-1])
            found = [(k, v) for k, v in node.value if k.value == key]
            if not found:
                break
            line, node, rest = found[0][0].start_mark.line + 1, found[0][1], rest[1:]
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        # keys may contain dots (``metadata.prr``): take the longest key that matches
        for size in range(len(rest), 0, -1):
            key = ".".join(rest[:size])
            found = [(k, v) for k, v in node.value if k.value == key]
            if found and not any(p.startswith("[") for p in rest[:size]):
                line, node, rest = found[0][0].start_mark.line + 1, found[0][1], rest[size:]
                break
        else:
            break
    return line


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_byte_level_corruption_always_fails_with_one_line(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(LIBRARY_TEXTS)).encode())
    for _ in range(data.draw(st.integers(1, 5))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position:position + 1] = data.draw(st.sampled_from(
            [b"\xff", b"\x00", b"&a", b"*a", b"[", b"{", b"!!python/object:os.system ",
             b"\t", b":", b"\n  - ", b"<<: ", b"---\n", b"%YAML 1.1\n", b"\xe2\x80",
             b" 2020-13-45 ", b" 9" + b"9" * 5000, b" 1e999", b" .nan", b" !!binary x"]))
    path = tmp_path_factory.mktemp("bytes") / "scenario.yaml"
    path.write_bytes(bytes(raw))
    assert_one_line_input_error(path)


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(MAX_DEPTH + 1, 5000), opener=st.sampled_from(["[", "{a: "]))
def test_deep_documents_fail_fast(tmp_path_factory: pytest.TempPathFactory, depth: int,
                                  opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    path = tmp_path_factory.mktemp("deep") / "scenario.yaml"
    path.write_text(f"name: x\nfiber: {opener * depth}1{closer * depth}\n")
    error = assert_one_line_input_error(path)
    assert error is not None and "nested deeper" in str(error)


def test_a_sample_of_mutations_exits_2_through_the_cli_without_traceback(tmp_path: Path
                                                                         ) -> None:
    samples = ["name: x\ntimeline: 5\n", "\xff".encode("latin-1").decode("latin-1"),
               "- just\n- a list\n", "name: x\ntimeline:\n  - do: storm\n    clients: 1e9\n"]
    for index, text in enumerate(samples):
        path = tmp_path / f"s{index}.yaml"
        path.write_bytes(text.encode("latin-1") if index == 1 else text.encode())
        completed = fibersim("validate", path)
        assert completed.code == 2, completed.output
        assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.output
