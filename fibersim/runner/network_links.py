"""A run's network links: fault proxies put on the paths its ``do: network`` steps name.

* ``broker``: the publisher's AMQP connection goes through a proxy to the broker of
  ``--amqp-url``; the built-in mock's own consumer connects directly, so a fault sits between
  fibersim and the broker only. The embedded in-memory broker has no connection to put a
  fault on: such a step is refused before the run starts (exit 2).
* ``focus``: the run's probes (its HTTP checks) and the clients of ``storm`` and
  ``backoff_client`` reach the Focus Server through a proxy each (one for the probes, one
  for the clients), so a step with ``probes: false`` can spare the probes; the mock's
  control interface (``state``/``mock``/``requests`` checks, watches, restart and store
  events) stays direct, so a run can judge the server from outside the fault while its
  clients suffer it.

A link no step names is not proxied at all: runs without network steps are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit, urlunsplit

from fibersim.netfaults import FaultProxy
from fibersim.probes.http import FocusClient
from fibersim.runner.focus_target import Endpoints, FocusTarget
from fibersim.scenario.network import Network
from fibersim.transport import BrokerSettings

#: default ports of the URL schemes a link may carry
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "http": 80, "https": 443}


def proxied_url(url: str, port: int) -> str:
    """``url`` pointed at 127.0.0.1:``port`` (credentials, path and query kept)."""
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


def proxy_to(url: str, seed: int) -> FaultProxy:
    """A (not yet started) fault proxy to the host and port of ``url``."""
    parts = urlsplit(url)
    return FaultProxy(parts.hostname or "127.0.0.1",
                      parts.port or DEFAULT_PORTS.get(parts.scheme, 80), seed=seed)


def refusal(step: object, broker: BrokerSettings) -> str | None:
    """Why this run cannot carry out ``step`` (None: it can, or it is no network step)."""
    if isinstance(step, Network) and step.link == "broker" and not broker.url:
        return ("a broker-link fault needs a real broker (--amqp-url): the embedded broker"
                " runs in this process, with no connection to put a fault on")
    return None


class NetworkLinks:
    """The proxies of one run, one per link its steps (``finally:`` too) name."""

    def __init__(self, steps: Iterable[object], seed: int) -> None:
        self.links = {step.link for step in steps if isinstance(step, Network)}
        self._seed = seed
        #: "broker", "probes" and "clients" (the two proxies of the focus link)
        self._proxies: dict[str, FaultProxy] = {}
        self._timers: list[asyncio.TimerHandle] = []
        #: the Focus Server as storm and backoff clients reach it (None: directly)
        self.clients_url: str | None = None

    @contextlib.asynccontextmanager
    async def routed(self, broker: BrokerSettings, endpoints: Endpoints, focus: FocusTarget
                     ) -> AsyncIterator[tuple[BrokerSettings, FocusTarget]]:
        """The broker the publisher uses and the Focus Server target the probes and clients
        use, through the proxies of the links in use, for the context's duration."""
        async with contextlib.AsyncExitStack() as stack:
            if "broker" in self.links and broker.url:
                proxy = await self._open("broker", broker.url, stack)
                broker = dataclasses.replace(broker, url=proxied_url(broker.url, proxy.port))
            if "focus" in self.links:
                clients = await self._open("clients", focus.client.base_url, stack)
                self.clients_url = proxied_url(focus.client.base_url, clients.port)
                proxy = await self._open("probes", focus.client.base_url, stack)
                client = FocusClient(
                    proxied_url(focus.client.base_url, proxy.port), insecure=endpoints.insecure,
                    ca_file=endpoints.ca_file, timeout_s=endpoints.request_timeout_s,
                    control_url=focus.control_url, control_token=focus.control_token,
                    probe=True)
                stack.push_async_callback(client.close)
                focus = dataclasses.replace(
                    focus, client=client,
                    description=f"{focus.description} (through a fault proxy)")
            stack.callback(self._cancel_timers)
            yield broker, focus

    async def _open(self, link: str, url: str, stack: contextlib.AsyncExitStack) -> FaultProxy:
        proxy = proxy_to(url, self._seed)
        await proxy.start()
        stack.push_async_callback(proxy.close)
        self._proxies[link] = proxy
        return proxy

    def apply(self, step: Network) -> str:
        """Switch the step's fault on (or every fault off) on the proxies it names; the
        detail line lists what is active on them now."""
        names = (["broker"] if step.link == "broker"
                 else ["clients", "probes"] if step.probes else ["clients"])
        fault = step.to_fault()
        for name in names:
            proxy = self._proxies[name]
            if fault is None:
                proxy.clear()
                continue
            proxy.set_fault(fault, step.proxy_direction)
            if step.duration is not None:
                self._timers.append(asyncio.get_running_loop().call_later(
                    step.duration, proxy.clear, type(fault), step.proxy_direction))
        return "; ".join(f"{name}: {', '.join(self._proxies[name].active()) or 'no fault'}"
                         for name in names)

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
