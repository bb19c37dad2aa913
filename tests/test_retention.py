"""Retention (the service's, at start) and `delivrd db prune`: what is older goes, what is recent stays, on both
backends. That `serve --retention-days` reaches the service is in test_cli."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store import open_store

DAY = 86_400_000_000


def seed(backend, db, ages_in_days: dict[str, int]) -> None:
    """Store one report per sid, received that many days ago (as if delivrd had been running that long)."""
    now = int(time.time() * 1_000_000)

    async def write() -> None:
        store = open_store(str(db), backend.database_url(db))
        await store.open()
        for sid, age in ages_in_days.items():
            row = report_row({"sid": sid, "mobile": "13800138000", "report_status": "SUCCESS"})
            await store.write([Push(CALLBACK, now - age * DAY, None, 200, "stored", 2, b"[]", [row])])
        await store.close()

    asyncio.run(write())


def stored(client: httpx.Client) -> set[str]:
    return {r["sid"] for r in client.get("/v1/reports").json()["items"]}


def test_retention_days_removes_old_reports_at_start(backend, tmp_path, start_app):
    db = tmp_path / "r.db"
    seed(backend, db, {"old": 40, "recent": 2, "today": 0})
    client = start_app(retention_days=30, db=db).client
    assert stored(client) == {"recent", "today"}
    inbox = client.get("/v1/inbox").json()["items"]
    assert len(inbox) == 2


def test_db_prune_applies_retention_once(backend, tmp_path, start_app):
    db = tmp_path / "r.db"
    seed(backend, db, {"old": 10, "recent": 2})
    url = backend.database_url(db)
    args = ["--db", str(db), *(["--database-url", url] if url else [])]

    def run(*a):
        return subprocess.run([sys.executable, "-m", "delivrd", "db", *a], capture_output=True, text=True, timeout=60)

    missing = run("prune", *args)
    assert missing.returncode == 2 and "--retention-days" in missing.stderr
    result = run("prune", "--retention-days", "5", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "removed what is older than 5 days (sends by when they were sent):"
        " 1 report, 0 replies, 0 rejects, 1 inbox body, 0 sends, 1 message\n"
    )
    client = start_app(db=db).client
    assert stored(client) == {"recent"}
    assert client.get("/v1/stats").json()["total"] == 1  # the old message went with its receipt


def test_a_prune_keeps_the_statistics_and_one_messages_view_agreeing(backend, tmp_path, start_app):
    """A send from before the cutoff whose receipt came after it goes as a whole: before, the receipt stayed and
    /v1/messages/{sid} showed a delivered message that /v1/stats no longer counted."""
    from delivrd.store.base import Send

    db = tmp_path / "r.db"
    now = int(time.time() * 1_000_000)

    async def write() -> None:
        store = open_store(str(db), backend.database_url(db))
        await store.open()
        for sid, sent_days_ago, received_days_ago in (("old", 10, 2), ("recent", 3, 2)):
            mobile = "13800138000" if sid == "old" else "13800138001"
            send = Send(
                phone=f"+86{mobile}", nationcode="86", mobile=mobile, sent_at=now - sent_days_ago * DAY, sid=sid
            )
            await store.register_sends([send])
            row = report_row({"sid": sid, "mobile": mobile, "report_status": "SUCCESS"})
            received = now - received_days_ago * DAY
            await store.write([Push(CALLBACK, received, None, 200, "stored", 2, b"[]", [row])])
        assert await store.prune(now - 5 * DAY) == {
            "reports": 1,
            "replies": 0,
            "rejects": 0,
            "inbox": 0,
            "sends": 1,
            "messages": 1,
            # the receipt went with its old send, its event (received 1 day ago) stays until it is 5 days old;
            # nothing is sent for it (its row is gone)
            "events": 0,
        }
        await store.close()

    asyncio.run(write())
    client = start_app(db=db).client
    assert client.get("/v1/messages/old").status_code == 404
    assert client.get("/v1/messages/recent").json()["state"] == "delivered"
    assert client.get("/v1/stats").json()["total"] == 1 == len(client.get("/v1/reports").json()["items"])
