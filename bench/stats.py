"""Stats benchmark: how long the insight queries take over 1 million and 10 million reports.

    .venv/bin/python bench/stats.py                 # 1m and 10m reports, in ./bench-stats/
    .venv/bin/python bench/stats.py --sizes 100k    # a quick look
    .venv/bin/python bench/stats.py ingest          # µs per report on the store's write path
    .venv/bin/python bench/stats.py ingest --sends-first   # the same when each receipt completes a known send
    PYTHONPATH=../main/src .venv/bin/python bench/stats.py ingest   # the same for another checkout
    .venv/bin/python bench/stats.py --sizes 1m --database-url postgresql://postgres@127.0.0.1/test

The bulk loader fills a real delivrd SQLite database (the shipped migrations, so the
schema and indexes are the shipped ones: sends and receipts are inserted at schema
version 2, then the database is upgraded as `delivrd db upgrade` would, which derives
the messages table) with SQL-generated rows: one report per
message, 90% of them with a registered send, plus 10% more sends that never got a
receipt; spread over 30 days, 4 countries, 12 templates, 3 signatures, 1 in 7
failed with one of 5 codes. It then times the real code path (`stats.compute`, the
message and phone lookups) against it, each query run 3 times (once when it takes over 5 s), best time kept.
The database is not ANALYZEd: the timings are what a fresh deployment gets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from delivrd.domain.clock import HOUR_US
from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store import migrations
from delivrd.store.base import Send, Store
from delivrd.store.sqlite.connect import connect
from delivrd.store.sqlite.store import SQLiteSchema, SQLiteStore

DAY_US = 86_400_000_000
SPAN_DAYS = 30
T0 = 1_790_000_000_000_000  # µs: 2026-09-21


def size(text: str) -> int:
    text = text.lower()
    return int(float(text[:-1]) * {"k": 1_000, "m": 1_000_000}[text[-1]]) if text[-1] in "km" else int(text)


def load(path: Path, reports: int) -> float:
    """Create the database and fill it; returns seconds spent."""

    started = time.perf_counter()
    conn = connect(str(path))
    schema = SQLiteSchema(conn)
    for step in migrations.load("sqlite")[:2]:  # sends and reports; messages come from upgrading below
        schema.apply(step)
    conn.close()
    step = SPAN_DAYS * DAY_US // reports
    extra_sends = reports // 10
    conn = connect(str(path))
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")  # 1 GB while loading
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO inbox (id, received_at, route, status, outcome, items, rejected, size)"
        " VALUES (1, ?, 'callback', 200, 'stored', 0, 0, 0)",
        (T0,),
    )
    nation = "CASE n % 20 WHEN 0 THEN '62' WHEN 1 THEN '1' WHEN 2 THEN '44' ELSE '86' END"
    mobile = "printf('138%08d', (n * 7919) % 100000000)"
    conn.execute(
        f"""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
        INSERT INTO reports (sid, dedup_key, nationcode, mobile, report_status, errmsg, description,
            user_receive_time, phone, user_receive_ts, inbox_id, received_at)
        SELECT printf('5000:%012d', n), zeroblob(8), {nation}, {mobile},
            CASE WHEN n % 7 = 0 THEN 'FAIL' ELSE 'SUCCESS' END,
            CASE WHEN n % 7 = 0 THEN CASE n % 5 WHEN 0 THEN 'MK:0001' WHEN 1 THEN 'UNDELIV' WHEN 2 THEN 'MX:0003'
                 WHEN 3 THEN 'EXPIRED' ELSE 'NEW:42' END ELSE 'DELIVRD' END,
            'generated', NULL, '+' || {nation} || {mobile},
            (? + n * ?) / 1000000 + 1 + n % 120, 1, ? + n * ? + 2000000 + (n % 120) * 1000000
        FROM seq""",
        (reports, T0, step, T0, step),
    )
    conn.execute(
        f"""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
        INSERT INTO sends (sid, phone, nationcode, mobile, sent_at, template_id, sign_name, fee, code,
            registered_at)
        SELECT printf('5000:%012d', n), '+' || {nation} || {mobile}, {nation}, {mobile}, ? + n * ?,
            'T' || (n % 12), 'Sign' || (n % 3), 1, 'Ok', ? + n * ?
        FROM seq WHERE n % 10 != 0 OR n > ?""",
        (reports + extra_sends, T0, step, T0, step, reports),
    )
    conn.execute("COMMIT")
    conn.close()
    loaded = time.perf_counter()
    print(f"  bulk insert {loaded - started:.1f} s", flush=True)

    async def upgrade() -> None:  # later migrations (0003 derives the messages table), as `db upgrade` would
        store = SQLiteStore(path, migrate=True)
        await store.open()
        await store.close()

    asyncio.run(upgrade())
    print(f"  schema upgrade {time.perf_counter() - loaded:.1f} s", flush=True)
    return time.perf_counter() - started


PG_NATION = "CASE n % 20 WHEN 0 THEN '62' WHEN 1 THEN '1' WHEN 2 THEN '44' ELSE '86' END"
PG_MOBILE = "'138' || lpad(((n * 7919) % 100000000)::text, 8, '0')"


async def load_postgres(url: str, reports: int) -> float:
    """The same data as `load`, in the schema `url` names (created at version 2, filled, then upgraded)."""
    import asyncpg

    from delivrd.domain.clock import DAY_US as DAY
    from delivrd.store.postgres.store import PostgresSchema, PostgresStore, partition_name

    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    schema = PostgresSchema(conn, url)
    for step in migrations.load("postgresql")[:2]:
        await schema.apply(step)
    for day in range(T0 // DAY, T0 // DAY + SPAN_DAYS + 2):
        await conn.execute(
            f"CREATE TABLE {partition_name('reports', day)} PARTITION OF reports"
            f" FOR VALUES FROM ({day * DAY}) TO ({(day + 1) * DAY})"
        )
    step = SPAN_DAYS * DAY_US // reports
    await conn.execute(
        f"""INSERT INTO reports (sid, dedup_key, nationcode, mobile, report_status, errmsg, description,
            user_receive_time, phone, user_receive_ts, inbox_id, received_at)
        SELECT '5000:' || lpad(n::text, 12, '0'), '\\x0000000000000000'::bytea, {PG_NATION}, {PG_MOBILE},
            CASE WHEN n % 7 = 0 THEN 'FAIL' ELSE 'SUCCESS' END,
            CASE WHEN n % 7 = 0 THEN CASE n % 5 WHEN 0 THEN 'MK:0001' WHEN 1 THEN 'UNDELIV' WHEN 2 THEN 'MX:0003'
                 WHEN 3 THEN 'EXPIRED' ELSE 'NEW:42' END ELSE 'DELIVRD' END,
            'generated', NULL, '+' || {PG_NATION} || {PG_MOBILE},
            ($2 + n * $3) / 1000000 + 1 + n % 120, 1, $2 + n * $3 + 2000000 + (n % 120) * 1000000
        FROM generate_series(1::bigint, $1) AS n""",
        reports,
        T0,
        step,
    )
    await conn.execute(
        f"""INSERT INTO sends (sid, phone, nationcode, mobile, sent_at, template_id, sign_name, fee, code,
            registered_at)
        SELECT '5000:' || lpad(n::text, 12, '0'), '+' || {PG_NATION} || {PG_MOBILE}, {PG_NATION}, {PG_MOBILE},
            $2 + n * $3, 'T' || (n % 12), 'Sign' || (n % 3), 1, 'Ok', $2 + n * $3
        FROM generate_series(1::bigint, $1) AS n WHERE n % 10 != 0 OR n > $4""",
        reports + reports // 10,
        T0,
        step,
        reports,
    )
    await conn.close()
    loaded = time.perf_counter()
    print(f"  bulk insert {loaded - started:.1f} s", flush=True)
    store = PostgresStore(url, migrate=True)
    await store.open()
    await store.close()
    print(f"  schema upgrade {time.perf_counter() - loaded:.1f} s", flush=True)
    return time.perf_counter() - started


async def timings(store: Store, reports: int) -> dict[str, float]:
    from delivrd.query import stats
    from delivrd.store.base import ReportQuery, SendQuery

    await store.open()
    now = T0 + SPAN_DAYS * DAY_US  # the data's "now": the last day is within the no-receipt window
    last_day = (now - DAY_US, now)
    sid = f"5000:{reports // 2 + 1:012d}"  # n % 10 != 0: it has a send
    found = await store.sends(SendQuery(sid=sid))
    nationcode, mobile = found[0].nationcode, found[0].mobile
    window = 72 * 3600  # the default --no-receipt-after

    def compute(since: int | None = None, until: int | None = None, by: str | None = None, tz: str = "UTC") -> Any:
        return stats.compute(store, since, until, by, no_receipt_after=window, now=now, tz=ZoneInfo(tz))

    cases = {
        "stats, all time": lambda: compute(),
        "stats, all time, by category": lambda: compute(by="category"),
        "stats, last 30 days, by day": lambda: compute(now - 30 * DAY_US, now, by="day"),
        "stats, last 30 days, by day, Asia/Shanghai": lambda: compute(now - 30 * DAY_US, now, "day", "Asia/Shanghai"),
        "stats, last 7 days, by category": lambda: compute(now - 7 * DAY_US, now, by="category"),
        "stats, last 7 days, by day": lambda: compute(now - 7 * DAY_US, now, by="day"),
        "stats, last day, by hour": lambda: compute(*last_day, by="hour"),
        "stats, last day, by template": lambda: compute(*last_day, by="template"),
        "stats, last hour, by errmsg": lambda: compute(now - DAY_US // 24, now, by="errmsg"),
        "message by sid": lambda: asyncio.gather(store.sends(SendQuery(sid=sid)), store.reports(ReportQuery(sid=sid))),
        "phone timeline": lambda: asyncio.gather(
            store.sends(SendQuery(nationcode=nationcode, mobile=mobile)),
            store.reports(ReportQuery(mobile=mobile, nationcode=nationcode)),
        ),
    }
    out = {}
    check = await compute()
    assert check.total == reports + reports // 10, (check.total, reports)
    for name, run in cases.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            await run()
            best = min(best, time.perf_counter() - started)
            if best > 5:  # one run of a long query says enough
                break
        out[name] = best
        print(f"  {name:44s} {best * 1000:10.1f} ms", flush=True)
    await store.close()
    return out


def workload(pushes: int, per_push: int, *, mixed: bool = False) -> tuple[list[Push], list[Send]]:
    """`pushes` pushes of `per_push` receipts, and the sends they answer (90 ms apart, the hour before).

    mixed: one receipt in seven a failure, sends over twelve templates and three signs (what the rollups' groups
    see in real traffic); else every one delivered, one template, one sign."""
    items = [
        [
            report_row(
                {
                    "sid": f"5000:{p:06d}{i:03d}",
                    "mobile": f"138{p:05d}{i:03d}",
                    "nationcode": "86",
                    "report_status": "FAIL" if mixed and i % 7 == 0 else "SUCCESS",
                    "errmsg": "MK:0001" if mixed and i % 7 == 0 else "DELIVRD",
                    "description": "ok",
                    "user_receive_time": "2026-11-24 10:00:00",
                }
            )
            for i in range(per_push)
        ]
        for p in range(pushes)
    ]
    built = [Push(CALLBACK, T0 + p, "127.0.0.1", 200, "stored", 100, b"[]", rows) for p, rows in enumerate(items)]
    sends = [
        Send(
            phone=f"+86138{p:05d}{i:03d}",
            nationcode="86",
            mobile=f"138{p:05d}{i:03d}",
            sid=f"5000:{p:06d}{i:03d}",
            sent_at=T0 - HOUR_US + (p * per_push + i) * 90_000,
            template_id=f"T{i % 12}" if mixed else "T1",
            sign_name=f"S{i % 3}" if mixed else "S",
            code="Ok",
        )
        for p in range(pushes)
        for i in range(per_push)
    ]
    return built, sends


def ingest(
    sends_first: bool = False, database_url: str | None = None, pushes: int = 400, per_push: int = 100, group: int = 16
) -> float:
    """µs per report through the store's write (durable, groups of `group` pushes), on a fresh database.

    sends_first: register every report's send beforehand (not timed), so each receipt completes
    a known message instead of starting one. database_url: PostgreSQL, a fresh schema per run.
    """
    import tempfile
    import uuid

    from delivrd.store import open_store

    built, sends = workload(pushes, per_push)

    async def run(db: str, url: str | None) -> float:
        store = open_store(db, url)
        await store.open()
        if sends_first:
            await store.register_sends(sends)
        started = time.perf_counter()
        for start in range(0, len(built), group):
            await store.write(built[start : start + group])
        elapsed = time.perf_counter() - started
        await store.close()
        return elapsed

    async def on_postgres(url: str) -> float:
        import asyncpg

        name = f"ingest_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(url)
        await conn.execute(f"CREATE SCHEMA {name}")
        try:
            return await run("", f"{url}{'&' if '?' in url else '?'}search_path={name}")
        finally:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
            await conn.close()

    if database_url:
        best = min(asyncio.run(on_postgres(database_url)) for _ in range(3))
    else:
        with tempfile.TemporaryDirectory() as folder:
            best = min(asyncio.run(run(str(Path(folder) / f"i{n}.db"), None)) for n in range(3))
    return best / (pushes * per_push) * 1e6


async def postgres_case(url: str, reports: int) -> dict[str, float]:
    """Load (unless the schema holds the data already) and time one size on PostgreSQL."""
    import asyncpg

    from delivrd.store.postgres.store import PostgresStore

    name = f"stats_bench_{reports}"
    conn = await asyncpg.connect(url)
    try:
        exists = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", name)
        if not exists:
            await conn.execute(f"CREATE SCHEMA {name}")
    finally:
        await conn.close()
    sep = "&" if "?" in url else "?"
    schema_url = f"{url}{sep}search_path={name}"
    if exists:
        print(f"{reports:,} reports: reusing schema {name}")
    else:
        print(f"{reports:,} reports: loading schema {name} …", flush=True)
        print(f"  loaded in {await load_postgres(schema_url, reports):.1f} s")
    return await timings(PostgresStore(schema_url), reports)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="?", choices=("stats", "ingest"), default="stats")
    p.add_argument("--sizes", default="1m,10m", help="reports per database, comma-separated (100k, 1m, 10m)")
    p.add_argument("--dir", default="bench-stats", help="where the databases go (kept for reuse)")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--sends-first", action="store_true", help="ingest: register the sends before their receipts")
    p.add_argument(
        "--database-url",
        help="PostgreSQL instead (stats: one schema stats_bench_<size> per size, kept; ingest: a fresh schema per run)",
    )
    args = p.parse_args()
    if args.what == "ingest":
        took = ingest(args.sends_first, args.database_url)
        first = ", sends registered first" if args.sends_first else ""
        print(f"store write path: {took:.2f} µs per report (400 pushes × 100 reports, groups of 16{first})")
        return 0
    folder = Path(args.dir)
    folder.mkdir(exist_ok=True)
    results = {}
    for text in args.sizes.split(","):
        reports = size(text)
        if args.database_url:
            results[reports] = asyncio.run(postgres_case(args.database_url, reports))
            continue
        path = folder / f"stats-{reports}.db"
        if path.exists():
            print(f"{reports:,} reports: reusing {path}")
        else:
            print(f"{reports:,} reports: loading {path} …", flush=True)
            print(f"  loaded in {load(path, reports):.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
        results[reports] = asyncio.run(timings(SQLiteStore(path), reports))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
