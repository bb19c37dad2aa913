"""`python -m bench.forward`: forwarding's throughput, its lag under steady ingest, and what it costs ingest.

Three measurements, each on a fresh `delivrd serve` (SQLite, pinned to core 0) and a fresh webhook consumer
(`bench.apps.receiver`, uvicorn, pinned to core 1 beside wrk) that verifies every signature:

1. throughput: wrk pushes a burst of reports (batch 100) with an endpoint in place; the time until the
   consumer has every event, single and batch mode;
2. lag: wrk pushes at a steady offered rate; the consumer's lag percentiles (arrival minus the event's
   timestamp, which is when delivrd received the report);
3. ingest with forwarding on beside off, in the same run: wrk at saturation, batch 100 and batch 1, against
   delivrd with no endpoint and with one (single mode).

Every run checks that the consumer got one event per acked report (distinct ids), or it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import servers, wrk
from bench.servers import SERVERS, Context
from delivrd.forward.dispatch import LOOK_EVERY

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DELIVRD = next(s for s in SERVERS if s.name == "delivrd-sqlite")
RECEIVER_CORE = 1


class Receiver:
    """The consumer, in its own process."""

    def __init__(self) -> None:
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        cmd = [
            "taskset", "-c", str(RECEIVER_CORE), sys.executable, "-m", "uvicorn", "bench.apps.receiver:app",
            "--port", str(self.port), *servers.uvicorn_options(),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(servers.ROOT), "BENCH_SECRET": SECRET}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the receiver did not start")

    def stats(self) -> dict:
        return httpx.get(self.url, timeout=10).json()

    def wait_for(self, count: int, timeout: float) -> tuple[dict, float]:
        """Its stats once it has `count` distinct events, and when that was (monotonic); RuntimeError if never."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.stats()
            if got["unique"] >= count:
                return got, time.monotonic()
            time.sleep(0.05)
        raise RuntimeError(f"the receiver got {self.stats()['unique']} distinct events of {count} in {timeout:g} s")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def add_endpoint(running: servers.Running, receiver: Receiver, batch: bool) -> None:
    """Add the endpoint, and wait until the dispatcher has picked it up (it looks every LOOK_EVERY seconds), so
    that no run counts that wait as lag."""
    answer = httpx.post(
        running.url + "/v1/endpoints", json={"url": receiver.url, "secret": SECRET, "batch": batch}, timeout=10
    )
    answer.raise_for_status()
    time.sleep(LOOK_EVERY + 0.5)


def throughput(batch: bool, seconds: float, run_id: str) -> dict:
    receiver = Receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="delivrd-bench-") as tmp:
            running = servers.start(DELIVRD, Context(servers.free_port(), Path(tmp), None))
            try:
                add_endpoint(running, receiver, batch)
                started = time.monotonic()
                load = wrk.run(running.url, batch=100, seconds=seconds, run_id=run_id, connections=8)
                pushed = time.monotonic()
                stored = running.settled_reports()
                got, done = receiver.wait_for(stored, timeout=600)
                cpu = running.cpu_seconds()
            finally:
                running.stop()
    finally:
        receiver.stop()
    forwarding = done - started
    return {
        "mode": "batch" if batch else "single",
        "reports": stored,
        "acked": load.acked_reports,
        "ingest_s": round(pushed - started, 2),
        "all_forwarded_s": round(forwarding, 2),
        "events_per_s": round(stored / forwarding),
        "ingest_reports_per_s": round(load.reports_per_s),
        "requests": got["requests"],
        "bad_signatures": got["bad_signatures"],
        "duplicates": got["events"] - got["unique"],
        "delivrd_cpu_us_per_event": round(cpu.total / stored * 1e6, 1),
    }


def lag(rate: float, seconds: float, run_id: str) -> dict:
    """Batch 10 at `rate` reports/s offered (paced connections, as bench's latency run)."""
    receiver = Receiver()
    connections = 16
    batch = 10
    gap_ms = connections * 1000 / (rate / batch)
    try:
        with tempfile.TemporaryDirectory(prefix="delivrd-bench-") as tmp:
            running = servers.start(DELIVRD, Context(servers.free_port(), Path(tmp), None))
            try:
                add_endpoint(running, receiver, False)
                load = wrk.run(
                    running.url, batch=batch, seconds=seconds, run_id=run_id, connections=connections, gap_ms=gap_ms
                )
                stored = running.settled_reports()
                got, _ = receiver.wait_for(stored, timeout=600)
            finally:
                running.stop()
    finally:
        receiver.stop()
    return {
        "offered_reports_per_s": rate,
        "ingested_reports_per_s": round(load.reports_per_s),
        "reports": stored,
        "lag_ms": got["lag_ms"],
        "duplicates": got["events"] - got["unique"],
    }


def ingest(batch: int, forwarding: bool, seconds: float, run_id: str) -> dict:
    receiver = Receiver() if forwarding else None
    try:
        with tempfile.TemporaryDirectory(prefix="delivrd-bench-") as tmp:
            running = servers.start(DELIVRD, Context(servers.free_port(), Path(tmp), None))
            try:
                if receiver is not None:
                    add_endpoint(running, receiver, False)
                wrk.run(running.url, batch=batch, seconds=min(2, seconds), run_id=run_id + "w", connections=64)
                cpu = running.cpu_seconds()
                load = wrk.run(running.url, batch=batch, seconds=seconds, run_id=run_id, connections=64)
                used = running.cpu_seconds() - cpu
                stored = running.settled_reports()
                if receiver is not None:
                    receiver.wait_for(stored, timeout=600)
            finally:
                running.stop()
    finally:
        if receiver is not None:
            receiver.stop()
    return {
        "batch": batch,
        "forwarding": forwarding,
        "reports_per_s": round(load.reports_per_s),
        "p99_ms": round(load.latency_us.get("p99", 0) / 1000, 2),
        "delivrd_cpu_us_per_report": round(used.total / max(load.acked_reports, 1) * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.forward", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10, help="seconds of each wrk load (default 10)")
    p.add_argument("--burst", type=float, default=2, help="seconds of the throughput runs' burst (default 2)")
    p.add_argument("--rate", type=float, default=2000, help="reports/s offered in the lag run (default 2000)")
    p.add_argument("--quick", action="store_true", help="1-second runs: checks the harness, measures nothing")
    p.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    missing = wrk.available()
    if missing:
        print(f"bench.forward: {missing}", file=sys.stderr)
        return 2
    seconds, burst = (1.0, 0.5) if args.quick else (args.seconds, args.burst)
    run = f"f{int(time.time())}"
    results: dict[str, list[dict]] = {"throughput": [], "lag": [], "ingest": []}
    for batch in (False, True):
        results["throughput"].append(throughput(batch, burst, f"{run}t{int(batch)}"))
        print(json.dumps(results["throughput"][-1]), flush=True)
    results["lag"].append(lag(args.rate, seconds, f"{run}l"))
    print(json.dumps(results["lag"][-1]), flush=True)
    for batch in (100, 1):
        for forwarding in (False, True):
            results["ingest"].append(ingest(batch, forwarding, seconds, f"{run}i{batch}{int(forwarding)}"))
            print(json.dumps(results["ingest"][-1]), flush=True)
    failed = [r for r in results["throughput"] + results["lag"] if r.get("bad_signatures")]
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
