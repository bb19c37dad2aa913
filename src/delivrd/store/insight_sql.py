"""The SQL behind message state and statistics, written once for every backend.

Plain SQL that SQLite and PostgreSQL both run, with `?` placeholders; a backend with
numbered placeholders rewrites them with `numbered`. Messages live in their own table
(migration 0003), one row per message, folded in by the writes: `fold_reports` is the
upsert each group commit runs for its new receipts, `fold_sends` the one for new sends.
Reading messages is then one range of `messages.at`, no join; statistics read the
rollups that triggers keep from `messages` (`rollup_sql`). The state rules are
`domain.message_state`'s; `messages.state` holds the outcome (delivered, failed, or
NULL: none yet) and the query splits NULL into `pending` and `no_receipt` by its own
`pending_after`.
"""

from __future__ import annotations

import re

from delivrd.domain import message_state as rules
from delivrd.store.base import MessageQuery

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


# the exact bounds, through the index on `at` (migration 0004)
_RANGE = "at >= ? AND at < ?"

#: column order of MessageRow
MESSAGES = (
    "SELECT sid, nationcode, mobile, template_id, sign_name, sent_at, first_report_at, receipts,"
    f" {rules.STATE_SQL}, code, user_receive_ts, latency_s FROM messages WHERE {_RANGE} ORDER BY at"
)


def message_args(query: MessageQuery) -> list[int]:
    since = EARLIEST if query.since is None else query.since
    until = LATEST if query.until is None else query.until
    return [query.pending_after, since, until]


def numbered(sql: str) -> str:
    """`?` → `$1`, `$2`, … for drivers that number their parameters (asyncpg)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
