"""Sends, message state and the stats histogram at the store level (the rules on MessageRow), on both backends."""

import asyncio

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.store import open_store
from delivrd.store.base import MessageQuery, Send, SendQuery, StatsQuery

T0 = 1_790_000_000_000_000  # µs, a whole second
HOUR = 3_600_000_000


def receipt(sid, mobile, status="SUCCESS", errmsg="DELIVRD", when="2026-09-21 22:13:40", at=T0):
    item = {
        "sid": sid,
        "mobile": mobile,
        "nationcode": "86",
        "report_status": status,
        "errmsg": errmsg,
        "user_receive_time": when,
    }
    return Push(CALLBACK, at, "127.0.0.1", 200, "stored", 10, b"[]", [report_row(item)])


def send(sid, mobile, sent_at=T0, **kw):
    return Send(phone=f"+86{mobile}", nationcode="86", mobile=mobile, sent_at=sent_at, sid=sid, **kw)


def run(tmp_path, scenario, backend):
    return on(tmp_path / "d.db", backend, scenario)


def on(db, backend, scenario, migrate=False):
    async def go():
        store = open_store(str(db), backend.database_url(db), migrate=migrate)
        await store.open()
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(go())


def test_states_matching_and_histogram(tmp_path, backend):
    async def scenario(store):
        # a receipt before its send, then the send: matched when the send is registered
        await store.write([receipt("s1", "13800000001", at=T0 + 5)])
        # a failure receipt for a registered send; a duplicate push of it
        await store.write([receipt("s2", "13800000002", "FAIL", "MK:0001")] * 2)
        # a receipt nobody registered a send for
        await store.write([receipt("s9", "13800000009", at=T0 + 7)])
        new = await store.register_sends(
            [
                send("s1", "13800000001", template_id="T1"),
                send("s2", "13800000002", template_id="T1"),
                send("s3", "13800000003", sent_at=T0 - 100 * HOUR),  # old, no receipt
                send("s4", "13800000004", sent_at=T0 + HOUR),  # recent, no receipt
                send(None, "13800000005", code="LimitExceeded.PhoneNumberDailyLimit"),  # refused at send
            ]
        )
        again = await store.register_sends([send("s1", "13800000001", template_id="other")])
        rows = []
        async for chunk in store.messages(MessageQuery(pending_after=T0 - 72 * HOUR)):
            rows += chunk
        by_template = await store.stats(StatsQuery(pending_after=T0 - 72 * HOUR, by="template"))
        found = await store.sends(SendQuery(sid="s1"))
        return new, again, rows, by_template, found

    new, again, rows, by_template, found = run(tmp_path, scenario, backend)
    assert (new, again) == (5, 0)
    assert found[0].template_id == "T1"  # the first registration stands
    state = {(r.sid, r.mobile): (r.state, r.code, r.receipts) for r in rows}
    assert state == {
        ("s1", "13800000001"): ("delivered", "DELIVRD", 1),
        ("s2", "13800000002"): ("failed", "MK:0001", 1),
        ("s3", "13800000003"): ("no_receipt", None, 0),
        ("s4", "13800000004"): ("pending", None, 0),
        (None, "13800000005"): ("failed", "LimitExceeded.PhoneNumberDailyLimit", 0),
        ("s9", "13800000009"): ("delivered", "DELIVRD", 1),
    }
    s1 = next(r for r in rows if r.sid == "s1")
    # 2026-09-21 22:13:40 in UTC+8 is 1790000020 s, sent at 1790000000 s
    assert s1.latency_s == 20 and s1.user_receive_ts == 1_790_000_020
    assert next(r for r in rows if r.sid == "s9").latency_s is None  # no send, no latency
    cells = {(r.key, r.state, r.code, r.latency_s): r.count for r in by_template}
    assert cells == {
        ("T1", "delivered", "DELIVRD", 20): 1,
        ("T1", "failed", "MK:0001", None): 1,
        (None, "no_receipt", None, None): 1,
        (None, "pending", None, None): 1,
        (None, "failed", "LimitExceeded.PhoneNumberDailyLimit", None): 1,
        (None, "delivered", "DELIVRD", None): 1,
    }


def test_time_range_and_day_keys(tmp_path, backend):
    async def scenario(store):
        await store.register_sends([send(f"d{n}", f"1390000000{n}", sent_at=T0 + n * 24 * HOUR) for n in range(3)])
        inside = await store.stats(StatsQuery(since=T0 + 24 * HOUR, until=T0 + 48 * HOUR, by="day"))
        return inside

    inside = run(tmp_path, scenario, backend)
    day = (T0 + 24 * HOUR) // (24 * HOUR) * (24 * HOUR)
    assert [(r.key, r.state, r.count) for r in inside] == [(day, "pending", 1)]


MESSAGE_COLUMNS = (
    "sid, mobile, at, nationcode, template_id, sign_name, sent_at, send_code, first_report_at, receipts, ok, ko,"
    " ok_code, ko_code, user_receive_ts, state, code, latency_s, hour"
)
COPIED = {
    "sends": "sid, phone, nationcode, mobile, sent_at, template_id, sign_name, fee, session_context, code, message,"
    " iso_code, registered_at",
    "reports": "sid, dedup_key, nationcode, mobile, report_status, errmsg, description, user_receive_time, ext,"
    " extra, phone, user_receive_ts, inbox_id, received_at",
}


def sql(backend, db, statement, rows=None):
    """Run one statement on `db` directly (not through delivrd): fetch rows, or insert `rows`."""
    if backend.name == "sqlite":
        from delivrd.store.sqlite.connect import connect

        conn = connect(str(db))
        try:
            if rows is not None:
                conn.executemany(statement, rows)
                return []
            return [tuple(r) for r in conn.execute(statement)]
        finally:
            conn.close()
    import asyncpg

    from delivrd.store.insight_sql import numbered

    async def go():
        conn = await asyncpg.connect(backend.database_url(db))
        try:
            if rows is not None:
                await conn.executemany(numbered(statement), rows)
                return []
            return [tuple(r) for r in await conn.fetch(statement)]
        finally:
            await conn.close()

    return asyncio.run(go())


def test_upgrading_derives_the_messages_the_write_path_keeps(tmp_path, backend):
    """Migration 0003 backfills `messages` from sends and receipts exactly as the writes maintain it, and the
    rollups migration counts them exactly as its triggers keep them."""
    from tests.test_migrations import make_old_database

    async def scenario(store):
        await store.write([receipt("a", "13800000001", "FAIL", "43", at=T0 + 1)])  # receipts before the send,
        await store.write(
            [
                receipt("a", "13800000001", "SUCCESS", "DELIVRD", at=T0 + 2),  # in two groups
                receipt("b", "13800000002", "FAIL", "MK:0001", at=T0 + 3),
                receipt("b", "13800000002", "FAIL", "MX:0003", when="2026-09-21 22:13:41", at=T0 + 3),
                receipt("o", "13800000009", at=T0 + 4),
            ]
        )  # two of one message in a group; an orphan
        await store.register_sends(
            [
                send("a", "13800000001", template_id="T1", sign_name="S"),
                send("b", "13800000002"),
                send("c", "13800000003", sent_at=T0 - 99 * HOUR),
                send(None, "13800000005", code="LimitExceeded.PhoneNumberDailyLimit"),
            ]
        )
        await store.write(
            [
                receipt("b", "13800000002", "FAIL", "MK:0001", at=T0 + 5),  # a duplicate
                receipt("o", "13800000009", "FAIL", "UNDELIV", at=T0 + 6),
            ]
        )

    live = tmp_path / "live.db"
    on(live, backend, scenario)
    kept = sorted(sql(backend, live, f"SELECT {MESSAGE_COLUMNS} FROM messages"), key=repr)
    assert len(kept) == 5 and sum(1 for m in kept if m[15] == "delivered") == 2  # a (after its FAIL), o

    old = tmp_path / "old.db"
    assert make_old_database(backend, old, version=2) == 2  # before 0003, which made `messages`
    if backend.name == "postgresql":  # the day's partition, as a serving delivrd would have made it
        from delivrd.domain.clock import DAY_US as DAY
        from delivrd.store.postgres.store import partition_name

        day = T0 // DAY
        sql(
            backend,
            old,
            f"CREATE TABLE {partition_name('reports', day)} PARTITION OF reports"
            f" FOR VALUES FROM ({day * DAY}) TO ({(day + 1) * DAY})",
        )
    for table, columns in COPIED.items():
        copied = sql(backend, live, f"SELECT {columns} FROM {table} ORDER BY id")
        marks = ", ".join("?" * len(columns.split(",")))
        sql(backend, old, f"INSERT INTO {table} ({columns}) VALUES ({marks})", copied)
    on(old, backend, lambda store: asyncio.sleep(0), migrate=True)  # opening with --migrate upgrades it
    assert sorted(sql(backend, old, f"SELECT {MESSAGE_COLUMNS} FROM messages"), key=repr) == kept
    cells = "SELECT grain, slot, value, outcome, code, latency, n FROM rollups WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5, 6"
    assert sql(backend, old, cells) == sql(backend, live, cells)
    assert len(sql(backend, live, cells)) > 5 * 4  # every grain, several cells each
