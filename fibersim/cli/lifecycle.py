"""Running a command's coroutine with clean shutdown on Ctrl-C and SIGTERM.

The first signal cancels the main task, whose ``finally`` blocks flush in-flight confirms and
write partial reports; the command then exits 130 (SIGINT) or 143 (SIGTERM) as shells expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine, Iterator
from typing import Any

import click

from fibersim.errors import UnreachableError

_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` to completion and return its exit code, or 130/143 if interrupted."""
    received: list[signal.Signals] = []

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in _EXIT_CODES:
            loop.add_signal_handler(signum, _interrupt, task, signum, received)
        try:
            return await main
        except asyncio.CancelledError:
            if not received:
                raise
            return _EXIT_CODES[received[0]]
        finally:
            for signum in _EXIT_CODES:
                loop.remove_signal_handler(signum)

    code = asyncio.run(runner())
    if received:
        click.echo(f"fibersim: interrupted by {received[0].name}", err=True)
    return code


def _interrupt(task: asyncio.Task[Any], signum: signal.Signals,
               received: list[signal.Signals]) -> None:
    if not received:
        received.append(signum)
        task.cancel()


def exit_with(code: int) -> None:
    """End the command with ``code`` (click's standalone mode is off in ``main``)."""
    sys.exit(code)


@contextlib.contextmanager
def metrics_served(address: tuple[str, int] | None) -> Iterator[None]:
    """Serve ``--metrics-port`` (if given) for the duration of the command, saying where."""
    if address is None:
        yield
        return
    from fibersim.metrics import MetricsServer

    try:
        server = MetricsServer(*address)
    except OSError as error:
        raise UnreachableError(f"--metrics-port {address[0]}:{address[1]}: cannot listen:"
                               f" {error.strerror}") from None
    click.echo(f"metrics at {server.url}", err=True)
    try:
        yield
    finally:
        server.close()
