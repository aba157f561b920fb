"""``fibersim conform``: does a dialect carry everything the simulator sends, over a real broker?

Every message kind, every fault event, a reconfiguration and a disconnect are encoded with the
dialect, published on its routing keys to a RabbitMQ exchange of its type, consumed through
its binding keys and decoded again. Each check compares what came back with what was sent,
field by field:

- ``ok``: lossless (or, for a malformed message, rejected with ``WireFormatError``);
- ``limited``: only fields the dialect declares in ``Dialect.limits`` differ, and the check
  says what a consumer therefore cannot see (no sequence number: gaps are invisible);
- ``FAIL``: anything else (an undeclared difference, a decode error, a malformed message
  accepted, a message lost, delayed past the bound, or delivered to another fiber).

By default the exchange is private (``fibersim-conform-<random>``, auto-deleted), so a run
never feeds a live consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fibersim.dialects.base import Dialect
from fibersim.dialects.samples import (
    SAMPLE_CONFIG,
    SAMPLE_START_NS,
    sample_block,
    sample_message,
    sample_metadata,
)
from fibersim.transport import Delivery
from fibersim.wire import (
    DataBlock,
    Envelope,
    Heartbeat,
    MessageKind,
    StatusEvent,
    StatusMessage,
    WireFormatError,
    WireMessage,
    kind_of,
)

FIBER = "conform-0"
#: a second fiber on the same exchange, whose messages must not reach ``FIBER``'s consumer
OTHER_FIBER = "conform-1"
#: wall seconds every message has to come back in
DELIVERY_TIMEOUT_S = 10.0
#: and then how long to wait for messages that should not come (another fiber's)
STRAY_WAIT_S = 0.3

Verdict = Literal["ok", "limited", "FAIL"]


class Rejected:
    """Expected outcome of a malformed message: ``decode`` raises ``WireFormatError``."""


REJECT = Rejected()


@dataclass
class Case:
    """One check: messages to publish (an envelope, or a message to encode) and what the
    consumer must decode from each, in order."""

    name: str
    sends: list[tuple[Envelope, WireMessage | Rejected]]
    #: what a consumer relies on this case for, named when the dialect limits it
    relies_on: str = ""


@dataclass
class CheckResult:
    name: str
    verdict: Verdict
    detail: str


@dataclass
class Report:
    dialect: Dialect
    where: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.verdict != "FAIL" for check in self.checks)

    def lines(self) -> Iterator[str]:
        dialect = self.dialect
        yield f"conform: dialect {dialect.name} ({dialect.summary}) on {self.where}"
        width = max(len(check.name) for check in self.checks)
        for check in self.checks:
            yield f"  {check.verdict:<8} {check.name:<{width}}  {check.detail}"
        if dialect.limits:
            yield "cannot carry (declared by the dialect):"
            for name, consequence in dialect.limits.items():
                yield f"  {name}: {consequence}"
        counts = {verdict: sum(check.verdict == verdict for check in self.checks)
                  for verdict in ("ok", "limited", "FAIL")}
        yield (f"conform: {len(self.checks)} checks: {counts['ok']} ok, {counts['limited']}"
               f" limited, {counts['FAIL']} failed")


def cases(dialect: Dialect) -> list[Case]:
    """What the streamer can send, one check each, in the order of an interrogator's life."""
    def send(*messages: WireMessage) -> list[tuple[Envelope, WireMessage | Rejected]]:
        return [(dialect.encode(message), message) for message in messages]

    def malformed(kind: MessageKind) -> Case:
        return Case(f"corrupt {kind.value} is rejected",
                    [(dialect.malformed(kind, FIBER), REJECT)])

    rows = SAMPLE_CONFIG.samples_per_block
    float_config = SAMPLE_CONFIG.model_copy(update={"dtype": "float32"})
    new_config = SAMPLE_CONFIG.model_copy(update={"number_of_channels": 32, "prr": 200.0,
                                                  "dx": 2.0, "gauge_length_meters": 20.0})
    resumed_at = 100 * rows  # the sample counter runs on while disconnected
    return [
        Case("status connected", send(sample_message(MessageKind.STATUS, FIBER))),
        Case("metadata (connect)", send(sample_metadata(FIBER))),
        Case("heartbeat before any block", send(Heartbeat(
            fiber_id=FIBER, state="connected", last_sequence=None, next_sample_index=0,
            sent_at_ns=SAMPLE_START_NS))),
        Case("data block int16", send(sample_block(FIBER, 0))),
        Case("data block float32", send(sample_block(FIBER, 1, config=float_config))),
        Case("heartbeat", send(sample_message(MessageKind.HEARTBEAT, FIBER))),
        Case("metadata (periodic)", send(sample_metadata(FIBER, reason="periodic"))),
        Case("gap: block 3 skipped", send(sample_block(FIBER, 2), sample_block(FIBER, 4)),
             "seeing the gap"),
        Case("duplicate: block 5 twice", send(sample_block(FIBER, 5)) * 2,
             "recognising the duplicate"),
        Case("reorder: block 7 before 6", send(sample_block(FIBER, 7), sample_block(FIBER, 6)),
             "seeing the late block"),
        Case("corrupt data block is rejected",
             [(dialect.corrupt(dialect.encode(sample_block(FIBER, 8))), REJECT)]),
        malformed(MessageKind.METADATA),
        malformed(MessageKind.HEARTBEAT),
        malformed(MessageKind.STATUS),
        Case("zero PRR (metadata prr 0)", send(
            sample_metadata(FIBER, epoch=1, reason="change", prr=0.0),
            Heartbeat(fiber_id=FIBER, state="zero_prr", last_sequence=8,
                      next_sample_index=9 * rows, sent_at_ns=SAMPLE_START_NS))),
        Case("PRR restored", send(sample_metadata(FIBER, epoch=2, reason="change"),
                                  sample_block(FIBER, 9, epoch=2))),
        Case("reconfiguration: new prr, dx, channels", send(
            sample_metadata(FIBER, epoch=3, reason="change", config=new_config),
            sample_block(FIBER, 10, epoch=3, config=new_config, first_sample_index=10 * rows)),
             "block numbering across a change of block size"),
        Case("clean disconnect (status disconnected)", send(StatusMessage(
            fiber_id=FIBER, event=StatusEvent.DISCONNECTED, sent_at_ns=SAMPLE_START_NS))),
        Case("reconnect: sample index jumps, sequence does not", send(
            sample_message(MessageKind.STATUS, FIBER),
            sample_metadata(FIBER, epoch=3, reason="connect", config=new_config),
            sample_block(FIBER, 11, epoch=3, config=new_config, first_sample_index=resumed_at)),
             "telling a resume from a loss"),
    ]


async def run_conformance(dialect: Dialect, amqp_url: str, *, exchange: str | None = None,
                          ca_file: str | None = None, insecure: bool = False) -> Report:
    """Run every check of ``cases`` over the broker at ``amqp_url``."""
    from fibersim.transport.amqp import AmqpTransport

    topology = dialect.topology
    private = exchange is None
    name = exchange or f"fibersim-conform-{secrets.token_hex(4)}"
    transport = AmqpTransport(amqp_url, exchange=name, exchange_type=topology.exchange_type,
                              durable=topology.durable and not private,
                              persistent=topology.delivery_mode == 2, auto_delete=private,
                              ca_file=ca_file, insecure=insecure)
    report = Report(dialect, f"{transport.description} ({topology.exchange_type}"
                             f"{', private' if private else ''})")
    checks = cases(dialect)
    expected = sum(len(case.sends) for case in checks)
    received: list[Delivery] = []
    all_arrived = asyncio.Event()

    other_fiber: list[Delivery] = []

    async def collect(delivery: Delivery) -> None:
        received.append(delivery)
        if len(received) >= expected:
            all_arrived.set()

    async def collect_other(delivery: Delivery) -> None:
        other_fiber.append(delivery)

    await transport.connect()
    try:
        await transport.subscribe(dialect.binding_keys(FIBER), collect)
        await transport.subscribe(dialect.binding_keys(OTHER_FIBER), collect_other)
        stray = dialect.encode(sample_metadata(OTHER_FIBER))
        await transport.publish(dialect.routing_key(MessageKind.METADATA, OTHER_FIBER), stray)
        for case in checks:
            for envelope, _ in case.sends:
                await transport.publish(dialect.routing_key(envelope.kind, FIBER), envelope)
        await transport.flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                await all_arrived.wait()
        await asyncio.sleep(STRAY_WAIT_S)
    finally:
        await transport.close()
    report.checks.append(_routing(transport.stats.returned, expected, len(received),
                                  len(other_fiber)))
    report.checks.append(_loss_reports(checks))
    if len(received) == expected:
        deliveries = iter(received)
        for case in checks:
            report.checks.append(_judge(dialect, case, [next(deliveries) for _ in case.sends]))
    return report


def _routing(returned: int, expected: int, arrived: int, other_fiber: int) -> CheckResult:
    name = "routing: every message reaches its fiber's binding, and only it"
    if returned:
        return CheckResult(name, "FAIL", f"{returned} message(s) unroutable (returned)")
    if other_fiber != 1:
        return CheckResult(name, "FAIL", f"the other fiber's binding got {other_fiber} messages"
                                         " instead of its 1")
    if arrived < expected:
        return CheckResult(name, "FAIL", f"only {arrived} of {expected} messages arrived within"
                                         f" {DELIVERY_TIMEOUT_S:g}s; no further check possible")
    if arrived > expected:
        return CheckResult(name, "FAIL", f"{arrived - expected} extra message(s): another"
                                         " fiber's messages reach this fiber's binding keys")
    return CheckResult(name, "ok", f"{expected} messages, in order")


def _loss_reports(checks: list[Case]) -> CheckResult:
    """The transport names a block it could not deliver by ``Envelope.sequence``."""
    name = "loss reports: data envelopes carry their block's sequence"
    blocks = [(envelope, sent) for case in checks for envelope, sent in case.sends
              if isinstance(sent, DataBlock)]
    wrong = [sent.sequence for envelope, sent in blocks if envelope.sequence != sent.sequence]
    if wrong:
        return CheckResult(name, "FAIL", f"Envelope.sequence not set for blocks {wrong}: a lost"
                                         " block could not be reported by number")
    return CheckResult(name, "ok", f"{len(blocks)} data envelopes")


def _judge(dialect: Dialect, case: Case, deliveries: list[Delivery]) -> CheckResult:
    limited: list[str] = []
    for (_, sent), delivery in zip(case.sends, deliveries, strict=True):
        try:
            decoded = dialect.decode(delivery.envelope)
        except WireFormatError as error:
            if isinstance(sent, Rejected):
                continue
            return CheckResult(case.name, "FAIL", f"decode failed: {error}")
        if isinstance(sent, Rejected):
            return CheckResult(case.name, "FAIL", "a malformed message was accepted")
        undeclared: list[str] = []
        for difference in differences(sent, decoded):
            (limited if difference in dialect.limits else undeclared).append(difference)
        if undeclared:
            return CheckResult(case.name, "FAIL", f"{', '.join(undeclared)} changed on the way")
    if limited:
        cost = f" (no {case.relies_on})" if case.relies_on else ""
        return CheckResult(case.name, "limited",
                           f"{', '.join(dict.fromkeys(limited))} not carried{cost}")
    rejected = all(isinstance(sent, Rejected) for _, sent in case.sends)
    return CheckResult(case.name, "ok", "rejected (WireFormatError)" if rejected else "lossless")


def differences(sent: WireMessage, decoded: WireMessage) -> list[str]:
    """``<kind>.<field>`` names where ``decoded`` differs from ``sent`` (nested fields dotted,
    samples compared by dtype, shape and value)."""
    kind = kind_of(sent).value
    if kind_of(decoded).value != kind:
        return [f"{kind}.kind"]
    found = []
    if isinstance(sent, DataBlock):
        assert isinstance(decoded, DataBlock)
        if (sent.samples.dtype != decoded.samples.dtype
                or not np.array_equal(sent.samples, decoded.samples)):
            found.append(f"{kind}.samples")
    exclude = {"samples"}
    found += [f"{kind}.{path}" for path in _diff(sent.model_dump(exclude=exclude),
                                                 decoded.model_dump(exclude=exclude))]
    return found


def _diff(sent: dict[str, object], decoded: dict[str, object], prefix: str = "") -> list[str]:
    found = []
    for key, value in sent.items():
        other = decoded.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            found += _diff(value, other, f"{prefix}{key}.")
        elif value != other or type(value) is not type(other):
            found.append(f"{prefix}{key}")
    return found
