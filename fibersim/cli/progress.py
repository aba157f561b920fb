"""A live progress line for long runs: rewritten in place on a terminal, periodic in logs."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable


class ProgressLine:
    """Prints ``render()`` every ``interval`` s (on a TTY) or every ``log_interval`` s (logs)."""

    def __init__(self, render: Callable[[], str], interval: float = 0.5,
                 log_interval: float = 5.0, enabled: bool = True) -> None:
        self._render = render
        self._tty = sys.stderr.isatty()
        self._interval = interval if self._tty else log_interval
        self._enabled = enabled
        self._last = time.monotonic()

    def tick(self) -> None:
        """Print if the interval has passed; cheap to call often."""
        now = time.monotonic()
        if not self._enabled or now - self._last < self._interval:
            return
        self._last = now
        self._print(self._render())

    def done(self) -> None:
        """End the in-place line so the summary starts on a fresh line."""
        if self._enabled and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _print(self, text: str) -> None:
        if self._tty:
            sys.stderr.write("\r\033[K" + text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


@contextlib.asynccontextmanager
async def live_progress(render: Callable[[], str], enabled: bool = True) -> AsyncIterator[None]:
    """Print ``render()`` as a progress line while the body runs (also while it awaits)."""
    progress = ProgressLine(render, enabled=enabled)

    async def tick_forever() -> None:
        while True:
            await asyncio.sleep(0.25)
            progress.tick()

    ticker = asyncio.create_task(tick_forever())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        progress.done()
