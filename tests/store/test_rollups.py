"""Statistics from rollups equal the exact answer from the stored sends and receipts, whatever happened.

A randomized mix (hypothesis) of sends, receipts before and after their sends, late second
receipts that change a message's state or code, duplicates and prunes is written through the
store; then statistics over random ranges, cut-offs (`pending_after`), groupings and time zones
are compared with an oracle: plain Python over what the test itself wrote, kept as the
retention rule says (a message goes with its send and all its receipts when its time or any of
its receipts is before the cut-off). Counts must be equal, latency percentiles within the
bucket error the API states (`tests.insight_mix.latency_close`).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delivrd.domain.push import CALLBACK, Push
from delivrd.providers.tencent.decode import report_row
from delivrd.query import stats
from delivrd.store import open_store
from delivrd.store.base import Send
from tests.insight_mix import CATEGORY, assert_stats_match

SECOND = 1_000_000
HOUR = 3600 * SECOND
DAY = 24 * HOUR
T0 = 1_790_035_200 * SECOND  # 2026-09-22T00:00Z: the mix spans UTC and Beijing midnights
SPAN = 10 * HOUR
UTC8 = timezone(timedelta(hours=8))
NUMBERS = [(f"s{n}", f"1380000000{n}") for n in range(6)]
CODES = {"SUCCESS": ["DELIVRD", "DELIVRD", "D2"], "FAIL": ["MK:0001", "MX:0003", "43"]}
LATENCIES = [-20, -3, 0, 1, 7, 15, 16, 17, 33, 100, 1000, 7000]
REFUSED = "LimitExceeded.PhoneNumberDailyLimit"

MINUTE = 60 * SECOND
#: µs around T0: anywhere, or on a whole hour, minute or second (the edges between rollup grains)
moments = st.one_of(
    st.integers(-SPAN, SPAN),
    st.integers(-10, 10).map(lambda n: n * HOUR),
    st.integers(-600, 600).map(lambda n: n * MINUTE),
    st.integers(-36_000, 36_000).map(lambda n: n * SECOND),
).map(lambda offset: T0 + offset)

sends = st.tuples(
    st.just("send"),
    st.integers(0, len(NUMBERS) - 1),
    moments,
    st.sampled_from(["T1", "T2", None]),
    st.sampled_from(["Acme", None]),
    st.sampled_from(["Ok", "Ok", "Ok", REFUSED]),
)
receipts = st.tuples(
    st.just("receipt"),
    st.integers(0, len(NUMBERS) - 1),
    moments,  # when it arrives
    st.sampled_from(["SUCCESS", "FAIL"]),
    st.integers(0, 2),  # which code
    st.sampled_from(LATENCIES),  # handset time after the send (or after T0 when there is none)
    st.integers(1, 3),  # pushed this many times (more than once: duplicates)
)
prunes = st.tuples(st.just("prune"), moments)
operations = st.lists(st.one_of(sends, receipts, receipts, prunes), min_size=1, max_size=30)
queries = st.lists(
    st.tuples(
        st.one_of(st.none(), moments),  # since
        st.one_of(st.none(), moments),  # until
        st.sampled_from([None, "day", "hour", "nationcode", "errmsg", "category", "template", "sign"]),
        st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"]),
        moments,  # now
        st.sampled_from([1, 59, 3600, 5400, 4 * 3600 + 17]),  # no_receipt_after, seconds
    ),
    min_size=1,
    max_size=6,
)


@dataclass
class Model:
    """What the store should hold: sends by (sid, mobile), distinct receipts, as the test wrote them."""

    sends: dict[tuple, dict] = field(default_factory=dict)
    receipts: dict[tuple, dict] = field(default_factory=dict)  # by the receipt's identity: duplicates are one

    def messages(self) -> list[dict]:
        found: dict[tuple, dict] = {}
        for key, send in self.sends.items():
            found[key] = {"send": send, "receipts": []}
        for receipt in self.receipts.values():
            found.setdefault((receipt["sid"], receipt["mobile"]), {"send": None, "receipts": []})["receipts"].append(
                receipt
            )
        return [
            {**m, "at": m["send"]["sent_at"] if m["send"] else min(r["received_at"] for r in m["receipts"])}
            for m in found.values()
        ]

    def prune(self, cutoff: int) -> None:
        for m in self.messages():
            if m["at"] < cutoff or any(r["received_at"] < cutoff for r in m["receipts"]):
                if m["send"]:
                    del self.sends[(m["send"]["sid"], m["send"]["mobile"])]
                for r in m["receipts"]:
                    del self.receipts[r["identity"]]


def outcome(m: dict, pending_after: int) -> tuple[str, str | None, int | None]:
    ok = [r for r in m["receipts"] if r["status"] == "SUCCESS"]
    ko = [r for r in m["receipts"] if r["status"] == "FAIL"]
    if ok:
        latency = None
        if m["send"]:
            latency = min(r["handset"] for r in ok) - m["send"]["sent_at"] // SECOND
        return "delivered", max(r["errmsg"] for r in ok), latency
    if ko:
        return "failed", max(r["errmsg"] for r in ko), None
    if m["send"] and m["send"]["code"] != "Ok":
        return "failed", m["send"]["code"], None
    return ("pending" if m["at"] >= pending_after else "no_receipt"), None, None


def key(m: dict, by: str | None, state: str, code: str | None, tz: ZoneInfo) -> str | None:
    at = datetime.fromtimestamp(m["at"] / SECOND, UTC)
    if by == "day":
        return at.astimezone(tz).strftime("%Y-%m-%d")
    if by == "hour":
        start = at.replace(minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%dT%H:00:00Z") if tz.key == "UTC" else start.astimezone(tz).isoformat()
    if by == "nationcode":
        return "86"
    if by == "template":
        return m["send"]["template"] if m["send"] else None
    if by == "sign":
        return m["send"]["sign"] if m["send"] else None
    if by == "errmsg":
        return code
    if by == "category":
        return {"delivered": "delivered", "failed": CATEGORY.get(code or "", "unknown")}.get(state)
    return None


def expected(model: Model, since, until, by, tz, pending_after) -> dict:
    def counts(group: list[tuple]) -> dict:
        states: dict[str, int] = defaultdict(int)
        for state, _ in group:
            states[state] += 1
        latencies = sorted(latency for _, latency in group if latency is not None)

        def pct(p: int) -> int | None:
            return latencies[math.ceil(p / 100 * len(latencies)) - 1] * 1000 if latencies else None

        done = states["delivered"] + states["failed"]
        return {
            "total": len(group),
            **{s: states[s] for s in ("delivered", "failed", "pending", "no_receipt")},
            "success_rate": states["delivered"] / done if done else None,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99)},
        }

    everything, groups = [], defaultdict(list)
    for m in model.messages():
        if (since is not None and m["at"] < since) or (until is not None and m["at"] >= until):
            continue
        state, code, latency = outcome(m, pending_after)
        everything.append((state, latency))
        if by is not None:
            groups[key(m, by, state, code, tz)].append((state, latency))
    return {**counts(everything), "groups": {k: counts(g) for k, g in groups.items()}}


async def apply(store, model: Model, ops: list[tuple], day_partitions: bool) -> None:
    for op in ops:
        if op[0] == "send":
            _, n, sent_at, template, sign, code = op
            sid, mobile = NUMBERS[n]
            if code != "Ok":
                sid = None  # Tencent gives a refused number no SerialNo
            registered = Send(
                phone=f"+86{mobile}",
                nationcode="86",
                mobile=mobile,
                sent_at=sent_at,
                sid=sid,
                template_id=template,
                sign_name=sign,
                code=code,
            )
            await store.register_sends([registered])
            if sid is not None and (sid, mobile) not in model.sends:
                model.sends[(sid, mobile)] = {
                    "sid": sid,
                    "mobile": mobile,
                    "sent_at": sent_at,
                    "template": template,
                    "sign": sign,
                    "code": code,
                }
            elif sid is None and (None, (mobile, sent_at)) not in model.sends:
                model.sends[(None, (mobile, sent_at))] = {
                    "sid": None,
                    "mobile": (mobile, sent_at),
                    "sent_at": sent_at,
                    "template": template,
                    "sign": sign,
                    "code": code,
                }
        elif op[0] == "receipt":
            _, n, received_at, status, which, latency, times = op
            sid, mobile = NUMBERS[n]
            send = model.sends.get((sid, mobile))
            handset = (send["sent_at"] if send else T0) // SECOND + latency
            errmsg = CODES[status][which]
            when = datetime.fromtimestamp(handset, UTC8).strftime("%Y-%m-%d %H:%M:%S")
            item = {
                "sid": sid,
                "mobile": mobile,
                "nationcode": "86",
                "report_status": status,
                "errmsg": errmsg,
                "user_receive_time": when,
            }
            for _ in range(times):
                await store.write(
                    [Push(CALLBACK, received_at, "127.0.0.1", 200, "stored", 1, b"[]", [report_row(item)])]
                )
            identity = (sid, mobile, status, errmsg, when)
            if identity not in model.receipts:
                model.receipts[identity] = {
                    "identity": identity,
                    "sid": sid,
                    "mobile": mobile,
                    "status": status,
                    "errmsg": errmsg,
                    "handset": handset,
                    "received_at": received_at,
                }
        else:
            before = op[1]
            await store.prune(before)
            model.prune(before // DAY * DAY if day_partitions else before)


def check(backend, tmp_path, ops, asked) -> None:
    db = tmp_path / f"{uuid.uuid4().hex}.db"

    async def go() -> None:
        store = open_store(str(db), backend.database_url(db))
        await store.open()
        try:
            model = Model()
            await apply(store, model, ops, day_partitions=backend.name == "postgresql")
            for since, until, by, zone, now, window in asked:
                if since is not None and until is not None and since >= until:
                    since, until = until, since + 1
                tz = ZoneInfo(zone)
                answer = await stats.compute(store, since, until, by, no_receipt_after=window, now=now, tz=tz)
                got = msgspec.to_builtins(answer)
                got["groups"] = {g.pop("key"): g for g in got["groups"]}
                for extra in ("since", "until", "timezone", "latency_error"):
                    got.pop(extra)
                pending_after = now - window * SECOND
                assert_stats_match(got, expected(model, since, until, by, tz, pending_after))
        finally:
            await store.close()

    asyncio.run(go())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, asked=queries)
def test_rollups_answer_as_the_messages_do(backend, tmp_path, ops, asked):
    check(backend, tmp_path, ops, asked)
