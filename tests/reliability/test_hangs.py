"""Nothing hangs: a broker that accepts TCP and never speaks AMQP, and URLs that cannot name
a broker, end every broker command in bounded time with one line (issue 14)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "healthy.yaml")


@pytest.fixture(scope="module")
def silent_peer() -> Iterator[str]:
    """amqp:// URL of a 127.0.0.1 port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"amqp://guest:secret-pw@127.0.0.1:{server.getsockname()[1]}/"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("replay") / "one-second.h5"
    subprocess.run([sys.executable, "-m", "fibersim", "record", SCENARIO, "-o", str(path),
                    "--to", "1s", "--quiet"], check=True, capture_output=True, timeout=120)
    return str(path)


def command(name: str, url: str, recording: str, tmp: Path) -> list[str]:
    return {
        "stream": ["stream", "--amqp-url", url, "--duration", "1s"],
        "focus-mock": ["focus-mock", "--amqp-url", url, "--port", "0"],
        "run": ["run", SCENARIO, "--amqp-url", url],
        "record": ["record", "--from-amqp", url, "-o", str(tmp / "tap.h5")],
        "replay": ["replay", recording, "--amqp-url", url],
    }[name]


COMMANDS = ["stream", "focus-mock", "run", "record", "replay"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_silent_broker_ends_the_command_after_the_connect_timeout_with_exit_3(
        name: str, silent_peer: str, recording: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", *command(name, silent_peer, recording, tmp_path),
         "--connect-timeout", "1s"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert "no AMQP answer within 1 s" in result.stderr
    assert "Traceback" not in result.stderr and "secret-pw" not in result.stderr
    assert took < 15, f"took {took:.1f} s"


@pytest.mark.parametrize("name, url", [
    *[("stream", url) for url in ("notaurl", "http://guest:secret-pw@127.0.0.1/",
                                  "amqp://:5672/", "amqp://host:99999/")],
    *[(name, "http://guest:secret-pw@127.0.0.1/") for name in COMMANDS[1:]],
])
def test_an_invalid_amqp_url_is_exit_2_before_anything_starts(
        name: str, url: str, recording: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", *command(name, url, recording, tmp_path)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "invalid AMQP URL" in result.stderr and result.stderr.count("\n") == 1
    assert "secret-pw" not in result.stderr
