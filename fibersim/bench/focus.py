"""Figure 6: the mock Focus Server ingesting a full-rate fiber and answering GET /live_metadata.

Three helper processes, so the mock, the publisher and the HTTP client never share a GIL:
the mock (``python -m fibersim.bench.focus serve``), ``fibersim stream`` publishing into its
private exchange, and an httpx load generator (``... load``) with keep-alive connections.
Ingest: blocks the mock counted (``/_mock/status``) per wall second while a stream is
published at max speed. Request rate: measured while a stream is published at 20x real time
into the mock. Baseline: the same load against a trivial FastAPI app (``... trivial``).
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

import httpx

from fibersim.bench.broker import scratch_exchange
from fibersim.bench.report import BenchSettings, Row, fibersim_command, ratio

TARGET_INGEST = 20.0
TARGET_RPS = 2000.0
CONCURRENCY = 32
BLOCKS_PER_SIM_S = 10


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
    """Print ``{"requests": ok, "errors": n, "seconds": s}`` for ``seconds`` of GETs of ``url``."""
    counts = {"requests": 0, "errors": 0}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    response = await client.get(url)
                    counts["requests" if response.status_code == 200 else "errors"] += 1
                except httpx.HTTPError:
                    counts["errors"] += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps({**counts, "seconds": time.monotonic() - start}))


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
    return result["requests"] / result["seconds"]


def _blocks(client: httpx.Client, base_url: str) -> int:
    return int(client.get(f"{base_url}/_mock/status").json()["counters"]["blocks"])


def _ingest_rate(base_url: str, stream: list[str], env: dict[str, str]) -> float:
    """Simulated seconds per wall second the mock counted while ``stream`` published."""
    with httpx.Client() as client:
        before = _blocks(client, base_url)
        publisher = subprocess.Popen(stream, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        first: float | None = None
        last_change, count = time.monotonic(), before
        while publisher.poll() is None or time.monotonic() - last_change < 1.0:
            now_count = _blocks(client, base_url)
            now = time.monotonic()
            if now_count != count:
                first = first if first is not None else now
                last_change, count = now, now_count
            time.sleep(0.05)
        publisher.wait()
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
                return fibersim_command("stream", "--exchange", exchange, "--speed", speed,
                                        "--duration", f"{duration}s", "--quiet")

            ingest = await asyncio.to_thread(
                _ingest_rate, base_url, stream("max", settings.pick(10.0, 30.0)), env)
            publisher = subprocess.Popen(stream("20", 20 * (load_s + 3)), env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                await asyncio.sleep(1.0)
                busy = await asyncio.to_thread(_request_rate, f"{base_url}/live_metadata", load_s)
            finally:
                publisher.terminate()
                publisher.wait(timeout=30)
        with _server("trivial", env=env) as trivial_url:
            trivial = await asyncio.to_thread(_request_rate, f"{trivial_url}/live_metadata",
                                              load_s)
    return [
        Row("focus", "mock ingest of a full-rate fiber", ingest, "x real time", None, "", None,
            f">= {TARGET_INGEST:g}x", ingest >= TARGET_INGEST),
        Row("focus", "GET /live_metadata while ingesting at 20x", busy, "req/s", trivial,
            "trivial FastAPI app, idle", ratio(busy, trivial), f">= {TARGET_RPS:g} req/s",
            busy >= TARGET_RPS, f"httpx, {CONCURRENCY} keep-alive connections"),
    ]


def run(settings: BenchSettings) -> list[Row]:
    return asyncio.run(_measure(settings))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "serve":
        asyncio.run(_serve_mock(arguments[0]))
    elif command == "trivial":
        asyncio.run(_serve_trivial())
    else:
        asyncio.run(_load(arguments[0], float(arguments[1]), int(arguments[2])))
