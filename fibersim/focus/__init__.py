"""A mock Focus Server: consumes a fiber from the wire and serves the real server's HTTP API.

Embedding (what the scenario runner does)::

    async with serve_focus_mock(FocusSettings(behaviour="fixed"), transport) as base_url:
        ...  # base_url like "http://127.0.0.1:43121/focus-server"

Tests can drive the app in-process: ``async with FocusMock(settings, transport) as mock`` and
``httpx.ASGITransport(app=create_app(mock))``. See docs/focus-mock.md.
"""

from fibersim.focus.app import create_app
from fibersim.focus.server import serve_focus_mock
from fibersim.focus.service import FocusMock
from fibersim.focus.settings import Behaviour, FocusSettings, ReconfigurePolicy
from fibersim.focus.states import FiberState

__all__ = [
    "Behaviour",
    "FiberState",
    "FocusMock",
    "FocusSettings",
    "ReconfigurePolicy",
    "create_app",
    "serve_focus_mock",
]
