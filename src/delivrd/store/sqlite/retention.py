"""Retention of messages as wholes: a message goes with its send and every receipt of it, or stays with them.

Pruning reports, sends and messages each by its own time would split a message: a send from
before the cut-off whose receipt came after it would leave a receipt that `/v1/messages/{sid}`
shows as a message while the statistics (the rollups, kept from `messages`) no longer count
it. So a message goes when its time (`at`) is before the cut-off or when any of its receipts
was received before it, and takes its send and all its receipts along; deleting it from
`messages` takes it out of the rollups (their trigger), so both views keep agreeing.
"""

from __future__ import annotations

from delivrd.store.sqlite.connect import Connection, immediate

#: messages whose time is before the cut-off
_OLD = "SELECT id, sid, mobile, at FROM messages WHERE at < ? LIMIT ?"
#: messages with a receipt received before the cut-off (their time may be later: a send registered with a later
#: SentAt than its receipt)
_OLD_RECEIPTS = (
    "SELECT m.id, m.sid, m.mobile, m.at FROM (SELECT DISTINCT sid, mobile FROM reports WHERE received_at < ? LIMIT ?)"
    " AS r JOIN messages AS m ON m.sid = r.sid AND m.mobile = r.mobile"
)


def delete_messages(conn: Connection, before: int, limit: int) -> tuple[int, int, int]:
    """Delete up to `limit` messages that retention removes, with their sends and receipts (and the receipts'
    rows in report_mobiles), in one transaction; returns how many (messages, reports, sends) went."""
    with immediate(conn):
        doomed = (
            conn.execute(_OLD, (before, limit)).fetchall() or conn.execute(_OLD_RECEIPTS, (before, limit)).fetchall()
        )
        if not doomed:
            return 0, 0, 0
        keyed = [(sid, mobile) for _, sid, mobile, _ in doomed if sid is not None]
        reports = []
        for sid, mobile in keyed:
            reports += conn.execute(
                "SELECT id >> 16, mobile, id FROM reports WHERE sid = ? AND mobile = ?", (sid, mobile)
            ).fetchall()
        conn.executemany("DELETE FROM report_mobiles WHERE bucket = ? AND mobile = ? AND report_id = ?", reports)
        conn.executemany("DELETE FROM reports WHERE id = ?", [(r[2],) for r in reports])
        before_sends = conn.total_changes()
        conn.executemany("DELETE FROM sends WHERE sid = ? AND mobile = ?", keyed)
        # a number Tencent refused has no sid: its message is its send, by mobile and time
        conn.executemany(
            "DELETE FROM sends WHERE sid IS NULL AND mobile = ? AND sent_at = ?",
            [(mobile, at) for _, sid, mobile, at in doomed if sid is None],
        )
        sends = conn.total_changes() - before_sends
        conn.executemany("DELETE FROM messages WHERE id = ?", [(m[0],) for m in doomed])
        # SQLite reuses ids above the highest one left: those must be in the tail again (as sqlite_mobiles does)
        conn.execute("UPDATE report_mobiles_watermark SET id = min(id, coalesce((SELECT max(id) FROM reports), 0))")
    return len(doomed), len(reports), sends
