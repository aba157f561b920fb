"""A mock Focus Server: consumes a fiber from the wire and serves the real server's HTTP API.

Embedding (what the scenario runner does)::

    async with serve_focus_mock(FocusSettings(behaviour="fixed"), transport) as base_url:
        ...  # base_url like "http://127.0.0.1:43121/focus-server"

Tests can drive the app in-process: ``async with FocusMock(settings, transport) as mock`` and
``httpx.ASGITransport(app=create_app(mock))``. See docs/focus-mock.md.

``create_app`` and ``serve_focus_mock`` load FastAPI and uvicorn, so they are imported on
first use: a reader of the status model (``fibersim.focus.schemas``, used by the probes and
the reports) does not pay for a web server it does not run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fibersim.focus.service import FocusMock
from fibersim.focus.settings import Behaviour, FocusSettings, ReconfigurePolicy
from fibersim.focus.states import FiberState

if TYPE_CHECKING:
    from fibersim.focus.app import create_app
    from fibersim.focus.server import serve_focus_mock

__all__ = [
    "Behaviour",
    "FiberState",
    "FocusMock",
    "FocusSettings",
    "ReconfigurePolicy",
    "create_app",
    "serve_focus_mock",
]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from fibersim.focus.app import create_app

        return create_app
    if name == "serve_focus_mock":
        from fibersim.focus.server import serve_focus_mock

        return serve_focus_mock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
