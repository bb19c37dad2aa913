"""The read contract every backend passes: each filter of reports, replies, rejects, inbox and sends, the time
bounds (since inclusive, until exclusive), keyset pages walked to the end, and limits; called on the store
directly, once per backend (the HTTP tests check the parameters' parsing, not these results again).

Each case is checked against the same filter applied in Python to what was written.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from delivrd.domain.push import CALLBACK, REPLY, Push
from delivrd.providers.tencent.decode import Quarantined, reply_row, report_row
from delivrd.store import ReportQuery, open_store
from delivrd.store.base import ListQuery, Send, SendQuery

T0 = 1_790_000_000_000_000  # µs
STEP = 10  # µs between pushes


@dataclass
class Written:
    """One stored row as the test wrote it: where it came from, and the fields the filters look at."""

    n: int  # write order: ids grow with it
    at: int
    fields: dict[str, Any]


def report_items() -> list[dict[str, Any]]:
    return [
        {
            "sid": f"s{n % 7}",
            "mobile": f"1380000000{n % 3}",
            "nationcode": "86" if n % 2 else "62",
            "report_status": "FAIL" if n % 4 == 0 else "SUCCESS",
            "errmsg": "MK:0001" if n % 4 == 0 else "DELIVRD",
            "user_receive_time": f"2026-09-21 22:13:{n:02d}",
        }
        for n in range(12)
    ]


async def write_everything(store: Any) -> dict[str, list[Written]]:
    """Reports (one push each), replies, rejects on both routes, inbox rows of every outcome, and sends."""
    written: dict[str, list[Written]] = {"reports": [], "replies": [], "rejects": [], "inbox": []}
    at = T0
    for n, item in enumerate(report_items()):
        at += STEP
        bad = (Quarantined(1, "missing required field(s): sid", '{"mobile":"1"}'),) if n % 5 == 0 else ()
        outcome = "partial" if bad else "stored"
        await store.write([Push(CALLBACK, at, "127.0.0.1", 200, outcome, 10, b"[]", [report_row(item)], list(bad))])
        written["reports"].append(Written(n, at, item))
        written["inbox"].append(Written(len(written["inbox"]), at, {"route": CALLBACK, "outcome": outcome}))
        if bad:
            written["rejects"].append(Written(len(written["rejects"]), at, {"route": CALLBACK}))
    for n in range(8):
        at += STEP
        item = {"mobile": f"1390000000{n % 2}", "text": f"reply {n}", "nationcode": "86"}
        await store.write([Push(REPLY, at, None, 200, "stored", 5, b"{}", [reply_row(item)])])
        written["replies"].append(Written(n, at, item))
        written["inbox"].append(Written(len(written["inbox"]), at, {"route": REPLY, "outcome": "stored"}))
    for n in range(3):
        at += STEP
        refused = Push(
            REPLY if n % 2 else CALLBACK,
            at,
            None,
            400,
            "rejected",
            3,
            b"\xff\x00x",
            rejects=[Quarantined(None, "body is not valid JSON", "\ufffd")],
        )
        await store.write([refused])
        written["rejects"].append(Written(len(written["rejects"]), at, {"route": refused.route}))
        written["inbox"].append(Written(len(written["inbox"]), at, {"route": refused.route, "outcome": "rejected"}))
    return written


def matching(rows: list[Written], since: int | None = None, until: int | None = None, **equal: Any) -> list[int]:
    """The write order numbers of the rows a query should return, newest first."""
    return [
        w.n
        for w in reversed(rows)
        if all(w.fields.get(k) == v for k, v in equal.items())
        and (since is None or w.at >= since)
        and (until is None or w.at < until)
    ]


async def walk(fetch: Callable[[Any], Awaitable[Any]], make: Callable[..., Any], limit: int) -> tuple[list[Any], int]:
    """Every item of a listing, page by page to the end: (items, pages)."""
    items: list[Any] = []
    pages, cursor = 0, None
    while True:
        page = await fetch(make(limit=limit, before_id=cursor))
        items += page.items
        pages += 1
        if page.next_before_id is None:
            return items, pages
        assert len(page.items) == limit and page.next_before_id == page.items[-1].id
        cursor = page.next_before_id


@pytest.fixture
def on_store(backend, tmp_path):
    """on_store(scenario) → scenario(store, written)'s result, on a store holding `write_everything`."""

    def run(scenario: Callable[[Any, dict[str, list[Written]]], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            db = tmp_path / "reads.db"
            store = open_store(str(db), backend.database_url(db))
            await store.open()
            try:
                return await scenario(store, await write_everything(store))
            finally:
                await store.close()

        return asyncio.run(go())

    return run


MIDDLE = {"since": T0 + 4 * STEP, "until": T0 + 9 * STEP}  # reports 3..7 by time: since inclusive, until exclusive
REPORT_CASES = [
    {},
    {"sid": "s3"},
    {"sid": "absent"},
    {"mobile": "13800000001"},
    {"nationcode": "62"},
    {"report_status": "FAIL"},
    {"errmsg": "DELIVRD"},
    {"report_status": "SUCCESS", "nationcode": "86", "mobile": "13800000002"},
    {"since": T0 + 4 * STEP},
    {"until": T0 + 4 * STEP},
    MIDDLE,
    {"since": T0 + 4 * STEP + 1, "until": T0 + 5 * STEP},  # between pushes: nothing at the bound itself
    {"mobile": "13800000000", **MIDDLE},
    {"sid": "s1", "since": T0 + STEP},
]


def test_reports_every_filter_and_the_time_bounds(on_store):
    async def scenario(store, written):
        found = [await store.reports(ReportQuery(**case, limit=1000)) for case in REPORT_CASES]
        return written, found

    written, found = on_store(scenario)
    by_id = sorted(written["reports"], key=lambda w: w.n)
    for case, page in zip(REPORT_CASES, found):
        expected = matching(by_id, **case)
        assert [int(r.sid[1:]) for r in page.items] == [n % 7 for n in expected], case
        assert [r.mobile for r in page.items] == [by_id[n].fields["mobile"] for n in expected], case
        assert page.next_before_id is None


@pytest.mark.parametrize("limit", [1, 3, 4, 12, 1000])
def test_report_pages_walk_to_the_end_once_each(on_store, limit):
    async def scenario(store, written):
        everything = await walk(store.reports, ReportQuery, limit)
        one_mobile = await walk(store.reports, lambda **k: ReportQuery(mobile="13800000001", **k), limit)
        return written, everything, one_mobile

    written, (items, pages), (mobile_items, _) = on_store(scenario)
    ids = [r.id for r in items]
    assert ids == sorted(set(ids), reverse=True) and len(ids) == len(written["reports"])
    assert pages == max(1, math.ceil(len(ids) / limit))
    assert [r.mobile for r in mobile_items] == ["13800000001"] * len(matching(written["reports"], mobile="13800000001"))


LIST_CASES = {
    "replies": [
        {},
        {"mobile": "13900000001"},
        {"mobile": "absent"},
        {"since": T0 + 15 * STEP},
        {"until": T0 + 15 * STEP},
        {"mobile": "13900000000", "since": T0 + 14 * STEP, "until": T0 + 18 * STEP},
    ],
    "rejects": [
        {},
        {"route": CALLBACK},
        {"route": REPLY},
        {"since": T0 + 20 * STEP},
        {"until": T0 + 20 * STEP},
        {"route": CALLBACK, "since": T0 + 6 * STEP, "until": T0 + 21 * STEP},
    ],
    "inbox": [
        {},
        {"route": REPLY},
        {"outcome": "rejected"},
        {"outcome": "partial"},
        {"route": CALLBACK, "outcome": "rejected"},
        {"since": T0 + 12 * STEP, "until": T0 + 13 * STEP},
        {"outcome": "stored", "until": T0 + 3 * STEP},
    ],
}


@pytest.mark.parametrize("listing", sorted(LIST_CASES))
def test_replies_rejects_and_inbox_every_filter_the_bounds_and_pages(on_store, listing):
    async def scenario(store, written):
        fetch = getattr(store, listing)
        found = [await fetch(ListQuery(**case, limit=1000)) for case in LIST_CASES[listing]]
        walked = [await walk(fetch, ListQuery, limit) for limit in (1, 2, 5)]
        return written[listing], found, walked

    rows, found, walked = on_store(scenario)
    ids_in_order = [w.n for w in rows]  # write order: ids ascend with it
    for case, page in zip(LIST_CASES[listing], found):
        expected = matching(rows, **case)
        assert len(page.items) == len(expected) and page.next_before_id is None, case
        assert [item.id for item in page.items] == sorted((item.id for item in page.items), reverse=True)
        if listing == "replies":
            assert [r.text for r in page.items] == [f"reply {n}" for n in expected], case
        else:
            assert [r.route for r in page.items] == [rows[n].fields["route"] for n in expected], case
    all_ids = [item.id for item in found[0].items]
    assert len(all_ids) == len(ids_in_order)
    for limit, (items, pages) in zip((1, 2, 5), walked):
        assert [item.id for item in items] == all_ids
        assert pages == max(1, math.ceil(len(all_ids) / limit))


def test_sends_by_sid_or_number_newest_first_and_limited(backend, tmp_path):
    def send(n: int, sid: str | None, mobile: str, sent_at: int, **kw: Any) -> Send:
        return Send(phone=f"+86{mobile}", nationcode="86", mobile=mobile, sent_at=sent_at, sid=sid, **kw)

    sends = [
        send(0, "a", "13800000001", T0),
        send(1, "b", "13800000001", T0 + 2),
        send(2, "c", "13800000002", T0 + 1),
        send(3, "d", "13800000001", T0 + 2),  # the same time as b: registered later, so listed first
        send(4, None, "13800000001", T0 + 3, code="LimitExceeded.PhoneNumberDailyLimit"),
        Send(phone="+6281234", nationcode="62", mobile="81234", sent_at=T0 + 4, sid="e"),
    ]

    async def scenario() -> dict[str, list[Any]]:
        db = tmp_path / "sends.db"
        store = open_store(str(db), backend.database_url(db))
        await store.open()
        try:
            await store.register_sends(sends)
            return {
                "all": await store.sends(SendQuery()),
                "sid": await store.sends(SendQuery(sid="b")),
                "absent": await store.sends(SendQuery(sid="zz")),
                "number": await store.sends(SendQuery(nationcode="86", mobile="13800000001")),
                "limited": await store.sends(SendQuery(nationcode="86", mobile="13800000001", limit=2)),
                "nationcode": await store.sends(SendQuery(nationcode="62")),
            }
        finally:
            await store.close()

    found = asyncio.run(scenario())
    sids = {name: [s.sid for s in rows] for name, rows in found.items()}
    assert sids == {
        "all": ["e", None, "d", "b", "c", "a"],
        "sid": ["b"],
        "absent": [],
        "number": [None, "d", "b", "a"],
        "limited": [None, "d"],
        "nationcode": ["e"],
    }
