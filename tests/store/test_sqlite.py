"""The SQLite store on its own: schema versioning, durable settings, reads beside the writer."""

import asyncio
import sqlite3

import pytest

from delivrd.push import CALLBACK, Push
from delivrd.store import ReportQuery, StoreError
from delivrd.store import migrations
from delivrd.store.sqlite import SQLiteStore

SCHEMA_VERSION = migrations.latest("sqlite")
from delivrd.tencent import report_row


def a_push(n: int) -> Push:
    item = {"sid": f"s{n}", "mobile": "13800138000", "nationcode": "86", "report_status": "SUCCESS"}
    return Push(CALLBACK, 1_700_000_000_000_000 + n, "127.0.0.1", 200, "stored", 10, b"{}", [report_row(item)])


def test_creates_a_wal_database_at_the_current_version(tmp_path):
    async def scenario():
        store = SQLiteStore(tmp_path / "d.db")
        await store.open()
        await store.write([a_push(1), a_push(2)])
        page = await store.reports(ReportQuery(limit=10))
        await store.close()
        return page

    page = asyncio.run(scenario())
    assert [r.sid for r in page.items] == ["s2", "s1"]
    with sqlite3.connect(tmp_path / "d.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_refuses_a_newer_schema(tmp_path):
    with sqlite3.connect(tmp_path / "d.db") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    async def scenario():
        await SQLiteStore(tmp_path / "d.db").open()

    with pytest.raises(StoreError, match="newer than this delivrd understands"):
        asyncio.run(scenario())


def test_a_failed_group_leaves_nothing_behind(tmp_path):
    async def scenario():
        store = SQLiteStore(tmp_path / "d.db")
        await store.open()
        broken = a_push(2)
        broken.rows = [broken.rows[0][:3]]  # wrong number of columns: the insert fails mid-group
        with pytest.raises(StoreError):
            await store.write([a_push(1), broken])
        await store.write([a_push(3)])
        page = await store.reports(ReportQuery())
        counters = await store.counters()
        await store.close()
        return page, counters

    page, counters = asyncio.run(scenario())
    assert [r.sid for r in page.items] == ["s3"]  # a_push(1) was rolled back with its group
    assert counters["inbox"] == 1 and counters["reports"] == 1
