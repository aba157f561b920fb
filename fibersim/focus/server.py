"""Running the mock for real: the consumer plus uvicorn on a socket, as one async context."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from fibersim.focus.app import create_app
from fibersim.focus.service import FocusMock
from fibersim.focus.settings import FocusSettings
from fibersim.timebase import SYSTEM_CLOCK, Clock
from fibersim.transport import Transport

#: How long uvicorn may take to start listening before serve_focus_mock gives up.
STARTUP_TIMEOUT_S = 10.0


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: whoever embeds the mock owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_focus_mock(settings: FocusSettings, transport: Transport | None, *,
                           host: str = "127.0.0.1", port: int = 0,
                           clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[str]:
    """Consume ``transport`` and serve the API; yields the base URL including the prefix.

    ``transport`` must be connected and stays owned by the caller (``None``: an isolated
    system with no metadata source). ``port`` 0 lets the OS choose a free port. ``clock`` is
    the mock's (``FocusMock``); uvicorn keeps real time.
    """
    async with FocusMock(settings, transport, clock=clock) as mock:
        listener = _listen(host, port)
        config = uvicorn.Config(create_app(mock), log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[listener]), name="focus-mock-http")
        try:
            await _started(server, task)
            bound_host, bound_port = listener.getsockname()[:2]
            yield f"http://{bound_host}:{bound_port}{settings.prefix}"
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task
            listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket created with an explicit IPPROTO_TCP.

    asyncio only sets TCP_NODELAY on connections whose socket says IPPROTO_TCP; with the
    protocol 0 of ``socket.create_server`` every response split in header and body waits for
    a delayed ACK (40 ms), which caps keep-alive clients at about 25 requests a second each.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the mock's HTTP server stopped during start-up")
        if loop.time() > deadline:
            raise TimeoutError("the mock's HTTP server did not start in time")
        await asyncio.sleep(0.01)
