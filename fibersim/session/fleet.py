"""Which fibers of a fleet this process publishes: ``--fibers``, ``--fiber-ids``, ``--instance``.

Fiber names are ``<prefix><index>``; a fleet is a list of indices, and machines, pods or
worker processes each take a contiguous share of it, so no two ever publish the same fiber.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence

#: Largest fleet ``--fibers`` accepts; far above what one machine sustains at full rate.
MAX_FIBERS = 10_000
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
_ORDINAL = re.compile(r"-(\d+)$")


def parse_ranges(text: str) -> list[int]:
    """``"0-3,8,10-11"`` -> ``[0, 1, 2, 3, 8, 10, 11]``; sorted, duplicates rejected."""
    indices: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"--fiber-ids: {part!r} is not an index or a range like 0-15")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"--fiber-ids: range {part!r} runs backwards")
        if last - first + 1 + len(indices) > MAX_FIBERS:
            raise ValueError(f"--fiber-ids: more than {MAX_FIBERS} fibers")
        indices.extend(range(first, last + 1))
    if len(set(indices)) != len(indices):
        raise ValueError("--fiber-ids: an index appears twice")
    return sorted(indices)


def parse_instance(spec: str, hostname: str | None = None) -> tuple[int, int]:
    """``"3/8"``, ``"fibersim-3/8"`` or ``"hostname/8"`` -> ``(3, 8)``.

    A StatefulSet names its pods ``<name>-<ordinal>`` and sets each pod's hostname to that
    name, so a pod finds its share without any per-pod configuration.
    """
    which, slash, count_text = spec.rpartition("/")
    if not slash or not count_text.isdigit() or int(count_text) < 1:
        raise ValueError(f"--instance {spec!r}: expected I/N, e.g. 3/8, fibersim-3/8, hostname/8")
    if which == "hostname":
        which = hostname if hostname is not None else socket.gethostname()
    if which.isdigit():
        index = int(which)
    else:
        ordinal = _ORDINAL.search(which)
        if ordinal is None:
            raise ValueError(f"--instance: {which!r} does not end in -<ordinal> (like fibersim-3)")
        index = int(ordinal.group(1))
    count = int(count_text)
    if index >= count:
        raise ValueError(f"--instance: no instance {index} among {count} (0..{count - 1})")
    return index, count


def share(items: Sequence[int], index: int, count: int) -> list[int]:
    """Contiguous share ``index`` of ``count`` of ``items``; shares differ by at most one."""
    return list(items[index * len(items) // count:(index + 1) * len(items) // count])


def select_fibers(fibers: int | None, fiber_ids: str | None, instance: str | None) -> list[int]:
    """The fiber indices this process publishes, from the fleet options."""
    if fibers is not None and fiber_ids is not None:
        raise ValueError("give either --fibers (a fleet of N) or --fiber-ids, not both")
    fleet = parse_ranges(fiber_ids) if fiber_ids is not None else list(range(fibers or 1))
    if instance is None:
        return fleet
    index, count = parse_instance(instance)
    mine = share(fleet, index, count)
    if not mine:
        raise ValueError(f"--instance {index}/{count}: no fiber left among {len(fleet)}")
    return mine
