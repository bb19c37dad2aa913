"""A known, generated mix of sends and receipts, and its statistics computed independently.

Nothing here uses delivrd's own code: the expected numbers are plain Python over the
generated data, so the API's answer is checked against an independent reckoning.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

UTC8 = timezone(timedelta(hours=8))
HOUR = 3600
WINDOW = 72 * HOUR  # the default --no-receipt-after

# the catalogue's category for each code used here, written out by hand
CATEGORY = {
    "DELIVRD": "delivered",
    "MK:0001": "invalid_number",
    "MX:0003": "rate_limited",
    "UNDELIV_601": "invalid_number",
    "43": "handset_full",
    "ZZ:9999": "unknown",
    "LimitExceeded.PhoneNumberDailyLimit": "unknown",
}
FAIL_CODES = ["MK:0001", "MX:0003", "UNDELIV_601", "43", "ZZ:9999"]
COUNTRIES = {"86": "138{:08d}", "62": "812{:08d}", "44": "7700{:06d}"}


@dataclass
class Message:
    sid: str | None
    nationcode: str
    mobile: str
    template: str | None = None
    sign: str | None = None
    sent_at: float | None = None  # Unix seconds with a fraction; None: no registered send
    refused: bool = False
    receipts: list[dict] = field(default_factory=list)
    received_at: float | None = None  # filled in from the API for receipts with no send

    @property
    def state(self) -> str:
        if any(r["report_status"] == "SUCCESS" for r in self.receipts):
            return "delivered"
        if self.receipts or self.refused:
            return "failed"
        return "pending" if self.sent_at >= NOW - WINDOW else "no_receipt"

    @property
    def code(self) -> str | None:
        if self.state == "delivered":
            return max(r["errmsg"] for r in self.receipts if r["report_status"] == "SUCCESS")
        if self.receipts:
            return max(r["errmsg"] for r in self.receipts)
        return "LimitExceeded.PhoneNumberDailyLimit" if self.refused else None

    @property
    def latency_s(self) -> int | None:
        if self.state != "delivered" or self.sent_at is None:
            return None
        first = min(r["user_receive_time"] for r in self.receipts if r["report_status"] == "SUCCESS")
        received = datetime.strptime(first, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC8).timestamp()
        return int(received) - math.floor(self.sent_at)

    @property
    def at(self) -> float:
        return self.sent_at if self.sent_at is not None else self.received_at  # type: ignore[return-value]

    def key(self, by: str | None) -> str | None:
        if by == "day":
            return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d")
        if by == "hour":
            return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:00:00Z")
        if by == "nationcode":
            return self.nationcode
        if by == "template":
            return self.template
        if by == "sign":
            return self.sign
        if by == "errmsg":
            return self.code
        if by == "category":
            return {"delivered": "delivered", "failed": CATEGORY.get(self.code)}.get(self.state)
        raise AssertionError(by)


NOW = datetime.now(UTC).timestamp()


def receipt(sid: str, nationcode: str, mobile: str, status: str, code: str, when: float) -> dict:
    return {
        "sid": sid,
        "nationcode": nationcode,
        "mobile": mobile,
        "report_status": status,
        "errmsg": code,
        "description": "generated",
        "user_receive_time": datetime.fromtimestamp(when, UTC8).strftime("%Y-%m-%d %H:%M:%S"),
    }


def generate(seed: int = 6, sends: int = 240, orphans: int = 30) -> list[Message]:
    """Sends spread over the last ~5 days (never within an hour of the 72 h boundary), with outcomes."""
    rng = random.Random(seed)
    out: list[Message] = []
    for n in range(sends):
        nationcode = rng.choice(["86", "86", "86", "62", "44"])
        hours_ago = rng.choice([rng.uniform(0.5, 70), rng.uniform(74, 120)])
        sent_at = round(NOW - hours_ago * HOUR, 6)
        m = Message(
            f"2019:{seed}{n:08d}",
            nationcode,
            COUNTRIES[nationcode].format(n),
            rng.choice(["T1", "T2", "T3"]),
            rng.choice(["Acme", "Acme", "Bolt"]),
            sent_at,
        )
        outcome = rng.random()
        receive = math.floor(sent_at) + rng.choice([1, 2, 3, 5, 8, 13, 30, 60, 300, 3600])
        if outcome < 0.05:
            m.sid, m.refused = None, True  # Tencent refused the number at send time: no SerialNo, no receipt
        elif outcome < 0.55:
            m.receipts.append(receipt(m.sid, nationcode, m.mobile, "SUCCESS", "DELIVRD", receive))
        elif outcome < 0.60:  # the carrier failed first, then delivered
            m.receipts.append(receipt(m.sid, nationcode, m.mobile, "FAIL", "43", receive - 1))
            m.receipts.append(receipt(m.sid, nationcode, m.mobile, "SUCCESS", "DELIVRD", receive))
        elif outcome < 0.85:
            m.receipts.append(receipt(m.sid, nationcode, m.mobile, "FAIL", rng.choice(FAIL_CODES), receive))
        # else: no receipt (pending or no_receipt by age)
        out.append(m)
    for n in range(orphans):
        mobile = f"139{n:08d}"
        m = Message(f"2019:{seed}9{n:07d}", "86", mobile)
        status = rng.choice(["SUCCESS", "FAIL"])
        m.receipts.append(receipt(m.sid, "86", mobile, status, "DELIVRD" if status == "SUCCESS" else "MK:0001", NOW))
        out.append(m)
    return out


def expected(messages: list[Message], by: str | None) -> dict:
    """The stats answer (without since/until), computed from the generated data."""

    def counts(group: list[Message]) -> dict:
        states = defaultdict(int)
        for m in group:
            states[m.state] += 1
        latencies = sorted(m.latency_s for m in group if m.latency_s is not None)

        def pct(p: int) -> int | None:
            return latencies[math.ceil(p / 100 * len(latencies)) - 1] * 1000 if latencies else None

        done = states["delivered"] + states["failed"]
        return {
            "total": len(group),
            "delivered": states["delivered"],
            "failed": states["failed"],
            "pending": states["pending"],
            "no_receipt": states["no_receipt"],
            "success_rate": states["delivered"] / done if done else None,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99)},
        }

    answer = counts(messages)
    groups: dict = defaultdict(list)
    if by is not None:
        for m in messages:
            groups[m.key(by)].append(m)
    answer["groups"] = {key: counts(group) for key, group in groups.items()}
    return answer


def latency_close(got: int | None, exact: int | None) -> bool:
    """A percentile from latency buckets against the exact one, both in ms: what the API states (its
    `latency_error`): never above, at most 1/8 of itself below, and exact under 16 s."""
    if got is None or exact is None:
        return got is exact
    if abs(exact) < 16_000:
        return got == exact
    return abs(got) <= abs(exact) and abs(exact) - abs(got) <= abs(got) / 8 and (got >= 0) == (exact >= 0)


def assert_stats_match(got: dict, want: dict) -> None:
    """Counts and rates equal (rates to 12 places), latency percentiles within the stated bucket error;
    `groups` keyed as `expected` gives them."""

    def split(answer: dict) -> tuple[dict, dict]:
        counts = {k: round(v, 12) if isinstance(v, float) else v for k, v in answer.items() if k != "latency_ms"}
        return counts, answer["latency_ms"]

    got_groups, want_groups = got.get("groups", {}), want.get("groups", {})
    assert got_groups.keys() == want_groups.keys()
    for key in [None, *want_groups]:
        g, w = (got, want) if key is None else (got_groups[key], want_groups[key])
        (g_counts, g_latency), (w_counts, w_latency) = split(g), split(w)
        g_counts.pop("groups", None), w_counts.pop("groups", None)
        assert g_counts == w_counts, key
        assert all(latency_close(g_latency[p], w_latency[p]) for p in w_latency), (key, g_latency, w_latency)
