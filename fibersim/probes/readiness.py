"""Waiting for a Focus Server to have live fiber metadata, the way the incident report
recommends: check ``live_metadata`` before configuring, and between checks back off
exponentially with full jitter instead of retrying at a fixed interval."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from fibersim.models import WAITING_FOR_FIBER
from fibersim.probes.http import FocusClient, JsonDocument, ProbeError


def metadata_is_ready(body: JsonDocument) -> bool:
    """prr > 0 and no "waiting for fiber" sentinel: the check a client makes before configuring.

    Works on any JSON body, since a real server may add fields fibersim does not model.
    """
    if not isinstance(body, dict):
        return False
    prr = body.get("prr")
    return (isinstance(prr, (int, float)) and not isinstance(prr, bool) and prr > 0
            and WAITING_FOR_FIBER not in (body.get("sw_version"), body.get("fiber_description")))


def backoff_pauses(base_s: float, cap_s: float, rng: random.Random) -> Iterator[float]:
    """Exponential backoff with full jitter: pause n is uniform in [0, min(cap, base * 2^n)]."""
    attempt = 0
    while True:
        yield rng.uniform(0.0, min(cap_s, base_s * 2 ** min(attempt, 62)))
        attempt += 1


@dataclass(frozen=True)
class Readiness:
    """The outcome of waiting: ready or not, what was seen last, how long and how many tries."""

    ready: bool
    reachable: bool
    last_seen: str
    attempts: int
    waited_s: float


async def wait_until_ready(client: FocusClient, timeout_s: float, *, base_s: float = 0.5,
                           cap_s: float = 10.0, rng: random.Random | None = None) -> Readiness:
    """Poll ``GET live_metadata`` until ready or ``timeout_s`` passes; never sleeps past it."""
    started = time.monotonic()
    deadline = started + timeout_s
    pauses = backoff_pauses(base_s, cap_s, rng or random.Random())
    attempts, reachable, last_seen = 0, False, "no answer yet"
    while True:
        attempts += 1
        try:
            answer = await client.live_metadata()
        except ProbeError as error:
            last_seen = str(error)
        else:
            reachable = True
            last_seen = f"HTTP {answer.status} {describe_metadata(answer.body)}"
            if answer.status == 200 and metadata_is_ready(answer.body):
                return Readiness(True, True, last_seen, attempts, time.monotonic() - started)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Readiness(False, reachable, last_seen, attempts, time.monotonic() - started)
        await asyncio.sleep(min(next(pauses), remaining))


def describe_metadata(body: JsonDocument) -> str:
    """A one-line view of a live_metadata body: the fields that decide readiness."""
    if not isinstance(body, dict):
        return "(not a JSON object)"
    keys = ("prr", "dx", "sw_version", "number_of_channels")
    return " ".join(f"{key}={body.get(key)!r}" for key in keys if key in body)
