"""The SQL behind message state and statistics, written once for every backend.

Plain SQL that SQLite and PostgreSQL both run (CTEs, CASE, GROUP BY the primary key,
integer division), with `?` placeholders; a backend with numbered placeholders
rewrites them with `numbered`. Messages are sends LEFT JOIN reports on (sid, mobile)
plus the (sid, mobile) pairs of receipts that have no registered send, so the
callback's write path pays nothing for them. The state rules are the ones documented
on `store.base.MessageRow`.
"""

from __future__ import annotations

import re

from delivrd.store.base import MessageQuery, StatsQuery

#: microsecond bounds standing for "no bound" (keeps the SQL text and its plan fixed)
EARLIEST = -(2**62)
LATEST = 2**62

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000

_MESSAGES = """
WITH m AS (
  SELECT s.sid, s.nationcode, s.mobile, s.template_id, s.sign_name, s.sent_at AS at, s.sent_at,
    s.code AS send_code, min(r.received_at) AS first_report_at, count(r.id) AS receipts,
    max(CASE WHEN r.report_status = 'SUCCESS' THEN 1 ELSE 0 END) AS ok,
    max(CASE WHEN r.report_status = 'FAIL' THEN 1 ELSE 0 END) AS ko,
    max(CASE WHEN r.report_status = 'SUCCESS' THEN r.errmsg END) AS ok_code,
    max(CASE WHEN r.report_status = 'FAIL' THEN r.errmsg END) AS ko_code,
    min(CASE WHEN r.report_status = 'SUCCESS' THEN r.user_receive_ts END) AS user_receive_ts
  FROM sends s LEFT JOIN reports r ON r.sid = s.sid AND r.mobile = s.mobile
  WHERE s.sent_at >= ? AND s.sent_at < ?
  GROUP BY s.sent_at, s.id
  UNION ALL
  SELECT r.sid, max(r.nationcode), r.mobile, NULL, NULL, min(r.received_at), NULL,
    NULL, min(r.received_at), count(*),
    max(CASE WHEN r.report_status = 'SUCCESS' THEN 1 ELSE 0 END),
    max(CASE WHEN r.report_status = 'FAIL' THEN 1 ELSE 0 END),
    max(CASE WHEN r.report_status = 'SUCCESS' THEN r.errmsg END),
    max(CASE WHEN r.report_status = 'FAIL' THEN r.errmsg END),
    min(CASE WHEN r.report_status = 'SUCCESS' THEN r.user_receive_ts END)
  FROM reports r
  WHERE r.received_at >= ? AND r.received_at < ?
    AND NOT EXISTS (SELECT 1 FROM sends s WHERE s.sid = r.sid AND s.mobile = r.mobile)
  GROUP BY r.sid, r.mobile
), c AS (
  SELECT m.*,
    CASE WHEN ok = 1 THEN 'delivered'
         WHEN ko = 1 OR (send_code IS NOT NULL AND send_code <> 'Ok') THEN 'failed'
         WHEN sent_at >= ? THEN 'pending'
         ELSE 'no_receipt' END AS state,
    CASE WHEN ok = 1 THEN ok_code
         WHEN ko = 1 THEN ko_code
         WHEN send_code IS NOT NULL AND send_code <> 'Ok' THEN send_code END AS code,
    CASE WHEN ok = 1 THEN user_receive_ts - sent_at / 1000000 END AS latency_s
  FROM m
)
"""

#: column order of MessageRow
MESSAGES = _MESSAGES + (
    "SELECT sid, nationcode, mobile, template_id, sign_name, sent_at, first_report_at, receipts,"
    " state, code, user_receive_ts, latency_s FROM c ORDER BY at"
)

GROUP_KEYS = {
    None: "NULL",
    "day": f"at / {DAY_US} * {DAY_US}",
    "hour": f"at / {HOUR_US} * {HOUR_US}",
    "nationcode": "nationcode",
    "template": "template_id",
    "sign": "sign_name",
}


def message_args(query: MessageQuery) -> list[int]:
    since = EARLIEST if query.since is None else query.since
    until = LATEST if query.until is None else query.until
    return [since, until, since, until, query.pending_after]


def stats_sql(by: str | None) -> str:
    """Messages counted by (key, state, code, latency_s): the histogram StatsRow describes."""
    return _MESSAGES + (
        f"SELECT {GROUP_KEYS[by]} AS key, state, code, latency_s, count(*) FROM c GROUP BY 1, 2, 3, 4"
    )


def stats_args(query: StatsQuery) -> list[int]:
    return message_args(query)


def numbered(sql: str) -> str:
    """`?` → `$1`, `$2`, … for drivers that number their parameters (asyncpg)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
