"""Reports by mobile on SQLite: an index filled behind ingest instead of on every insert.

An index on `reports (mobile)` costs a random B-tree page per report at commit (phone
numbers arrive in no order), and that was most of the writer's time at batch 100 (see
docs/performance.md). Instead `report_mobiles` is filled after the fact, on the writer
thread, in chunks of new reports sorted by (bucket, mobile, id), where bucket = id >> 16:
a chunk only touches the few hundred pages of its own bucket. `report_mobiles_watermark`
is the highest reports.id copied; lookups read the index plus the reports above the
watermark (the tail), in one statement, so one snapshot sees both consistently.
"""

from __future__ import annotations

from delivrd.store.sqlite.connect import Connection, immediate

#: reports waiting before an indexing transaction runs (~10 ms of work: what a commit may
#: wait behind one at moderate load); under saturating load the store indexes more at once
CHUNK = 5000

#: `id IN (…)` term matching reports of one mobile (bind the mobile twice)
MATCH = (
    "id IN (WITH RECURSIVE b(n) AS ("
    " SELECT (SELECT min(bucket) FROM report_mobiles)"
    " UNION ALL SELECT n + 1 FROM b WHERE n < (SELECT max(bucket) FROM report_mobiles))"
    " SELECT report_id FROM report_mobiles WHERE bucket IN b AND mobile = ?"
    " UNION ALL SELECT id FROM reports WHERE id > (SELECT id FROM report_mobiles_watermark) AND mobile = ?)"
)


def unindexed(conn: Connection) -> int:
    """About how many reports are above the watermark (exact unless ids were pruned there)."""
    return conn.execute(
        "SELECT coalesce((SELECT max(id) FROM reports), 0) - (SELECT id FROM report_mobiles_watermark)"
    ).get


def index_chunk(conn: Connection, limit: int = CHUNK) -> int:
    """Copy up to `limit` reports above the watermark into the index, in one transaction.

    Returns about how many reports remain above the new watermark. The transaction commits
    without its own fsync (synchronous=NORMAL): the index is derived data, a power cut loses
    the chunk and its watermark together (WAL commits are atomic), and the next report commit's
    fsync, which is FULL, makes the chunk durable along with everything before it in the WAL.
    """
    synchronous = conn.execute("PRAGMA synchronous").get
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        return _index_chunk(conn, limit)
    finally:
        conn.execute(f"PRAGMA synchronous = {int(synchronous)}")


def _index_chunk(conn: Connection, limit: int) -> int:
    with immediate(conn):
        low = conn.execute("SELECT id FROM report_mobiles_watermark").get
        high = conn.execute(
            "SELECT max(id) FROM (SELECT id FROM reports WHERE id > ? ORDER BY id LIMIT ?)", (low, limit)
        ).get
        if high is not None:
            conn.execute(
                "INSERT INTO report_mobiles (bucket, mobile, report_id)"
                " SELECT id >> 16, mobile, id FROM reports WHERE id > ? AND id <= ? ORDER BY id >> 16, mobile, id",
                (low, high),
            )
            conn.execute("UPDATE report_mobiles_watermark SET id = ?", (high,))
        left = unindexed(conn)
    return left


def delete_reports(conn: Connection, before: int, limit: int) -> int:
    """Delete up to `limit` reports received before `before` with their index rows, in one transaction."""
    with immediate(conn):
        rows = conn.execute(
            "SELECT id >> 16, mobile, id FROM reports WHERE received_at < ? LIMIT ?", (before, limit)
        ).fetchall()
        conn.executemany("DELETE FROM report_mobiles WHERE bucket = ? AND mobile = ? AND report_id = ?", rows)
        conn.executemany("DELETE FROM reports WHERE id = ?", [(r[2],) for r in rows])
        # SQLite reuses ids above the highest one left: those must be in the tail again
        conn.execute("UPDATE report_mobiles_watermark SET id = min(id, coalesce((SELECT max(id) FROM reports), 0))")
    return len(rows)
