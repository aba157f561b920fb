"""Worker processes started by the library: exit codes in order, none outliving a cancel."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from fibersim.session.workers import run_in_processes


def exit_with(code: int) -> int:
    """A worker that ends at once with ``code``."""
    return code


def linger(pid_file: str) -> int:
    """A worker that records its pid and then runs far longer than any test."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(60)
    return 0


async def test_each_share_runs_in_its_own_process_and_reports_its_exit_code() -> None:
    assert await run_in_processes(exit_with, [0, 3, 1], "test") == [0, 3, 1]


async def test_cancelling_the_parent_ends_every_worker(tmp_path: Path) -> None:
    pid_files = [str(tmp_path / f"{k}.pid") for k in range(2)]
    task = asyncio.create_task(run_in_processes(linger, pid_files, "test"))
    deadline = time.monotonic() + 30
    while not all(Path(p).exists() and Path(p).read_text() for p in pid_files):
        assert time.monotonic() < deadline, "workers did not start"
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for path in pid_files:
        with pytest.raises(ProcessLookupError):
            os.kill(int(Path(path).read_text()), 0)
