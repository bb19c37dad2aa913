"""Statistics from the rollups (migration 0004): whole hours and minutes from `rollups`, the rest from `messages`.

Triggers on `messages` keep one cell per (grain, slot, value, outcome, code, latency bucket)
in the same transaction as every write, so the rollups are always exactly the messages
counted. A range is cut into: whole hours (grain 0, or 1-3 when grouped by nationcode,
template or sign), for the totals also whole minutes at its edges (grain 4), and the seconds
left at the edges, counted from `messages` through its index on `at`. The cost grows with
the hours and edge minutes in range, not with the messages.

`pending` versus `no_receipt` depends on the query's `pending_after` (P). A cell of a slot
that ends by P holds only `no_receipt` messages among those with no outcome, one that starts
at or after P only `pending` ones; the one slot that P cuts in two is split exactly by
counting its messages with no outcome at or after P (the partial index `messages_waiting`).

Latency is kept as buckets (`domain.latency`); the edges' exact seconds are bucketed alike.
Plain SQL for both databases with `?` placeholders, as `insight_sql`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from delivrd.domain import latency
from delivrd.domain import message_state as rules
from delivrd.domain.clock import DAY_US, HOUR_US
from delivrd.store.base import StatsQuery, StatsRow
from delivrd.store.insight_sql import EARLIEST, LATEST

MINUTE_US = 60_000_000
#: grains of `rollups`: per hour (totals, by nationcode, by template, by sign) and per minute (totals)
HOURLY, MINUTELY = 0, 4
GRAIN_OF = {None: 0, "day": 0, "hour": 0, "nationcode": 1, "template": 2, "sign": 3}
COLUMN_OF = {"nationcode": "nationcode", "template": "template_id", "sign": "sign_name"}
#: what stands for NULL in the rollups' key columns (see the migration)
NONE_TEXT = "\x01"
NONE_LATENCY = 2**63 - 1
#: a message with no outcome yet (the partial index messages_waiting has exactly this WHERE)
WAITING = "ok = 0 AND ko = 0 AND (send_code IS NULL OR send_code = 'Ok')"


def _floor_div(value: str, by: int) -> str:
    """SQL integer division rounding down (both databases round toward zero)."""
    return f"CASE WHEN {value} >= 0 THEN {value} / {by} ELSE ({value} + 1) / {by} - 1 END"


def _time_key(by: str | None, moment: str, offset: int) -> str:
    """The key of a moment (µs, an SQL expression): its UTC hour, or its day in a zone `offset` µs ahead of UTC
    as the local midnight on a naive clock. The offset is written into the SQL (an integer this code computed)."""
    if by == "day":
        return f"{_floor_div(f'({moment} + {offset})', DAY_US)} * {DAY_US}"
    return f"{_floor_div(moment, HOUR_US)} * {HOUR_US}"


def _key(by: str | None, moment: str, offset: int) -> str:
    return _time_key(by, moment, offset) if by in ("day", "hour") else COLUMN_OF.get(by or "", "NULL")


def rollup_sql(by: str | None, unit: int, offset: int = 0) -> str:
    """Cells of one grain in a slot range: (key, outcome, code, latency, n, recent).

    Binds: the first slot that starts at or after pending_after, the grain, the slots [lo, hi)."""
    if by in ("day", "hour"):
        key = _time_key(by, f"slot * {unit}", offset)
    elif by in COLUMN_OF:
        key = "value"
    else:
        key = "NULL"
    return (
        f"SELECT {key} AS key, outcome, code, latency, CAST(sum(n) AS BIGINT),"
        " CAST(sum(CASE WHEN slot >= ? THEN n ELSE 0 END) AS BIGINT)"
        " FROM rollups WHERE grain = ? AND slot >= ? AND slot < ? GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"
    )


def messages_sql(by: str | None, offset: int = 0) -> str:
    """Messages of a time range counted like cells: (key, state, code, latency_s, n, recent).

    Binds: pending_after, then the range [lo, hi) in µs."""
    return (
        f"SELECT {_key(by, 'at', offset)} AS key, state, code, latency_s, count(*), sum(CASE WHEN {rules.RECENT_SQL} THEN 1 ELSE 0 END)"
        " FROM messages WHERE at >= ? AND at < ? GROUP BY 1, 2, 3, 4"
    )


def waiting_sql(by: str | None) -> str:
    """Messages with no outcome in a time range (binds: [lo, hi) in µs), by grouping column; for a time key
    the caller knows the key (the slot's, as its cells have it)."""
    key = COLUMN_OF.get(by or "", "NULL")
    return f"SELECT {key} AS key, count(*) FROM messages WHERE {WAITING} AND at >= ? AND at < ? GROUP BY 1"


@dataclass(frozen=True, slots=True)
class Part:
    """One statement of a statistics query: which SQL, its arguments, and how to read its rows."""

    kind: str  # "rollup", "messages" or "waiting"
    sql: str
    args: list[int]
    #: "waiting" by day or hour: the key of the slot split (its cells' key)
    key: int | None = None


def _ceil(value: int, unit: int) -> int:
    return -(-value // unit)


def plan(query: StatsQuery) -> list[Part]:
    """The statements that together count the messages of `query`, exactly once each."""
    by = query.by
    since = EARLIEST if query.since is None else query.since
    until = LATEST if query.until is None else query.until
    if since >= until:
        return []
    offset = query.day_offset
    parts: list[Part] = []
    cut = query.pending_after

    def rollup(grain: int, unit: int, lo: int, hi: int) -> None:
        """Slots [lo, hi) of one grain, and the split of the slot pending_after cuts, when it is among them."""
        recent_from = _ceil(cut, unit)
        parts.append(Part("rollup", rollup_sql(by, unit, offset), [recent_from, grain, lo, hi]))
        split = cut // unit
        if cut % unit and lo <= split < hi:
            start = split * unit
            key = (start + offset) // DAY_US * DAY_US if by == "day" else start // HOUR_US * HOUR_US
            parts.append(Part("waiting", waiting_sql(by), [cut, start + unit], key if by in ("day", "hour") else None))

    def seconds(lo: int, hi: int) -> None:
        if lo < hi:
            parts.append(Part("messages", messages_sql(by, offset), [cut, lo, hi]))

    def minutes(lo: int, hi: int) -> None:
        """[lo, hi) in µs: whole minutes from the per-minute totals when there is no grouping column, else seconds."""
        if by in COLUMN_OF:
            seconds(lo, hi)
            return
        first, last = _ceil(lo, MINUTE_US), hi // MINUTE_US
        if first >= last:
            seconds(lo, hi)
            return
        seconds(lo, first * MINUTE_US)
        rollup(MINUTELY, MINUTE_US, first, last)
        seconds(last * MINUTE_US, hi)

    first, last = _ceil(since, HOUR_US), until // HOUR_US
    if first >= last:
        minutes(since, until)
        return parts
    if since > EARLIEST:
        minutes(since, first * HOUR_US)
    rollup(GRAIN_OF[by], HOUR_US, first, last)
    if until < LATEST:
        minutes(last * HOUR_US, until)
    return parts


def rows(part: Part, found: Iterable[Sequence]) -> list[StatsRow]:
    """A part's rows as StatsRow (a message with no outcome: `pending` if recent, else `no_receipt`)."""
    out: list[StatsRow] = []
    if part.kind == "waiting":
        # counted as no_receipt by the slot's cells (the slot does not start at or after the cut): move the
        # ones at or after it to pending
        for key, n in found:
            key = part.key if part.key is not None else key
            out.append(StatsRow(key, rules.PENDING, None, None, n))
            out.append(StatsRow(key, rules.NO_RECEIPT, None, None, -n))
        return out
    rollup = part.kind == "rollup"
    for key, outcome, code, seconds, n, recent in found:
        if rollup:
            key = None if key == NONE_TEXT else key
            outcome = outcome or None
            code = None if code == NONE_TEXT else code
            bucket = None if seconds == NONE_LATENCY else seconds
        else:
            bucket = None if seconds is None else latency.bucket(seconds)
        if outcome is not None:
            out.append(StatsRow(key, outcome, code, bucket, n))
            continue
        if recent:
            out.append(StatsRow(key, rules.PENDING, code, bucket, recent))
        if n - recent:
            out.append(StatsRow(key, rules.NO_RECEIPT, code, bucket, n - recent))
    return out
