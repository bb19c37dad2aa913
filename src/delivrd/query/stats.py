"""Delivery statistics: the store counts messages in SQL, this turns the counts into the answer.

The store returns a histogram, (key, state, code, latency in whole seconds) → count,
so the work happens in the database, over hourly rollups; here only its rows are
summed per group and the latency percentiles are read off it (nearest rank: p-th
percentile = the smallest latency with at least p% of the values at or below it). The
store keeps latency in buckets (`domain.latency`), so a percentile is at most
`latency_error` below the exact one. Days and hours are shown in a time zone
(`domain.zones`); the range is cut where its offset changes, each piece counted with its
own. `GET /v1/stats` and `delivrd stats` both call `compute`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from delivrd.domain import clock, latency, zones
from delivrd.domain import message_state as rules
from delivrd.query.category import category
from delivrd.query.models import iso_utc
from delivrd.store import Insight
from delivrd.store.base import STORE_GROUPS, StatsQuery, StatsRow

UTC_ZONE = ZoneInfo("UTC")
#: what `by` may be
GROUPS = ("day", "hour", "nationcode", "errmsg", "category", "template", "sign")


class Latency(msgspec.Struct):
    """Send → user_receive_at, in milliseconds (whole seconds: receipt times have one-second resolution; from
    buckets: at most `latency_error` below the exact percentile, exact under 16 s)."""

    p50: int | None
    p90: int | None
    p99: int | None


class Group(msgspec.Struct, kw_only=True):
    key: str | None
    total: int
    delivered: int
    failed: int
    pending: int
    no_receipt: int
    success_rate: float | None
    latency_ms: Latency


class Stats(msgspec.Struct, kw_only=True):
    """`total` counts sends plus receipts with no registered send (one per sid and mobile). `timezone`: the zone
    days and hours are counted in. `latency_error`: the largest fraction by which a latency percentile may be
    below the exact one (never above it)."""

    since: str | None
    until: str | None
    timezone: str
    latency_error: float
    total: int
    delivered: int
    failed: int
    pending: int
    no_receipt: int
    success_rate: float | None
    latency_ms: Latency
    groups: list[Group]


class _Tally:
    def __init__(self) -> None:
        self.states: Counter[str] = Counter()
        self.latencies: Counter[int] = Counter()

    def add(self, row: StatsRow) -> None:
        self.states[row.state] += row.count
        if row.latency_s is not None:
            self.latencies[row.latency_s] += row.count

    def counts(self) -> dict:
        delivered, failed = self.states["delivered"], self.states["failed"]
        return {
            "total": sum(self.states.values()),
            "delivered": delivered,
            "failed": failed,
            "pending": self.states["pending"],
            "no_receipt": self.states["no_receipt"],
            "success_rate": rules.success_rate(delivered, failed),
            "latency_ms": Latency(*(percentile(self.latencies, p) for p in (50, 90, 99))),
        }


def percentile(histogram: Counter[int], p: float) -> int | None:
    """Nearest-rank percentile of a value → count histogram of seconds, in milliseconds."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value * 1000
    raise AssertionError("unreachable")


def group_key(by: str | None, row: StatsRow, tz: ZoneInfo = UTC_ZONE) -> str | None:
    """The group a histogram row belongs to, as the answer shows it (a day: its date in the zone; an hour: its
    start, in UTC as …Z, else with the zone's offset)."""
    if by == "day":
        return iso_utc(row.key)[:10]  # type: ignore[arg-type]
    if by == "hour":
        if tz.key == "UTC":
            return iso_utc(row.key)[:13] + ":00:00Z"  # type: ignore[arg-type]
        return datetime.fromtimestamp(row.key // clock.SECOND_US, tz).isoformat()  # type: ignore[operator]
    if by == "errmsg":
        return row.code
    if by == "category":
        return category(row.state, row.code)
    return row.key  # type: ignore[return-value]


def summarize(
    rows: Iterable[StatsRow], by: str | None, since: int | None, until: int | None, tz: ZoneInfo = UTC_ZONE
) -> Stats:
    overall = _Tally()
    groups: dict[str | None, _Tally] = {}
    order: dict[str | None, int] = {}  # a day's or hour's moment: hours shown with offsets sort by it
    for row in rows:
        overall.add(row)
        if by is not None:
            key = group_key(by, row, tz)
            groups.setdefault(key, _Tally()).add(row)
            if by in ("day", "hour"):
                order[key] = row.key  # type: ignore[assignment]
    made = [Group(key=key, **tally.counts()) for key, tally in groups.items() if tally.states.total()]
    if by in ("day", "hour"):
        made.sort(key=lambda g: order[g.key])
    else:
        made.sort(key=lambda g: (-g.total, g.key is None, g.key or ""))
    return Stats(
        since=None if since is None else iso_utc(since),
        until=None if until is None else iso_utc(until),
        timezone=tz.key,
        latency_error=latency.MAX_RELATIVE_ERROR,
        groups=made,
        **overall.counts(),
    )


async def compute(
    store: Insight,
    since: int | None = None,
    until: int | None = None,
    by: str | None = None,
    *,
    no_receipt_after: int,
    now: int | None = None,
    tz: ZoneInfo = UTC_ZONE,
) -> Stats:
    """Statistics of the messages in [since, until); `no_receipt_after` in seconds, `now` in µs (default: now),
    days in the zone `tz`."""
    if by is not None and by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}; got {by!r}")
    now = clock.now_micros() if now is None else now
    pending_after = rules.pending_after(now, no_receipt_after)
    store_by = by if by in STORE_GROUPS else None
    # only days need the zone's offset in the store; a zone that changes it is counted piece by piece
    pieces = zones.segments(tz, since, until, now) if by == "day" else [(since, until, 0)]
    rows: list[StatsRow] = []
    for start, end, offset in pieces:
        query = StatsQuery(since=start, until=end, pending_after=pending_after, by=store_by, day_offset=offset)
        rows += await store.stats(query)
    return summarize(rows, by, since, until, tz)
