"""The group write hands PostgreSQL its rows as one JSON document (`store.postgres.ingest`): every value must come out
of the database exactly as the decoder made it, on PostgreSQL as on SQLite (the reference, which binds the tuples)."""

from __future__ import annotations

import asyncio
import time

import pytest

from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.providers.tencent.decode import Quarantined, reply_row, report_row
from delivrd.store import ReportQuery, open_store
from delivrd.store.base import ListQuery
from tests.databases import postgres

NOW = int(time.time() * 1_000_000)
#: text JSON escapes, or that a careless expansion would mangle: quotes, backslashes, controls, beyond the BMP, long
AWKWARD = [
    'say "hi" \\ back\\slash \\u0041 not an escape',
    "tab\tnew\nline\rcarriage \x01\x1f controls",
    "用户短信接收成功 😀 \u2028\u2029 é",
    "x" * 20_000,
    "",
    "null",
    "[1,2]",
]


def reports() -> list[dict]:
    items = [
        {
            "sid": f"s{9 - n}:{text[:20]}",  # not in sorted order: ids must follow arrival
            "mobile": f"138{n:08d}",
            "nationcode": "86",
            "report_status": "SUCCESS" if n % 2 else "FAIL",
            "errmsg": "DELIVRD" if n % 2 else None,
            "description": text,
            "user_receive_time": "2026-11-25 10:00:00" if n % 3 else "not a time",
            "ext": text[:50] or None,
            "unknown": {"nested": [text[:10], n, None, 1.5]},
        }
        for n, text in enumerate(AWKWARD)
    ]
    items.append({"sid": "only", "mobile": "1", "report_status": "FAIL"})  # every optional field absent
    return items


def test_every_value_of_a_group_comes_back_exactly(backend, tmp_path):
    db = tmp_path / "g.db"
    items = reports()
    first = Push(CALLBACK, NOW, "10.0.0.1", 200, "partial", 10, b"[1]", [report_row(i) for i in items])
    first.rejects = [Quarantined(2, 'reason "quoted"', "{\n}")]
    again = {**items[0], "description": "the same report again, another description"}  # same key: a duplicate
    second = Push(CALLBACK, NOW + 1, None, 200, "stored", 5, b"[2]", [report_row(again), report_row(items[1])])
    texts = [{"mobile": "139", "text": text, "sign": "签名", "time": 1764036000 + n} for n, text in enumerate(AWKWARD)]
    reply = Push(REPLY, NOW + 2, None, 200, "stored", 3, b"{}", [reply_row(t) for t in texts])
    twice = Push(REPLY, NOW + 3, None, 200, "stored", 3, b"{}", [reply_row(texts[0])])

    async def scenario():
        store = open_store(str(db), backend.database_url(db), migrate=True)
        await store.open()
        await store.write([first, second, reply, twice])
        found = (
            await store.reports(ReportQuery(limit=100)),
            await store.replies(ListQuery(limit=100)),
            await store.rejects(ListQuery(limit=100)),
            await store.counters(),
        )
        await store.close()
        return found

    stored, replies, rejects, counters = asyncio.run(scenario())
    by_sid = {r.sid: r for r in stored.items}
    assert len(by_sid) == len(items)
    for row in first.rows:
        got = by_sid[row[0]]
        expected = (row[0], *row[2:])  # the row as decoded, less its dedup_key (not read back)
        assert (got.sid, got.nationcode, got.mobile, got.report_status, got.errmsg, got.description) == expected[:6]
        assert (got.user_receive_time, got.ext, got.extra, got.phone, got.user_receive_ts) == expected[6:]
        assert got.received_at == NOW
    assert by_sid[items[0]["sid"]].duplicates == 1 and by_sid[items[1]["sid"]].duplicates == 1  # first one kept
    assert [r.sid for r in sorted(stored.items, key=lambda r: r.id)] == [row[0] for row in first.rows]  # arrival
    assert sorted((r.text, r.sign, r.time, r.duplicates) for r in replies.items) == sorted(
        (t["text"], "签名", t["time"], 1 if n == 0 else 0) for n, t in enumerate(texts)
    )
    assert [(r.item_index, r.reason, r.raw) for r in rejects.items] == [(2, 'reason "quoted"', "{\n}")]
    assert counters["reports"] == len(items) and counters["report_duplicates"] == 2
    assert counters["replies"] == len(texts) and counters["reply_duplicates"] == 1 and counters["inbox"] == 4
    if backend.name == "postgresql":  # the bytes of each key, sent as base64, stored as they were made
        schema = backend.schemas[db]
        keys = postgres(f"SELECT sid, dedup_key FROM {schema}.report_keys")
        assert {sid: bytes(key) for sid, key in keys} == {row[0]: row[1] for row in first.rows}


@pytest.mark.backends("postgresql")
def test_a_row_json_cannot_carry_is_refused_as_the_store_refuses_a_value(backend, tmp_path):
    """A lone surrogate (no decoder lets one through) cannot be encoded: a StoreError, so the writer isolates the push."""
    from delivrd.store import StoreError

    db = tmp_path / "r.db"
    row = list(report_row({"sid": "s", "mobile": "1", "report_status": "FAIL"}))
    row[6] = "\ud800"

    async def scenario():
        store = open_store(str(db), backend.database_url(db), migrate=True)
        await store.open()
        try:
            with pytest.raises(StoreError, match="refused"):
                await store.write([Push(CALLBACK, NOW, None, 200, "stored", 1, b"[]", [tuple(row)])])
            return await store.counters()
        finally:
            await store.close()

    assert asyncio.run(scenario()).get("inbox", 0) == 0
