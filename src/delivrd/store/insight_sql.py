"""The SQL behind message state and statistics, written once for every backend.

Plain SQL that SQLite and PostgreSQL both run, with `?` placeholders; a backend with
numbered placeholders rewrites them with `numbered`. Messages live in their own table
(migration 0003), one row per message, folded in by the writes: `fold_reports` is the
upsert each group commit runs for its new receipts, `fold_sends` the one for new sends.
Reading messages or statistics is then one range of `messages.at`, no join. The state
rules are `domain.message_state`'s; `messages.state` holds the outcome (delivered,
failed, or NULL: none yet) and the query splits NULL into `pending` and `no_receipt` by
its own `pending_after`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from delivrd.domain import message_state as rules
from delivrd.domain.clock import DAY_US, HOUR_US
from delivrd.store.base import MessageQuery, StatsRow

#: microsecond bounds standing for "no bound" (keeps the SQL text and its plan fixed)
EARLIEST = -(2**62)
LATEST = 2**62


def _least(a: str, b: str) -> str:
    """The smaller of two values, NULL only when both are (SQLite's two-argument min() is NULL if either is)."""
    return f"CASE WHEN {a} IS NULL OR {b} < {a} THEN {b} ELSE {a} END"


def _greatest(a: str, b: str) -> str:
    return f"CASE WHEN {a} IS NULL OR {b} > {a} THEN {b} ELSE {a} END"


_MERGE = {"max": _greatest, "min": _least}
#: receipts, aggregated per (sid, mobile): what one or more of them say about their message
RECEIPT_SUMMARY = "sid, mobile, min(received_at), max(nationcode), min(received_at), count(*),\n    " + ",\n    ".join(
    f"{aggregate}({expression})" for aggregate, expression in zip(rules.RECEIPT_AGGREGATES, rules.RECEIPT_SQL)
)
#: the same, for one receipt
RECEIPT_ROW = "sid, mobile, received_at, nationcode, received_at, 1,\n    " + ",\n    ".join(rules.RECEIPT_SQL)

_FOLD_REPORTS_HEAD = f"""INSERT INTO messages (sid, mobile, at, nationcode, first_report_at, receipts,
    {", ".join(rules.RECEIPT_COLUMNS)})
"""
# A message with a registered send keeps the send's time and country; one without takes
# its first receipt's. The rest merges as the aggregates above would over all receipts.
_FOLD_REPORTS_MERGE = f"""
ON CONFLICT (sid, mobile) DO UPDATE SET
    receipts = messages.receipts + excluded.receipts,
    first_report_at = {_least("messages.first_report_at", "excluded.first_report_at")},
    at = CASE WHEN messages.sent_at IS NULL AND excluded.at < messages.at THEN excluded.at ELSE messages.at END,
    nationcode = CASE WHEN messages.sent_at IS NULL
        THEN {_greatest("messages.nationcode", "excluded.nationcode")} ELSE messages.nationcode END,
    """ + ",\n    ".join(
    f"{column} = {_MERGE[aggregate](f'messages.{column}', f'excluded.{column}')}"
    for column, aggregate in zip(rules.RECEIPT_COLUMNS, rules.RECEIPT_AGGREGATES)
)


def fold_reports(source: str, *, grouped: bool) -> str:
    """The upsert that folds the receipts of `source` (a FROM clause) into their messages.

    grouped: aggregate per (sid, mobile) first, in key order, for databases whose upsert may
    not touch a row twice in one statement (PostgreSQL); SQLite merges row by row, cheaper.
    """
    if grouped:
        select = f"SELECT {RECEIPT_SUMMARY}\nFROM {source}\nGROUP BY sid, mobile ORDER BY sid, mobile"
    else:
        select = f"SELECT {RECEIPT_ROW}\nFROM {source}"
    return f"{_FOLD_REPORTS_HEAD}{select}{_FOLD_REPORTS_MERGE}"


def fold_sends(source: str) -> str:
    """The upsert that gives the sends of `source` their messages (taking over one made by earlier receipts)."""
    return f"""INSERT INTO messages (sid, mobile, at, nationcode, template_id, sign_name, sent_at, send_code)
SELECT sid, mobile, sent_at, nationcode, template_id, sign_name, sent_at, code FROM {source} ORDER BY sid, mobile
ON CONFLICT (sid, mobile) DO UPDATE SET
    at = excluded.at, nationcode = excluded.nationcode, template_id = excluded.template_id,
    sign_name = excluded.sign_name, sent_at = excluded.sent_at, send_code = excluded.send_code
WHERE messages.sent_at IS NULL"""


# `hour` narrows the index range (it leads messages_stats); `at` then holds the exact bounds
_RANGE = "hour >= ? AND hour <= ? AND at >= ? AND at < ?"

#: column order of MessageRow
MESSAGES = (
    "SELECT sid, nationcode, mobile, template_id, sign_name, sent_at, first_report_at, receipts,"
    f" {rules.STATE_SQL}, code, user_receive_ts, latency_s FROM messages WHERE {_RANGE} ORDER BY at"
)

#: the answer's key, from the per-hour counts
GROUP_KEYS = {
    None: "NULL",
    "day": f"hour * {HOUR_US} / {DAY_US} * {DAY_US}",
    "hour": f"hour * {HOUR_US}",
    "nationcode": "nationcode",
    "template": "template_id",
    "sign": "sign_name",
}
# Per-hour counts first, grouped by a prefix of messages_stats (hour, state, code,
# latency_s, nationcode, template_id, sign_name, at): the database streams through the
# index range and never sorts the messages themselves; only the per-hour rows are then
# grouped again. `recent` counts the messages at or after pending_after (only those with
# no outcome need it: they are `pending`, the rest of them `no_receipt`).
_HOURLY = ["hour", "state", "code", "latency_s"]
_PREFIX = {
    None: _HOURLY,
    "day": _HOURLY,
    "hour": _HOURLY,
    "nationcode": [*_HOURLY, "nationcode"],
    "template": [*_HOURLY, "nationcode", "template_id"],
    "sign": [*_HOURLY, "nationcode", "template_id", "sign_name"],
}


def _bounds(query: MessageQuery) -> list[int]:
    since = EARLIEST if query.since is None else query.since
    until = LATEST if query.until is None else query.until
    return [since // HOUR_US, (until - 1) // HOUR_US, since, until]


def message_args(query: MessageQuery) -> list[int]:
    return [query.pending_after, *_bounds(query)]


def stats_sql(by: str | None) -> str:
    """Messages counted by (key, outcome, code, latency_s), with how many of them are recent."""
    columns = ", ".join(_PREFIX[by])
    hourly = (
        f"SELECT {columns}, count(*) AS n, sum(CASE WHEN {rules.RECENT_SQL} THEN 1 ELSE 0 END) AS recent"
        f" FROM messages WHERE {_RANGE} GROUP BY {columns}"
    )
    return (
        f"SELECT {GROUP_KEYS[by]} AS key, state, code, latency_s, CAST(sum(n) AS BIGINT), CAST(sum(recent) AS BIGINT)"
        f" FROM ({hourly}) AS h GROUP BY 1, 2, 3, 4"
    )


def stats_rows(rows: Iterable[Sequence]) -> list[StatsRow]:
    """The histogram StatsRow describes: a message with no outcome is `pending` if recent, else `no_receipt`."""
    out = []
    for key, state, code, latency_s, n, recent in rows:
        if state is not None:
            out.append(StatsRow(key, state, code, latency_s, n))
            continue
        if recent:
            out.append(StatsRow(key, rules.PENDING, code, latency_s, recent))
        if n - recent:
            out.append(StatsRow(key, rules.NO_RECEIPT, code, latency_s, n - recent))
    return out


def numbered(sql: str) -> str:
    """`?` → `$1`, `$2`, … for drivers that number their parameters (asyncpg)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
