"""Retention of messages as wholes on PostgreSQL: a message goes with its send and every receipt of it.

As on SQLite (`delivrd.store.sqlite.retention`): a message goes when its time is before the
cut-off or when one of its receipts was received before it, with its send and all its
receipts, so `/v1/messages/{sid}` and the statistics (rollups, kept by triggers on
`messages`) keep agreeing. Receipts received before the cut-off go with their day partitions
(dropped by the store afterwards); these statements delete only the later ones, through
their partitions' sid index.
"""

from __future__ import annotations

import asyncpg

#: one batch: the doomed messages ($2: which), their later receipts and dedup keys, their sends, themselves
_DELETE = """
WITH doomed AS MATERIALIZED ({doomed}), gone_reports AS (
    DELETE FROM reports r USING doomed d
    WHERE r.sid = d.sid AND r.mobile = d.mobile AND r.received_at >= $1
    RETURNING r.sid, r.dedup_key, r.id
), gone_keys AS (
    DELETE FROM report_keys k USING gone_reports g WHERE k.sid = g.sid AND k.dedup_key = g.dedup_key AND k.report_id = g.id
), gone_sends AS (
    DELETE FROM sends s USING doomed d WHERE s.sid = d.sid AND s.mobile = d.mobile RETURNING 1
), gone_refused AS (
    DELETE FROM sends s USING doomed d
    WHERE s.sid IS NULL AND d.sid IS NULL AND s.mobile = d.mobile AND s.sent_at = d.at RETURNING 1
), gone AS (
    DELETE FROM messages m USING doomed d WHERE m.id = d.id RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_reports),
       (SELECT count(*) FROM gone_sends) + (SELECT count(*) FROM gone_refused)
"""
#: messages whose time is before the cut-off
OLD = _DELETE.format(doomed="SELECT id, sid, mobile, at FROM messages WHERE at < $1 LIMIT 5000")
#: messages timed after the cut-off with a receipt from before it (a send registered with a later SentAt)
OLD_RECEIPTS = _DELETE.format(
    doomed="SELECT DISTINCT m.id, m.sid, m.mobile, m.at FROM reports r JOIN messages m ON m.sid = r.sid"
    " AND m.mobile = r.mobile WHERE r.received_at < $1 AND m.at >= $1 LIMIT 5000"
)


async def delete_messages(conn: asyncpg.Connection, cutoff: int) -> tuple[int, int, int]:
    """Every message retention removes at `cutoff`, in batches (each its own transaction); returns how many
    (messages, receipts received at or after the cut-off, sends) went."""
    totals = [0, 0, 0]
    for sql in (OLD, OLD_RECEIPTS):
        while True:
            counts = await conn.fetchrow(sql, cutoff)
            if not counts[0]:
                break
            totals = [t + c for t, c in zip(totals, counts)]
    return totals[0], totals[1], totals[2]
