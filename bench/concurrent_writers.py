"""Processes writing to one PostgreSQL schema at once, through the store: reports/s in all.

    .venv/bin/python bench/concurrent_writers.py 1
    .venv/bin/python bench/concurrent_writers.py 2
    PYTHONPATH=../main/src .venv/bin/python bench/concurrent_writers.py 2   # another checkout

Each process writes its own 400 pushes of 100 new reports in groups of 16 (durable), all of
them in the same hour, so every group commit updates the same hot rollup cells: this shows
whether concurrent writers wait on each other there. A fresh schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import time
import uuid
from typing import Any

import asyncpg

URL = "postgresql://postgres@127.0.0.1/test"
T0 = 1_790_000_000_000_000
PUSHES = 400


def worker(url: str, k: int, start: Any, out: Any) -> None:
    from delivrd.domain.push import CALLBACK, Push
    from delivrd.providers.tencent.decode import report_row
    from delivrd.store import open_store

    pushes = [
        Push(
            CALLBACK,
            T0 + p,
            "127.0.0.1",
            200,
            "stored",
            100,
            b"[]",
            [
                report_row(
                    {
                        "sid": f"5000:{k}{p:06d}{i:03d}",
                        "mobile": f"138{p:05d}{i:03d}",
                        "nationcode": "86",
                        "report_status": "SUCCESS",
                        "errmsg": "DELIVRD",
                        "user_receive_time": "2026-11-24 10:00:00",
                    }
                )
                for i in range(100)
            ],
        )
        for p in range(PUSHES)
    ]

    async def run() -> None:
        store = open_store("", url)
        await store.open()
        start.wait()
        began = time.perf_counter()
        for s in range(0, len(pushes), 16):
            await store.write(pushes[s : s + 16])
        out.put(time.perf_counter() - began)
        await store.close()

    asyncio.run(run())


async def _sql(sql: str) -> None:
    conn = await asyncpg.connect(URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> int:
    from delivrd.store import open_store

    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    name = f"writers_{uuid.uuid4().hex[:8]}"
    asyncio.run(_sql(f"CREATE SCHEMA {name}"))
    url = f"{URL}?search_path={name}"
    try:

        async def create() -> None:
            store = open_store("", url)
            await store.open()
            await store.close()

        asyncio.run(create())
        start, out = mp.Event(), mp.Queue()
        running = [mp.Process(target=worker, args=(url, k, start, out)) for k in range(procs)]
        for p in running:
            p.start()
        time.sleep(3)  # every process ready (its pushes built, its store open)
        start.set()
        times = [out.get() for _ in running]
        for p in running:
            p.join()
    finally:
        asyncio.run(_sql(f"DROP SCHEMA {name} CASCADE"))
    print(f"{procs} writer(s): {procs * PUSHES * 100 / max(times):,.0f} reports/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
