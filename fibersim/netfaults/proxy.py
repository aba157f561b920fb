"""An asyncio TCP proxy whose faults can be switched on and off while connections are live.

Every accepted connection gets an upstream connection to the target and two *directions*:
``upstream`` (client -> target) and ``downstream`` (target -> client). Each direction is a
reader task that puts chunks, stamped with their arrival time, on a bounded queue, and a
writer task that applies the faults active *at that moment* and writes. The queue bound and
the writer's ``drain()`` give backpressure: a slowed direction slows its sender instead of
buffering without limit. No thread; ``close()`` ends every task and socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
import ssl
import struct
import time
from collections.abc import Iterable

from fibersim.netfaults.faults import (
    DIRECTIONS,
    Bandwidth,
    Blackhole,
    Direction,
    Fault,
    Latency,
    ResetPeer,
    Slicing,
    SlowClose,
)

#: Bytes read from a socket at once.
CHUNK_BYTES = 65536
#: Chunks a direction may hold between its reader and its writer (at most 4 MiB).
QUEUE_CHUNKS = 64
#: A bandwidth-limited direction writes at most this many seconds' worth of bytes at once.
BANDWIDTH_QUANTUM_S = 0.05
#: ``SO_LINGER`` on, timeout 0: ``close()`` sends a TCP RST instead of a FIN.
_LINGER_RST = struct.pack("ii", 1, 0)
_EOF = b""


class _Connection:
    """One proxied client connection: its two sockets and its four pipe tasks."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client, self.upstream = client, upstream
        self.accepted_at = time.monotonic()
        self.tasks: set[asyncio.Task[None]] = set()
        self.reset_timer: asyncio.TimerHandle | None = None
        #: a blackhole dropped some of its bytes: the stream has a hole
        self.holed = False

    def writers(self) -> tuple[asyncio.StreamWriter, asyncio.StreamWriter]:
        return self.client, self.upstream

    def reset(self) -> None:
        """Both peers see "connection reset by peer": RST on both sockets, tasks ended."""
        for writer in self.writers():
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """Forwards ``listen_host:port`` (0: a free port, see ``port``) to ``target``.

    ``set_fault(fault, direction)`` switches a fault on (replacing one of the same kind in
    that direction), ``clear(kind)`` off; both act on live connections at their next chunk.
    ``cut()`` drops every connection and refuses new ones until ``restore()`` (a broker
    restart or a partition). With ``tls`` the proxy terminates TLS on its listening side.
    """

    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 port: int = 0, tls: ssl.SSLContext | None = None, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_host, self.port, self.tls = listen_host, port, tls
        self.connections_accepted = 0
        self._rng = random.Random(seed)
        self._faults: dict[Direction, dict[type[Fault], Fault]] = {
            direction: {} for direction in DIRECTIONS}
        self._reset: ResetPeer | None = None
        self._reset_since = 0.0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._accepting: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen (on the same port again after ``cut()``)."""
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.port,
                                                  ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and drop every proxied connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._accepting):
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)
        connections = list(self._connections)
        for connection in connections:
            for writer in connection.writers():
                writer.transport.abort()
            for task in connection.tasks:
                task.cancel()
        await asyncio.gather(*(task for connection in connections for task in connection.tasks),
                             return_exceptions=True)

    async def restore(self) -> None:
        """Listen again on the same port after ``cut()``."""
        await self.start()

    async def close(self) -> None:
        """Stop everything; the proxy holds no task or socket afterwards."""
        self.clear()
        await self.cut()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- faults -------------------------------------------------------------------------------
    def set_fault(self, fault: Fault, direction: Direction | None = None) -> None:
        """Switch ``fault`` on in ``direction`` (None: both; ``reset_peer`` has none)."""
        if isinstance(fault, ResetPeer):
            self._reset, self._reset_since = fault, time.monotonic()
            for connection in self._connections:
                self._schedule_reset(connection)
            return
        for each in _directions(direction):
            self._faults[each][type(fault)] = fault

    def clear(self, kind: type[Fault] | None = None, direction: Direction | None = None) -> None:
        """Switch off faults of ``kind`` (None: every kind) in ``direction`` (None: both)."""
        if kind in (None, ResetPeer):
            self._reset = None
            for connection in self._connections:
                if connection.reset_timer is not None:
                    connection.reset_timer.cancel()
                    connection.reset_timer = None
        for each in _directions(direction):
            if kind is None:
                self._faults[each].clear()
            else:
                self._faults[each].pop(kind, None)
        if kind in (None, Blackhole):
            self._reset_holed()

    def _reset_holed(self) -> None:
        """A TCP stream never resumes with bytes missing in the middle: the connection
        would have timed out during the outage. So once no blackhole is left, the
        connections that lost bytes to one are reset, never resumed (a resumed stream would
        break the protocols above: a broker numbers the publishes it received, so its
        confirms would be credited to the wrong messages)."""
        if any(Blackhole in faults for faults in self._faults.values()):
            return
        for connection in [each for each in self._connections if each.holed]:
            self._reset_connection(connection)

    def active(self) -> list[str]:
        """The faults switched on, as text (for logs and reports); one switched on in
        both directions alike is named once, without a direction."""
        up, down = (self._faults[direction] for direction in DIRECTIONS)
        texts = [fault.describe() if down.get(kind) == fault else f"{fault.describe()} upstream"
                 for kind, fault in up.items()]
        texts += [f"{fault.describe()} downstream" for kind, fault in down.items()
                  if up.get(kind) != fault]
        return texts + ([self._reset.describe()] if self._reset else [])

    def _fault(self, direction: Direction, kind: type[Fault]) -> Fault | None:
        return self._faults[direction].get(kind)

    def _schedule_reset(self, connection: _Connection) -> None:
        assert self._reset is not None
        if connection.reset_timer is not None:
            connection.reset_timer.cancel()
        since = max(self._reset_since, connection.accepted_at)
        delay = max(0.0, since + self._reset.timeout_s - time.monotonic())
        connection.reset_timer = asyncio.get_running_loop().call_later(
            delay, self._reset_connection, connection)

    def _reset_connection(self, connection: _Connection) -> None:
        connection.reset()
        self._connections.discard(connection)

    # -- connections --------------------------------------------------------------------------
    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._accepting.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        finally:
            self._accepting.discard(task)
        connection = _Connection(client_writer, upstream_writer)
        self._connections.add(connection)
        pipes: tuple[tuple[Direction, asyncio.StreamReader, asyncio.StreamWriter], ...] = (
            ("upstream", client_reader, upstream_writer),
            ("downstream", upstream_reader, client_writer))
        for direction, reader, writer in pipes:
            queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)
            for coroutine in (self._read(reader, queue),
                              self._write(direction, queue, writer, connection)):
                pipe = asyncio.create_task(coroutine)
                connection.tasks.add(pipe)
                pipe.add_done_callback(functools.partial(self._pipe_ended, connection))
        if self._reset is not None:
            self._schedule_reset(connection)

    @staticmethod
    async def _read(reader: asyncio.StreamReader,
                    queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        """Chunks with their arrival time, then ``_EOF`` (also when the peer went away)."""
        try:
            while data := await reader.read(CHUNK_BYTES):
                await queue.put((time.monotonic(), data))
        except OSError:
            pass
        await queue.put((time.monotonic(), _EOF))

    async def _write(self, direction: Direction, queue: asyncio.Queue[tuple[float, bytes]],
                     writer: asyncio.StreamWriter, connection: _Connection) -> None:
        try:
            while (item := await queue.get())[1]:
                arrived, data = item
                if self._fault(direction, Blackhole) is not None:
                    connection.holed = True  # read, and forwarded nowhere
                    continue
                await self._delay(direction, arrived)
                for piece in self._pieces(direction, data):
                    writer.write(piece)
                    await writer.drain()
                    await self._pace(direction, len(piece))
            slow = self._fault(direction, SlowClose)
            if isinstance(slow, SlowClose):
                await asyncio.sleep(slow.delay_s)
            if writer.can_write_eof():
                writer.write_eof()  # half-close: the other direction may still be talking
            else:
                writer.close()
        except OSError:
            # one side is gone: end the whole connection, as a plain TCP relay would (its
            # readers may wait on a full queue nobody empties any more)
            for other in connection.writers():
                other.transport.abort()
            for task in connection.tasks - {asyncio.current_task()}:
                task.cancel()

    def _pipe_ended(self, connection: _Connection, task: asyncio.Task[None]) -> None:
        """Once all four pipes of a connection ended, close its sockets and forget it."""
        connection.tasks.discard(task)
        if not connection.tasks:
            for writer in connection.writers():
                writer.transport.close()
            if connection.reset_timer is not None:
                connection.reset_timer.cancel()
            self._connections.discard(connection)

    async def _delay(self, direction: Direction, arrived: float) -> None:
        """Latency counts from the chunk's arrival, so it delays without throttling."""
        latency = self._fault(direction, Latency)
        if isinstance(latency, Latency):
            jitter = self._rng.uniform(-latency.jitter_s, latency.jitter_s)
            wait = arrived + max(0.0, latency.delay_s + jitter) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    def _pieces(self, direction: Direction, data: bytes) -> Iterable[bytes]:
        slicing = self._fault(direction, Slicing)
        bandwidth = self._fault(direction, Bandwidth)
        size = len(data)
        if isinstance(slicing, Slicing):
            size = slicing.size_bytes
        if isinstance(bandwidth, Bandwidth):
            size = min(size, max(1, int(bandwidth.bytes_per_s * BANDWIDTH_QUANTUM_S)))
        return (data[start:start + size] for start in range(0, len(data), size))

    async def _pace(self, direction: Direction, written: int) -> None:
        """After each piece: the slicing delay, and the time the bandwidth allows for it."""
        wait = 0.0
        slicing = self._fault(direction, Slicing)
        if isinstance(slicing, Slicing):
            wait += slicing.delay_s
        bandwidth = self._fault(direction, Bandwidth)
        if isinstance(bandwidth, Bandwidth):
            wait += written / bandwidth.bytes_per_s
        if wait > 0:
            await asyncio.sleep(wait)


def _directions(direction: Direction | None) -> tuple[Direction, ...]:
    return DIRECTIONS if direction is None else (direction,)
