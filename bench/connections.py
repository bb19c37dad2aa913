"""`python -m bench.connections`: what delivrd's bounded HTTP protocol costs, measured on the bare ceiling app.

The ceiling app (bench/apps/ceiling.py) runs on uvicorn's own httptools protocol and on
`delivrd.serving.BoundedProtocol`, otherwise with the same options, rounds interleaved,
under the same wrk load as `python -m bench` (batch 1, 64 connections, server on core 0,
wrk on core 1). Each one's best round is shown, and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import servers, wrk
from bench.servers import Context, Server
from delivrd.serving import PROTOCOL

CONNECTIONS = 64


def ceiling(name: str, http: str) -> Server:
    options = servers.uvicorn_options()
    options[options.index("--http") + 1] = http
    return Server(
        name, "ceiling", f"bare ASGI app on --http {http}",
        lambda ctx: [sys.executable, "-m", "uvicorn", "bench.apps.ceiling:app", "--port", str(ctx.port), *options],
    )  # fmt: skip


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=8, help="seconds of measured load per run (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each, interleaved; the best is shown (default 3)")
    args = p.parse_args(argv)
    missing = wrk.available()
    if missing:
        print(f"bench.connections: {missing}", file=sys.stderr)
        return 2
    rows = [ceiling("uvicorn httptools", "httptools"), ceiling("BoundedProtocol", PROTOCOL)]
    best: dict[str, tuple[float, float]] = {}
    for round_ in range(args.rounds):
        for server in rows:
            rate, cpu_us = measure(server, args.duration, f"conn{round_}{server.name[0]}")
            print(f"round {round_ + 1}  {server.name:<18} {rate:>9,.0f} requests/s  {cpu_us:6.1f} µs CPU/request")
            if rate > best.get(server.name, (0.0, 0.0))[0]:
                best[server.name] = (rate, cpu_us)
    (plain, plain_cpu), (bounded, bounded_cpu) = best[rows[0].name], best[rows[1].name]
    print(f"best: uvicorn httptools {plain:,.0f}/s ({plain_cpu:.1f} µs), BoundedProtocol {bounded:,.0f}/s"
          f" ({bounded_cpu:.1f} µs): ratio {bounded / plain:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
