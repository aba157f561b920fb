"""Process-wide tuning for programs that publish at full rate: an explicit opt-in.

Both settings change the whole process, not one object, so no library call makes them on
its own: a program that embeds fibersim (the mock Focus Server in a test, pytest itself)
keeps its allocator and collector as they are. The ``fibersim`` command opts in for every
subcommand (``fibersim.cli.main``), and the bench opts in for the figures that measure the
publisher, so pacing and throughput are the same whatever the entry point.
"""

from __future__ import annotations

import ctypes
import functools
import gc

#: Freed heap memory the process keeps for reuse (see ``retain_freed_heap``).
HEAP_RETAIN_BYTES = 64 << 20
#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def retain_freed_heap() -> None:
    """Have the C allocator keep freed memory of message bodies for the next ones.

    Every data block is a fresh ~0.9 MB body, alive until its confirm arrives. By default
    glibc serves blocks that size from fresh mappings or the top of the heap and hands them
    back to the OS on free, so the next body faults its pages in again: about 50 page
    faults per block (about 7% of a full-rate publisher's CPU, measured). Raising the mmap and
    trim thresholds keeps up to ``HEAP_RETAIN_BYTES`` of freed memory for reuse; resident
    memory stays at the confirm window's peak instead of rising and falling with it. Does
    nothing where the C library has no ``mallopt`` (it is a glibc extension).
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, HEAP_RETAIN_BYTES // 4)
        mallopt(_M_TRIM_THRESHOLD, HEAP_RETAIN_BYTES)


def freeze_startup_objects() -> None:
    """Move everything allocated so far out of the garbage collector's reach.

    Call it once start-up is over (modules imported, synthesizers built), just before the
    clock starts. What start-up built lives until the end; a full collection over it takes
    15-30 ms, which would land on some block's deadline as a pacing spike, while later
    collections see only the few objects each block creates.
    """
    gc.freeze()
