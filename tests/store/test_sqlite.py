"""What only the SQLite store does: a WAL database with its version in PRAGMA user_version (the rest: test_store.py)."""

import asyncio

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store import ReportQuery, migrations
from delivrd.store.sqlite.connect import connect
from delivrd.store.sqlite.store import SQLiteStore

SCHEMA_VERSION = migrations.latest("sqlite")


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
    db = connect(str(tmp_path / "d.db"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
