"""Where a scenario's Focus Server is: the built-in mock in this process, or a separate server.

The three run modes differ only here: with no ``focus_url`` the mock is started in-process on
the same broker (embedded in-memory, or the real RabbitMQ of the run's ``BrokerSettings``)
and its log lines
are captured, formatted exactly as the server writes them, for log checks; with a
``focus_url`` the scenario talks to that server, the mock's status/control interface is
available only through ``focus_control_url``, and log lines only from a followed file
(``focus_log_file``) or command (``focus_log_cmd``).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fibersim.dialects import load_dialect, open_broker
from fibersim.errors import InputError, UnreachableError
from fibersim.probes.http import FocusClient
from fibersim.probes.logs import CommandFollower, FileFollower, LogCapture, LogLines
from fibersim.redact import redact_url
from fibersim.scenario.models import Scenario
from fibersim.transport import BrokerSettings, MemoryBroker, Transport

#: Seconds the Focus Server has to answer its first request before the run is abandoned.
REACHABLE_WITHIN_S = 5.0


@dataclass(frozen=True)
class Endpoints:
    """How to reach the Focus Server (command-line settings); the broker is the run's
    ``BrokerSettings``, passed beside it."""

    focus_url: str | None = None
    focus_control_url: str | None = None
    #: never shown: not in ``repr``, so an ``Endpoints`` may be logged as it is
    focus_control_token: str | None = field(default=None, repr=False)
    #: TLS of the Focus Server's HTTPS (the same options as the broker's on the command line)
    insecure: bool = False
    ca_file: str | None = None
    request_timeout_s: float = 3.0
    focus_log_file: str | None = None
    focus_log_cmd: str | None = None

    def mode(self, broker: BrokerSettings) -> str:
        """``embedded``, ``broker+mock`` or ``external``, for reports."""
        if self.focus_url:
            return "external"
        return "broker+mock" if broker.url else "embedded"

    @property
    def has_control(self) -> bool:
        """Whether the mock's status/control interface can be reached."""
        return self.focus_url is None or self.focus_control_url is not None


@dataclass
class FocusTarget:
    """An open connection to the scenario's Focus Server."""

    client: FocusClient
    logs: LogLines | None
    description: str
    #: the base URL of the control interface, for exec steps (None without one)
    control_url: str | None = None
    control_token: str | None = None


async def connect(transport: Transport, settings: BrokerSettings) -> None:
    """Connect, turning a refused or timed-out broker into exit code 3."""
    try:
        await transport.connect()
    except (ConnectionError, OSError, TimeoutError) as error:
        # the transport's message names the reason and already hides the password
        reason = settings.scrubbed(" ".join(str(error).split())) or type(error).__name__
        raise UnreachableError(f"broker unreachable: {reason}") from None


@contextlib.asynccontextmanager
async def open_focus(scenario: Scenario, endpoints: Endpoints, settings: BrokerSettings,
                     broker: MemoryBroker, dialect: str) -> AsyncIterator[FocusTarget]:
    """The scenario's Focus Server, reachable, for the duration of the context; the built-in
    mock consumes ``dialect`` (an installed name or ``module:attribute``) from the broker of
    ``settings`` (``broker`` if that is the in-memory one)."""
    if endpoints.focus_url:
        client = _client(endpoints, endpoints.focus_url, endpoints.focus_control_url,
                         endpoints.focus_control_token)
        logs = await _follow_logs(endpoints)
        try:
            await client.wait_reachable(REACHABLE_WITHIN_S)
            yield FocusTarget(client, logs, f"Focus Server {redact_url(endpoints.focus_url)}",
                              endpoints.focus_control_url, endpoints.focus_control_token)
        finally:
            await client.close()
            if logs is not None:
                await logs.close()
        return
    async with _embedded_mock(scenario, endpoints, settings, broker, dialect) as target:
        yield target


@contextlib.asynccontextmanager
async def _embedded_mock(scenario: Scenario, endpoints: Endpoints, broker_settings: BrokerSettings,
                         broker: MemoryBroker, dialect: str) -> AsyncIterator[FocusTarget]:
    from fibersim.focus import FocusSettings, serve_focus_mock
    from fibersim.focus.logs import FocusServerFormatter

    mock_settings = scenario.focus_mock
    control_token = secrets.token_urlsafe(16)  # only this run may restart its mock
    settings = FocusSettings(
        behaviour=mock_settings.behaviour,
        reconfigure_policy=mock_settings.reconfigure_policy,
        fiber_id=scenario.fiber.fiber_id,
        channels=scenario.fiber.channels,
        dialect=dialect,
        control_enabled=True,
        control_token=control_token,
        **({"metadata_timeout_s": mock_settings.metadata_timeout}
           if mock_settings.metadata_timeout else {}),
    )
    transport = open_broker(broker_settings, dialect=load_dialect(dialect), broker=broker)
    await connect(transport, broker_settings)
    logs = LogLines("the built-in mock's log")
    capture = LogCapture(logs)
    capture.setFormatter(FocusServerFormatter())
    logger = logging.getLogger("pz.focus_server")
    previous = logger.level, logger.propagate
    logger.addHandler(capture)
    # Capture INFO lines for log expectations, but show the mock's lines on the console only
    # when the user asked for info logs (-v): a storm would otherwise bury the step lines.
    logger.propagate = logging.getLogger().getEffectiveLevel() <= logging.INFO
    logger.setLevel(logging.INFO)
    try:
        async with serve_focus_mock(settings, transport) as base_url:
            client = _client(endpoints, base_url, base_url, control_token)
            try:
                await client.wait_reachable(REACHABLE_WITHIN_S)
                yield FocusTarget(client, logs, f"built-in mock Focus Server {base_url}",
                                  base_url, control_token)
            finally:
                await client.close()
    finally:
        logger.removeHandler(capture)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
        await transport.close()


async def _follow_logs(endpoints: Endpoints) -> LogLines | None:
    """The separately run server's log lines, if a source was given."""
    if endpoints.focus_log_file:
        follower = FileFollower(endpoints.focus_log_file)
        follower.start()
        return follower
    if endpoints.focus_log_cmd:
        command = CommandFollower(endpoints.focus_log_cmd)
        try:
            await command.start()
        except OSError as error:  # a program that is not there: bad input, exit 2
            raise InputError(f"cannot run {command.argv[0] if command.argv else 'it'}:"
                             f" {error.strerror or error}", field="--focus-log-cmd") from None
        return command
    return None


def _client(endpoints: Endpoints, base_url: str, control_url: str | None,
            control_token: str | None) -> FocusClient:
    return FocusClient(base_url, insecure=endpoints.insecure, ca_file=endpoints.ca_file,
                       timeout_s=endpoints.request_timeout_s, control_url=control_url,
                       control_token=control_token, probe=True)
