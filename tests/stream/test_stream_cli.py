"""``fibersim stream`` from the outside: options, errors, summary, credentials."""

from __future__ import annotations

import subprocess
import sys

import pytest


def fibersim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fibersim", *args], capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("args, mentions", [
    (["--prr", "-5"], "--prr"),
    (["--channels", "0"], "--channels"),
    (["--dtype", "int8"], "--dtype"),
    (["--duration", "forever"], "--duration"),
    (["--speed", "0"], "--speed"),
])
def test_a_malformed_option_exits_2_with_one_line(args: list[str], mentions: str) -> None:
    result = fibersim("stream", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and mentions in result.stderr
    assert "Traceback" not in result.stderr


def test_embedded_stream_prints_a_summary_with_the_real_time_factor() -> None:
    result = fibersim("stream", "--channels", "32", "--prr", "500", "--duration", "2s",
                      "--speed", "max", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "real-time factor" in result.stderr and "20 blocks" in result.stderr


@pytest.mark.broker
def test_broker_stream_never_prints_the_password(amqp_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(amqp_url)
    result = fibersim("stream", "--amqp-url", amqp_url, "--channels", "16", "--prr", "500",
                      "--duration", "1s", "--speed", "max")
    assert result.returncode == 0, result.stderr
    assert "confirmed" in result.stderr
    if parts.password:
        assert f":{parts.password}@" not in result.stdout + result.stderr
        assert ":***@" in result.stderr
