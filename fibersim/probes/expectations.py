"""Evaluating one scenario expectation against a Focus Server, once.

``ExpectationChecker.evaluate`` runs every check of an expectation (state, live metadata,
configure, channels, mock counters, request counts, client comparison) and returns one
``Verdict``: ok only if all hold, with what was seen for each. Polling, windows and holds are
the runner's business; this module only answers "does it hold right now?".
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from fibersim.probes.clients import ClientTally
from fibersim.probes.http import CONFIGURE_REQUESTS, FocusClient, ProbeError
from fibersim.probes.matching import Verdict, describe, lookup, match_fields, match_value
from fibersim.scenario.models import (
    BackoffVersusStorm,
    ConfigureCheck,
    Expectation,
    RequestsCheck,
)


class LogCapture(logging.Handler):
    """Keeps recent ``pz.focus_server`` records of an in-process mock, stamped with
    ``time.monotonic()`` so a check can ask "which lines did my request cause?"."""

    def __init__(self, capacity: int = 5000) -> None:
        super().__init__(logging.DEBUG)
        self.lines: collections.deque[tuple[float, str]] = collections.deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record as ``LEVEL message``, the part of the real format checks look at."""
        self.lines.append((time.monotonic(), f"{record.levelname} {record.getMessage()}"))

    def since(self, moment: float) -> list[str]:
        """Lines logged at or after ``moment`` (``time.monotonic()``)."""
        return [line for stamp, line in self.lines if stamp >= moment]


@dataclass
class RequestBaseline:
    """The mock's request counters when an event fired, for counts and rates "since" it."""

    at_wall: float
    requests: dict[str, dict[str, int]] = field(default_factory=dict)


class ExpectationChecker:
    """Evaluates expectations against one Focus Server."""

    def __init__(self, client: FocusClient, *, logs: LogCapture | None,
                 tallies: dict[str, ClientTally],
                 baselines: dict[str | None, RequestBaseline]) -> None:
        self.client = client
        self.logs = logs
        self.tallies = tallies
        self.baselines = baselines

    async def evaluate(self, expectation: Expectation) -> Verdict:
        """Every check of ``expectation`` now; ok only if all hold."""
        verdicts: list[Verdict] = []
        status: dict[str, Any] | None = None
        if expectation.state is not None or expectation.mock or expectation.requests:
            fetched = await self._mock_status()
            if isinstance(fetched, Verdict):
                return fetched
            status = fetched
        if expectation.state is not None:
            wanted = ([expectation.state] if isinstance(expectation.state, str)
                      else expectation.state)
            state = status.get("state") if isinstance(status, dict) else None
            verdicts.append(Verdict(state in wanted, f"state={state}"))
        if expectation.live_metadata:
            verdicts.append(await self._fields("live_metadata", expectation.live_metadata))
        if expectation.live_metadata_exact is not None:
            verdicts.append(await self._fields("live_metadata", expectation.live_metadata_exact,
                                               exact=True))
        if expectation.channels:
            verdicts.append(await self._fields("channels", expectation.channels))
        if expectation.configure is not None:
            verdicts.append(await self._configure(expectation.configure))
        if expectation.mock:
            verdicts.append(match_fields(status, expectation.mock))
        if expectation.requests is not None:
            verdicts.append(self._requests(expectation.requests, status))
        if expectation.backoff_vs_storm is not None:
            verdicts.append(self._versus(expectation.backoff_vs_storm))
        return Verdict(all(v.ok for v in verdicts), "; ".join(v.seen for v in verdicts))

    async def _mock_status(self) -> dict[str, Any] | Verdict:
        try:
            answer = await self.client.mock_status()
        except ProbeError as error:
            return Verdict(False, f"mock status: {error}")
        if answer.status != 200 or not isinstance(answer.body, dict):
            return Verdict(False, f"mock status: HTTP {answer.status}")
        return answer.body

    async def _fields(self, path: str, matchers: dict[str, Any], *,
                      exact: bool = False) -> Verdict:
        """Matchers on the JSON object at ``GET path``; ``exact``: and no other key."""
        try:
            answer = await self.client.request("GET", path)
        except ProbeError as error:
            return Verdict(False, str(error))
        if answer.status != 200:
            return Verdict(False, f"GET /{path}: HTTP {answer.status} {answer.error_text[:120]}")
        verdict = match_fields(answer.body, matchers)
        extra = sorted(set(answer.body) - set(matchers)) if (
            exact and isinstance(answer.body, dict)) else []
        unexpected = f"; unexpected keys {extra}" if extra else ""
        return Verdict(verdict.ok and not extra, f"{path}: {verdict.seen}{unexpected}")

    async def _configure(self, check: ConfigureCheck) -> Verdict:
        body = (CONFIGURE_REQUESTS[check.request] if isinstance(check.request, str)
                else check.request)
        sent_at = time.monotonic()
        try:
            answer = await self.client.configure(body)
        except ProbeError as error:
            return Verdict(False, str(error))
        parts = [f"configure: HTTP {answer.status}"]
        ok = answer.status == check.status
        if check.body:
            fields = match_fields(answer.body, check.body)
            ok = ok and fields.ok
            parts.append(fields.seen)
        if check.error is not None:
            found = check.error in answer.error_text
            ok = ok and found
            parts.append(f"error text {answer.error_text[:160]!r}")
        if check.log is not None:
            logged = self._log_line(check.log, sent_at)
            ok = ok and logged.ok
            parts.append(logged.seen)
        return Verdict(ok, ", ".join(parts))

    def _log_line(self, text: str, since: float) -> Verdict:
        if self.logs is None:
            return Verdict(True, "log not checked (Focus Server not in this process)")
        for line in self.logs.since(since):
            if text in line:
                return Verdict(True, f"log {line[:200]!r}")
        return Verdict(False, f"no log line containing {text!r}")

    def _requests(self, check: RequestsCheck, status: dict[str, Any] | None) -> Verdict:
        baseline = self.baselines.get(check.since)
        if baseline is None:
            return Verdict(False, f"no request counters recorded at {check.since or 'start'}")
        now = _route_count(lookup(status, "requests"), check.route, check.status)
        count = now - _route_count(baseline.requests, check.route, check.status)
        elapsed = max(1e-6, time.monotonic() - baseline.at_wall)
        rate = count / elapsed
        ok = ((check.count is None or match_value(count, check.count))
              and (check.rate is None or match_value(rate, check.rate)))
        wanted = " ".join(f"{name} {describe(matcher)}" for name, matcher
                          in (("count", check.count), ("rate", check.rate))
                          if matcher is not None)
        answer = f" {check.status}" if check.status else ""
        return Verdict(ok, f"{check.route}{answer}: {count} requests in {elapsed:.1f}s"
                           f" ({rate:.2f}/s){'' if ok else f' (want {wanted})'}")

    def _versus(self, check: BackoffVersusStorm) -> Verdict:
        backoff, storm = self.tallies.get(check.backoff), self.tallies.get(check.storm)
        if backoff is None or storm is None:
            return Verdict(False, "backoff client or storm not started")
        if backoff.finished_at is None or storm.finished_at is None:
            return Verdict(False, f"still running (storm {storm.requests} requests, backoff"
                                  f" {backoff.requests})")
        ratio = storm.requests / max(1, backoff.requests)
        return Verdict(ratio >= check.fewer_by,
                       f"storm {storm.requests} requests, backoff client {backoff.requests}"
                       f" ({backoff.outcome}): {ratio:.1f}x fewer (want >= {check.fewer_by:g}x)")


def _route_count(requests: Any, route: str, status: int | None) -> int:
    """Requests counted for ``route`` (and ``status``) in the mock's ``requests`` counters."""
    if not isinstance(requests, dict) or not isinstance(requests.get(route), dict):
        return 0
    by_status = requests[route]
    if status is None:
        return sum(value for value in by_status.values() if isinstance(value, int))
    value = by_status.get(str(status), 0)
    return value if isinstance(value, int) else 0

