"""Forwarding's storage contract, on both backends: events in commit order (one per new report or reply, none for a
duplicate), endpoints and their leases, rounds of attempts, replay, the no-receipt scan and retention."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from delivrd.domain.clock import SECOND_US
from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.providers.tencent.decode import reply_row, report_row
from delivrd.store import open_store
from delivrd.store.base import EndpointRow, Round, Send

T0 = 1_790_000_000_000_000  # µs


def report(n: int, status: str = "SUCCESS") -> dict[str, Any]:
    return {
        "sid": f"sid{n}",
        "mobile": f"138000{n:05d}",
        "nationcode": "86",
        "report_status": status,
        "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0001",
        "user_receive_time": "2026-09-21 22:13:00",
    }


def push(at: int, items: list[dict[str, Any]]) -> Push:
    return Push(CALLBACK, at, "127.0.0.1", 200, "stored", len(items), b"[]", [report_row(i) for i in items], [])


def endpoint(id: str = "ep_1") -> EndpointRow:
    return EndpointRow(
        id, "http://127.0.0.1:9/hook", '["report.delivered"]', None, "whsec_x", False, T0, "active", None,
        0, 0, 0, 0, 0, None, None, None, None,
    )  # fmt: skip


async def events_of(store: Any, after: tuple[int, int] = (0, 0), count: int | None = None) -> list[Any]:
    """Events past `after`, once `count` of them are readable: on PostgreSQL an event waits for every older
    write transaction of the server to end (other tests' included), which takes milliseconds."""
    for _ in range(200):
        found = await store.events_after(*after, 100)
        if count is None or len(found) >= count:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} events expected, {len(found)} readable")


@pytest.fixture
def on_store(backend, tmp_path) -> Callable[[Callable[[Any], Awaitable[Any]]], Any]:
    def run(scenario: Callable[[Any], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            db = tmp_path / "forward.db"
            store = open_store(str(db), backend.database_url(db))
            await store.open()
            try:
                return await scenario(store)
            finally:
                await store.close()

        return asyncio.run(go())

    return run


def test_each_new_report_and_reply_is_one_event_in_commit_order(on_store):
    async def scenario(store):
        await store.write([push(T0, [report(1), report(2, "FAIL")])])
        await store.write([push(T0 + 1, [report(1)])])  # a duplicate push: no event
        reply = {"extend": "", "mobile": "13800000001", "nationcode": "86", "sign": "s", "text": "TD", "time": 1}
        await store.write([Push(REPLY, T0 + 2, "127.0.0.1", 200, "stored", 1, b"[]", [reply_row(reply)], [])])
        events = await events_of(store, count=3)
        assert [e.type for e in events] == ["report.delivered", "report.failed", "reply.received"]
        assert [e.at for e in events] == [T0, T0, T0 + 2]
        assert await store.events_end() == (events[-1].xid, events[-1].seq)
        assert await store.events_after(events[0].xid, events[0].seq, 100) == events[1:]
        sources = await store.event_sources(events)
        assert sorted(r.sid for r in sources.reports.values()) == ["sid1", "sid2"]
        assert [r.text for r in sources.replies.values()] == ["TD"]

    on_store(scenario)


def test_an_endpoint_starts_at_the_end_and_one_owner_holds_it(on_store):
    async def scenario(store):
        await store.write([push(T0, [report(1)])])
        await events_of(store, count=1)
        added = await store.add_endpoint(endpoint())
        assert (added.cursor_xid, added.cursor_seq) == await store.events_end() != (0, 0)
        assert await store.lease_endpoint("ep_1", "a", T0, T0 + 30 * SECOND_US)
        assert not await store.lease_endpoint("ep_1", "b", T0 + SECOND_US, T0 + 31 * SECOND_US)
        assert await store.lease_endpoint("ep_1", "b", T0 + 31 * SECOND_US, T0 + 60 * SECOND_US)  # a's expired
        assert not await store.record_round("ep_1", "a", Round(at=T0, delivered=1))  # a lost it: nothing written
        assert (await store.endpoint("ep_1")).delivered == 0
        await store.set_endpoint_state("ep_1", "disabled", "failing for 5 days")
        assert not await store.lease_endpoint("ep_1", "b", T0 + 61 * SECOND_US, T0 + 90 * SECOND_US)
        assert [e.id for e in await store.endpoints()] == ["ep_1"]
        assert await store.remove_endpoint("ep_1")
        assert not await store.remove_endpoint("ep_1")
        assert await store.endpoint("ep_1") is None

    on_store(scenario)


def test_a_round_moves_the_cursor_and_keeps_failures_for_retry(on_store):
    async def scenario(store):
        await store.add_endpoint(endpoint())
        await store.write([push(T0, [report(n) for n in range(5)])])
        assert await store.lease_endpoint("ep_1", "a", T0, T0 + 30 * SECOND_US)
        events = await events_of(store, count=5)
        last = events[-1]
        failed = (
            (events[1].seq, 1, T0 + 5 * SECOND_US, "HTTP 500"),
            (events[2].seq, 1, T0 + 5 * SECOND_US, "HTTP 500"),
        )
        done = Round(
            T0, cursor=(last.xid, last.seq), delivered=3, failed=failed, failed_attempts=2, last_error="HTTP 500"
        )
        assert await store.record_round("ep_1", "a", done)
        ep = await store.endpoint("ep_1")
        assert (ep.delivered, ep.failed_attempts, ep.last_error, ep.cursor_seq) == (3, 2, "HTTP 500", last.seq)
        assert ep.last_success_at == T0 and ep.failing_since is None  # a success in the round: not failing
        assert await store.retries("ep_1", T0, 10) == []  # not due yet
        due = await store.retries("ep_1", T0 + 5 * SECOND_US, 10)
        assert [(r.seq, r.attempts) for r in due] == [(events[1].seq, 1), (events[2].seq, 1)]
        assert (await store.backlog(await store.endpoint("ep_1")))[:3] == (0, 2, 0)
        # one retried and delivered, one failed for good
        done = Round(T0 + 6 * SECOND_US, done=(events[1].seq,), delivered=1, failed=((events[2].seq, 8, None, "HTTP 400"),),
                     failed_attempts=1, failed_for_good=1, last_error="HTTP 400")  # fmt: skip
        assert await store.record_round("ep_1", "a", done)
        assert await store.retries("ep_1", None, 10) == []
        assert [(r.seq, r.attempts, r.last_error) for r in await store.failures("ep_1", 10)] == [
            (events[2].seq, 8, "HTTP 400")
        ]
        assert (await store.backlog(await store.endpoint("ep_1")))[:3] == (0, 0, 1)
        # replay brings them all back, due now
        assert await store.replay("ep_1", T0, T0 + 1, T0 + 7 * SECOND_US) == 5
        assert len(await store.retries("ep_1", T0 + 7 * SECOND_US, 10)) == 5
        assert await store.replay("missing", T0, T0 + 1, T0) == 0

    on_store(scenario)


def test_failing_since_stays_from_the_first_failure(on_store):
    async def scenario(store):
        await store.add_endpoint(endpoint())
        assert await store.lease_endpoint("ep_1", "a", T0, T0 + 300 * SECOND_US)
        await store.record_round("ep_1", "a", Round(T0, failed_attempts=1, last_error="refused"))
        await store.record_round("ep_1", "a", Round(T0 + SECOND_US, failed_attempts=1, last_error="refused"))
        ep = await store.endpoint("ep_1")
        assert (ep.failing_since, ep.last_error_at, ep.failed_attempts) == (T0, T0 + SECOND_US, 2)
        await store.record_round("ep_1", "a", Round(T0 + 2 * SECOND_US, delivered=1))
        assert (await store.endpoint("ep_1")).failing_since is None

    on_store(scenario)


def test_no_receipt_events_once_per_send_after_the_wait(on_store):
    async def scenario(store):
        wait = 60 * SECOND_US
        assert await store.emit_no_receipt(T0, wait) == 0  # the first scan only marks where it starts
        sends = [
            Send("+8613800000001", "86", "13800000001", T0 - wait + SECOND_US, sid="a"),  # no receipt
            Send("+8613800000002", "86", "13800000002", T0 - wait + 2 * SECOND_US, sid="b"),  # gets one
            Send("+8613800000003", "86", "13800000003", T0 - wait + 3 * SECOND_US, sid=None, code="LimitExceeded"),
            Send("+8613800000004", "86", "13800000004", T0 + 10 * SECOND_US, sid="d"),  # not yet due
        ]
        await store.register_sends([s if s.sid is None else replace(s, code="Ok") for s in sends])
        item = report(0) | {"sid": "b", "mobile": "13800000002"}
        await store.write([push(T0, [item])])
        assert await store.emit_no_receipt(T0 + 5 * SECOND_US, wait) == 1
        assert await store.emit_no_receipt(T0 + 6 * SECOND_US, wait) == 0  # scanned already
        events = [e for e in await events_of(store, count=2) if e.type == "message.no_receipt"]
        assert [e.at for e in events] == [T0 + SECOND_US]
        sources = await store.event_sources(events)
        assert [s.sid for s in sources.sends.values()] == ["a"]
        assert await store.emit_no_receipt(T0 + 80 * SECOND_US, wait) == 1  # "d"

    on_store(scenario)


def test_retention_removes_old_events_and_their_deliveries(on_store):
    async def scenario(store):
        day = 86_400 * SECOND_US
        await store.add_endpoint(endpoint())
        await store.write([push(T0, [report(1)])])
        await store.write([push(T0 + 3 * day, [report(2)])])
        await store.replay("ep_1", T0, T0 + 1, T0)
        removed = await store.prune(T0 + 2 * day)
        assert removed["events"] == 1
        assert [e.at for e in await events_of(store, count=1)] == [T0 + 3 * day]
        assert await store.retries("ep_1", None, 10) == []
        # a seq is never used again: a new event comes after every one handed over
        await store.write([push(T0 + 3 * day, [report(3)])])
        seqs = [e.seq for e in await events_of(store, count=2)]
        assert seqs == sorted(seqs) and len(seqs) == 2

    on_store(scenario)


def test_each_opt_out_change_is_an_event(on_store):
    async def scenario(store):
        from delivrd.store.base import OptOutChange

        on = OptOutChange("+8613800000001", "86", "13800000001", "added", "manual", T0)
        off = OptOutChange("+8613800000001", "86", "13800000001", "removed", "manual", T0 + 1)
        again = OptOutChange("+8613800000001", "86", "13800000001", "removed", "manual", T0 + 2)  # no change
        await store.change_optouts([on, off, again])
        events = await events_of(store, count=2)
        assert [(e.type, e.at) for e in events] == [("optout.added", T0), ("optout.removed", T0 + 1)]
        sources = await store.event_sources(events)
        assert [(c.action, c.phone) for c in sources.optouts.values()] == [
            ("added", "+8613800000001"),
            ("removed", "+8613800000001"),
        ]

    on_store(scenario)


def test_an_event_of_a_type_this_delivrd_does_not_know_names_no_source(on_store):
    async def scenario(store):
        from delivrd.store.base import EventRow

        sources = await store.event_sources([EventRow(1, 0, "invoice.paid", 1, T0)])
        assert sources.reports == sources.replies == sources.sends == sources.optouts == {}

    on_store(scenario)
