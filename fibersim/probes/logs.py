"""The Focus Server's log lines, wherever they come from, for log checks.

Lines are kept exactly as the server writes them (timestamp, level, logger, message), each
stamped with ``time.monotonic()`` when fibersim got it, so a check can ask "which lines came
after my request / after the cut?". Three sources feed the same ``LogLines``: the built-in
mock's logger (``LogCapture``), a followed file (``--focus-log-file``, like ``tail -F``) and a
followed command's output (``--focus-log-cmd "kubectl logs -f ..."``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shlex
import time
from pathlib import Path

#: Lines kept (a storm logs several lines a second; a run is minutes).
CAPACITY = 50_000
#: Seconds between two reads of a followed file.
FOLLOW_PERIOD_S = 0.1
#: Longest line kept; longer ones are cut (a log line is a few hundred bytes).
MAX_LINE = 8192


class LogLines:
    """Recent lines of the server, in arrival order, with their arrival time."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.lines: collections.deque[tuple[float, str]] = collections.deque(maxlen=CAPACITY)

    @property
    def broken(self) -> str | None:
        """Why the source cannot deliver lines right now (None while it works): checks are
        then skipped, never judged on lines that could not arrive."""
        return None

    def add(self, line: str) -> None:
        """Keep one line (without its newline)."""
        self.lines.append((time.monotonic(), line.rstrip("\r\n")[:MAX_LINE]))

    def since(self, moment: float) -> list[tuple[float, str]]:
        """``(arrival, line)`` of the lines that arrived at or after ``moment``."""
        return [(stamp, line) for stamp, line in self.lines if stamp >= moment]

    async def refresh(self) -> None:
        """Take in what the source has written so far (followed files read it now)."""

    async def close(self) -> None:
        """Stop following the source."""


class LogCapture(logging.Handler):
    """Puts the in-process mock's records into ``store``, formatted by the handler's
    formatter (the real server's line format when the embedding sets it)."""

    def __init__(self, store: LogLines) -> None:
        super().__init__(logging.DEBUG)
        self.store = store

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record as the server would have written it."""
        self.store.add(self.format(record))


class FileFollower(LogLines):
    """Follows a log file from its current end, like ``tail -F``: new lines only, and from the
    start again when the file is truncated or replaced."""

    def __init__(self, path: str) -> None:
        super().__init__(f"log file {path}")
        self.path = Path(path)
        self._position = 0
        self._identity: tuple[int, int] | None = None
        self._partial = ""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Skip what the file holds now, then follow it."""
        with contextlib.suppress(OSError):
            stat = self.path.stat()
            self._position, self._identity = stat.st_size, (stat.st_dev, stat.st_ino)
        self._task = asyncio.create_task(self._follow(), name="focus-log-file")

    async def refresh(self) -> None:
        self._read()

    @property
    def broken(self) -> str | None:
        return None if self.path.exists() else f"{self.description} does not exist"

    def _read(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) != self._identity or stat.st_size < self._position:
            self._position, self._identity, self._partial = 0, (stat.st_dev, stat.st_ino), ""
        if stat.st_size == self._position:
            return
        with self.path.open("rb") as handle:
            handle.seek(self._position)
            chunk = handle.read(stat.st_size - self._position)
        self._position += len(chunk)
        text = self._partial + chunk.decode("utf-8", "replace")
        *complete, self._partial = text.split("\n")
        for line in complete:
            self.add(line)

    async def _follow(self) -> None:
        while True:
            self._read()
            await asyncio.sleep(FOLLOW_PERIOD_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class CommandFollower(LogLines):
    """Follows the output (stdout and stderr) of a command such as ``kubectl logs -f``; the
    command runs without a shell and is stopped when the run ends."""

    def __init__(self, command: str) -> None:
        self.argv = shlex.split(command)
        super().__init__(f"log command {self.argv[0] if self.argv else ''}")
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the command; ``OSError`` if it cannot be run."""
        if not self.argv:
            raise OSError("empty --focus-log-cmd")
        self._process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(os.environ))
        self._task = asyncio.create_task(self._follow(), name="focus-log-cmd")

    @property
    def broken(self) -> str | None:
        # judged once its output is drained (EOF), so no line it wrote is lost
        if self._process is None or self._task is None or not self._task.done():
            return None
        code = self._process.returncode
        return f"{self.description} exited" + (f" with code {code}" if code is not None else "")

    async def _follow(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        while True:
            try:
                line = await stdout.readline()
            except ValueError:  # a line longer than the stream's limit: keep its start
                line = await stdout.read(MAX_LINE)
            if not line:
                return
            self.add(line.decode("utf-8", "replace"))

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
