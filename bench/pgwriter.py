"""Where a PostgreSQL group write's CPU goes: `python -m bench.pgwriter --postgres URL [--batch N --group N]`.

Calls the store's own `PostgresStore.write` on a fresh schema (by default groups of 16
pushes of 100 reports, shaped like bench/push.lua's), without HTTP: the write path's
share of a run, without the noise of the rest. It reports, per report, the CPU time of
this process (what a delivrd process spends building and sending a group), of the
PostgreSQL backend that ran the statements (read from `/proc/<pid>/stat`, so the
server must run on this machine), and the wall time. Each figure is the best of
`--rounds` passes over fresh schemas: other work on a shared machine only ever adds time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import asyncpg

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent import decode as tencent
from delivrd.store.postgres import store as P

try:
    from delivrd.store.postgres.ingest import group_arguments
except ImportError:  # code from before store.postgres.ingest (A/B runs through PYTHONPATH): arrays per column
    group_arguments = P._group_arguments  # type: ignore[attr-defined]

ITEM = (
    '{"user_receive_time":"2026-11-25 10:00:00","nationcode":"86","mobile":"138%08d",'
    '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信接收成功","sid":"%s:%010d"}'
)
TICK = os.sysconf("SC_CLK_TCK")


def body(run: str, first: int, size: int) -> bytes:
    return (
        "[" + ",".join(ITEM % ((n * 48271) % 100_000_000, run, n) for n in range(first, first + size)) + "]"
    ).encode()


def pushes(run: str, groups: int, group: int, batch: int) -> list[list[Push]]:
    now = time.time_ns() // 1000
    out = []
    n = 0
    for _ in range(groups):
        made = []
        for _ in range(group):
            raw = body(run, n, batch)
            n += batch
            made.append(Push.decoded(CALLBACK, now, "127.0.0.1", raw, tencent.parse_reports(raw)))
        out.append(made)
    return out


def backend_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


async def one_pass(url: str, groups: list[list[Push]]) -> dict[str, float]:
    schema = f"delivrd_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = P.PostgresStore(f"{url}?search_path={schema}", migrate=True, pool_size=1)
        await store.open()
        try:
            pool = store._get_pool()
            pid = await pool.fetchval("SELECT pg_backend_pid()")
            await store.write(groups[0])  # warm: plans cached, first partitions touched
            reports = sum(len(p.rows) for g in groups[1:] for p in g)
            server0, cpu0, wall0 = backend_cpu([pid]), time.process_time(), time.perf_counter()
            for group in groups[1:]:
                await store.write(group)
            cpu, wall, server = time.process_time() - cpu0, time.perf_counter() - wall0, backend_cpu([pid]) - server0
            assert await pool.fetchval("SELECT pg_backend_pid()") == pid, "the pool changed its connection"
            stored = await pool.fetchval("SELECT sum(value) FROM counters WHERE name = 'reports'")
            assert stored == reports + sum(len(p.rows) for p in groups[0]), f"stored {stored} reports"
        finally:
            await store.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    build0 = time.process_time()
    for group in groups[1:]:
        group_arguments(group, 0)
    build = time.process_time() - build0
    us = 1e6 / reports
    return {"client_us": cpu * us, "arguments_us": build * us, "backend_us": server * us, "wall_us": wall * us}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pgwriter", description=__doc__.splitlines()[0])
    p.add_argument("--postgres", required=True, metavar="URL", help="a database delivrd may create schemas in")
    p.add_argument("--batch", type=int, default=100, help="reports per push (default 100)")
    p.add_argument("--group", type=int, default=16, help="pushes per group commit (default 16)")
    p.add_argument("--groups", type=int, default=60, help="groups per pass (default 60)")
    p.add_argument("--rounds", type=int, default=3, help="passes over fresh schemas; the best is shown (default 3)")
    args = p.parse_args(argv)
    best: dict[str, float] = {}
    for round_no in range(args.rounds):
        run = f"pgw{uuid.uuid4().hex[:6]}"
        groups = pushes(run, args.groups + 1, args.group, args.batch)
        got = asyncio.run(one_pass(args.postgres, groups))
        print(f"round {round_no + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()), flush=True)
        best = {k: min(v, best.get(k, v)) for k, v in got.items()}
    print(
        f"best of {args.rounds}, µs per report (batch {args.batch}, {args.group} pushes a group): "
        f"delivrd process {best['client_us']:.2f} (of it building the arguments {best['arguments_us']:.2f}), "
        f"PostgreSQL backend {best['backend_us']:.2f}, wall {best['wall_us']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
