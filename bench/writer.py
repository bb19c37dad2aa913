"""Where the SQLite writer's time goes, per report: `python -m bench.writer [--pushes N]`.

Runs the steps of `SQLiteStore._write` one by one on a fresh database (by default groups
of 20 pushes of 100 reports, shaped like bench/push.lua's, a mobile-index chunk every 3
groups) and prints the CPU time of each step per report and per push. No HTTP, no event loop: the
writer thread's share of a batch-100 run, without the noise of the rest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import apsw

from delivrd import tencent
from delivrd.push import CALLBACK, Push
from delivrd.store import sqlite as S
from delivrd.store import sqlite_mobiles

ITEM = ('{"user_receive_time":"2026-11-25 10:00:00","nationcode":"86","mobile":"138%08d",'
        '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信接收成功","sid":"bench:%010d"}')  # fmt: skip
INDEX_EVERY = 3


def body(first: int, size: int = 100) -> bytes:
    return ("[" + ",".join(ITEM % ((n * 48271) % 100_000_000, n) for n in range(first, first + size)) + "]").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=4000, help="pushes to write (default 4000)")
    parser.add_argument("--batch", type=int, default=100, help="reports per push (default 100)")
    parser.add_argument("--group", type=int, default=20, help="pushes per commit (default 20; a batch-1 run at 64"
                        " connections commits about 30)")  # fmt: skip
    args = parser.parse_args(argv)
    group = args.group
    bodies = [body(k * args.batch, args.batch) for k in range(args.pushes)]
    parsed = [tencent.parse_reports(b) for b in bodies]
    with tempfile.TemporaryDirectory(prefix="delivrd-bench-writer-") as tmp:
        store = S.SQLiteStore(Path(tmp) / "w.db", migrate=True)
        store._open()
        conn = store._conn
        assert conn is not None
        spent: dict[str, float] = {}

        def step(name: str, since: float) -> float:
            now = time.process_time()
            spent[name] = spent.get(name, 0.0) + now - since
            return now

        received_at = time.time_ns() // 1000
        for g in range(0, args.pushes, group):
            pushes = [Push(CALLBACK, received_at, "127.0.0.1", 200, "stored", len(b), b, rows, rejects)
                      for b, (rows, rejects) in zip(bodies[g:g + group], parsed[g:g + group])]  # fmt: skip
            t = time.process_time()
            conn.execute("BEGIN IMMEDIATE")
            top = conn.execute("SELECT coalesce(max(id), 0) FROM inbox").fetchone()[0]
            conn.executemany(S.INSERT_INBOX, [(top + n, p.received_at, p.route, p.peer, p.status, p.outcome,
                                               p.items, 0, p.size, p.body) for n, p in enumerate(pushes, 1)])  # fmt: skip
            t = step("inbox rows", t)
            reports = [row + (inbox_id, p.received_at) for inbox_id, p in enumerate(pushes, top + 1) for row in p.rows]
            t = step("report tuples", t)
            mark = conn.execute("SELECT coalesce(max(id), 0) FROM reports").fetchone()[0]
            conn.executemany(S.UPSERT_REPORT, reports)
            t = step("report upsert", t)
            conn.execute(S.FOLD_REPORTS, (mark,))
            t = step("messages fold", t)
            conn.execute("COMMIT")
            t = step("commit", t)
            if (g // group + 1) % INDEX_EVERY == 0:
                sqlite_mobiles.index_chunk(conn, 10**9)
                step("mobile index", t)
        conn.close()
    reports = args.pushes * args.batch
    for name, seconds in [*spent.items(), ("total", sum(spent.values()))]:
        print(f"{name:>14}  {seconds / reports * 1e6:6.2f} µs/report  {seconds / args.pushes * 1e6:7.1f} µs/push")
    print(f"CPU time; {args.pushes} pushes of {args.batch}, {group} per commit; SQLite {apsw.sqlite_lib_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
