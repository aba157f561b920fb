"""Worker processes: the same work split over processes the library starts itself.

A ``--workers`` stream runs each share of its fibers in a child made with multiprocessing
(``spawn``): the child gets its share as a Python object through a pipe, so no option is
rebuilt as text and no credential appears on a command line. Each child opts into the
process tuning itself (a spawned interpreter starts untuned).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def _run(target: Callable[[T], int], work: T) -> None:
    sys.exit(target(work))


async def run_in_processes(target: Callable[[T], int], shares: Sequence[T],
                           name: str) -> list[int]:
    """Run ``target(share)`` in a process per share; their exit codes, in order.

    ``target`` must be a module-level function (spawned children import it). If the caller
    is cancelled (Ctrl-C, SIGTERM), the children still running get SIGTERM and are waited
    for, so none outlives the parent. A child killed by signal ``n`` counts as ``128 + n``,
    as a shell reports it.
    """
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_run, args=(target, share), name=f"{name}-{k}")
                 for k, share in enumerate(shares)]
    for process in processes:
        process.start()
    try:
        for process in processes:
            await _exited(process)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
    return [_shell_code(process.exitcode) for process in processes]


async def _exited(process: multiprocessing.process.BaseProcess) -> None:
    """Wait for ``process`` to end without blocking the event loop (its sentinel fd)."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def on_ready() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(process.sentinel, on_ready)
    try:
        await ended
    finally:
        loop.remove_reader(process.sentinel)
    process.join()


def _shell_code(exitcode: int | None) -> int:
    if exitcode is None:
        return 1
    return 128 - exitcode if exitcode < 0 else exitcode
