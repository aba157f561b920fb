"""Every command the README and the ``--help`` examples show runs as written.

The commands are collected from the README's ``sh`` blocks and from the example sections of
``fibersim --help`` and of every command's ``--help``, then run with bash in a fresh temporary
folder holding only a copy of ``scenarios/`` (what a new clone has), against the local
RabbitMQ. Each must exit as documented, write the files it names, and print no traceback.

To stay fast and polite on a shared machine the commands are adjusted, never otherwise
changed: the broker URL is the test broker's with an exchange of this test's own, durations
become 1 s, ports become 0 (the OS chooses; metrics on 127.0.0.1 only), fleets of fibers
stream 128 channels each instead of the default 2337, and the commands run side by side.
Long-running servers (``focus-mock``) are stopped with Ctrl-C after they start (exit 130).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fibersim.cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[2]
README_URL = "amqp://guest:guest@127.0.0.1/"
#: Commands not run here, and why (each is exercised elsewhere or needs what is not here).
NOT_RUN = {
    "fibersim bench --quick": "tests/bench/test_bench_quick.py runs it (about 90 s)",
    "fibersim wait-ready --focus-url https://staging/focus-server/":
        "needs the staging Focus Server; tests/reliability/test_wait_ready.py covers it",
    "fibersim run scenarios/fiber_lost.yaml --amqp-url amqps://u:p@broker/":
        "needs a production broker and Focus Server (the prisma dialect example)",
    "fibersim realism site.h5 sim.h5": "placeholders for the user's own recordings",
    "fibersim stream --wait-for-consumer 30s --start-time 2025-01-01T00:00:00Z --seed 7":
        "waits for a consumer bound on the user's side (exit 3 without one, as documented);"
        " tests/stream/test_delivery_contract.py covers --wait-for-consumer",
    "fibersim realism ../shared/reference-das/prodml_2.0.h5 my_site_scenario.yaml":
        "placeholder for the user's own scenario (the calibrate example runs)",
    "fibersim run scenarios/*.yaml --junit junit.xml --report report.json":
        "the whole library (minutes): tests/scenario/test_library.py runs every file with"
        " --report and --junit, over RabbitMQ",
    "fibersim run scenarios/incident_full.yaml --strict":
        "tests/scenario/test_library.py runs it as written and checks all 13 stages",
}
#: Options whose value is a file the command writes (checked to exist afterwards).
OUTPUT_OPTIONS = ("-o", "--output", "--report", "--junit", "--stats-csv", "--stats-json")
#: Commands that read a file another documented command writes (or the reference recordings
#: in ../shared): run after the writers.
READERS = ("fibersim replay", "fibersim report", "fibersim realism", "fibersim calibrate")
#: The reference DAS recordings some examples read, beside the repository (as in CI).
SHARED = REPO.parent / "shared"


@dataclass
class Documented:
    """A command line as documented, and where."""

    line: str
    source: str
    outputs: list[str] = field(default_factory=list)
    #: where it ran, if not in the clone
    folder: Path | None = None


def readme_commands() -> list[Documented]:
    text = (REPO / "README.md").read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in _logical_lines(block):
            command = line.split(" && ")[-1].removeprefix(".venv/bin/")
            if command.startswith("fibersim"):
                found.append(Documented(command, "README.md"))
    return found


def _help(name: str) -> str:
    return subprocess.run([sys.executable, "-m", "fibersim", *name.split(), "--help"],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def help_commands() -> list[Documented]:
    found = []
    names = ["", *COMMANDS]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        helps = list(pool.map(_help, names))
    for name, text in zip(names, helps, strict=True):
        # the examples: indented lines of the description, above the option list
        description = text.split("\nOptions:")[0]
        examples = "\n".join(line for line in description.splitlines()
                             if line.startswith("    ") or line.endswith("\\"))
        for line in _logical_lines(examples):
            if line.startswith("fibersim ") and not line.startswith("fibersim [OPTIONS]"):
                found.append(Documented(line, f"fibersim {name} --help".replace("  ", " ")))
    return found


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and trailing comments dropped."""
    joined = re.sub(r"\\\n\s*", "", text)
    lines = []
    for raw in joined.splitlines():
        line = raw.strip()
        if "  #" in line:
            line = line[:line.index("  #")].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def adjusted(line: str, amqp_url: str, exchange: str) -> str:
    """The command as this test runs it (see the module docstring)."""
    words = shlex.split(line)
    words = [amqp_url if word == README_URL else word for word in words]
    for option, value in (("--duration", "1s"), ("--metrics-port", "127.0.0.1:0"),
                          ("--port", "0")):
        if option in words:
            words[words.index(option) + 1] = value
    command = words[1] if len(words) > 1 else ""
    tap = command == "record" and "--from-amqp" in words
    if (command in ("stream", "replay") or tap) and "--duration" not in words:
        words += ["--duration", "1s"]
    if command == "stream" and "--fibers" in words and "--channels" not in words:
        words += ["--channels", "128"]  # a fleet at full width is minutes of CPU here
    if command == "focus-mock" and "--port" not in words:
        words += ["--port", "0"]
    if amqp_url in words and command in ("stream", "run", "focus-mock", "record", "replay",
                                         "chaos"):
        # one exchange per wire dialect: a tap must not read another dialect's messages
        words += ["--exchange", exchange_for(words, exchange)]
    if command == "run" and "--dry-run" not in words:
        words += ["--speed", "max"]
    redirect = ""
    if ">" in words:
        redirect = f" > {shlex.quote(words[words.index('>') + 1])}"
        words = words[:words.index(">")]
    return " ".join(shlex.quote(word) if "*" not in word else word for word in words) + redirect


def exchange_for(words: list[str], exchange: str) -> str:
    return f"{exchange}-{words[words.index('--dialect') + 1]}" if "--dialect" in words else exchange


def outputs_of(line: str) -> list[str]:
    words = shlex.split(line)
    named = [words[index + 1] for index, word in enumerate(words[:-1])
             if word in OUTPUT_OPTIONS]
    if ">" in words:
        named.append(words[words.index(">") + 1])
    return named


@dataclass
class Ran:
    documented: Documented
    command: str
    code: int
    output: str
    wall_s: float


def run_in(folder: Path, documented: Documented, command: str, *,
           until_started: str | None = None) -> Ran:
    """Run ``command`` with bash in ``folder``; a server is stopped with Ctrl-C once it
    printed ``until_started``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIBERSIM_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = time.monotonic()
    if until_started is None:
        completed = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                                   capture_output=True, text=True, timeout=240)
        return Ran(documented, command, completed.returncode,
                   completed.stdout + completed.stderr, time.monotonic() - started)
    process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=folder, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line)
        if until_started in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    return Ran(documented, command, process.returncode, "".join(lines) + rest,
               time.monotonic() - started)


def _dialect_of(line: str) -> str | None:
    words = shlex.split(line)
    return words[words.index("--dialect") + 1] if "--dialect" in words else None


def _publishes(command: Documented) -> bool:
    """Streams and replays: the CPU-heavy commands (fleets of full-rate fibers)."""
    return command.line.startswith(("fibersim stream", "fibersim replay"))


def run_taps(folder: Path, taps: list[Documented], amqp_url: str, exchange: str) -> list[Ran]:
    """Each tap (they all write live.h5: one after the other) while a stream in the tap's
    dialect feeds it: the focus-mock example's stream, on the tap's exchange."""
    results = []
    with concurrent.futures.ThreadPoolExecutor(1) as feeder:
        for tap in taps:
            dialect = _dialect_of(tap.line)
            feed = Documented(f"fibersim stream --amqp-url {README_URL}"
                              + (f" --dialect {dialect}" if dialect else ""), "feed of a tap")
            tapping = feeder.submit(run_in, folder, tap, adjusted(tap.line, amqp_url, exchange))
            time.sleep(2)  # the tap binds its queue first
            fed = run_in(folder, feed, adjusted(feed.line, amqp_url, exchange).replace(
                "--duration 1s", "--duration 5s"))
            assert fed.code == 0, fed.output
            results.append(tapping.result())
    return results


def run_alone(clone: Path, index: int, command: Documented, amqp_url: str,
              exchange: str) -> Ran:
    """Run a writer in a folder of its own (beside the clone, sharing its ``scenarios/``), so
    that writers of a common file run side by side, and on an exchange of its own, so that a
    scenario's mock never consumes another command's fiber of the same name; the folder is
    recorded for the readers."""
    folder = clone.parent / "runs" / str(index)
    folder.mkdir()
    (folder / "scenarios").symlink_to(clone / "scenarios")
    command.folder = folder
    return run_in(folder, command, adjusted(command.line, amqp_url, f"{exchange}-{index}"))


def gather_outputs(writers: list[Documented], clone: Path) -> None:
    """Copy what the writers wrote into the clone, where the readers' examples run."""
    for command in writers:
        assert command.folder is not None
        for name in command.outputs:
            written = command.folder / name
            if written.exists():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(written, clone / name)


@pytest.fixture(scope="module")
def documented() -> list[Documented]:
    commands = readme_commands() + help_commands()
    for command in commands:
        command.outputs = outputs_of(command.line)
    return commands


def test_the_docs_show_commands_of_every_kind(documented: list[Documented]) -> None:
    """The collection itself works: README and help examples of the main commands."""
    shown = {shlex.split(command.line)[1] for command in documented
             if len(shlex.split(command.line)) > 1}
    assert {"run", "stream", "plot", "record", "replay", "report", "focus-mock",
            "validate"} <= shown
    assert {command.source for command in documented} >= {"README.md", "fibersim run --help"}


@pytest.mark.broker
def test_every_documented_command_runs_as_written(
        documented: list[Documented], amqp_url: str, tmp_path: Path) -> None:
    if SHARED.is_dir():  # the examples' ../shared, as beside a clone
        (tmp_path / "shared").symlink_to(SHARED)
    tmp_path = tmp_path / "clone"
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")
    exchange = f"fibersim-docs-{uuid.uuid4().hex[:8]}"
    to_run = {}
    for command in documented:
        if any(command.line.startswith(prefix) for prefix in NOT_RUN):
            continue
        if "../shared/" in command.line and not SHARED.is_dir():
            continue  # the reference recordings are not on this machine
        to_run.setdefault(command.line, command)  # README and help share some lines
    writers = [c for c in to_run.values() if not c.line.startswith(READERS)
               and " focus-mock" not in c.line and "--from-amqp" not in c.line]
    readers = [c for c in to_run.values() if c.line.startswith(READERS)]
    servers = [c for c in to_run.values() if " focus-mock" in c.line]
    taps = [c for c in to_run.values() if "--from-amqp" in c.line]
    (tmp_path.parent / "runs").mkdir()
    if SHARED.is_dir():  # ../shared from the writers' folders too
        (tmp_path.parent / "runs" / "shared").symlink_to(SHARED)
    streaming = [c for c in writers if _publishes(c)]
    light = sorted((c for c in writers if not _publishes(c)), key=lambda c: "*" not in c.line)
    results: list[Ran] = []
    # 1. scenario runs time the Focus Server's reactions: only light commands beside them
    #    (the longest first: the library run, which the rest overlaps)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        running = [pool.submit(run_alone, tmp_path, index, c, amqp_url, exchange)
                   for index, c in enumerate(light)]
        results += [future.result() for future in running]
    # 2. streams (fleets of fibers among them), servers and taps
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        tapping = pool.submit(run_taps, tmp_path, taps, amqp_url, exchange)
        running = [pool.submit(run_alone, tmp_path, len(light) + index, c, amqp_url, exchange)
                   for index, c in enumerate(streaming)]
        serving = [pool.submit(run_in, tmp_path, c, adjusted(c.line, amqp_url, exchange),
                               until_started="mock Focus Server") for c in servers]
        results += [future.result() for future in running]
        results += tapping.result() + [future.result() for future in serving]
    gather_outputs(writers, tmp_path)
    # files the readers' examples name, made from what the writers wrote
    shutil.copy(tmp_path / "quake.h5", tmp_path / "vendor.hdf5")
    for name in ("before.json", "after.json"):
        shutil.copy(tmp_path / "out" / "report.json", tmp_path / name)
    for command in readers:
        results.append(run_in(tmp_path, command, adjusted(command.line, amqp_url, exchange)))
    problems = []
    for ran in results:
        expected = 130 if " focus-mock" in ran.documented.line else 0
        folder = ran.documented.folder or tmp_path
        missing = [name for name in ran.documented.outputs if not (folder / name).exists()]
        if ran.code != expected or "Traceback" in ran.output or missing:
            problems.append(f"{ran.documented.source}: {ran.documented.line}\n  ran: {ran.command}"
                            f"\n  exit {ran.code} (want {expected}), missing {missing}\n"
                            + ran.output[-1500:])
    slowest = sorted(results, key=lambda ran: -ran.wall_s)[:5]
    print("slowest:", *(f"{ran.wall_s:5.1f}s {ran.command}" for ran in slowest), sep="\n")
    assert not problems, "\n".join(problems)
