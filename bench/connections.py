"""`python -m bench.connections`: what delivrd's bounded HTTP protocol costs, measured on the bare ceiling app.

The ceiling app (bench/apps/ceiling.py) runs on uvicorn's own httptools protocol and on
`delivrd.serving.BoundedProtocol`, otherwise with the same options, rounds interleaved,
under the same wrk load as `python -m bench` (batch 1, 64 connections, server on core 0,
wrk on core 1). Each one's best round is compared: most requests/s, least server CPU per request.

`--in-process` measures the protocols alone instead, without sockets or wrk: the same
keep-alive request fed to each again and again, the app answering at once. On a
shared machine, where wrk's numbers move by a fifth from run to run, this is the one
that shows a difference of a microsecond.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from bench import servers, wrk
from bench.apps.ceiling import app
from bench.servers import Context, Server
from delivrd.wire.serving import PROTOCOL, BoundedProtocol

CONNECTIONS = 64


def ceiling(name: str, http: str) -> Server:
    options = servers.uvicorn_options()
    options[options.index("--http") + 1] = http
    return Server(
        name,
        "ceiling",
        f"bare ASGI app on --http {http}",
        lambda ctx: [sys.executable, "-m", "uvicorn", "bench.apps.ceiling:app", "--port", str(ctx.port), *options],
    )


def measure(server: Server, seconds: float, run_id: str) -> tuple[float, float]:
    """Requests/s and server CPU µs per request of one fresh start under wrk (after a 2 s warm-up)."""
    with tempfile.TemporaryDirectory(prefix="delivrd-bench-") as tmp:
        running = servers.start(server, Context(servers.free_port(), Path(tmp), None))
        try:
            wrk.run(running.url, batch=1, seconds=2, run_id=run_id + "w", connections=CONNECTIONS)
            cpu = running.cpu_seconds()
            load = wrk.run(running.url, batch=1, seconds=seconds, run_id=run_id, connections=CONNECTIONS)
            used = running.cpu_seconds() - cpu
        finally:
            running.stop()
    if load.failed:
        raise RuntimeError(f"{server.name}: {load.failed} requests failed: {load.errors}")
    return load.requests_per_s, used.total / load.acked * 1e6


REQUEST = (
    b"POST /sms/callback HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
    b"Content-Length: 150\r\n\r\n" + b"x" * 150
)


class NullTransport(asyncio.Transport):
    """A connection that takes every write and never closes on its own."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _answer_at_once(protocol: HttpToolsProtocol, cycle: RequestResponseCycle, app: Any) -> None:
    """Instead of running the app: the response is complete as soon as the request is read."""
    cycle.response_complete = True
    protocol.on_response_complete()


async def protocol_us(kind: type[HttpToolsProtocol], requests: int) -> float:
    """CPU µs per request of `kind` alone: one connection, `requests` keep-alive requests."""
    config = Config(app, lifespan="off", log_level="warning")
    config.load()
    measured = type(kind.__name__, (kind,), {"_start_asgi_task": _answer_at_once})
    protocol = measured(config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    protocol.connection_made(NullTransport())
    for _ in range(1000):
        protocol.data_received(REQUEST)
    started = time.process_time()
    for _ in range(requests):
        protocol.data_received(REQUEST)
    return (time.process_time() - started) / requests * 1e6


def in_process(rounds: int) -> None:
    async def run() -> None:
        least: dict[str, float] = {}
        for _ in range(rounds):
            for kind in (HttpToolsProtocol, BoundedProtocol):
                us = await protocol_us(kind, 50_000)
                least[kind.__name__] = min(us, least.get(kind.__name__, us))
        plain, bounded = least["HttpToolsProtocol"], least["BoundedProtocol"]
        print(
            f"protocol alone, least CPU per request over {rounds} rounds: uvicorn httptools {plain:.2f} µs,"
            f" BoundedProtocol {bounded:.2f} µs ({bounded - plain:+.2f} µs)"
        )

    uvloop.run(run())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=8, help="seconds of measured load per run (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each, interleaved; the best is shown (default 3)")
    p.add_argument("--in-process", action="store_true", help="measure the protocols alone, without sockets or wrk")
    args = p.parse_args(argv)
    if args.in_process:
        in_process(max(args.rounds, 10))
        return 0
    missing = wrk.available()
    if missing:
        print(f"bench.connections: {missing}", file=sys.stderr)
        return 2
    rows = [ceiling("uvicorn httptools", "httptools"), ceiling("BoundedProtocol", PROTOCOL)]
    rates: dict[str, list[float]] = {server.name: [] for server in rows}
    cpus: dict[str, list[float]] = {server.name: [] for server in rows}
    for round_ in range(args.rounds):
        for server in rows:
            rate, cpu_us = measure(server, args.duration, f"conn{round_}{server.name[0]}")
            rates[server.name].append(rate)
            cpus[server.name].append(cpu_us)
            print(f"round {round_ + 1}  {server.name:<18} {rate:>9,.0f} requests/s  {cpu_us:6.1f} µs CPU/request")
    plain, bounded = (server.name for server in rows)
    print(
        f"best requests/s: {max(rates[plain]):,.0f} vs {max(rates[bounded]):,.0f},"
        f" ratio {max(rates[bounded]) / max(rates[plain]):.3f}; least CPU per request: {min(cpus[plain]):.1f} µs"
        f" vs {min(cpus[bounded]):.1f} µs, ratio {min(cpus[bounded]) / min(cpus[plain]):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
