"""Shared fixtures. Broker tests use the RabbitMQ at FIBERSIM_TEST_AMQP_URL (default: the
local one); when it is unreachable they skip on a laptop but FAIL under CI=true."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

DEFAULT_TEST_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _broker_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """URL of a real RabbitMQ; required in CI."""
    url = os.environ.get("FIBERSIM_TEST_AMQP_URL", DEFAULT_TEST_AMQP_URL)
    if not _broker_reachable(url):
        message = f"RabbitMQ not reachable at {urlsplit(url).hostname}:{urlsplit(url).port}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: broker tests are required)")
        pytest.skip(message)
    return url


@pytest.fixture
def exchange_name() -> str:
    """A fresh exchange per test, so parallel or leftover streams never mix."""
    return f"fibersim-test-{uuid.uuid4().hex[:12]}"
