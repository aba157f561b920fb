"""Ctrl-C and SIGTERM end a stream cleanly: in-flight confirms flushed, summary written,
exit 130 / 143."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.broker


def start_stream(amqp_url: str, exchange: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fibersim", "stream", "--amqp-url", amqp_url, "--exchange",
         exchange, "--channels", "64", "--prr", "1000", "--duration", "10m", "--speed", "1",
         "--quiet"],
        stderr=subprocess.PIPE, text=True)


def wait_for_streaming(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("streaming"), line
    time.sleep(1.5)


@pytest.mark.parametrize("signum, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_flushes_reports_and_exits_with_the_shell_code(
        amqp_url: str, exchange_name: str, signum: signal.Signals, exit_code: int) -> None:
    process = start_stream(amqp_url, exchange_name)
    try:
        wait_for_streaming(process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == exit_code
    assert "summary:" in stderr and "lost blocks" not in stderr
    assert "Traceback" not in stderr
