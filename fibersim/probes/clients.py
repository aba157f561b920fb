"""Load-generating clients: the incident's retry storm and the recommended backoff client.

Both run on the wall clock, like the real clients they imitate, and count every request they
send and every answer they get, so a scenario can compare them (incident section 3: the
backoff client must send far fewer requests than the storm).
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field

from fibersim.probes.http import (
    CONFIGURE_REQUESTS,
    Answer,
    FocusClient,
    JsonDocument,
    ProbeError,
)
from fibersim.probes.readiness import backoff_pauses, metadata_is_ready


@dataclass
class ClientTally:
    """Requests one group of clients sent, by ``"<METHOD> <path>"`` and answer."""

    requests: int = 0
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    outcome: str = "running"

    #: answers per wall second since ``started_at``: {answer: [count in second 0, 1, ...]},
    #: for the request-rate chart of the HTML report
    per_second: dict[str, list[int]] = field(default_factory=dict)

    def record(self, route: str, answer: str) -> None:
        """Count one request and its answer (a status, or "no answer")."""
        self.requests += 1
        self.answers[f"{route} -> {answer}"] += 1
        second = int(time.monotonic() - self.started_at)
        counts = self.per_second.setdefault(answer, [])
        counts.extend([0] * (second + 1 - len(counts)))
        counts[second] += 1

    def as_json(self) -> dict[str, object]:
        """The tally for the JSON report."""
        return {"requests": self.requests, "answers": dict(self.answers),
                "outcome": self.outcome, "per_second": self.per_second,
                "wall_s": round((self.finished_at or time.monotonic()) - self.started_at, 3)}


async def _send(client: FocusClient, tally: ClientTally, method: str, path: str,
                body: JsonDocument = None) -> Answer | None:
    """One counted request; the answer, or None when none came."""
    route = f"{method} /{path}"
    try:
        answer = await client.request(method, path, body)
    except ProbeError:
        tally.record(route, "no answer")
        return None
    tally.record(route, str(answer.status))
    return answer


async def run_storm(clients: list[FocusClient], tally: ClientTally, duration_s: float,
                    interval: tuple[float, float], rng: random.Random) -> None:
    """Each client sends both incident requests, pauses 2-3 s, and repeats for ``duration_s``:
    fixed-interval retries whatever the answers, as the incident's test suites did."""
    end = time.monotonic() + duration_s

    async def one(client: FocusClient, pauses: random.Random) -> None:
        while time.monotonic() < end:
            for body in CONFIGURE_REQUESTS.values():
                await _send(client, tally, "POST", "configure", body)
            await asyncio.sleep(max(0.0, min(pauses.uniform(*interval), end - time.monotonic())))

    try:
        await asyncio.gather(*(one(client, random.Random(rng.random())) for client in clients))
        tally.outcome = "finished"
    finally:
        tally.finished_at = time.monotonic()


async def run_backoff_client(client: FocusClient, tally: ClientTally, duration_s: float,
                             base_s: float, cap_s: float, rng: random.Random) -> None:
    """The recommended client: configure only once ``live_metadata`` says the fiber is ready;
    otherwise wait with exponential backoff and full jitter. Stops once configured."""
    end = time.monotonic() + duration_s
    pauses = backoff_pauses(base_s, cap_s, rng)
    try:
        while time.monotonic() < end:
            answer = await _send(client, tally, "GET", "live_metadata")
            if answer is not None and answer.status == 200 and metadata_is_ready(answer.body):
                configured = await _send(client, tally, "POST", "configure",
                                         CONFIGURE_REQUESTS["height_200"])
                if configured is not None and configured.status == 200:
                    tally.outcome = "configured"
                    return
            await asyncio.sleep(max(0.0, min(next(pauses), end - time.monotonic())))
        tally.outcome = "gave up"
    finally:
        tally.finished_at = time.monotonic()
