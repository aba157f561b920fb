"""Figure 6: the mock Focus Server ingesting a full-rate fiber and answering GET /live_metadata.

Three helper processes, so the mock, the publisher and the HTTP client never share a GIL:
the mock (``python -m fibersim.bench.focus serve``), a publisher of full-rate blocks into its
private exchange (``... blast``), and a load generator (``... load``) on keep-alive
connections. The publisher sends one realistic block, synthesised once, under consecutive
sequence numbers and timestamps: what is measured is the mock's ingest, not the simulator's
synthesis (figure 2 measures that). The load generator speaks HTTP/1.1 directly on asyncio
streams, because a general-purpose client (httpx: about 300 requests/s on one core here)
would measure itself instead of the server.
Ingest: blocks the mock counted (``/_mock/status``) per wall second while blocks are published
unpaced. Request rate: measured while blocks are published at 20x real time. Baseline: the
same load against a trivial FastAPI app (``... trivial``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from fibersim.bench.broker import scratch_exchange
from fibersim.bench.report import BenchSettings, Row, ratio
from fibersim.units import parse_speed

TARGET_INGEST = 20.0
TARGET_RPS = 2000.0
CONCURRENCY = 32
BLOCKS_PER_SIM_S = 10
BLAST_WALL_LIMIT_S = 120.0


# -- helper processes ------------------------------------------------------------------------------
async def _serve_mock(exchange: str) -> None:
    from fibersim.focus import FocusSettings, serve_focus_mock
    from fibersim.transport.amqp import AmqpTransport

    transport = AmqpTransport(os.environ["FIBERSIM_AMQP_URL"], exchange=exchange)
    await transport.connect()
    async with serve_focus_mock(FocusSettings(control_enabled=True), transport) as base_url:
        print(base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await transport.close()


async def _serve_trivial() -> None:
    import socket

    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    body = {"dx": 1.02, "prr": 2000.0, "fiber_start_meters": 0.0, "sw_version": "trivial"}

    @app.get("/live_metadata")
    async def live_metadata() -> dict[str, object]:
        return body

    listener = socket.create_server(("127.0.0.1", 0))
    # accepted sockets inherit this: without it, a keep-alive response written in two parts
    # waits for the client's delayed ACK (40 ms per request)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.should_exit = True
    await task


async def _load(url: str, seconds: float, concurrency: int) -> None:
    """Print ``{"requests": ok, "errors": n, "seconds": s}`` for ``seconds`` of GETs of ``url``,
    each of ``concurrency`` keep-alive connections sending its next request on the answer."""
    parts = urlsplit(url)
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    counts = {"requests": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                counts["requests" if status == 200 else "errors"] += 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    print(json.dumps({**counts, "seconds": time.monotonic() - start}))


async def _blast(exchange: str, sim_seconds: float, speed: float) -> None:
    """Publish ``sim_seconds`` of a full-rate fiber (metadata, then data blocks) at ``speed``
    (``inf``: unpaced), re-using one synthesised block."""
    from fibersim.interrogator import Interrogator
    from fibersim.models import FiberConfig
    from fibersim.runner import FiberStreamer, VirtualClock
    from fibersim.transport.amqp import AmqpTransport
    from fibersim.wire import MessageKind

    transport = AmqpTransport(os.environ["FIBERSIM_AMQP_URL"], exchange=exchange)
    await transport.connect()
    streamer = FiberStreamer(Interrogator(FiberConfig(), time.time_ns()), transport,
                             VirtualClock(speed), render_process=False)
    await streamer.connect()
    dialect = streamer.dialect
    template = dialect.decode(streamer.encode_block(streamer.interrogator.peek_block()))
    key = dialect.routing_key(MessageKind.DATA, streamer.fiber_id)
    started = time.monotonic()
    for _ in range(round(sim_seconds * BLOCKS_PER_SIM_S)):
        slot = streamer.interrogator.take_block()
        await streamer.clock.sleep_until(slot.end_time_s)
        block = template.model_copy(update={
            "sequence": slot.sequence, "first_sample_index": slot.first_sample_index,
            "first_sample_time_ns": slot.first_sample_time_ns})
        await transport.publish(key, dialect.encode(block))
        if time.monotonic() - started > BLAST_WALL_LIMIT_S:
            break
    await transport.close()


async def _drain(exchange: str) -> None:
    """Plain aio-pika consumer of the fiber's data: prints "ready", then, once blocks stop
    arriving for a second, ``{"blocks": n, "seconds": first-to-last}``. The ingest baseline:
    what the broker delivers to a consumer that does nothing with the blocks."""
    import aio_pika

    connection = await aio_pika.connect(os.environ["FIBERSIM_AMQP_URL"])
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=64)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange, "das.fiber-0.data")
        times: list[float] = []

        async def count(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            times.append(time.monotonic())
            await message.ack()

        await queue.consume(count)
        print("ready", flush=True)
        while not times or time.monotonic() - times[-1] < 1.0:
            await asyncio.sleep(0.1)
    print(json.dumps({"blocks": len(times), "seconds": times[-1] - times[0]}))


# -- orchestration ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _server(*args: str, env: dict[str, str]) -> Iterator[str]:
    """Start ``python -m fibersim.bench.focus <args>``; yields its URL; stops it by PID on exit."""
    process = subprocess.Popen([sys.executable, "-m", "fibersim.bench.focus", *args],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"helper {args[0]} did not start")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


def _request_rate(url: str, seconds: float) -> float:
    output = subprocess.run(
        [sys.executable, "-m", "fibersim.bench.focus", "load", url, str(seconds), str(CONCURRENCY)],
        check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = json.loads(output)
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} failed requests to {url}")
    return float(result["requests"] / result["seconds"])


def _drain_rate(exchange: str, stream: list[str], env: dict[str, str]) -> float:
    """Simulated seconds per wall second a do-nothing consumer received while ``stream`` ran."""
    drain = subprocess.Popen([sys.executable, "-m", "fibersim.bench.focus", "drain", exchange],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert drain.stdout is not None
        if drain.stdout.readline().strip() != "ready":
            raise RuntimeError("the baseline consumer did not start")
        subprocess.run(stream, env=env, check=True, capture_output=True, timeout=300)
        result = json.loads(drain.communicate(timeout=60)[0])
    finally:
        if drain.poll() is None:
            drain.terminate()
            drain.wait(timeout=10)
    return float(result["blocks"] / BLOCKS_PER_SIM_S / result["seconds"])


def _blocks(client: httpx.Client, base_url: str) -> int:
    return int(client.get(f"{base_url}/_mock/status").json()["counters"]["blocks"])


def _ingest_rate(base_url: str, stream: list[str], env: dict[str, str]) -> float:
    """Simulated seconds per wall second the mock counted while ``stream`` published."""
    with httpx.Client() as client:
        before = _blocks(client, base_url)
        publisher = subprocess.Popen(stream, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        first: float | None = None
        last_change, count = time.monotonic(), before
        while publisher.poll() is None or time.monotonic() - last_change < 1.0:
            now_count = _blocks(client, base_url)
            now = time.monotonic()
            if now_count != count:
                first = first if first is not None else now
                last_change, count = now, now_count
            time.sleep(0.05)
        _, errors = publisher.communicate()
    if publisher.returncode != 0:
        last = (errors.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the block publisher failed: {last}")
    if first is None or last_change <= first:
        raise RuntimeError("the mock counted no data blocks")
    return (count - before) / BLOCKS_PER_SIM_S / (last_change - first)


async def _measure(settings: BenchSettings) -> list[Row]:
    url = settings.amqp_url
    load_s = settings.pick(3.0, 10.0)
    env = {**os.environ, "FIBERSIM_AMQP_URL": url}
    async with scratch_exchange(url) as exchange:
        with _server("serve", exchange, env=env) as base_url:
            def stream(speed: str, duration: float) -> list[str]:
                return [sys.executable, "-m", "fibersim.bench.focus", "blast", exchange,
                        str(duration), speed]

            blast = stream("max", settings.pick(10.0, 30.0))
            ingest = await asyncio.to_thread(_ingest_rate, base_url, blast, env)
            publisher = subprocess.Popen(stream("20", 20 * (load_s + 3)), env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                await asyncio.sleep(1.0)
                busy = await asyncio.to_thread(_request_rate, f"{base_url}/live_metadata", load_s)
            finally:
                publisher.terminate()
                publisher.wait(timeout=30)
        delivered = await asyncio.to_thread(_drain_rate, exchange, blast, env)
        with _server("trivial", env=env) as trivial_url:
            trivial = await asyncio.to_thread(_request_rate, f"{trivial_url}/live_metadata",
                                              load_s)
    return [
        Row("focus", "mock ingest of a full-rate fiber", ingest, "x real time", delivered,
            "plain aio-pika consumer", ratio(ingest, delivered), f">= {TARGET_INGEST:g}x",
            ingest >= TARGET_INGEST),
        Row("focus", "GET /live_metadata while ingesting at 20x", busy, "req/s", trivial,
            "trivial FastAPI app, idle", ratio(busy, trivial), f">= {TARGET_RPS:g} req/s",
            busy >= TARGET_RPS, f"{CONCURRENCY} keep-alive connections"),
    ]


def run(settings: BenchSettings) -> list[Row]:
    return asyncio.run(_measure(settings))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "serve":
        asyncio.run(_serve_mock(arguments[0]))
    elif command == "trivial":
        asyncio.run(_serve_trivial())
    elif command == "drain":
        asyncio.run(_drain(arguments[0]))
    elif command == "blast":
        asyncio.run(_blast(arguments[0], float(arguments[1]), parse_speed(arguments[2])))
    else:
        asyncio.run(_load(arguments[0], float(arguments[1]), int(arguments[2])))
