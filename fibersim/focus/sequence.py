"""Data-block sequence accounting: gaps, missing blocks, duplicates and late (reordered) blocks.

A block that arrives after a later one was seen either fills a hole (reordered: the hole and
its missing count shrink again) or repeats one already seen (duplicate). Memory stays bounded:
only the most recent sequence numbers and holes are remembered; older holes stay counted as
missing for good.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from enum import StrEnum

#: Sequence numbers remembered for duplicate detection, and holes remembered for late arrivals.
WINDOW = 4096
#: A forward jump larger than this (about 2.8 h of 0.1 s blocks) is not a gap but a publisher
#: that started over or a corrupt number: the tracker starts afresh instead of counting it.
MAX_JUMP = 100_000


class Arrival(StrEnum):
    IN_ORDER = "in_order"
    AFTER_GAP = "after_gap"
    DUPLICATE = "duplicate"
    REORDERED = "reordered"


@dataclass
class SequenceTracker:
    """Classifies each arriving sequence number and keeps the counts the status shows."""

    gaps: int = 0
    missing_blocks: int = 0
    duplicates: int = 0
    reordered: int = 0
    #: times the tracker started afresh: a new publisher session, or an absurd jump
    resyncs: int = 0
    _session: str | None = None
    _next: int | None = None
    _seen: collections.OrderedDict[int, None] = field(default_factory=collections.OrderedDict)
    #: missing sequence -> id of the gap it belongs to; gap id -> blocks still missing in it
    _hole_of: collections.OrderedDict[int, int] = field(default_factory=collections.OrderedDict)
    _hole_left: dict[int, int] = field(default_factory=dict)

    def observe(self, sequence: int, session: str | None = None) -> Arrival:
        """Classify ``sequence``; ``session`` is the publisher's ``x-fibersim-session``.

        Sequence numbers only compare within one publisher session, so a new session (a
        restarted publisher, or a second one on the fiber) starts the tracking afresh, as
        does a number that jumps more than ``MAX_JUMP`` ahead or falls behind everything
        remembered: one poisoned block cannot make every later one a duplicate.
        """
        if session is not None and session != self._session:
            if self._session is not None:
                self.resyncs += 1
            self._session = session
            self.forget_position()
        elif self._next is not None and self._absurd(sequence):
            self.resyncs += 1
            self.forget_position()
        if self._next is None or sequence == self._next:
            arrival = Arrival.IN_ORDER
        elif sequence > self._next:
            arrival = Arrival.AFTER_GAP
            self._open_gap(self._next, sequence)
        elif sequence in self._hole_of:
            self._fill(sequence)
            return Arrival.REORDERED
        else:
            self.duplicates += 1
            return Arrival.DUPLICATE
        self._next = sequence + 1
        self._remember(sequence)
        return arrival

    def _absurd(self, sequence: int) -> bool:
        assert self._next is not None
        if sequence > self._next + MAX_JUMP:
            return True
        return (sequence < self._next - WINDOW and sequence not in self._seen
                and sequence not in self._hole_of)

    def _open_gap(self, first_missing: int, arrived: int) -> None:
        gap_id = arrived
        self.gaps += 1
        self.missing_blocks += arrived - first_missing
        remembered = range(max(first_missing, arrived - WINDOW), arrived)
        # a gap wider than the window can never be filled completely: one extra count keeps
        # it open for good
        self._hole_left[gap_id] = len(remembered) + (len(remembered) < arrived - first_missing)
        for missing in remembered:
            self._hole_of[missing] = gap_id
        while len(self._hole_of) > WINDOW:
            _, old_gap = self._hole_of.popitem(last=False)
            self._hole_left[old_gap] -= 1
            if self._hole_left[old_gap] == 0:
                del self._hole_left[old_gap]

    def _fill(self, sequence: int) -> None:
        gap_id = self._hole_of.pop(sequence)
        self.reordered += 1
        self.missing_blocks -= 1
        self._hole_left[gap_id] -= 1
        if self._hole_left[gap_id] == 0:
            del self._hole_left[gap_id]
            self.gaps -= 1
        self._remember(sequence)

    def _remember(self, sequence: int) -> None:
        self._seen[sequence] = None
        if len(self._seen) > WINDOW:
            self._seen.popitem(last=False)

    def forget_position(self) -> None:
        """A restarted core knows no previous sequence: the next block starts afresh."""
        self._next = None
        self._seen.clear()
        self._hole_of.clear()
        self._hole_left.clear()
