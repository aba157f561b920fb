"""No credential ever appears in a log, report, JUnit file or error message: a test user with
a distinctive password streams, runs a scenario and fails to connect, and every output is
grepped for that password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.broker

SCENARIO = Path(__file__).parents[2] / "scenarios" / "healthy.yaml"


@pytest.fixture(scope="module")
def secret_account(amqp_url: str) -> Iterator[tuple[str, str]]:
    """A RabbitMQ user whose password appears nowhere else: (url, password)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to create a throw-away broker user")
    user, password = f"fibersim-{uuid.uuid4().hex[:6]}", f"S3cret-{uuid.uuid4().hex}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_user", user, password], check=True, capture_output=True,
                   timeout=60)
    subprocess.run([*ctl, "set_permissions", user, ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
    parts = urlsplit(amqp_url)
    url = f"amqp://{user}:{password}@{parts.hostname}:{parts.port or 5672}/"
    try:
        yield url, password
    finally:
        subprocess.run([*ctl, "delete_user", user], check=False, capture_output=True,
                       timeout=60)


def fibersim(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "fibersim", "-vv", *args], check=False,
                            capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def test_stream_output_never_contains_the_password(secret_account) -> None:
    url, password = secret_account
    output = fibersim("stream", "--amqp-url", url, "--channels", "8", "--prr", "100",
                      "--duration", "1s", "--speed", "max")
    assert "summary:" in output and password not in output


def test_scenario_console_report_and_junit_never_contain_the_password(
        secret_account, tmp_path: Path) -> None:
    url, password = secret_account
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    output = fibersim("run", str(SCENARIO), "--amqp-url", url, "--report", str(report),
                      "--junit", str(junit), "--exchange", f"cred-{uuid.uuid4().hex[:8]}")
    assert "PASSED" in output
    for text in (output, report.read_text(), junit.read_text()):
        assert password not in text


def test_connection_errors_never_contain_the_password(secret_account) -> None:
    url, password = secret_account
    wrong_port = url.replace(f":{urlsplit(url).port}/", ":1/")
    output = fibersim("stream", "--amqp-url", wrong_port, "--duration", "1s")
    assert "cannot connect" in output and password not in output


def test_the_environment_variable_is_redacted_too(secret_account) -> None:
    url, password = secret_account
    result = subprocess.run(
        [sys.executable, "-m", "fibersim", "stream", "--channels", "8", "--prr", "100",
         "--duration", "1s", "--speed", "max"],
        check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "FIBERSIM_AMQP_URL": url})
    assert "***" in result.stderr and password not in result.stdout + result.stderr
