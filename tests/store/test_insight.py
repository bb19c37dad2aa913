"""Sends, message state and the stats histogram at the store level (the rules on MessageRow), on both backends."""

import asyncio

from delivrd.push import CALLBACK, Push
from delivrd.store.base import MessageQuery, Send, SendQuery, StatsQuery
from delivrd.store import open_store
from delivrd.tencent import report_row

T0 = 1_790_000_000_000_000  # µs, a whole second
HOUR = 3_600_000_000


def receipt(sid, mobile, status="SUCCESS", errmsg="DELIVRD", when="2026-09-21 22:13:40", at=T0):
    item = {"sid": sid, "mobile": mobile, "nationcode": "86", "report_status": status, "errmsg": errmsg,
            "user_receive_time": when}  # fmt: skip
    return Push(CALLBACK, at, "127.0.0.1", 200, "stored", 10, b"[]", [report_row(item)])


def send(sid, mobile, sent_at=T0, **kw):
    return Send(phone=f"+86{mobile}", nationcode="86", mobile=mobile, sent_at=sent_at, sid=sid, **kw)


def run(tmp_path, scenario, backend):
    async def go():
        store = open_store(str(tmp_path / "d.db"), backend.database_url(tmp_path / "d.db"))
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
        new = await store.register_sends([
            send("s1", "13800000001", template_id="T1"),
            send("s2", "13800000002", template_id="T1"),
            send("s3", "13800000003", sent_at=T0 - 100 * HOUR),  # old, no receipt
            send("s4", "13800000004", sent_at=T0 + HOUR),  # recent, no receipt
            send(None, "13800000005", code="LimitExceeded.PhoneNumberDailyLimit"),  # refused at send
        ])  # fmt: skip
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
