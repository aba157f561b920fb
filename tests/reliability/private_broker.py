"""A RabbitMQ node of a test's own, for faults that must not touch the shared broker.

Killing a broker, raising its memory alarm or closing all its connections would break every
other test using the shared RabbitMQ, so tests that do these start a node with its own name,
ports, data and log directories and cookie (``HOME``), talk to it on 127.0.0.1 only, and
stop it by the PID they started. The data directory survives ``kill()``/``start()``, so a
durable queue outlives a crash like on a real server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
#: Longest a node may take to accept AMQP connections (a loaded CI machine is slow).
START_TIMEOUT_S = 60.0


def available() -> bool:
    return Path(SERVER).exists() and Path(CTL).exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateBroker:
    """One RabbitMQ node in ``directory``: ``start``, ``kill`` (SIGKILL), ``stop``, ``ctl``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.node = f"fibersim-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port = _free_port()
        self.dist_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n")
        (directory / "rabbitmq-env.conf").write_text("")
        (directory / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        base = self.directory
        return dict(
            os.environ, HOME=str(base), RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"), RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(base / "pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )

    def start(self) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        log = (self.directory / "server.out").open("ab")
        self.process = subprocess.Popen([SERVER], env=self._env(), stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited {self.process.returncode}; see "
                                   f"{self.directory / 'server.out'}")
            if self._listening():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"rabbitmq node did not listen within {START_TIMEOUT_S:g} s")

    def kill(self) -> None:
        """SIGKILL the node, like a crash or an OOM kill: no clean shutdown."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after 20 s)."""
        self._signal(signal.SIGTERM)

    def _signal(self, signum: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signum)  # its own session: the node and its helpers only
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # the Erlang VM is a child of the start script: wait until it let go of the port
        deadline = time.monotonic() + 20
        while self._listening() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5):
                return True
        except OSError:
            return False

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl -n <this node> ARGS``."""
        done = subprocess.run([CTL, "-n", self.node, *args], env=self._env(),
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout
