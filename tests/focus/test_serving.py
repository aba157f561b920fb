"""Running the mock: the embedding API used by the scenario runner, and the CLI command."""

from __future__ import annotations

import ast
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from click.testing import CliRunner

from fibersim.cli.focus_mock import focus_mock
from fibersim.focus import FocusSettings, serve_focus_mock
from fibersim.focus import app as focus_app
from fibersim.transport import MemoryBroker, MemoryTransport
from tests.focus.harness import WAITING_JSON


async def test_serve_yields_a_base_url_with_the_prefix_on_a_free_port() -> None:
    async with serve_focus_mock(FocusSettings(), MemoryTransport(MemoryBroker())) as url:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1",
                                                             "/focus-server")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/live_metadata")).content == WAITING_JSON


async def test_serve_stops_listening_on_exit() -> None:
    async with serve_focus_mock(FocusSettings(), MemoryTransport(MemoryBroker())) as url:
        port = urlsplit(url).port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_keep_alive_requests_do_not_wait_for_delayed_acks() -> None:
    async with serve_focus_mock(FocusSettings(), MemoryTransport(MemoryBroker())) as url, \
            httpx.AsyncClient(base_url=url) as client:
        await client.get("/ack")
        started = time.perf_counter()
        for _ in range(50):
            await client.get("/live_metadata")
        assert time.perf_counter() - started < 1.0  # 40 ms delayed ACKs would take 2 s


def test_the_command_help_explains_the_embedded_broker_and_the_options() -> None:
    result = CliRunner().invoke(focus_mock, ["--help"])
    assert result.exit_code == 0
    for text in ("--amqp-url", "--behaviour", "--reconfigure-policy", "--metadata-timeout",
                 "--control-token", "in-memory broker", "waiting for fiber"):
        assert text in result.output


def test_the_command_rejects_a_bad_fiber_id() -> None:
    result = CliRunner().invoke(focus_mock, ["--fiber-id", "no spaces"])
    assert (result.exit_code != 0 and "--fiber_id" in result.output) or "fiber" in result.output


def test_the_http_layer_changes_the_mock_only_through_its_methods() -> None:
    """app.py assigns no attribute of the mock's objects (only its own: ``self.``, and the
    FastAPI ``app.state``) and clears none of their containers: state changes are the
    domain's, named by its methods (``reset_request_counts``, ``attach_consumer``, ...)."""
    tree = ast.parse(Path(focus_app.__file__).read_text())
    assigned = [ast.unparse(target) for node in ast.walk(tree)
                if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Attribute | ast.Subscript)]
    cleared = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr == "clear"]
    assert [name for name in assigned if not name.startswith(("self.", "app.state."))] == []
    assert cleared == []
