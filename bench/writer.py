"""Where the SQLite writer's time goes: `python -m bench.writer [--batch N --group N]`.

Calls the store's own `SQLiteStore._write` on a fresh database (by default groups of
20 pushes of 100 reports, shaped like bench/push.lua's, and the mobile-index chunk every
3 groups, as `sqlite_mobiles.index_chunk`), without HTTP or an event loop: the writer
thread's share of a run, without the noise of the rest. Three passes over fresh databases:
the first measures the CPU time of the writes and of the index chunks; the second, with
SQLite's profile hook on (which costs CPU itself, hence apart), the time each kind of
statement took to run (wall time: COMMIT includes waiting for fsync; binding parameters
and building rows in Python are outside it); the third, with checkpoints off for a few
commits, reads the WAL's frame headers: how many pages each commit writes, and to which
table or index they belong (every page a commit touches is written whole, so a B-tree
that gets a few rows per commit still costs a page or more).
"""

from __future__ import annotations

import argparse
import contextlib
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import apsw

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent import decode as tencent
from delivrd.store.sqlite import mobiles as sqlite_mobiles
from delivrd.store.sqlite import store as S

ITEM = (
    '{"user_receive_time":"2026-11-25 10:00:00","nationcode":"86","mobile":"138%08d",'
    '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信接收成功","sid":"bench:%010d"}'
)
INDEX_EVERY = 3
#: commits whose WAL frames the third pass reads (after as many again, to fill the B-trees a little)
WAL_COMMITS = 30
#: statements the profile hook sees, by name (anything else, such as BEGIN or max(id), is "other")
STATEMENTS = {
    S.INSERT_INBOX: "inbox rows",
    S.UPSERT_REPORT: "report upsert",
    S.FOLD_REPORTS: "messages fold",
    S.ADD_COUNTER: "counters",
    "COMMIT": "commit",
}


def body(first: int, size: int = 100) -> bytes:
    return ("[" + ",".join(ITEM % ((n * 48271) % 100_000_000, n) for n in range(first, first + size)) + "]").encode()


@contextlib.contextmanager
def fresh_store() -> Iterator[S.SQLiteStore]:
    """An SQLiteStore opened (as `delivrd serve` opens it) on a new database in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="delivrd-bench-writer-") as tmp:
        store = S.SQLiteStore(Path(tmp) / "w.db", migrate=True)
        store._open()
        try:
            yield store
        finally:
            if store._conn is not None:
                store._conn.close()


def write_all(groups: list[list[Push]], *, profile: bool) -> tuple[Counter[str], Counter[str]]:
    """Write every group on a fresh database: (CPU seconds by stage, statement nanoseconds by name)."""
    cpu: Counter[str] = Counter()
    wall_ns: Counter[str] = Counter()
    stage = "write"

    def record(sql: str, ns: int) -> None:
        wall_ns[STATEMENTS.get(sql, "other") if stage == "write" else "mobile index"] += ns

    with fresh_store() as store:
        conn = store._conn
        assert conn is not None
        if profile:
            conn.set_profile(record)
        for n, pushes in enumerate(groups, 1):
            stage = "write"
            t = time.process_time()
            store._write(pushes)
            cpu["write"] += time.process_time() - t
            if n % INDEX_EVERY == 0:
                stage = "index"
                t = time.process_time()
                sqlite_mobiles.index_chunk(conn, 10**9)
                cpu["mobile index"] += time.process_time() - t
    return cpu, wall_ns


def wal_pages(groups: list[list[Push]]) -> tuple[int, Counter[str], int]:
    """Write groups on a fresh database, checkpoints off for the last WAL_COMMITS:
    (commits, WAL frames by B-tree, page size)."""
    n = min(WAL_COMMITS, len(groups) // 2)
    warm, measured = groups[:n], groups[n : 2 * n]
    with fresh_store() as store:
        conn = store._conn
        assert conn is not None
        for pushes in warm:
            store._write(pushes)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        for pushes in measured:
            store._write(pushes)
        owner = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
        wal = Path(store.path + "-wal").read_bytes()
    # WAL format (sqlite.org/fileformat.html): a 32-byte header, then frames of a 24-byte header (page number,
    # then the database size in pages, non-zero on a commit's last frame) and the page
    page_size = struct.unpack(">I", wal[8:12])[0]
    frames: Counter[str] = Counter()
    commits = 0
    for offset in range(32, len(wal) - page_size - 23, 24 + page_size):
        page, size_after_commit = struct.unpack(">II", wal[offset : offset + 8])
        frames[owner.get(page, "(free)")] += 1
        commits += size_after_commit != 0
    return commits, frames, page_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=4000, help="pushes to write (default 4000)")
    parser.add_argument("--batch", type=int, default=100, help="reports per push (default 100)")
    parser.add_argument(
        "--group",
        type=int,
        default=20,
        help="pushes per commit (default 20; a batch-1 run at 64 connections commits about 30)",
    )
    args = parser.parse_args(argv)
    bodies = [body(k * args.batch, args.batch) for k in range(args.pushes)]
    parsed = [tencent.parse_reports(b) for b in bodies]
    received_at = time.time_ns() // 1000
    groups = [
        [
            Push.decoded(CALLBACK, received_at, "127.0.0.1", b, decoded)
            for b, decoded in zip(bodies[g : g + args.group], parsed[g : g + args.group])
        ]
        for g in range(0, args.pushes, args.group)
    ]
    cpu, _ = write_all(groups, profile=False)
    _, wall_ns = write_all(groups, profile=True)
    commits, frames, page_size = wal_pages(groups)
    reports = args.pushes * args.batch

    def line(name: str, seconds: float) -> str:
        return f"{name:>16}  {seconds / reports * 1e6:6.2f} µs/report  {seconds / args.pushes * 1e6:7.1f} µs/push"

    print(f"{args.pushes} pushes of {args.batch}, {args.group} per commit; SQLite {apsw.sqlite_lib_version()}")
    print("CPU time")
    for name, seconds in [*cpu.items(), ("total", sum(cpu.values()))]:
        print(line(name, seconds))
    print("statement time (wall)")
    for name, ns in wall_ns.most_common():
        print(line(name, ns / 1e9))
    if commits:
        per_commit = sum(frames.values()) / commits
        print(
            f"WAL pages per commit: {per_commit:.1f} ({per_commit * page_size / (len(groups[0]) * args.batch):,.0f} bytes"
            f" per report), by table or index (mean of {commits} commit{'s' * (commits != 1)})"
        )
        for name, n in frames.most_common():
            print(f"{name:>24}  {n / commits:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
