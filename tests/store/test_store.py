"""The Store promises, checked the same way on SQLite and on PostgreSQL (the `backend` fixture)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.providers.tencent.decode import Quarantined, reply_row, report_row
from delivrd.store import ReportQuery, StoreError, open_store
from delivrd.store.base import ListQuery, Send, SendQuery

NOW = int(time.time() * 1_000_000)
DAY = 86_400_000_000


def item(n: int, **changes) -> dict:
    return {"sid": f"s{n}", "mobile": f"138{n:08d}", "nationcode": "86", "report_status": "SUCCESS", **changes}


def push(*items: dict, at: int = NOW, rejects: tuple[Quarantined, ...] = ()) -> Push:
    return Push(CALLBACK, at, "127.0.0.1", 200, "stored", 10, b"[]", [report_row(i) for i in items], list(rejects))


@pytest.fixture
def make_store(backend, tmp_path):
    """make_store(name="a", migrate=False) -> an unopened Store; the same name is the same database."""

    def make(name: str = "a", migrate: bool = False):
        db = tmp_path / f"{name}.db"
        return open_store(str(db), backend.database_url(db), migrate=migrate)

    return make


def run(coro):
    return asyncio.run(coro)


async def opened(store):
    await store.open()
    return store


def test_reports_newest_first_with_keyset_pages_and_filters(make_store):
    async def scenario():
        store = await opened(make_store())
        await store.write([push(*(item(n) for n in range(5)), at=NOW)])
        await store.write([push(item(5, report_status="FAIL", errmsg="MK:0001", nationcode="62"), at=NOW + 10)])
        first = await store.reports(ReportQuery(limit=4))
        second = await store.reports(ReportQuery(limit=4, before_id=first.next_before_id))
        found = {
            "fail": await store.reports(ReportQuery(report_status="FAIL")),
            "errmsg": await store.reports(ReportQuery(errmsg="MK:0001", nationcode="62")),
            "sid": await store.reports(ReportQuery(sid="s3")),
            "mobile": await store.reports(ReportQuery(mobile=item(2)["mobile"])),
            "since": await store.reports(ReportQuery(since=NOW + 5)),
            "until": await store.reports(ReportQuery(until=NOW + 5)),
        }
        await store.close()
        return first, second, found

    first, second, found = run(scenario())
    ids = [r.id for r in first.items + second.items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6 and second.next_before_id is None
    assert [r.sid for r in first.items][:1] == ["s5"]
    assert [r.sid for r in found["fail"].items] == ["s5"] == [r.sid for r in found["errmsg"].items]
    assert [r.sid for r in found["sid"].items] == ["s3"]
    assert [r.sid for r in found["mobile"].items] == ["s2"]
    assert [r.sid for r in found["since"].items] == ["s5"]
    assert len(found["until"].items) == 5


def test_a_retried_report_is_stored_once_and_counted(make_store):
    async def scenario():
        store = await opened(make_store())
        await store.write([push(item(1), item(1), item(2))])  # twice in one group
        await store.write([push(item(1)), push(item(1))])  # and again in the next
        reply = Push(REPLY, NOW, None, 200, "stored", 5, b"{}", [reply_row({"mobile": "1", "text": "hi"})])
        await store.write([reply, reply])
        page, replies, counters = (
            await store.reports(ReportQuery()),
            await store.replies(ListQuery()),
            await store.counters(),
        )
        await store.close()
        return page, replies, counters

    page, replies, counters = run(scenario())
    assert {r.sid: r.duplicates for r in page.items} == {"s1": 3, "s2": 0}
    assert [r.duplicates for r in replies.items] == [1]
    assert counters["reports"] == 2 and counters["report_duplicates"] == 3
    assert counters["replies"] == 1 and counters["reply_duplicates"] == 1 and counters["inbox"] == 5


def test_rejects_and_inbox_are_listed_with_their_filters(make_store):
    async def scenario():
        store = await opened(make_store())
        bad = Quarantined(1, "missing required field(s): sid", '{"mobile":"1"}')
        await store.write([push(item(1), rejects=(bad,)), Push(REPLY, NOW, None, 400, "rejected", 3, b"\xff\x00x")])
        listed = (
            await store.rejects(ListQuery(route="callback")),
            await store.inbox(ListQuery(outcome="rejected")),
            await store.inbox(ListQuery(route="callback")),
        )
        await store.close()
        return listed

    rejects, rejected, callbacks = run(scenario())
    assert [(r.item_index, r.reason, r.raw) for r in rejects.items] == [
        (1, "missing required field(s): sid", '{"mobile":"1"}')
    ]
    [entry] = rejected.items
    assert entry.route == "reply" and entry.body == b"\xff\x00x"  # bytes kept exactly
    assert [e.rejected for e in callbacks.items] == [1]


def test_a_failed_group_leaves_nothing_behind(make_store):
    async def scenario():
        store = await opened(make_store())
        broken = push(item(2))
        broken.rows = [broken.rows[0][:3]]  # the wrong number of columns: the group fails midway
        with pytest.raises(StoreError):
            await store.write([push(item(1)), broken])
        await store.write([push(item(3))])
        page, counters = await store.reports(ReportQuery()), await store.counters()
        await store.close()
        return page, counters

    page, counters = run(scenario())
    assert [r.sid for r in page.items] == ["s3"]
    assert counters["inbox"] == 1 and counters["reports"] == 1


def test_two_writers_on_one_database_store_each_report_once(make_store):
    """Two stores (separate connections, as two processes have) commit overlapping groups at once."""

    async def scenario():
        a, b = await opened(make_store()), await opened(make_store())
        rng = random.Random(7)
        groups = []
        for _ in range(40):
            numbers = rng.sample(range(60), 10)
            groups.append([push(*(item(n) for n in numbers))])
        await asyncio.gather(*(store.write(g) for g, store in zip(groups, [a, b] * 20)))
        page, counters = await a.reports(ReportQuery(limit=1000)), await b.counters()
        await a.close()
        await b.close()
        return groups, page, counters

    groups, page, counters = run(scenario())
    sent = [row[0] for g in groups for p in g for row in p.rows]
    sids = [r.sid for r in page.items]
    assert sorted(sids) == sorted(set(sent))
    assert sum(r.duplicates for r in page.items) == len(sent) - len(set(sent))
    assert counters["reports"] == len(set(sent)) and counters["report_duplicates"] == len(sent) - len(set(sent))


def test_prune_removes_what_is_older_than_the_cutoff(make_store, backend):
    async def scenario():
        store = await opened(make_store())
        old, recent = NOW - 40 * DAY, NOW - DAY
        await store.write([push(item(1), at=old, rejects=(Quarantined(1, "bad", "{}"),)), push(item(2), at=recent)])
        await store.register_sends([Send("+861", "86", "1", old, sid="s1"), Send("+862", "86", "2", recent, sid="s2")])
        removed = await store.prune(NOW - 30 * DAY)
        await store.write([push(item(1), at=NOW)])  # after retention the key is free again
        listed = (
            removed,
            await store.reports(ReportQuery()),
            await store.inbox(ListQuery()),
            await store.rejects(ListQuery()),
            await store.sends(SendQuery()),
        )
        await store.close()
        return listed

    removed, reports, inbox, rejects, sends = run(scenario())
    # what went, by table: the old push's report, inbox body and reject, the old send and both its messages
    # (the old report's and the old send's: one sid each)
    assert removed == {"reports": 1, "replies": 0, "rejects": 1, "inbox": 1, "sends": 1, "messages": 2, "events": 1}
    assert sorted((r.sid, r.duplicates) for r in reports.items) == [("s1", 0), ("s2", 0)]
    assert len(inbox.items) == 2 and rejects.items == []
    assert [s.sid for s in sends] == ["s2"]


def test_a_newer_schema_is_refused_and_an_unreachable_database_is_a_store_error(make_store, backend):
    async def scenario():
        store = await opened(make_store())
        await store.close()
        await bump_version(make_store(), backend)
        await make_store().open()

    with pytest.raises(StoreError, match="newer than this delivrd understands"):
        run(scenario())
    if backend.name == "postgresql":
        with pytest.raises(StoreError, match=r"cannot open PostgreSQL database test on 127\.0\.0\.1:1"):
            run(open_store("", "postgresql://postgres@127.0.0.1:1/test").open())


@pytest.mark.backends("postgresql")  # on SQLite, simultaneous first opens of a new file can meet "database is locked"
def test_concurrent_starters_on_an_empty_database_both_succeed(make_store):
    async def scenario():
        stores = [make_store() for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        versions = [await s.schema_version() for s in stores]
        for s in stores:
            await s.close()
        return versions

    from delivrd.store import migrations

    assert set(run(scenario())) == {migrations.latest(make_store().dialect)}


async def bump_version(store, backend) -> None:
    """Mark the database as migrated by a newer delivrd."""
    if backend.name == "sqlite":
        from delivrd.store.sqlite.connect import connect

        db = connect(store.path)
        db.execute("PRAGMA user_version = 999")
        db.close()
    else:
        import asyncpg

        conn = await asyncpg.connect(store.url)
        await conn.execute("UPDATE delivrd_schema SET version = 999")
        await conn.close()


def test_one_push_the_store_refuses_fails_alone_in_its_group(make_store):
    """A value no decoder check caught (here an int64 overflow) must cost its own push only."""
    from delivrd.domain import results
    from delivrd.writer.group_commit import Writer, WriteRefused

    async def scenario():
        store = await opened(make_store())
        writer = Writer(store)
        writer.start()
        poisoned_row = (
            *reply_row({"mobile": "13800138000", "text": "hi"})[:6],
            2**70,
            *reply_row({"mobile": "13800138000", "text": "hi"})[7:],
        )
        poisoned = Push(REPLY, NOW, "10.0.0.9", 200, "stored", 3, b"{!}", [poisoned_row])
        pushes = [push(item(n)) for n in range(50)] + [poisoned] + [push(item(n)) for n in range(50, 100)]
        answers = await asyncio.gather(*(writer.submit(p) for p in pushes), return_exceptions=True)
        await writer.close()
        reports = await store.reports(ReportQuery(limit=1000))
        inbox = await store.inbox(ListQuery(limit=1000))
        rejects = await store.rejects(ListQuery(limit=1000))
        await store.close()
        return answers, reports, inbox, rejects

    answers, reports, inbox, rejects = run(scenario())
    refused = [(n, a) for n, a in enumerate(answers) if a is not None]
    assert len(refused) == 1 and refused[0][0] == 50
    assert isinstance(refused[0][1], WriteRefused) and refused[0][1].code == results.UNSTORABLE
    assert len(reports.items) == 100
    kept = [e for e in inbox.items if e.outcome == "unstorable"]
    assert len(inbox.items) == 101 and len(kept) == 1 and kept[0].body == b"{!}"
    assert len(rejects.items) == 1 and "storage refused this push" in rejects.items[0].reason
