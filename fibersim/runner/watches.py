"""Background watches of the mock's state: "was it ever waiting_for_fiber between the cut and
the reconnect?", "did it never leave ready?", "how many times did it go back to ready?".

A watch does not sample the state (a short visit between two polls would be missed): it reads
the mock's own transition history (``GET /_mock/status`` ``transitions``, stamped by the mock's
clock), keeps every transition newer than the last one seen when the watch started, and
replays them from the state at the start. Polling only keeps the history from overflowing the
mock's bounded list during a long watch.
"""

from __future__ import annotations

from fibersim.focus.schemas import MockStatus
from fibersim.probes.http import FocusClient, ProbeError
from fibersim.probes.matching import Verdict, describe, match_value
from fibersim.scenario.models import Watch

Transition = tuple[float, str, str, str]  # at (mock's epoch s), from, to, reason


class StateWatcher:
    """Collects the mock's state changes over a window and judges a ``Watch`` on them."""

    def __init__(self, client: FocusClient, watch: Watch, epoch_start: float) -> None:
        self.client = client
        self.watch = watch
        self.epoch_start = epoch_start
        self.initial: str | None = None
        self.after = float("-inf")
        self.transitions: dict[Transition, None] = {}
        self.error: str | None = None

    async def start(self) -> None:
        """The state now, and the newest transition already in the history."""
        status = await self._status()
        if status is None:
            return
        self.initial = status.state
        history = _transitions(status)
        self.after = max((at for at, *_ in history), default=float("-inf"))

    async def poll(self) -> None:
        """Take in the transitions since the start (the last poll is the window's end)."""
        status = await self._status()
        if status is None:
            return
        if self.initial is None:  # the start could not read the status: start from now
            self.initial = status.state
            self.after = max((at for at, *_ in _transitions(status)), default=float("-inf"))
            return
        for transition in _transitions(status):
            if transition[0] > self.after:
                self.transitions[transition] = None

    async def _status(self) -> MockStatus | None:
        try:
            status = await self.client.mock_status()
        except ProbeError as error:
            self.error = str(error)
            return None
        self.error = None
        return status

    def progress(self) -> str:
        """What the watch has seen so far, for the probes in the report."""
        return self.error or f"{len(self.transitions)} transition(s) since the start"

    def verdict(self) -> Verdict:
        """The watch's verdict over the whole window, with the times the state was seen."""
        if self.initial is None:
            return Verdict(False, f"watch could not read the mock's state: {self.error}")
        changes = sorted(self.transitions)
        parts: list[Verdict] = []
        state = self.watch.state
        if state is not None:
            visits = self._visits(state, changes)
            stayed = self.initial == state and all(to == state for _, _, to, _ in changes)
            ok = {"sometime": bool(visits), "never": not visits,
                  "always": stayed}[self.watch.seen]
            shown = ", ".join(visits) if visits else "never"
            parts.append(Verdict(ok, f"state {state}: {shown}" + (
                "" if ok else f" (want {self.watch.seen} {state})")))
        if self.watch.transitions is not None:
            wanted = self.watch.transitions
            counted = [change for change in changes
                       if (wanted.from_state is None or change[1] == wanted.from_state)
                       and (wanted.to is None or change[2] == wanted.to)
                       and (wanted.reason is None or change[3] == wanted.reason)]
            ok = match_value(len(counted), wanted.count)
            times = ", ".join(f"{change[1]}->{change[2]} at {self._at(change[0])}"
                              for change in counted[:10])
            parts.append(Verdict(ok, f"{len(counted)} transition(s)"
                                     f"{': ' + times if times else ''}"
                                     + ("" if ok else f" (want {describe(wanted.count)})")))
        return Verdict.combine(parts)

    def _visits(self, state: str, changes: list[Transition]) -> list[str]:
        """``from 3.20s to 7.85s`` for every stay in ``state`` during the window."""
        visits: list[str] = []
        entered: str | None = "the start" if self.initial == state else None
        for at, _, to, _ in changes:
            if to == state and entered is None:
                entered = self._at(at)
            elif to != state and entered is not None:
                visits.append(f"from {entered} to {self._at(at)}")
                entered = None
        if entered is not None:
            visits.append(f"from {entered} to the end")
        return visits

    def _at(self, epoch_s: float) -> str:
        return f"{epoch_s - self.epoch_start:.2f}s"


def _transitions(status: MockStatus) -> list[Transition]:
    return [(item.at, item.from_, item.to, item.reason) for item in status.transitions]
