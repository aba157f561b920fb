"""Evaluating one scenario expectation against a Focus Server, once.

``ExpectationChecker.evaluate`` runs every check of an expectation (state, live metadata,
configure, generic HTTP, channels, mock counters, request counts, client comparison, log
lines) and returns one ``Verdict``: ok only if all hold, with what was seen for each and
"(want ...)" after everything that did not match. A check that cannot be made here (a log
check with no log source) is reported as unchecked, never as held. Polling, windows and holds
are the runner's business; this module only answers "does it hold right now?".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from fibersim.focus.schemas import MockStatus
from fibersim.probes.clients import ClientTally
from fibersim.probes.http import (
    CONFIGURE_REQUESTS,
    Answer,
    FocusClient,
    ProbeError,
)
from fibersim.probes.logs import LogLines
from fibersim.probes.matching import (
    MISSING,
    Seen,
    Verdict,
    Wanted,
    describe,
    lookup,
    match_fields,
    match_value,
    short,
)
from fibersim.probes.variables import (
    MissingVariable,
    Variables,
    substitute,
    substitute_matcher,
)
from fibersim.scenario.models import (
    AnswerCheck,
    BackoffVersusStorm,
    Comparison,
    ConfigureCheck,
    Expectation,
    HttpCheck,
    LogCheck,
    LogMatch,
    Matcher,
    RequestsCheck,
)
from fibersim.scenario.timeline import VARIABLE

PatternT = TypeVar("PatternT", bound=LogMatch)

#: What a log check without ``count`` wants: at least one line.
AT_LEAST_ONE = Comparison(ge=1)
#: Why log checks are skipped without a log source.
NO_LOG_SOURCE = ("no log source for a separately run server"
                 " (--focus-log-file or --focus-log-cmd)")


@dataclass
class RequestBaseline:
    """The mock's request counters when an event fired, for counts and rates "since" it."""

    at_wall: float
    #: the mock's ``requests`` counters then (``MockStatus.requests``)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Context:
    """What checks refer to besides the server: when labelled steps happened
    (``time.monotonic()``), the variables captured so far, client tallies and baselines."""

    run_start: float = field(default_factory=time.monotonic)
    moments: dict[str, float] = field(default_factory=dict)
    variables: Variables = field(default_factory=dict)
    tallies: dict[str, ClientTally] = field(default_factory=dict)
    baselines: dict[str | None, RequestBaseline] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """A verdict and the variables its answers would capture if it is the one that met."""

    verdict: Verdict
    captured: Variables


class ExpectationChecker:
    """Evaluates expectations against one Focus Server."""

    def __init__(self, client: FocusClient, *, logs: LogLines | None, context: Context) -> None:
        self.client = client
        self.logs = logs
        self.context = context

    async def evaluate(self, expectation: Expectation, due: float) -> Evaluation:
        """Every check of ``expectation`` now (``due``: when it became due, monotonic)."""
        verdicts: list[Verdict] = []
        captured: Variables = {}
        status: MockStatus | None = None
        if expectation.state is not None or expectation.mock or expectation.requests:
            answer = await self._mock_status()
            if isinstance(answer, Verdict):
                return Evaluation(answer, {})
            status = answer
        if expectation.state is not None:
            wanted = ([expectation.state] if isinstance(expectation.state, str)
                      else expectation.state)
            state = status.state if status is not None else None
            holds = state in wanted
            verdicts.append(Verdict(holds, f"state={state}" + (
                "" if holds else f" (want {' or '.join(wanted)})")))
        if expectation.live_metadata:
            verdicts.append(await self._fields("live_metadata", expectation.live_metadata))
        if expectation.live_metadata_exact is not None:
            verdicts.append(await self._fields("live_metadata", expectation.live_metadata_exact,
                                               exact=True))
        if expectation.channels:
            verdicts.append(await self._fields("channels", expectation.channels))
        for check in expectation.as_list("configure"):
            verdicts.append(await self._configure(check, captured))
        for check in expectation.as_list("http"):
            verdicts.append(await self._http(check, captured))
        if expectation.mock and status is not None:  # paths into the status JSON
            verdicts.append(match_fields(status.model_dump(mode="json", by_alias=True),
                                         self._matchers(expectation.mock)))
        if expectation.requests is not None:
            verdicts.append(self._requests(expectation.requests, status))
        if expectation.backoff_vs_storm is not None:
            verdicts.append(self._versus(expectation.backoff_vs_storm))
        for check in expectation.as_list("log"):
            verdicts.append(await self._log(check, due))
        return Evaluation(Verdict.combine(verdicts), captured)

    async def _mock_status(self) -> MockStatus | Verdict:
        try:
            return await self.client.mock_status()
        except ProbeError as error:
            return Verdict(False, str(error))

    async def _fields(self, path: str, matchers: Mapping[str, Matcher], *,
                      exact: bool = False) -> Verdict:
        """Matchers on the JSON object at ``GET path``; ``exact``: and no other key."""
        try:
            answer = await self.client.request("GET", path)
        except ProbeError as error:
            return Verdict(False, str(error))
        if answer.status != 200:
            return Verdict(False, f"GET /{path}: HTTP {answer.status} (want 200)"
                                  f" {answer.error_text[:120]!r}")
        verdict = match_fields(answer.body, self._matchers(matchers))
        extra = sorted(set(answer.body) - set(matchers)) if (
            exact and isinstance(answer.body, dict)) else []
        unexpected = f"; unexpected keys {extra} (want none)" if extra else ""
        return Verdict(verdict.ok and not extra, f"{path}: {verdict.seen}{unexpected}")

    def _matchers(self, matchers: Mapping[str, Matcher]) -> dict[str, Wanted]:
        return {path: substitute_matcher(matcher, self.context.variables)
                for path, matcher in matchers.items()}

    async def _configure(self, check: ConfigureCheck, captured: Variables) -> Verdict:
        try:
            body = substitute(CONFIGURE_REQUESTS[check.request] if isinstance(check.request, str)
                              else check.request, self.context.variables)
        except MissingVariable as error:
            return Verdict(False, f"configure: {error}")
        if self.logs is not None and check.log is not None:
            await self.logs.refresh()  # lines written before the request are not its lines
        sent_at = time.monotonic()
        try:
            answer = await self.client.configure(body)
        except ProbeError as error:
            return Verdict(False, str(error))
        parts = [self._answer("configure", answer, check, captured)]
        if check.error is not None:
            found = check.error in answer.error_text
            parts.append(Verdict(found, f"error text {answer.error_text[:160]!r}" + (
                "" if found else f" (want containing {check.error!r})")))
        if check.log is not None:
            parts.append(await self._log_line(check.log, sent_at))
        return Verdict.combine(parts, ", ")

    async def _http(self, check: HttpCheck, captured: Variables) -> Verdict:
        try:
            path = str(substitute(check.path, self.context.variables))
            query = (substitute(check.query, self.context.variables)
                     if check.query is not None else None)
            body = substitute(check.json_body, self.context.variables)
            headers = {name: value if isinstance(value, str) else json.dumps(value)
                       for name, value in substitute(check.headers or {},
                                                     self.context.variables).items()}
        except MissingVariable as error:
            return Verdict(False, f"{check.method} {check.path}: {error}")
        shown = f"{check.method} {path if check.prefix else '(root) ' + path}"
        try:
            answer = await self.client.request(check.method, path, body, root=not check.prefix,
                                               query=query, headers=headers)
        except ProbeError as error:
            return Verdict(False, str(error))
        return self._answer(shown, answer, check, captured)

    def _answer(self, shown: str, answer: Answer, check: AnswerCheck,
                captured: Variables) -> Verdict:
        """Status, body matchers and text of one answer; captures when all of it holds."""
        statuses = check.statuses()
        status_ok = statuses is None or answer.status in statuses
        seen = f"{shown}: HTTP {answer.status}"
        if not status_ok:
            assert statuses is not None
            seen += (f" (want {' or '.join(map(str, statuses))})"
                     f" {answer.error_text[:120]!r}")
        parts = [Verdict(status_ok, seen)]
        if check.body:
            parts.append(match_fields(answer.body, self._matchers(check.body)))
        if check.text is not None:
            parts.append(_text(answer.text, check.text, self.context.variables))
        verdict = Verdict.combine(parts, ", ")
        if verdict.ok and check.capture:
            read = {name: _capture(answer, source) for name, source in check.capture.items()}
            values = {name: value for name, value in read.items() if value is not MISSING}
            missing = sorted(set(read) - set(values))
            if missing:
                return Verdict(False, f"{verdict.seen}, capture {', '.join(missing)}: absent"
                                      " in the answer (want present)")
            captured.update(values)
            verdict = Verdict(True, verdict.seen + ", captured " + ", ".join(
                f"{name}={short(value)}" for name, value in values.items()))
        return verdict

    async def _matching_lines(self, pattern: LogMatch, since: float
                              ) -> tuple[LogMatch, list[tuple[float, str]]] | Verdict:
        """The pattern with its variables filled in and the lines it matches that arrived at
        or after ``since`` (read afresh); a verdict instead when there is no log to read
        (skipped) or a variable is not set (failed)."""
        logs = self.logs
        if logs is None or logs.broken is not None:
            return Verdict.skipped("log", NO_LOG_SOURCE if logs is None else str(logs.broken))
        try:
            wanted = _with_variables(pattern, self.context.variables)
        except MissingVariable as error:
            return Verdict(False, f"log: {error}")
        await logs.refresh()
        return wanted, [(stamp, line) for stamp, line in logs.since(since)
                        if _log_matches(wanted, line)]

    async def _log_line(self, pattern: LogMatch, since: float) -> Verdict:
        """A line matching ``pattern`` arrived at or after ``since`` (a request's line)."""
        found = await self._matching_lines(pattern, since)
        if isinstance(found, Verdict):
            return found
        wanted, matched = found
        if matched:
            return Verdict(True, f"log {matched[0][1][:200]!r}")
        return Verdict(False, f"no log line since the request (want {wanted.describe()})")

    async def _log(self, check: LogCheck, due: float) -> Verdict:
        """How many lines matching ``check`` arrived since its ``since`` step (or ``due``)."""
        since_name = check.since or "due"
        since = (self.context.run_start if check.since == "start"
                 else self.context.moments.get(check.since, due) if check.since else due)
        found = await self._matching_lines(check, since)
        if isinstance(found, Verdict):
            return found
        wanted_pattern, matched = found
        wanted = check.count if check.count is not None else AT_LEAST_ONE
        ok = match_value(len(matched), wanted)
        seen = f"log {wanted_pattern.describe()}: {len(matched)} line(s) since {since_name}"
        if matched:
            stamp, line = matched[-1]
            seen += f", last at {stamp - self.context.run_start:.2f}s: {line[:200]!r}"
        return Verdict(ok, seen + ("" if ok else f" (want {describe(wanted)})"))

    def _requests(self, check: RequestsCheck, status: MockStatus | None) -> Verdict:
        baseline = self.context.baselines.get(check.since)
        if baseline is None:
            return Verdict(False, f"no request counters recorded at {check.since or 'start'}")
        now = _route_count(status.requests if status is not None else {}, check.route,
                           check.status)
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
                           f" ({rate:.2f}/s, fibersim's own probes not counted)"
                           f"{'' if ok else f' (want {wanted})'}")

    def _versus(self, check: BackoffVersusStorm) -> Verdict:
        tallies = self.context.tallies
        backoff, storm = tallies.get(check.backoff), tallies.get(check.storm)
        if backoff is None or storm is None:
            return Verdict(False, "backoff client or storm not started")
        if backoff.finished_at is None or storm.finished_at is None:
            return Verdict(False, f"still running (storm {storm.requests} requests, backoff"
                                  f" {backoff.requests}; want both finished)")
        ratio = storm.requests / max(1, backoff.requests)
        return Verdict(ratio >= check.fewer_by,
                       f"storm {storm.requests} requests, backoff client {backoff.requests}"
                       f" ({backoff.outcome}): {ratio:.1f}x fewer (want >= {check.fewer_by:g}x)")


def _log_matches(pattern: LogMatch, line: str) -> bool:
    if pattern.regex is not None:
        return re.search(pattern.regex, line) is not None
    assert pattern.contains is not None
    return pattern.contains in line


def _with_variables(pattern: PatternT, variables: Variables) -> PatternT:
    """The pattern with ``${name}`` replaced: as text in ``contains``, escaped in ``regex``."""
    if pattern.contains is not None:
        return pattern.model_copy(update={"contains": str(substitute(pattern.contains,
                                                                      variables))})
    assert pattern.regex is not None
    escaped = {name: re.escape(value if isinstance(value, str) else str(value))
               for name, value in variables.items()}
    return pattern.model_copy(update={"regex": VARIABLE.sub(
        lambda match: _escaped(match.group(1), escaped), pattern.regex)})


def _escaped(name: str, escaped: dict[str, str]) -> str:
    if name not in escaped:
        raise MissingVariable(f"${{{name}}} is not set: the step that captures it was not met")
    return escaped[name]


def _text(text: str, pattern: LogMatch, variables: Variables) -> Verdict:
    try:
        wanted = _with_variables(pattern, variables)
    except MissingVariable as error:
        return Verdict(False, f"text: {error}")
    ok = _log_matches(wanted, text)
    return Verdict(ok, f"text {text[:160]!r}" + ("" if ok else f" (want {wanted.describe()})"))


def _capture(answer: Answer, source: str) -> Seen:
    if source == "status":
        return answer.status
    if source == "text":
        return answer.text
    if source == "body":
        return answer.body
    if source.startswith("headers."):
        name = source.removeprefix("headers.").lower()
        return next((value for key, value in answer.headers.items() if key.lower() == name),
                    MISSING)
    return lookup(answer.body, source.removeprefix("body."))


def _route_count(requests: dict[str, dict[str, int]], route: str, status: int | None) -> int:
    """Requests counted for ``route`` (and ``status``) in the mock's ``requests`` counters."""
    by_status = requests.get(route, {})
    return sum(by_status.values()) if status is None else by_status.get(str(status), 0)
