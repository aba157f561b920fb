"""Fixtures of the fault tests: a RabbitMQ node of the test module's own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.private_broker import PrivateBroker, available


@pytest.fixture(scope="module")
def private_broker() -> Iterator[PrivateBroker]:
    """A running RabbitMQ node only this module uses (killed, blocked, closed at will).

    Required under CI=true like the shared broker; skipped on a laptop without RabbitMQ.
    """
    if not available():
        message = "rabbitmq-server is not installed: cannot start a private node"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: broker tests are required)")
        pytest.skip(message)
    # not under pytest's temporary directory, which parallel pytest runs prune
    directory = Path(tempfile.mkdtemp(prefix="fibersim-rabbitmq-"))
    broker = PrivateBroker(directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)
