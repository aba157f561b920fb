"""The explicit state machine of the mock: which fiber/server states exist and how they change.

A metadata change while ready is not a state of its own: it is recorded as a transition
``ready -> ready`` with reason ``reconfigured``, so the state stays what clients care about
(can I configure?) while the change stays visible and timed.

Transitions are stamped in epoch seconds, read off the injected monotonic clock
(``EpochStamps``): a scenario compares them with its own wall time, a test on virtual
time gets exact stamps, and a wall clock stepped back by NTP cannot make a later
transition look older than an earlier one.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from enum import StrEnum

from fibersim.focus.logs import log
from fibersim.timebase import SYSTEM_CLOCK, Clock


class FiberState(StrEnum):
    WAITING_FOR_FIBER = "waiting_for_fiber"
    READY = "ready"
    ZERO_PRR = "zero_prr"
    STORE_DOWN = "store_down"  # the core crashed at start because its store is unreachable
    RESTARTING = "restarting"  # the supervisor is (re)starting the core


_S = FiberState
#: Every allowed transition; anything else is a bug in the mock, not a fiber event.
ALLOWED: dict[FiberState, frozenset[FiberState]] = {
    _S.WAITING_FOR_FIBER: frozenset({_S.READY, _S.ZERO_PRR, _S.RESTARTING}),
    _S.READY: frozenset({_S.READY, _S.WAITING_FOR_FIBER, _S.ZERO_PRR, _S.RESTARTING}),
    _S.ZERO_PRR: frozenset({_S.READY, _S.WAITING_FOR_FIBER, _S.RESTARTING}),
    _S.RESTARTING: frozenset({_S.WAITING_FOR_FIBER, _S.STORE_DOWN}),
    _S.STORE_DOWN: frozenset({_S.RESTARTING}),
}

#: Transitions kept for the status endpoint; older ones are dropped so memory stays bounded.
MAX_TRANSITIONS = 1000


@dataclass(frozen=True)
class Transition:
    """One state change, stamped with the wall clock so scenarios can time reactions."""

    at: float
    from_state: FiberState
    to_state: FiberState
    reason: str



class EpochStamps:
    """Epoch seconds that advance with a monotonic ``Clock``: the wall time when they were
    created plus the clock's elapsed time since."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._offset = time.time() - clock.monotonic()

    def now(self) -> float:
        return self._offset + self._clock.monotonic()


class StateMachine:
    """Current state, since when, and the history of transitions."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._stamps = EpochStamps(clock)
        self.state = FiberState.WAITING_FOR_FIBER
        self.since = self._stamps.now()
        self.transitions: collections.deque[Transition] = collections.deque(
            maxlen=MAX_TRANSITIONS)

    def enter(self, state: FiberState, reason: str) -> None:
        """Change state (or record a same-state event such as ``reconfigured``) and log it."""
        if state not in ALLOWED[self.state]:
            raise ValueError(f"illegal transition {self.state} -> {state} ({reason})")
        now = self._stamps.now()
        self.transitions.append(Transition(now, self.state, state, reason))
        log.info("state %s -> %s (%s)", self.state.value, state.value, reason)
        if state is not self.state:
            self.state, self.since = state, now
