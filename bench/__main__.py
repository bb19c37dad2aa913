"""`python -m bench`: every server in turn under the same wrk load, then the latency and sustained runs.

Prints a table and writes JSON (bench/results/latest.json unless --out). Exits 1 when
a delivrd run stored fewer reports than it acked (or more than could have been in
flight): a benchmark that loses data must not report a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import report, servers, wrk
from bench.servers import SERVERS, Context

BATCHES = (1, 100)
CONNECTIONS = 64


class LostReports(RuntimeError):
    """A delivrd run did not store exactly what it acked."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark delivrd side by side with a bare ASGI app (the ceiling) and a Flask + sqlite3 "
        "receiver (the naive peer): wrk, 64 connections, server on core 0, wrk on core 1. "
        "See docs/performance.md.",
    )
    p.add_argument(
        "--duration",
        type=int,
        default=10,
        metavar="SECONDS",
        help="seconds of measured load per server, batch and round (default 10)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        metavar="N",
        help="measure every server this many times, interleaved; the table shows each one's best round (default 2)",
    )
    p.add_argument(
        "--sustained",
        type=int,
        default=180,
        metavar="SECONDS",
        help="seconds of the sustained run (delivrd on SQLite, batch 100, RSS every second); 0 skips it (default 180)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny durations (1 s per run, 3 s sustained): checks the harness works, measures nothing",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=[s.name for s in SERVERS],
        help="run only this server (repeatable): " + ", ".join(s.name for s in SERVERS),
    )
    p.add_argument("--postgres", metavar="URL", help="also run the delivrd-on-PostgreSQL rows against this database")
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        default=Path(__file__).parent / "results" / "latest.json",
        help="where to write the JSON results (default bench/results/latest.json)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.sustained, args.rounds = 1, min(args.sustained, 3), 1
    if args.duration < 1 or args.rounds < 1:
        p.error("--duration and --rounds must be at least 1")
    return args


def verify(name: str, batch: int, acked_reports: int, stored: int, slack: int) -> dict:
    """Every acked report stored; at most the requests in flight when wrk stopped stored on top."""
    extra = stored - acked_reports
    check = {"acked_reports": acked_reports, "stored_reports": stored, "unacked_but_stored": extra}
    if extra < 0:
        raise LostReports(
            f"{name} batch {batch}: acked {acked_reports} reports but stored {stored}: "
            f"{-extra} acked reports are missing"
        )
    if extra > slack:
        raise LostReports(
            f"{name} batch {batch}: stored {stored} reports, {extra} more than acked "
            f"(at most {slack} could have been in flight)"
        )
    return check


@contextlib.contextmanager
def fresh(server: servers.Server, args: argparse.Namespace) -> Iterator[servers.Running]:
    """`server` started on a new temporary directory (and database), stopped however the block ends."""
    with tempfile.TemporaryDirectory(prefix="delivrd-bench-") as tmp:
        running = servers.start(server, Context(servers.free_port(), Path(tmp), args.postgres))
        try:
            yield running
        finally:
            running.stop()


def measure(server: servers.Server, batch: int, args: argparse.Namespace, run_id: str) -> dict:
    """One server, one batch size: fresh start, short warm-up, measured load, stored count checked."""
    with fresh(server, args) as running:
        before = running.stored_reports() if server.stores else 0
        running.sample(0.2)
        warm = (
            None
            if args.quick
            else wrk.run(running.url, batch=batch, seconds=2, run_id=run_id + "w", connections=CONNECTIONS)
        )
        cpu, database = running.cpu_seconds(), running.database_cpu()
        load = wrk.run(running.url, batch=batch, seconds=args.duration, run_id=run_id, connections=CONNECTIONS)
        used = running.cpu_seconds() - cpu
        row = report.row(
            server, load, running.peak_rss, used, servers.database_seconds(database, running.database_cpu())
        )
        if server.stores:
            acked = load.acked_reports + (warm.acked_reports if warm else 0)
            errors = sum(load.errors.values()) + (sum(warm.errors.values()) if warm else 0)
            slack = (2 * CONNECTIONS + errors) * batch
            row["check"] = verify(server.name, batch, acked, running.settled_reports() - before, slack)
    return row


def latency_run(server: servers.Server, rate: float, args: argparse.Namespace, run_id: str) -> dict:
    """Batch 1 at a fixed offered rate: each connection paced by push.lua's delay() (see docs)."""
    with fresh(server, args) as running:
        before = running.stored_reports()
        running.sample(0.2)
        gap = CONNECTIONS * 1000 / rate
        # calibrate: a connection's cycle is its gap plus the answer's latency; take the latter off
        probe = wrk.run(
            running.url,
            batch=1,
            seconds=min(3, args.duration),
            run_id=run_id + "c",
            connections=CONNECTIONS,
            gap_ms=gap,
        )
        latency_ms = max(0.0, CONNECTIONS * 1000 / max(probe.requests_per_s, 1) - gap)
        gap = max(gap / 2, gap - latency_ms)  # a stall during calibration must not double the rate
        load = wrk.run(running.url, batch=1, seconds=args.duration, run_id=run_id, connections=CONNECTIONS, gap_ms=gap)
        stored = running.settled_reports() - before
        check = verify(
            server.name,
            1,
            load.acked_reports + probe.acked_reports,
            stored,
            2 * CONNECTIONS + sum(load.errors.values()) + sum(probe.errors.values()),
        )
    return {
        "server": server.name,
        "offered_rps": round(rate, 1),
        "gap_ms": round(gap, 3),
        **report.load(load),
        "peak_rss_mb": report.mb(running.peak_rss),
        "check": check,
    }


def sustained_run(server: servers.Server, args: argparse.Namespace, run_id: str) -> dict:
    """Batch 100 as fast as it goes for --sustained seconds; RSS sampled every second."""
    with fresh(server, args) as running:
        before = running.stored_reports()
        running.sample(1.0)
        load = wrk.run(running.url, batch=100, seconds=args.sustained, run_id=run_id, connections=CONNECTIONS)
        stored = running.settled_reports() - before
        check = verify(
            server.name, 100, load.acked_reports, stored, (2 * CONNECTIONS + sum(load.errors.values())) * 100
        )
    t0 = running.samples[0][0]
    series = [(round(t - t0, 1), report.mb(rss)) for t, rss in running.samples]
    return {
        "server": server.name,
        "seconds": args.sustained,
        **report.load(load),
        "check": check,
        **report.rss_trend(series),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = wrk.available()
    if missing:
        print(f"bench: {missing}", file=sys.stderr)
        return 2
    chosen = [s for s in SERVERS if not args.only or s.name in args.only]
    stamp = time.strftime("%Y%m%d%H%M%S")
    result: dict = {
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "setup": {
            "connections": CONNECTIONS,
            "server_core": servers.SERVER_CORE,
            "wrk_core": 1,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "batches": list(BATCHES),
        },
        "rows": [],
        "skipped": [],
    }
    console = report.console()
    rounds: list[dict] = result.setdefault("rounds", [])
    try:
        runnable = []
        for server in chosen:
            reason = server.skip(Context(0, Path("."), args.postgres))
            if reason:
                result["skipped"].append({"server": server.name, "reason": reason})
                console.print(f"[yellow]skip[/] {server.name}: {reason}")
            else:
                runnable.append(server)
        # rounds interleave the servers, so a change in the machine's load hits them all alike
        for round_no in range(1, args.rounds + 1):
            for server in list(runnable):
                for batch in BATCHES:
                    console.print(
                        f"[bold]{server.name}[/] batch {batch}, round {round_no}/{args.rounds}: {args.duration}s …"
                    )
                    try:
                        row = measure(server, batch, args, f"{stamp}{server.name}{batch}r{round_no}")
                    except servers.StartFailed as exc:
                        if not server.optional:
                            raise
                        result["skipped"].append({"server": server.name, "reason": f"did not start: {exc.said}"})
                        console.print(f"[yellow]skip[/] {server.name}: did not start: {exc.said}")
                        runnable.remove(server)
                        break
                    row["round"] = round_no
                    row["cpu_pressure_avg10"] = report.cpu_pressure()
                    rounds.append(row)
                    console.print("  " + report.one_line(row))
        result["rows"] = report.best_rounds(rounds)
        main_delivrd = next((s for s in chosen if s.name == "delivrd-sqlite"), None)
        saturated = next((r for r in result["rows"] if r["server"] == "delivrd-sqlite" and r["batch"] == 1), None)
        if main_delivrd and saturated:
            rate = saturated["requests_per_s"] / 2
            latency_rounds: list[dict] = result.setdefault("latency_rounds", [])
            for round_no in range(1, args.rounds + 1):
                console.print(
                    f"[bold]latency[/] delivrd-sqlite batch 1 at {rate:,.0f} req/s offered, round "
                    f"{round_no}/{args.rounds}: {args.duration}s …"
                )
                run = latency_run(main_delivrd, rate, args, f"{stamp}lat{round_no}")
                run["round"] = round_no
                run["cpu_pressure_avg10"] = report.cpu_pressure()
                latency_rounds.append(run)
                console.print("  " + report.latency_line(run))
            # like the rows: the best round (other work on the machine only ever adds latency)
            result["latency"] = min(latency_rounds, key=lambda run: run["p99_ms"])
        if main_delivrd and args.sustained > 0:
            console.print(f"[bold]sustained[/] delivrd-sqlite batch 100 for {args.sustained}s …")
            result["sustained"] = sustained_run(main_delivrd, args, f"{stamp}sus")
    except (LostReports, RuntimeError) as exc:  # lost reports, or a server that would not start
        result["error"] = str(exc)
        console.print(f"[bold red]FAILED:[/] {exc}")
        result["rows"] = report.best_rounds(rounds)
    report.add_ratios(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report.show(console, result)
    console.print(f"JSON: {args.out}")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
