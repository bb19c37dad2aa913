"""Reports by mobile on SQLite: found whether they are still in the tail or already in report_mobiles."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store import ReportQuery
from delivrd.store.sqlite.connect import connect
from delivrd.store.sqlite.store import SQLiteStore
from tests.factories import body, report

MOBILE = "13900139000"
DAY = 86_400_000_000


def push(at: int, *mobiles: str, sid: str) -> Push:
    rows = [
        report_row({"sid": f"{sid}-{i}", "mobile": m, "nationcode": "86", "report_status": "SUCCESS"})
        for i, m in enumerate(mobiles)
    ]
    return Push(CALLBACK, at, "127.0.0.1", 200, "stored", len(rows), b"[]", rows)


def index_state(db) -> tuple[int, int]:
    """(watermark, rows in report_mobiles), read straight from the file."""
    conn = connect(str(db))  # apsw, as the store: sqlite3 beside it in one process would drop its locks
    try:
        watermark = conn.execute("SELECT id FROM report_mobiles_watermark").fetchone()[0]
        return watermark, conn.execute("SELECT count(*) FROM report_mobiles").fetchone()[0]
    finally:
        conn.close()


async def sids(store: SQLiteStore, mobile: str = MOBILE, **query) -> list[str]:
    page = await store.reports(ReportQuery(mobile=mobile, **query))
    return [r.sid for r in page.items]


def test_found_in_the_tail_in_the_index_across_restart_and_after_prune(tmp_path):
    db = tmp_path / "m.db"
    now = int(time.time() * 1_000_000)
    old = now - 10 * DAY

    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.open()
        await store.write([push(old, MOBILE, "13800000001", sid="old"), push(now, "13800000002", MOBILE, sid="a")])
        assert index_state(db) == (0, 0)  # nothing indexed yet: the lookup reads the tail
        assert await sids(store) == ["a-1", "old-0"]
        await store.close()  # close indexes the whole tail

        assert index_state(db) == (4, 4)
        store = SQLiteStore(db)
        await store.open()
        assert await sids(store) == ["a-1", "old-0"]  # from report_mobiles alone
        await store.write([push(now, MOBILE, sid="b")])  # one more in the tail
        assert await sids(store) == ["b-0", "a-1", "old-0"]
        assert await sids(store, limit=1, before_id=5) == ["a-1"]  # keyset paging across both parts
        assert await sids(store, since=now) == ["b-0", "a-1"]  # the other filters still apply
        assert await sids(store, mobile="13800000001") == ["old-1"]
        assert await sids(store, mobile="13000000000") == []

        await store.prune(now - DAY)
        assert await sids(store) == ["b-0", "a-1"]
        assert await sids(store, mobile="13800000001") == []
        assert index_state(db) == (4, 2)  # the pruned reports' index rows went with them

        await store.prune(now + 1)  # everything: SQLite then reuses ids, which must land in the tail
        assert index_state(db) == (0, 0)
        await store.write([push(now, MOBILE, sid="c")])
        assert await sids(store) == ["c-0"]
        await store.close()
        assert index_state(db) == (1, 1)

    asyncio.run(scenario())


def test_indexes_full_chunks_while_serving(tmp_path, monkeypatch):
    from delivrd.store.sqlite import mobiles as sqlite_mobiles

    monkeypatch.setattr(sqlite_mobiles, "CHUNK", 3)
    db = tmp_path / "c.db"

    async def scenario() -> None:
        store = SQLiteStore(db)
        await store.open()
        for n in range(4):
            await store.write([push(n, MOBILE, "13800000001", sid=f"p{n}")])

        async def indexed() -> None:  # the indexer runs on its own: wait until it has caught up
            while index_state(db)[0] < 6:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(indexed(), 30)
        assert await sids(store) == ["p3-0", "p2-0", "p1-0", "p0-0"]
        await store.close()

    asyncio.run(scenario())


@pytest.mark.backends("sqlite")
def test_http_lookup_by_mobile_across_a_kill(start_server):
    server = start_server()
    url = server.url
    items = [report(1, mobile=MOBILE), report(2), report(3, mobile=MOBILE)]
    assert httpx.post(url + "/sms/callback", content=body(items)).json()["result"] == 0
    found = lambda: [r["sid"] for r in httpx.get(url + "/v1/reports", params={"mobile": MOBILE}).json()["items"]]  # noqa: E731
    expected = [items[2]["sid"], items[0]["sid"]]
    assert found() == expected
    server.restart()  # kill -9: the tail is still unindexed, and found
    assert found() == expected
    assert httpx.post(url + "/sms/callback", content=body([report(4, mobile=MOBILE)])).json()["result"] == 0
    assert found() == [report(4)["sid"], *expected]


def test_indexing_leaves_the_writer_at_synchronous_full(tmp_path):
    """Index chunks commit without their own fsync; report commits must keep theirs."""

    async def scenario() -> int:
        store = SQLiteStore(tmp_path / "s.db")
        await store.open()
        await store.write([push(1, MOBILE, sid="x")])
        await store._on_writer(store._index_chunk, 10)
        level = await store._on_writer(lambda: store._conn.execute("PRAGMA synchronous").fetchone()[0])
        await store.close()
        return level

    assert asyncio.run(scenario()) == 2  # FULL
